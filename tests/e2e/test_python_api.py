"""The Python API as workers use it, through the real server: requests, responses,
headers, env bindings, several modules, and the older on_fetch entry points."""

import json

import pytest

from conftest import run_pyworkerd, write_worker


def test_request_properties_and_body_readers(serve):
    server = serve({"worker.py": '''
        import http, json
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                text = await request.text()
                try:
                    await request.text()
                    second = "no error"
                except OSError as e:
                    second = str(e)
                return Response.json({
                    "method": request.method,
                    "is_http_method": isinstance(request.method, http.HTTPMethod),
                    "url": request.url,
                    "ua": request.headers.get("user-agent"),
                    "cookies": request.headers.get_all("x-repeat"),
                    "has": "X-Repeat" in request.headers,
                    "text": text,
                    "second_read": second,
                })
        '''})
    c = server.conn()
    c.putrequest("POST", "/p/a?x=1&y=2")
    c.putheader("User-Agent", "e2e-test")
    c.putheader("X-Repeat", "one")
    c.putheader("X-Repeat", "two")
    c.putheader("Content-Length", "5")
    c.endheaders(b"hello")
    r = c.getresponse()
    assert r.status == 200 and r.getheader("content-type") == "application/json"
    got = json.loads(r.read())
    c.close()
    assert got == {
        "method": "POST", "is_http_method": True,
        "url": f"http://127.0.0.1:{server.port}/p/a?x=1&y=2",
        # get_all: repeats comma-joined, as workerd's SDK gives them (Set-Cookie apart; issue 15)
        "ua": "e2e-test", "cookies": ["one, two"], "has": True,
        "text": "hello", "second_read": "Body already used",
    }


def test_request_json_and_bytes(serve):
    server = serve({"worker.py": '''
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                if request.url.endswith("/json"):
                    data = await request.json()
                    return Response.json({"doubled": data["n"] * 2})
                raw = await request.bytes()
                return Response(str(type(raw).__name__) + ":" + str(len(raw)))
        '''})
    assert json.loads(server.request("POST", "/json", body=b'{"n": 21}')[2]) == {"doubled": 42}
    assert server.request("POST", "/raw", body=b"\x00\x01\x02")[2] == b"bytes:3"


def test_workers_response_forms(serve):
    server = serve({"worker.py": '''
        from workers import WorkerEntrypoint, Response
        from js import Headers

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                path = request.url.split("/", 3)[3]
                if path == "dict":
                    return Response("d", status=201, headers={"X-A": "1"})
                if path == "pairs":
                    return Response(b"p", headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
                if path == "jsheaders":
                    return Response("h", headers=Headers.new({"X-J": "j"}.items()))
                if path == "redirect":
                    return Response.redirect("https://example.com/there", 301)
                if path == "json":
                    return Response.json({"ok": True}, status=202)
                if path == "empty":
                    return Response(None, status=204)
                if path == "badheaders":
                    return Response("x", headers=42)
                return Response("none")
        '''})
    status, headers, body = server.get("/dict")
    assert (status, body, headers["x-a"]) == (201, b"d", "1")
    status, headers, body = server.get("/pairs")
    assert headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert server.get("/jsheaders")[1]["x-j"] == "j"
    status, headers, _ = server.get("/redirect")
    assert (status, headers["location"]) == (301, "https://example.com/there")
    status, headers, body = server.get("/json")
    assert (status, json.loads(body), headers["content-type"]) == (202, {"ok": True}, "application/json")
    assert server.get("/empty")[0:3:2] == (204, b"")
    assert server.get("/badheaders")[0] == 500
    assert "Received unexpected type for headers argument" in server.wait_log("Received unexpected")


def test_js_response_new_forms_and_headers_methods(serve):
    server = serve({"worker.py": '''
        from js import Response, Headers, JSON
        from workers import WorkerEntrypoint

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                h = Headers.new()
                h.set("X-One", "1")
                h.append("X-Many", "a")
                h.append("X-Many", "b")
                h.set("X-Gone", "x")
                h.delete("x-gone")
                assert h.has("x-one") and not h.has("x-gone")
                assert h.get("x-many") == "a, b"
                names = sorted(k for k, v in h)
                return Response.new(JSON.stringify({"names": names}), headers=h, status=418)
        '''})
    status, headers, body = server.get("/")
    assert status == 418
    assert json.loads(body) == {"names": ["x-many", "x-one"]}
    assert headers["x-one"] == "1"


def test_env_json_and_text_bindings(serve):
    server = serve({"worker.py": '''
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response.json({"greeting": self.env.GREETING, "cfg": self.env.CONFIG,
                                      "home": self.env.FROM_ENV})
        '''}, bindings='(name = "GREETING", text = "hi there"), '
                       '(name = "CONFIG", json = "{\\"limit\\": 3, \\"tags\\": [\\"a\\"]}"), '
                       '(name = "FROM_ENV", fromEnvironment = "PYWORKERD_TEST_VALUE")')
    got = json.loads(server.get("/")[2])
    assert got == {"greeting": "hi there", "cfg": {"limit": 3, "tags": ["a"]}, "home": None}


def test_worker_imports_a_second_module_of_the_config(serve):
    server = serve({
        "worker.py": '''
            from workers import WorkerEntrypoint, Response
            import helpers

            class Default(WorkerEntrypoint):
                def fetch(self, request):
                    return Response(helpers.shout("hello"))
            ''',
        "helpers.py": '''
            def shout(text):
                return text.upper() + "!"
            ''',
    })
    assert server.get("/")[2] == b"HELLO!"


@pytest.mark.parametrize("signature,call", [
    ("def on_fetch(request)", "request.method"),
    ("def on_fetch(request, env)", "env.NAME"),
    ("async def on_fetch(request, env, ctx)", "type(ctx).__name__ and env.NAME"),
])
def test_legacy_top_level_on_fetch(serve, signature, call):
    server = serve({"worker.py": f'''
        from js import Response

        {signature}:
            return Response.new("legacy " + str({call}))
        '''}, bindings='(name = "NAME", text = "bound")')
    status, _, body = server.get("/")
    assert status == 200 and body.startswith(b"legacy ")
    assert body in (b"legacy GET", b"legacy bound")


def test_on_fetch_is_not_used_after_python_no_global_handlers_date(serve):
    server = serve({"worker.py": '''
        from js import Response
        def on_fetch(request):
            return Response.new("x")
        '''}, date="2025-09-01")
    assert server.get("/")[0] == 500
    log = server.wait_log("does not export a default entrypoint")
    assert "WorkerEntrypoint" in log and "disable_python_no_global_handlers" in log


def test_handler_returning_a_non_response_gives_500(serve):
    server = serve({"worker.py": '''
        from workers import WorkerEntrypoint

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return {"not": "a response"}
        '''})
    assert server.get("/")[0] == 500
    assert "expected a Response" in server.wait_log("expected a Response")
