"""Limits watched all the time (issue 13, items 5 and 11, and how an isolate's death is
logged): CPU used after a response (a waitUntil() task, a bare asyncio task) counts against
the request's limit and gets its isolate replaced, without any later request paying for it;
an isolate leaking towards its memory limit is replaced instead of failing every request;
an isolate killed by a signal is logged with that signal."""

import os
import signal
import threading
import time

import pytest

from conftest import BIN

UNDER_ASAN = "build-asan" in BIN

WORKER = {"worker.py": '''
    import asyncio, os, signal
    from workers import WorkerEntrypoint, Response

    LEAK = []
    BACKGROUND = set()

    async def burn():
        while True:
            pass

    async def spin():
        while True:
            for _ in range(20000):
                pass
            await asyncio.sleep(0)

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            path = request.url.split("/", 3)[3]
            if path == "burn":
                self.ctx.waitUntil(burn())
                return Response("burning")
            if path == "spin":
                task = asyncio.get_running_loop().create_task(spin())
                BACKGROUND.add(task)
                return Response("spinning")
            if path == "after":
                async def later():
                    await asyncio.sleep(0.3)
                    for _ in range(300000):
                        pass
                self.ctx.waitUntil(later())
                return Response("later")
            if path == "leak":
                LEAK.append(bytes(4 << 20))
                return Response(str(os.getpid()))
            if path == "abort":
                os.abort()
            if path == "sigsys":
                os.kill(os.getpid(), signal.SIGSYS)
            if path == "exit":
                os._exit(7)
            if path == "close":
                import time
                from pyworkerd import runtime
                os.close(runtime.streams.fd)
                time.sleep(60)
            return Response(str(os.getpid()))
    '''}


def cpu_ms(pid):
    """User + system CPU of `pid` in ms, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if fields[0] in ("Z", "X"):
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 // os.sysconf("SC_CLK_TCK")


def watch_until_gone(pid, limit_ms, timeout=20.0):
    """Samples `pid`'s CPU until it is gone: (last CPU seen, seconds from crossing
    `limit_ms` of CPU to its end)."""
    last, crossed = 0, None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cpu = cpu_ms(pid)
        if cpu is None:
            assert crossed is not None, f"isolate {pid} ended at {last} ms of CPU, below the limit"
            return last, time.monotonic() - crossed
        last = cpu
        if crossed is None and cpu >= limit_ms:
            crossed = time.monotonic()
        time.sleep(0.02)
    raise AssertionError(f"isolate {pid} still runs after {timeout}s ({last} ms of CPU)")


def in_thread(fn):
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("value", fn()))
    t.start()
    return t, result


@pytest.mark.parametrize("path", ["burn", "spin"])
def test_cpu_after_the_response_is_limited_and_the_isolate_replaced(serve, path):
    """A waitUntil() task in a tight loop, or a bare asyncio task spinning cooperatively, is
    stopped near the limit (not when the next request arrives), and the next request is
    served by a new isolate with 200."""
    server = serve(WORKER, "--cpu-limit-ms", "1000")
    inner = int(server.get("/pid")[2])
    pid = server.host_pid(inner)            # the worker knows its pid in the sandbox's namespace
    status, _, body = server.get("/" + path)
    assert status == 200, body
    total, after_crossing = watch_until_gone(pid, 1000)
    assert total <= 1600, f"the isolate used {total} ms of CPU with a 1000 ms limit"
    assert after_crossing < 2.0, f"replaced {after_crossing:.2f} s after crossing the limit"
    status, _, body = server.get("/pid")
    assert status == 200
    assert int(body) != inner
    server.wait_log("no request in flight")


def test_a_request_arriving_during_a_burn_is_not_charged_for_it(serve):
    """A request sent while an isolate burns CPU after its response waits for a new isolate
    (or for the burn to end) and gets 200, never the 503 of the burn."""
    server = serve(WORKER, "--cpu-limit-ms", "1000")
    pid = int(server.get("/pid")[2])
    assert server.get("/burn")[0] == 200
    time.sleep(0.6)     # two ticks of 100 ms with nothing in flight, after the request's
    status, _, body = server.get("/pid", timeout=15)
    assert status == 200, body
    assert int(body) != pid


def test_short_work_after_the_response_is_not_stopped(serve):
    """waitUntil() work within the request's limit, after a pause, is left alone."""
    server = serve(WORKER, "--cpu-limit-ms", "1000")
    pid = int(server.get("/pid")[2])
    for _ in range(3):
        assert server.get("/after")[0] == 200
        time.sleep(0.6)
    assert int(server.get("/pid")[2]) == pid
    assert "CPU time limit" not in server.log()


@pytest.mark.skipif(UNDER_ASAN, reason="no RLIMIT_AS under AddressSanitizer")
def test_an_isolate_leaking_to_its_memory_limit_is_replaced(serve):
    """Each request keeps 4 MiB: at the 32 MiB limit the request that hits it fails (500)
    and the isolate is replaced, so the next one is served (200) by a new isolate."""
    server = serve(WORKER, "--memory-limit", "32")
    statuses, pids = [], []
    for _ in range(30):
        status, _, body = server.get("/leak")
        statuses.append(status)
        if status == 200:
            pids.append(int(body))
    for i, status in enumerate(statuses):
        if status != 200:
            assert status == 500, statuses
            assert i + 1 == len(statuses) or statuses[i + 1] == 200, statuses
    assert len(set(pids)) >= 3, (statuses, pids)
    assert statuses.count(500) <= len(set(pids)), statuses
    server.wait_log("ran out of memory")


@pytest.mark.parametrize("path, reason", [
    ("sigsys", "it was killed by SIGSYS: a forbidden system call"),
    ("abort", "it was killed by SIGABRT: aborted"),
    ("exit", "it exited with status 7"),
    ("close", "it closed its socket"),
])
def test_an_isolate_death_is_logged_with_its_signal_or_status(serve, path, reason):
    server = serve(WORKER)
    pid = server.host_pid(int(server.get("/pid")[2]))
    assert server.get("/" + path)[0] == 502
    log = server.wait_log(f"isolate {pid} stopped ({reason})")
    assert f"isolate {pid} stopped (it exited)" not in log
    assert server.get("/pid")[0] == 200
