"""--threads N: N host event loops, each accepting on the same sockets with isolates of its own,
while the stateful bindings (KV, Workflows) keep one owner, the main loop, which the other loops
forward their calls to. Connections reach every loop; a KV write made through one loop is read
through another; service bindings stay within a loop; SIGTERM drains requests in flight on every
loop; the isolate counts are shared out over the loops; a config error is still one clear line."""

import http.client
import json
import os
import subprocess
import socket
import signal
import threading
import time

from conftest import BIN, REPO, external_service, free_port, kv_worker_config, run_pyworkerd, worker_config

TOKEN_WORKER = """
import time
from workers import WorkerEntrypoint, Response

TOKEN = str(time.monotonic_ns())      # one per worker template, i.e. per host loop

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(TOKEN)
"""


def loop_tokens(server, connections=48):
    """The template tokens answered over `connections` fresh connections."""
    return {server.get("/")[2] for _ in range(connections)}


def test_connections_reach_every_loop(serve):
    server = serve({"worker.py": TOKEN_WORKER}, "--threads", "2", "--verbose")
    server.wait_log("serving on 2 host threads")
    assert len(loop_tokens(server)) == 2


def test_every_loops_template_is_forked_before_any_has_loaded(serve, monkeypatch):
    # start-up does not grow with --threads: the loops' templates are asked for at once and
    # load side by side (host/loop_templates.h), not one after another (before: the second
    # loop's template was forked only once the first was ready)
    monkeypatch.setenv("PYTHON_TRACE", "1")
    server = serve({"worker.py": TOKEN_WORKER}, "--threads", "3", "--verbose")
    log = server.wait_log("pyworkerd: ready")
    lines = log.splitlines()
    forks = [i for i, line in enumerate(lines) if "template forked pid=" in line]
    ready = [i for i, line in enumerate(lines) if "template ready:" in line]
    assert len(forks) == 3 and len(ready) == 3, log
    assert max(forks) < min(ready), log
    assert len(loop_tokens(server)) == 3


def test_default_is_half_the_cpus(tmp_path):
    """Without --threads: half the CPUs the server may use, one below four (the suite's Server
    pins one loop, so this starts pyworkerd itself)."""
    (tmp_path / "worker.py").write_text(TOKEN_WORKER)
    (tmp_path / "config.capnp").write_text(worker_config(["worker.py"]))
    cpus = len(os.sched_getaffinity(0))
    expected = cpus // 2 if cpus >= 4 else 1
    log = tmp_path / "log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([BIN, "serve", str(tmp_path / "config.capnp"), "-s",
                                 f"http=127.0.0.1:{free_port()}", "--verbose"],
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while "pyworkerd: ready" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        text = log.read_text()
        assert "pyworkerd: ready" in text, text
        if expected == 1:
            assert "host threads" not in text
        else:
            assert f"serving on {expected} host threads" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0


KV_WORKER = """
import time
from workers import WorkerEntrypoint, Response

TOKEN = str(time.monotonic_ns())

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        key = request.url.split("/")[-1]
        if request.method == "PUT":
            await self.env.KV.put(key, await request.text())
            return Response(TOKEN)
        value = await self.env.KV.get(key)
        return Response(f"{TOKEN} {value}")
"""

def test_kv_writes_are_seen_from_every_loop(serve, tmp_path):
    d = tmp_path / "kv"
    (d / "kv-data").mkdir(parents=True)
    (d / "worker.py").write_text(KV_WORKER)
    (d / "config.capnp").write_text(kv_worker_config())
    server = serve(d / "config.capnp", "--threads", "2", "--verbose")
    server.wait_log("serving on 2 host threads")
    writers, readers = set(), set()
    for i in range(24):
        status, _, token = server.request("PUT", f"/k{i}", body=f"v{i}".encode())
        assert status == 200
        writers.add(token.decode())
        for _ in range(2):      # read back on fresh connections: either loop
            status, _, body = server.get(f"/k{i}")
            reader, value = body.decode().split(" ")
            assert (status, value) == (200, f"v{i}")
            readers.add(reader)
    assert len(writers | readers) == 2, "both loops served KV calls"


SERVICE_CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "front", worker = .front), (name = "back", worker = .back)],
  sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "front")],
);
const front :Workerd.Worker = (
  modules = [(name = "front.py", pythonModule = embed "front.py")],
  compatibilityDate = "2024-01-01", compatibilityFlags = ["python_workers"],
  bindings = [(name = "BACK", service = "back")],
);
const back :Workerd.Worker = (
  modules = [(name = "back.py", pythonModule = embed "back.py")],
  compatibilityDate = "2024-01-01", compatibilityFlags = ["python_workers"],
);
"""

FRONT = """
import time
from workers import WorkerEntrypoint, Response
TOKEN = str(time.monotonic_ns())
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        answer = await self.env.BACK.fetch("http://back/")
        return Response(f"{TOKEN} {await answer.text()}")
"""

BACK = """
import time
from workers import WorkerEntrypoint, Response
TOKEN = str(time.monotonic_ns())
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(TOKEN)
"""


def test_service_bindings_stay_within_a_loop(serve, tmp_path):
    d = tmp_path / "svc"
    d.mkdir()
    (d / "front.py").write_text(FRONT)
    (d / "back.py").write_text(BACK)
    (d / "config.capnp").write_text(SERVICE_CONFIG)
    server = serve(d / "config.capnp", "--threads", "2", "--verbose")
    server.wait_log("serving on 2 host threads")
    pairs = set()
    for _ in range(48):
        status, _, body = server.get("/")
        assert status == 200
        pairs.add(tuple(body.decode().split(" ")))
    fronts = {f for f, _ in pairs}
    backs = {b for _, b in pairs}
    assert len(fronts) == 2 and len(backs) == 2
    assert len(pairs) == 2, f"each loop's front calls its own loop's back: {pairs}"


SLOW_WORKER = """
import asyncio, time
from workers import WorkerEntrypoint, Response
TOKEN = str(time.monotonic_ns())
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        await asyncio.sleep(1.0)
        return Response(TOKEN)
