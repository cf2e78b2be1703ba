"""ASGI through the real server: every route of examples/fastapi (the seed's FastAPI example
and more), the ASGI scope, request bodies, lifespan, errors, and streamed responses — which
must reach the client while they are produced, honour the client's pace, and end cleanly
when the app fails, the client leaves or the isolate dies."""

import http.client
import json
import os
import socket
import time

import pytest
from conftest import REPO, Server

FASTAPI_REQUIREMENT = '(name = "requirements", json = "[\\"fastapi\\"]")'


@pytest.fixture(scope="module")
def fastapi_example(tmp_path_factory):
    server = Server(REPO / "examples/fastapi/config.capnp", ["--persist-dir=:memory:"],
                    tmp=tmp_path_factory.mktemp("fastapi"))
    yield server
    server.stop()


def get_json(server, path, **kw):
    status, headers, body = server.request("GET", path, **kw)
    return status, json.loads(body)


def post_json(server, path, data):
    body = data if isinstance(data, (bytes, str)) else json.dumps(data)
    return server.request("POST", path, body=body, headers={"content-type": "application/json"})


# ---------------------------------------------------------------- examples/fastapi


def test_seed_fastapi_example_answers_hello(fastapi_example):
    status, headers, body = fastapi_example.get("/")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "Hello from FastAPI"}


def test_path_and_query_parameters(fastapi_example):
    assert get_json(fastapi_example, "/items/42?q=hello%20world&limit=3") == (
        200, {"item_id": 42, "q": "hello world", "limit": 3})
    assert get_json(fastapi_example, "/items/7") == (200, {"item_id": 7, "q": None, "limit": 10})


def test_path_parameter_of_wrong_type_is_422(fastapi_example):
    status, body = get_json(fastapi_example, "/items/seven")
    assert status == 422
    assert body["detail"][0]["loc"] == ["path", "item_id"]


def test_json_body_validated_by_pydantic(fastapi_example):
    status, _, body = post_json(fastapi_example, "/items", {"name": "pen", "price": 1.25, "quantity": 4})
    assert status == 201
    assert json.loads(body) == {"item": {"name": "pen", "price": 1.25, "quantity": 4, "tags": []},
                                "total": 5.0}


def test_invalid_json_body_is_422_with_every_error(fastapi_example):
    status, _, body = post_json(fastapi_example, "/items", {"name": "", "price": -1})
    assert status == 422
    locs = sorted(tuple(e["loc"]) for e in json.loads(body)["detail"])
    assert locs == [("body", "name"), ("body", "price")]
    status, _, _ = post_json(fastapi_example, "/items", b"{not json")
    assert status == 422


def test_env_reaches_a_route_through_the_dependency(fastapi_example):
    assert get_json(fastapi_example, "/env") == (200, {"greeting": "Hello from a binding"})


def test_kv_route_stores_and_reads_a_note(fastapi_example):
    assert fastapi_example.request("PUT", "/notes/todo", body=b"buy milk")[0] == 200
    status, _, body = fastapi_example.get("/notes/todo")
    assert status == 200 and json.loads(body) == {"name": "todo", "text": "buy milk"}
    assert fastapi_example.get("/notes/nothing")[0] == 404


def test_lifespan_startup_ran_once_in_the_isolate(fastapi_example):
    for _ in range(3):
        status, body = get_json(fastapi_example, "/startup")
        assert status == 200 and body["runs"] == 1


def test_unknown_route_is_404(fastapi_example):
    assert get_json(fastapi_example, "/nope") == (404, {"detail": "Not Found"})


def test_streaming_response_reaches_the_client_before_the_last_chunk_is_produced(fastapi_example):
    conn = fastapi_example.conn()
    conn.request("GET", "/stream?count=4&delay=0.3")
    response = conn.getresponse()
    assert response.status == 200
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["content-type"].startswith("application/x-ndjson")
    first = json.loads(response.readline())
    first_seen = time.time()
    rest = [json.loads(line) for line in response.read().splitlines()]
    conn.close()
    assert first["i"] == 0 and [r["i"] for r in rest] == [1, 2, 3]
    # The first line was in the client's hands while the app had yet to produce the last one.
    assert first_seen < rest[-1]["produced_at"]
    assert rest[-1]["produced_at"] - first["produced_at"] >= 0.8


def test_keep_alive_connection_serves_requests_after_a_stream(fastapi_example):
    conn = fastapi_example.conn()
    for _ in range(3):
        conn.request("GET", "/stream?count=3&delay=0")
        r = conn.getresponse()
        assert len(r.read().splitlines()) == 3
        conn.request("GET", "/")
        assert json.loads(conn.getresponse().read()) == {"message": "Hello from FastAPI"}
    conn.close()


def test_head_of_a_streaming_route_has_no_body(fastapi_example):
    status, _, body = fastapi_example.request("HEAD", "/stream?count=2&delay=0")
    assert status in (200, 405) and body == b""
    assert fastapi_example.get("/")[0] == 200


