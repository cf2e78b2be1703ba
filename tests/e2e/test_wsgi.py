"""WSGI through the real server: examples/flask (form POST, JSON, env, a streamed body), a
Django application, the PEP 3333 environ, and errors."""

import json
import time
import urllib.parse

import pytest
from conftest import REPO, Server


@pytest.fixture(scope="module")
def flask_example(tmp_path_factory):
    server = Server(REPO / "examples/flask/config.capnp", tmp=tmp_path_factory.mktemp("flask"))
    yield server
    server.stop()


def test_flask_index_serves_the_form(flask_example):
    status, headers, body = flask_example.get("/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'<form method="post" action="/greet">' in body


def test_flask_form_post(flask_example):
    form = urllib.parse.urlencode({"name": "Ada Lovelace", "color": "green"})
    status, _, body = flask_example.request(
        "POST", "/greet", body=form, headers={"content-type": "application/x-www-form-urlencoded"})
    assert status == 200
    assert body == b"<p>Hello, Ada Lovelace! Your favourite colour is green.</p>\n"
    status, _, body = flask_example.request(
        "POST", "/greet", body="color=red", headers={"content-type": "application/x-www-form-urlencoded"})
    assert (status, body) == (400, b"name is required\n")


def test_flask_json_echo(flask_example):
    status, headers, body = flask_example.request(
        "POST", "/api/echo", body=json.dumps({"a": 1, "b": [1, 2], "c": "é"}),
        headers={"content-type": "application/json"})
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"received": {"a": 1, "b": [1, 2], "c": "é"}, "keys": 3}
    status, _, body = flask_example.request("POST", "/api/echo", body="[1]",
                                            headers={"content-type": "application/json"})
    assert status == 400


def test_flask_reads_env_from_the_environ(flask_example):
    status, _, body = flask_example.get("/api/env")
    assert status == 200 and json.loads(body) == {"greeting": "Hello from a binding"}


def test_flask_streamed_body(flask_example):
    status, headers, body = flask_example.get("/stream")
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert body == b"line 0\nline 1\nline 2\n"


def test_flask_unknown_route_is_404(flask_example):
    assert flask_example.get("/nope")[0] == 404


ENVIRON_APP = '''
    import json
    from workers import WorkerEntrypoint, wsgi

    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        shown = {k: v for k, v in environ.items() if isinstance(v, (str, int, bool, tuple))}
        shown["body"] = body.decode()
        shown["env"] = environ["workers.env"].GREETING
        shown["errors"] = hasattr(environ["wsgi.errors"], "write")
        start_response("201 Created", [("Content-Type", "application/json"), ("X-A", "1")])
        return [json.dumps(shown).encode()]

    def failing(environ, start_response):
        raise ZeroDivisionError("wsgi app failed on purpose")

    def slow(environ, start_response):
        import time
        start_response("200 OK", [("Content-Type", "text/plain")])
        def gen():
            for i in range(3):
                yield f"{i} {time.time()}\\n".encode()
                time.sleep(0.3)
        return gen()

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            app_ = app
            if "/fail" in request.url:
                app_ = failing
            elif "/slow" in request.url:
                app_ = slow
            return await wsgi.fetch(app_, request, self.env)
    '''


def test_environ_is_pep3333(serve):
    server = serve({"worker.py": ENVIRON_APP}, bindings='(name = "GREETING", text = "hi")')
    conn = server.conn()
    conn.request("POST", "/a%20b/c?x=1&y=2", body=b"payload",
                 headers={"Content-Type": "text/plain", "X-Thing": "v", "Host": "example.org:9000"})
    client_port = conn.sock.getsockname()[1]
    response = conn.getresponse()
    status, headers, body = response.status, response.headers, response.read()
    conn.close()
    assert status == 201 and headers["x-a"] == "1"
    env = json.loads(body)
    assert env["REQUEST_METHOD"] == "POST"
    assert env["SCRIPT_NAME"] == "" and env["PATH_INFO"] == "/a b/c"
    assert env["QUERY_STRING"] == "x=1&y=2"
    assert env["CONTENT_TYPE"] == "text/plain" and env["CONTENT_LENGTH"] == "7"
    # the listening socket's real address and the connection's peer
    assert env["SERVER_NAME"] == "127.0.0.1" and env["SERVER_PORT"] == str(server.port)
    assert env["REMOTE_ADDR"] == "127.0.0.1" and env["REMOTE_PORT"] == str(client_port)
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["HTTP_X_THING"] == "v" and env["HTTP_HOST"] == "example.org:9000"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert env["wsgi.version"] == [1, 0] and env["wsgi.url_scheme"] == "http"
    assert env["wsgi.multithread"] is False and env["wsgi.run_once"] is False
    assert env["body"] == "payload" and env["env"] == "hi" and env["errors"] is True


def test_wsgi_app_exception_is_500_with_traceback(serve):
    server = serve({"worker.py": ENVIRON_APP}, bindings='(name = "GREETING", text = "hi")')
    assert server.get("/fail")[0] == 500
    log = server.wait_log("wsgi app failed on purpose")
    assert "Traceback" in log
    assert server.get("/")[0] == 201


def test_wsgi_generator_is_streamed_while_it_runs(serve):
    server = serve({"worker.py": ENVIRON_APP}, bindings='(name = "GREETING", text = "hi")')
    conn = server.conn()
    conn.request("GET", "/slow")
    response = conn.getresponse()
    first = response.readline()
    seen = time.time()
    rest = response.read().splitlines()
    conn.close()
    assert first.startswith(b"0 ") and len(rest) == 2
    assert seen < float(rest[-1].split()[1])


DJANGO_APP = '''
    import json
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="pyworkerd-e2e-not-secret",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["*"],
        MIDDLEWARE=[],
        INSTALLED_APPS=[],
        USE_TZ=True,
    )

    import django
    django.setup()

    from django.core.wsgi import get_wsgi_application
    from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt
    from workers import WorkerEntrypoint, wsgi


    def hello(request):
        return HttpResponse("Hello from Django", content_type="text/plain")


    def article(request, year, slug):
        return JsonResponse({"year": year, "slug": slug, "q": request.GET.get("q")})


    @csrf_exempt
    def submit(request):
        return JsonResponse({"method": request.method, "fields": dict(request.POST.items())})


    def stream(request):
        return StreamingHttpResponse((f"part {i}\\n" for i in range(3)), content_type="text/plain")


    urlpatterns = [
        path("", hello),
        path("articles/<int:year>/<slug:slug>/", article),
        path("submit", submit),
        path("stream", stream),
    ]

    application = get_wsgi_application()


    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            return await wsgi.fetch(application, request, self.env)
    '''


def test_django_application(serve):
    server = serve({"worker.py": DJANGO_APP},
                   bindings='(name = "requirements", json = "[\\"django\\"]")')
    assert server.get("/")[1:] and server.get("/")[2] == b"Hello from Django"
    status, _, body = server.get("/articles/2024/hello-world/?q=x")
    assert status == 200 and json.loads(body) == {"year": 2024, "slug": "hello-world", "q": "x"}
    status, _, body = server.request("POST", "/submit", body="a=1&b=two",
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    assert status == 200 and json.loads(body) == {"method": "POST", "fields": {"a": "1", "b": "two"}}
    status, headers, body = server.get("/stream")
    assert status == 200 and body == b"part 0\npart 1\npart 2\n"
    assert server.get("/missing")[0] == 404
