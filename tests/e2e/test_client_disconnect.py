"""An HTTP/1 client that closes its connection while its request waits for the worker: the
handler is cancelled (CancelledError inside it, for plain workers and ASGI apps alike), the
access log says 499, and the server goes on. A pipelined second request is not a close."""

import socket
import time

WORKER = """
import asyncio
from workers import WorkerEntrypoint, Response

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/slow"):
            try:
                await asyncio.sleep(20)
            except asyncio.CancelledError:
                print("handler cancelled: client left")
                raise
            return Response("late")
        if request.url.endswith("/second"):
            await asyncio.sleep(0.6)
            return Response("second done")
        return Response("ok")
"""

FASTAPI_WORKER = """
import asyncio
from fastapi import FastAPI
from workers import WorkerEntrypoint
import asgi

app = FastAPI()

@app.get("/slow")
async def slow():
    try:
        await asyncio.sleep(20)
    except asyncio.CancelledError:
        print("route cancelled: client left")
        raise
    return {"late": True}

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await asgi.fetch(app, request, self.env)
"""


def send_and_leave(port, path, wait=0.5):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    time.sleep(wait)
    s.close()


def test_handler_is_cancelled_when_the_client_leaves(serve):
    server = serve({"worker.py": WORKER})
    send_and_leave(server.port, "/slow")
    server.wait_log("handler cancelled: client left", timeout=5)
    server.wait_log(" GET /slow 499 ", timeout=5)
    assert server.get("/")[2] == b"ok"


def test_asgi_route_is_cancelled_when_the_client_leaves(serve, tmp_path):
    server = serve({"worker.py": FASTAPI_WORKER, "pyproject.toml": '[project]\ndependencies = ["fastapi"]\n'})
    send_and_leave(server.port, "/slow")
    server.wait_log("route cancelled: client left", timeout=5)
    assert server.get("/docs")[0] == 200


def test_pipelined_request_is_not_taken_for_a_close(serve):
    server = serve({"worker.py": WORKER})
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        s.sendall(b"GET /second HTTP/1.1\r\nHost: localhost\r\n\r\n"
                  b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        data = b""
        deadline = time.monotonic() + 10
        while data.count(b"HTTP/1.1 200") < 2 and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    assert b"second done" in data and data.count(b"HTTP/1.1 200") == 2, data
    assert " 499 " not in server.log()
