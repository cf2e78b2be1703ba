"""Isolate pool sizing: a spare pre-forked isolate takes over at once, a worker can scale to
zero and back, the pool grows under concurrent load up to --max-isolates and shrinks after
--idle-timeout. Checked through PYTHON_TRACE lines and the isolates' pids, not timing."""

import os
import signal
import textwrap
import threading
import time

from conftest import wait_for
from test_trace import trace_lines

WORKER = {"worker.py": '''
    import asyncio, os
    from workers import WorkerEntrypoint, Response

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            if request.url.endswith("/slow"):
                await asyncio.sleep(1.5)
            return Response(str(os.getpid()))
    '''}


def started(server) -> list[int]:
    return [int(l["step"].split("pid=")[1].split()[0]) for l in trace_lines(server.log())
            if l["step"].startswith("isolate started")]


def forked(server) -> list[int]:
    """The isolates' pids inside the sandbox's pid namespace, in the order they started."""
    return [int(l["step"].split("pid=")[1].split()[0]) for l in trace_lines(server.log())
            if l["role"] == "tpl:main" and l["step"].startswith("isolate forked")]


def pid_of(server, path="/") -> int:
    """The host's pid of the isolate that answered (the worker knows its namespace's pid)."""
    status, _, body = server.get(path)
    assert status == 200, body
    inner = int(body)
    wait_for(lambda: inner in dict(zip(forked(server), started(server))), 20.0, server=server)
    return dict(zip(forked(server), started(server)))[inner]


def test_a_spare_isolate_is_preforked_and_takes_over_when_one_dies(serve, monkeypatch):
    monkeypatch.setenv("PYTHON_TRACE", "1")
    server = serve(WORKER)
    wait_for(lambda: len(started(server)) == 2, 20.0, server=server)
    serving, spare = started(server)
    assert pid_of(server) == serving
    os.kill(serving, signal.SIGKILL)
    wait_for(lambda: len(started(server)) == 3, 20.0, server=server)   # a new spare
    assert pid_of(server) == spare
    assert any(l["step"] == f"isolate promoted pid={spare} (spare)" for l in trace_lines(server.log()))


def test_the_first_spare_waits_a_second_even_after_a_slow_start(serve, monkeypatch):
    """The spare is forked a second after the pool starts, also when the host's start took
    longer than that (a slow top level here): the loop's cached clock, stale by the start's
    blocking waits, once made that timer due at once, and the spare ran beside the first
    request (bench/results/dev-startup.md)."""
    monkeypatch.setenv("PYTHON_TRACE", "1")
    slow_start = {"worker.py": "import time\ntime.sleep(1.2)\n" + textwrap.dedent(WORKER["worker.py"])}
    server = serve(slow_start)                  # listening: the pool has just started
    ready = time.monotonic()
    assert server.get("/")[0] == 200
    while time.monotonic() < ready + 0.5:
        assert len(started(server)) == 1, server.log()
        time.sleep(0.02)
    wait_for(lambda: len(started(server)) == 2, 20.0, server=server)   # the spare, later


def test_min_zero_scales_to_zero_and_starts_an_isolate_per_request(serve, monkeypatch):
    monkeypatch.setenv("PYTHON_TRACE", "1")
    server = serve(WORKER, "--min-isolates", "0", "--spare-isolates", "0", "--idle-timeout", "0")
    time.sleep(0.3)
    assert started(server) == []
    pids = [pid_of(server) for _ in range(3)]
    assert len(set(pids)) == 3 and started(server) == pids
    retired = [l["step"] for l in trace_lines(server.wait_log(f"isolate retired pid={pids[2]}"))
               if l["step"].startswith("isolate retired")]
    assert retired == [f"isolate retired pid={p} (idle)" for p in pids]


def test_the_pool_grows_under_concurrent_load_and_shrinks_when_idle(serve, monkeypatch):
    monkeypatch.setenv("PYTHON_TRACE", "1")
    server = serve(WORKER, "--max-isolates", "2", "--spare-isolates", "0", "--idle-timeout", "0.5")
    first = pid_of(server)
    results = []

    def slow():
        results.append(pid_of(server, "/slow"))

    threads = [threading.Thread(target=slow) for _ in range(9)]   # 8 in flight, then a 9th
    for i, t in enumerate(threads):
        t.start()
        if i == 7:
            wait_for(lambda: server.log().count("request dispatched") >= 9, 20.0, server=server)
    wait_for(lambda: len(started(server)) == 2, 20.0, server=server)
    second = started(server)[1]
    assert pid_of(server) == second           # the least busy isolate gets new requests
    for t in threads:
        t.join(20)
    assert set(results) == {first}
    server.wait_log(f"isolate retired pid=", timeout=10)
    retired = [l["step"] for l in trace_lines(server.log()) if l["step"].startswith("isolate retired")]
    assert len(retired) == 1                  # back to the minimum of one
    assert pid_of(server) in (first, second)


def test_isolates_flag_is_the_minimum(serve, monkeypatch):
    monkeypatch.setenv("PYTHON_TRACE", "1")
    server = serve(WORKER, "--isolates", "2", "--spare-isolates", "0", "--idle-timeout", "0")
    wait_for(lambda: len(started(server)) == 2, 20.0, server=server)
    for _ in range(3):
        pid_of(server)
    assert "isolate retired" not in server.log()
