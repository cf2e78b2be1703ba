"""The seed's three start types, told apart by their PYTHON_TRACE lines: package (fork of
the worker template, the default), baseline (fork of the zygote's state, then import the
worker: hidden --snapshot=baseline) and cold (--no-snapshot: a new process that starts
CPython and imports everything)."""

import os
import signal
import time

from conftest import run_pyworkerd, write_worker
from test_trace import steps, trace_lines

WORKER = {"worker.py": '''
    import os, random
    from workers import WorkerEntrypoint, Response
    print("top level ran in", os.getpid())

    class Default(WorkerEntrypoint):
        def fetch(self, request):
            return Response(f"{os.getpid()} {random.random()}")
    '''}


def isolate_steps(lines, pid):
    return [l["step"] for l in lines if l["role"] == "iso:main" and int(l["pid"]) == pid]


def wait_started(server, count, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = trace_lines(server.log())
        started = [l for l in lines if l["step"].startswith("isolate started")]
        if len(started) >= count:
            return lines
        time.sleep(0.05)
    raise AssertionError(server.log())


def test_no_snapshot_starts_every_isolate_cold(serve, monkeypatch):
    monkeypatch.setenv("PYTHON_TRACE", "1")
    server = serve(WORKER, "--no-snapshot")
    status, _, body = server.get("/")
    assert status == 200
    pid = int(body.split()[0])
    lines = trace_lines(server.wait_log("request finished"))
    own = isolate_steps(lines, pid)
    assert own[0] == "isolate exec'd (since spawn)" and own[1] == "python init"
    assert "import worker" in own and "worker loaded" in own
    assert any(s.startswith("isolate spawned (cold) pid=%d" % pid) for s in steps(lines, "tpl:main"))
    assert not any(s.startswith("isolate forked") for s in steps(lines, "tpl:main"))
    os.kill(server.host_pid(pid), signal.SIGKILL)   # the spare takes over; it and its replacement are cold too
    wait_started(server, 3)
    status, _, body = server.get("/")
    new_pid = int(body.split()[0])
    assert status == 200 and new_pid != pid
    assert "python init" in isolate_steps(trace_lines(server.log()), new_pid)


def test_baseline_forks_the_zygote_state_and_imports_in_the_isolate(serve, monkeypatch):
    monkeypatch.setenv("PYTHON_TRACE", "1")
    server = serve(WORKER, "--snapshot=baseline", "--isolates", "2")
    wait_started(server, 2)
    status, _, body = server.get("/")
    pid = int(body.split()[0])
    lines = trace_lines(server.log())
    own = isolate_steps(lines, pid)
    assert "python init" not in own
    assert "import worker" in own and own.index("worker loaded") < own.index("isolate prepared (since fork)")
    assert any(s.startswith(f"isolate forked pid={pid}") for s in steps(lines, "tpl:main"))
    template_pids = {int(l["pid"]) for l in lines if l["step"] == "template ready"}
    assert not any(l["step"] == "import worker" and int(l["pid"]) in template_pids for l in lines)


def test_package_snapshot_imports_once_in_the_template(serve, monkeypatch):
    monkeypatch.setenv("PYTHON_TRACE", "1")
    server = serve(WORKER, "--isolates", "2")
    wait_started(server, 2)
    log = server.log()
    assert log.count("top level ran in") == 1
    assert all("import worker" not in l["step"] for l in trace_lines(log) if l["role"] == "iso:main")


def test_each_start_type_reseeds_its_isolates(serve):
    """The first value drawn by an isolate and by its replacement differ: without the
    reseed both would come from the template's deterministic stream."""
    for mode in ("none", "baseline"):
        server = serve(WORKER, f"--snapshot={mode}")
        pid, first = server.get("/")[2].split()
        os.kill(server.host_pid(int(pid)), signal.SIGKILL)
        deadline = time.monotonic() + 20
        while True:
            status, _, body = server.get("/")
            if status == 200 or time.monotonic() > deadline:
                break
        new_pid, new_first = body.split()
        assert new_pid != pid and new_first != first


def test_a_broken_worker_stops_serve_in_every_start_type(tmp_path):
    config = write_worker(tmp_path, {"worker.py": "raise ValueError('broken at top level')\n"})
    for flag in ("--no-snapshot", "--snapshot=baseline"):
        result = run_pyworkerd("serve", config, "-s", "http=127.0.0.1:0", flag)
        assert result.returncode == 1
        assert "service main: the worker failed to load:" in result.stderr
        assert "ValueError: broken at top level" in result.stderr


ASYNC_WORKER = {"worker.py": '''
    import asyncio
    from workers import WorkerEntrypoint, Response

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            if request.url.endswith("/sync-loop"):
                return Response(type(asyncio.get_event_loop()).__name__)
            done = asyncio.Event()
            async def later():
                done.set()
            self.ctx.waitUntil(later())
            await asyncio.sleep(0.01)
            await done.wait()
            return Response("async ok")
    '''}


def test_a_cold_isolate_imports_asyncio_only_when_the_worker_does(serve):
    # a cold isolate preloads no asyncio: an async worker still gets its loop, waitUntil
    # tasks and asyncio.get_event_loop() as in a forked one
    for flags in (("--no-snapshot",), ()):
        server = serve(ASYNC_WORKER, *flags)
        assert server.get("/")[2] == b"async ok"
        status, _, body = server.get("/sync-loop")
        assert status == 200 and body.endswith(b"EventLoop"), body
