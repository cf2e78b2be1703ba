"""Outbound work is cancelled when the isolate that started it dies: a worker awaits fetch()
(or a KV get on an `external` service) to a test server that never answers; the test kills
that isolate with SIGKILL and checks that the server sees its connection closed at once —
the curl transfer was removed, nothing called back into freed state — and that the host
keeps serving. The isolate reports its pid in the request it sends (x-pid / the key). A
service call (and so KV on a worker service) is cancelled the same way: the called worker's
handler gets CancelledError."""

import re
import signal
import socket
import textwrap
import threading
import time

import pytest

from conftest import Server, assert_no_sanitizer_report

CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w),
              (name = "internet", network = (allow = ["public", "local"])),
              (name = "kvext", external = (address = "127.0.0.1:{port}", http = ())),
              (name = "slow", worker = .slow)],
  sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "KV", kvNamespace = "kvext"), (name = "SLOW", service = "slow")],
);
const slow :Workerd.Worker = (
  modules = [(name = "slow.py", pythonModule = embed "slow.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
);
"""

SLOW = """
import asyncio
from workers import WorkerEntrypoint, Response

state = {"caller": None, "cancelled": 0}

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.split("/", 3)[3]
        if path.startswith("hang"):
            state["caller"] = int(path[4:])
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                state["cancelled"] += 1
                raise
        return Response.json(state)
"""

WORKER = """
import os
from workers import WorkerEntrypoint, Response, fetch

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.split("/", 3)[3]
        if path.startswith("fetch"):
            r = await fetch(f"http://127.0.0.1:{path[5:]}/hang", headers={"x-pid": str(os.getpid())})
            return Response(await r.text())
        if path == "kv":
            return Response(await self.env.KV.get(f"pid-{os.getpid()}") or "none")
        if path == "svc":
            r = await self.env.SLOW.fetch(f"http://slow/hang{os.getpid()}")
            return Response(await r.text())
        if path == "svc-state":
            return Response(await (await self.env.SLOW.fetch("http://slow/state")).text())
        return Response("alive")
"""


class SilentServer:
    """Accepts connections, reads the request, never answers; notes when each one closes."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = []      # (pid, closed event)
        self.arrived = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        closed = threading.Event()
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        m = re.search(rb"x-pid: (\d+)|/pid-(\d+)", data, re.I)
        self.requests.append((int(m.group(1) or m.group(2)), closed))
        self.arrived.set()
        while conn.recv(65536):     # never answer; wait for the peer to close
            pass
        closed.set()
        conn.close()

    def close(self):
        self.sock.close()


@pytest.mark.parametrize("what", ["fetch", "kv"])
def test_killing_the_isolate_closes_its_outbound_connection(tmp_path, what):
    silent = SilentServer()
    d = tmp_path / "w"
    d.mkdir()
    (d / "worker.py").write_text(textwrap.dedent(WORKER))
    (d / "slow.py").write_text(textwrap.dedent(SLOW))
    (d / "config.capnp").write_text(CONFIG.replace("{port}", str(silent.port)))
    s = Server(d / "config.capnp", ["--fetch-timeout=60"], tmp=tmp_path)
    try:
        path = f"/fetch{silent.port}" if what == "fetch" else "/kv"
        result = {}
        client = threading.Thread(target=lambda: result.update(r=s.get(path, timeout=30)))
        client.start()
        assert silent.arrived.wait(10), "the request never reached the test server"
        pid, closed = silent.requests[0]
        assert not closed.is_set()
        started = time.monotonic()
        import os
        os.kill(s.host_pid(pid), signal.SIGKILL)
        assert closed.wait(5), "the outbound connection stayed open after its isolate died"
        assert time.monotonic() - started < 5
        client.join(10)
        assert result["r"][0] == 502
        assert s.get("/")[2] == b"alive"      # a new isolate serves
        assert s.proc.poll() is None
    finally:
        s.stop(signal.SIGKILL)
        silent.close()
    assert_no_sanitizer_report(s.log())


def test_killing_the_caller_cancels_its_service_call(tmp_path):
    import json
    import os
    d = tmp_path / "w"
    d.mkdir()
    (d / "worker.py").write_text(textwrap.dedent(WORKER))
    (d / "slow.py").write_text(textwrap.dedent(SLOW))
    (d / "config.capnp").write_text(CONFIG.replace("{port}", "9"))
    s = Server(d / "config.capnp", [], tmp=tmp_path)
    try:
        result = {}
        client = threading.Thread(target=lambda: result.update(r=s.get("/svc", timeout=30)))
        client.start()
        deadline = time.monotonic() + 10
        while (state := json.loads(s.get("/svc-state")[2]))["caller"] is None:
            assert time.monotonic() < deadline, "the service call never started"
            time.sleep(0.02)
        os.kill(s.host_pid(state["caller"]), signal.SIGKILL)
        deadline = time.monotonic() + 5
        while True:     # the front isolate is being replaced: the first answers may be 502
            status, _, body = s.get("/svc-state")
            if status == 200 and json.loads(body)["cancelled"] == 1:
                break
            assert time.monotonic() < deadline, "the called worker's handler was not cancelled"
            time.sleep(0.02)
        client.join(10)
        assert result["r"][0] == 502
    finally:
        s.stop(signal.SIGKILL)
    assert_no_sanitizer_report(s.log())