"""


def test_sigterm_finishes_requests_on_every_loop(serve):
    server = serve({"worker.py": SLOW_WORKER}, "--threads", "2", "--verbose")
    server.wait_log("serving on 2 host threads")
    results = []

    def one():
        c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        c.request("GET", "/")
        r = c.getresponse()
        results.append((r.status, r.read()))
        c.close()

    clients = [threading.Thread(target=one) for _ in range(16)]
    for t in clients:
        t.start()
    time.sleep(0.4)
    server.proc.send_signal(signal.SIGTERM)
    for t in clients:
        t.join(15)
    assert server.proc.wait(15) == 0
    assert len(results) == 16 and all(status == 200 for status, _ in results)
    assert len({body for _, body in results}) == 2, "requests were in flight on both loops"
    assert "all isolates exited; stopping" in server.log()


def test_isolate_counts_are_totals(serve):
    server = serve({"worker.py": TOKEN_WORKER}, "--threads", "2", "--isolates", "4",
                   "--spare-isolates", "0", "--verbose")
    server.wait_log("serving on 2 host threads")
    deadline = time.monotonic() + 10
    while server.log().count("isolate ") < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    started = [line for line in server.log().splitlines() if line.endswith("started")]
    assert len(started) == 4, started


def test_threads_option_checked():
    result = run_pyworkerd("serve", str(REPO / "examples/hello/config.capnp"), "--threads", "0")
    assert result.returncode != 0
    assert "--threads" in result.stderr


def test_watch_runs_one_loop(serve):
    server = serve({"worker.py": TOKEN_WORKER}, "--threads", "2", "--watch", "--verbose")
    server.wait_log("ready")
    assert "--threads 2: --watch runs one host loop" in server.log()
    assert len(loop_tokens(server, 16)) == 1


DYING_WORKER = """
import asyncio, os
from workers import WorkerEntrypoint, Response

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/die"):
            asyncio.ensure_future(self.env.KV.get("k"))     # runs on the main loop, never answered
            await asyncio.sleep(0.3)
            os._exit(3)
        return Response("alive")
"""


class HangingServer:
    """Accepts HTTP connections, never answers, and counts the ones the client closed."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.accepted = 0
        self.closed_by_client = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
            threading.Thread(target=self.hold, args=(conn,), daemon=True).start()

    def hold(self, conn):
        with conn:
            while conn.recv(65536):
                pass
            with self.lock:
                self.closed_by_client += 1

    def close(self):
        self.sock.close()


def test_isolate_death_cancels_its_forwarded_calls(serve, tmp_path):
    """A KV call forwarded to the main loop whose isolate dies meanwhile: the main loop's
    transfer is cancelled (the KV service sees its connection closed), every loop serves on."""
    remote = HangingServer()
    try:
        d = tmp_path / "dying"
        d.mkdir()
        (d / "worker.py").write_text(DYING_WORKER)
        (d / "config.capnp").write_text(worker_config(
            ["worker.py"], services=external_service("kvext", remote.address),
            bindings='(name = "KV", kvNamespace = "kvext")'))
        server = serve(d / "config.capnp", "--threads", "2", "--verbose")
        server.wait_log("serving on 2 host threads")
        deaths = 12     # over fresh connections: both loops get some (SO_REUSEPORT's hash)
        for _ in range(deaths):
            assert server.get("/die")[0] == 502
        deadline = time.monotonic() + 10
        while remote.closed_by_client < deaths and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (remote.accepted, remote.closed_by_client) == (deaths, deaths)
        for _ in range(8):
            assert server.get("/")[2] == b"alive"
    finally:
        remote.close()


def test_r2_bodies_stream_through_the_main_loop(serve, tmp_path):
    """An R2 body streamed in many binding calls from a second loop's isolate: every call of
    the isolate reaches the main loop through the same proxy port, which keeps the open body."""
    import textwrap
    from test_r2 import write
    server = serve(write(tmp_path / "r2"), "--threads", "2", "--verbose")
    server.wait_log("serving on 2 host threads")
    snippet = textwrap.dedent('''
        async def gen():
            for i in range(12):
                yield bytes([i]) * 300_000
        o = await b.put("s", gen())
        parts = [len(c) async for c in (await b.get("s")).body]
        return {"size": o.size, "total": sum(parts), "chunks": len(parts)}
    ''').encode()
    for _ in range(8):          # fresh connections: both loops
        status, _, body = server.request("POST", "/", body=snippet, timeout=60)
        assert status == 200, body
        out = json.loads(body)
        assert out["size"] == out["total"] == 3_600_000 and out["chunks"] >= 3, out


FILES_CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "static", disk = (path = "public"))],
  sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "static")],
);
"""


def test_every_loop_serves_a_disk_service(serve, tmp_path):
    d = tmp_path / "files"
    (d / "public").mkdir(parents=True)
    (d / "public" / "a.txt").write_text("hello files\n")
    (d / "config.capnp").write_text(FILES_CONFIG)
    server = serve(d / "config.capnp", "--threads", "2", "--verbose")
    server.wait_log("serving on 2 host threads")
    for _ in range(24):             # fresh connections: both loops
        status, headers, body = server.get("/a.txt")
        assert (status, body) == (200, b"hello files\n")
