"""The seed's examples, served exactly as written: examples/hello and the JSON/headers one."""

import json
import shutil
from pathlib import Path

from conftest import REPO, Server


def test_seed_hello_example_serves_hello_from_python(tmp_path):
    example = tmp_path / "hello"
    shutil.copytree(REPO / "examples" / "hello", example)
    server = Server(example / "config.capnp", tmp=tmp_path)
    try:
        status, headers, body = server.get("/")
        assert (status, body) == (200, b"Hello from Python!")
        assert headers["Server"] == "pyworkerd"
        assert headers["Content-Type"] == "text/plain;charset=UTF-8"
    finally:
        assert server.stop() == 0


def test_seed_json_headers_example_returns_json(serve):
    server = serve({"worker.py": '''
        from workers import WorkerEntrypoint
        from js import Response, Headers

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                # Access request properties
                method = request.method
                url = request.url
                headers = request.headers

                # Create response with headers
                response_headers = Headers.new()
                response_headers.set("Content-Type", "application/json")

                return Response.new(
                    '{"message": "Hello"}',
                    headers=response_headers,
                    status=200
                )
        '''})
    status, headers, body = server.get("/anything?x=1")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"message": "Hello"}


def test_keep_alive_serves_many_requests_on_one_connection(serve):
    server = serve({"worker.py": '''
        from js import Response
        from workers import WorkerEntrypoint
        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response.new(request.url)
        '''})
    conn = server.conn()
    try:
        for i in range(20):
            conn.request("GET", f"/n/{i}")
            r = conn.getresponse()
            assert r.status == 200
            assert r.read() == f"http://127.0.0.1:{server.port}/n/{i}".encode()
            assert r.getheader("Connection", "keep-alive").lower() != "close"
    finally:
        conn.close()