# ---------------------------------------------------------------- scope, body, lifespan

SCOPE_APP = '''
    import json
    from workers import WorkerEntrypoint
    import asgi

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    scope["state"]["db"] = "connected"
                    scope["state"]["hits"] = []
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        pieces = []
        while True:
            message = await receive()
            pieces.append(message)
            if not message.get("more_body"):
                break
        scope["state"]["hits"].append(1)
        shown = {k: v for k, v in scope.items() if k not in ("env", "state")}
        shown["headers"] = [[k.decode(), v.decode()] for k, v in scope["headers"]]
        shown["raw_path"] = scope["raw_path"].decode()
        shown["query_string"] = scope["query_string"].decode()
        shown["env_greeting"] = scope["env"].GREETING
        shown["state"] = {"db": scope["state"]["db"], "hits": len(scope["state"]["hits"])}
        shown["body_pieces"] = [len(m["body"]) for m in pieces]
        shown["body_total"] = sum(len(m["body"]) for m in pieces)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"x-multi", b"1"),
                                (b"x-multi", b"2")]})
        await send({"type": "http.response.body", "body": json.dumps(shown).encode()})

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            return await asgi.fetch(app, request, self.env, self.ctx)
    '''


def test_scope_is_complete_asgi3(serve):
    server = serve({"worker.py": SCOPE_APP}, bindings='(name = "GREETING", text = "hi")')
    conn = server.conn()
    conn.request("GET", "/caf%C3%A9/a%2Fb?x=1&y=%20", headers={"X-Custom": "Value", "Host": "example.com:8443"})
    client_port = conn.sock.getsockname()[1]
    response = conn.getresponse()
    status, headers, body = response.status, response.headers, response.read()
    conn.close()
    assert status == 200
    scope = json.loads(body)
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.3"}
    assert scope["http_version"] == "1.1" and scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/café/a/b"
    assert scope["raw_path"] == "/caf%C3%A9/a%2Fb"
    assert scope["root_path"] == ""
    assert scope["query_string"] == "x=1&y=%20"
    assert ["x-custom", "Value"] in scope["headers"]
    assert ["host", "example.com:8443"] in scope["headers"]
    assert all(name == name.lower() for name, _ in scope["headers"])
    # server: the listening socket's real address; client: the connection's peer
    assert scope["server"] == ["127.0.0.1", server.port]
    assert scope["client"][0] == "127.0.0.1" and scope["client"][1] == client_port
    assert scope["env_greeting"] == "hi"
    assert scope["state"]["db"] == "connected"
    assert headers.get_all("x-multi") == ["1", "2"]


def test_lifespan_state_is_shared_by_an_isolates_requests(serve):
    server = serve({"worker.py": SCOPE_APP}, bindings='(name = "GREETING", text = "hi")')
    hits = [json.loads(server.get("/")[2])["state"]["hits"] for _ in range(3)]
    assert hits == [1, 2, 3]


LIFESPAN_PID_APP = '''
    import os
    from workers import WorkerEntrypoint
    import asgi

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(os.getpid()).encode()})

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            return await asgi.fetch(app, request, self.env)
    '''
SYS_POLL_X86_64 = 7


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="reads x86_64 syscall numbers")
def test_a_started_lifespan_does_not_keep_the_isolate_off_its_fast_path(serve):
    """The lifespan task waits for the shutdown all the isolate's life: between requests the
    isolate still blocks in the fast path's poll(), not in the asyncio loop's epoll_wait()."""
    server = serve({"worker.py": LIFESPAN_PID_APP})
    pid = server.host_pid(int(server.get("/")[2]))
    for _ in range(3):
        server.get("/")
    deadline = time.monotonic() + 5
    while True:
        with open(f"/proc/{pid}/syscall") as f:
            current = f.read().split()[0]
        if current == str(SYS_POLL_X86_64):
            break
        assert time.monotonic() < deadline, f"isolate {pid} idles in syscall {current}, not poll()"
        time.sleep(0.05)


def test_large_request_body_arrives_in_pieces(serve):
    server = serve({"worker.py": SCOPE_APP}, bindings='(name = "GREETING", text = "hi")')
    status, _, body = server.request("POST", "/upload", body=b"x" * 200_000)
    scope = json.loads(body)
    assert status == 200 and scope["body_total"] == 200_000
    assert len(scope["body_pieces"]) > 1
    status, _, body = server.request("POST", "/small", body=b"abc")
    assert json.loads(body)["body_pieces"] == [3]


def test_app_without_lifespan_support_works(serve):
    server = serve({"worker.py": '''
        from workers import WorkerEntrypoint
        from asgi import asgi_adapter

        async def app(scope, receive, send):
            assert scope["type"] == "http", "no lifespan here"
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"plain ASGI"})

        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                return await asgi_adapter(app, request)
        '''})
    for _ in range(2):
        status, _, body = server.get("/")
        assert (status, body) == (200, b"plain ASGI")
    assert "Traceback" not in server.log()


