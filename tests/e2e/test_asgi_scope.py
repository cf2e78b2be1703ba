"""ASGI scope headers are exactly the request's (issue 15, workerd's asgi test): an HTTP
request's include its Host once, where the client sent it; a service binding's request, or
one made in Python, carries no Host the caller did not give (pyworkerd used to add one from
the URL)."""

import json

APP = """
import asgi, json
from workers import Request, Response, WorkerEntrypoint

async def app(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": scope["headers"]})
    body = json.dumps([[k.decode(), v.decode()] for k, v in scope["headers"]])
    await send({"type": "http.response.body", "body": body.encode()})

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/via-binding"):
            r = await self.env.SELF.fetch("http://example.com/",
                                          headers={"Header1": "Value1", "Header2": "Value2"})
            return Response(json.dumps({"scope": json.loads(await r.text()),
                                        "response": list(r.headers.items())}))
        if request.url.endswith("/in-python"):
            inner = Request("http://example.com/x", headers={"Header1": "Value1"})
            r = await asgi.fetch(app, inner, self.env)
            return Response(await r.text())
        return await asgi.fetch(app, request, self.env, self.ctx)
"""


def test_a_service_binding_request_has_only_the_callers_headers(serve):
    server = serve({"worker.py": APP}, bindings='(name = "SELF", service = "main")',
                   date="2025-09-01")
    got = json.loads(server.get("/via-binding")[2])
    assert got["scope"] == [["header1", "Value1"], ["header2", "Value2"]]
    assert got["response"] == [["header1", "Value1"], ["header2", "Value2"]]


def test_a_request_made_in_python_has_no_host_added(serve):
    server = serve({"worker.py": APP}, date="2025-09-01")
    assert json.loads(server.get("/in-python")[2]) == [["header1", "Value1"]]


def test_an_http_request_keeps_its_host_once_in_order(serve):
    server = serve({"worker.py": APP}, date="2025-09-01")
    status, _, body = server.get("/", headers={"Host": "example.org:81", "X-One": "1",
                                               "X-Two": "2"})
    assert status == 200
    headers = json.loads(body)
    assert [h for h in headers if h[0] == "host"] == [["host", "example.org:81"]]
    names = [h[0] for h in headers]
    assert names.index("x-one") < names.index("x-two")