ERRORS_APP = '''
    import asyncio
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse
    from workers import WorkerEntrypoint
    from workers import asgi

    app = FastAPI()

    @app.get("/boom")
    async def boom():
        raise ValueError("the handler failed on purpose")

    @app.get("/midstream")
    async def midstream():
        async def body():
            yield b"first\\n"
            await asyncio.sleep(0.05)
            raise RuntimeError("the stream failed on purpose")
        return StreamingResponse(body())

    async def raw(scope, receive, send):
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        raise KeyError("before any response")

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            if request.url.endswith("/raw"):
                return await asgi.fetch(raw, request, self.env)
            return await asgi.fetch(app, request, self.env)
    '''


def test_app_exception_is_500_with_traceback_in_the_log(serve):
    server = serve({"worker.py": ERRORS_APP}, bindings=FASTAPI_REQUIREMENT)
    status, _, _ = server.get("/boom")
    assert status == 500
    log = server.wait_log("the handler failed on purpose")
    assert "Traceback" in log and "[main iso " in log
    status, _, _ = server.get("/raw")
    assert status == 500
    server.wait_log("KeyError: 'before any response'")
    assert server.get("/boom")[0] == 500  # the isolate survived


def test_stream_failing_midway_is_cut_short_and_logged(serve):
    server = serve({"worker.py": ERRORS_APP}, bindings=FASTAPI_REQUIREMENT)
    conn = server.conn()
    conn.request("GET", "/midstream")
    response = conn.getresponse()
    assert response.status == 200
    assert response.readline() == b"first\n"
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()
    server.wait_log("the stream failed on purpose")
    assert server.get("/boom")[0] == 500


STREAM_APP = '''
    import asyncio, os
    from workers import WorkerEntrypoint, Response
    import asgi

    produced = {"bytes": 0, "closed": 0}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        path = scope["path"]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/octet-stream")]})
        if path == "/big":
            chunk = b"x" * 65536
            try:
                for _ in range(1024):   # 64 MiB, if the client reads it all
                    produced["bytes"] += len(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            finally:
                produced["closed"] += 1
        elif path == "/die":
            await send({"type": "http.response.body", "body": b"before\\n", "more_body": True})
            await asyncio.sleep(0.2)
            os._exit(3)

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            if request.url.endswith("/produced"):
                return Response.json(produced)
            return await asgi.fetch(app, request, self.env)
    '''


def test_slow_client_slows_the_producer_instead_of_filling_memory(serve):
    server = serve({"worker.py": STREAM_APP})
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(1.5)    # the client reads nothing meanwhile
    produced = json.loads(server.get("/produced")[2])["bytes"]
    assert 0 < produced < 24 * 1024 * 1024, produced
    received = 0
    sock.settimeout(10)
    while received < 64 * 1024 * 1024:
        data = sock.recv(1 << 20)
        if not data:
            break
        received += len(data)
        if b"0\r\n\r\n" == data[-5:]:
            break
    sock.close()
    assert received >= 64 * 1024 * 1024
    assert json.loads(server.get("/produced")[2])["bytes"] == 64 * 1024 * 1024


def test_client_leaving_mid_stream_stops_the_app(serve):
    server = serve({"worker.py": STREAM_APP})
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(65536)
    sock.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        state = json.loads(server.get("/produced")[2])
        if state["closed"] == 1:
            break
        time.sleep(0.05)
    assert state["closed"] == 1 and state["bytes"] < 64 * 1024 * 1024
    assert server.get("/produced")[0] == 200


def test_isolate_dying_mid_stream_ends_the_response_and_is_replaced(serve):
    server = serve({"worker.py": STREAM_APP})
    conn = server.conn()
    conn.request("GET", "/die")
    response = conn.getresponse()
    assert response.status == 200
    assert response.readline() == b"before\n"
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()
    server.wait_log("isolate")
    deadline = time.monotonic() + 10
    while server.get("/produced")[0] != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.get("/produced")[0] == 200


def test_isolate_streaming_past_its_window_is_stopped(serve):
    # A broken isolate (here: a worker writing to the wire itself) must not fill the host's memory.
    server = serve({"worker.py": '''
        import asyncio
        from pyworkerd import runtime
        from workers import WorkerEntrypoint
        import asgi

        async def app(scope, receive, send):
            if scope["type"] != "http":
                raise RuntimeError("no lifespan")
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            if scope["path"] == "/flood":
                loop_server = runtime.streams
                request_id = next(iter(loop_server.pumps))
                for _ in range(512):
                    loop_server.channel.send_chunk(request_id, b"y" * 65536)
                loop_server.flush()
            await asyncio.sleep(5)

        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                if request.url.endswith("/ok"):
                    from workers import Response
                    return Response("ok")
                return await asgi.fetch(app, request, self.env)
        '''})
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"GET /flood HTTP/1.1\r\nHost: x\r\n\r\n")
    server.wait_log("flow-control window")
    sock.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.get("/ok")[0] != 200:
        time.sleep(0.05)
    assert server.get("/ok")[2] == b"ok"
