"""The fault suite: a worker that loops, eats memory, recurses, crashes, is killed from
outside or never answers costs only its own requests; the server keeps answering others
within 100 ms and a replacement isolate serves the next request."""

import contextlib
import os
import re
import signal
import threading
import time

import pytest

from conftest import BIN

UNDER_ASAN = "build-asan" in BIN

FAULTY = {"worker.py": '''
    import asyncio, faulthandler, os, sys
    from workers import WorkerEntrypoint, Response

    def recurse(n):
        return recurse(n + 1) + 1

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            path = request.url.split("/", 3)[3]
            if path == "loop":
                while True:
                    pass
            if path == "bomb":
                block = bytearray(1024 * 1024 * 1024)
                return Response(f"allocated {len(block)}")
            if path == "bomb-grow":
                blocks = []
                while True:
                    blocks.append(bytearray(1024 * 1024))
            if path == "recurse":
                recurse(0)
            if path == "segv":
                faulthandler._sigsegv()
            if path == "exit":
                os._exit(3)
            if path == "never":
                await asyncio.Event().wait()
            if path == "sleep":
                await asyncio.sleep(0.5)
                return Response("slept")
            if path == "pid":
                return Response(str(os.getpid()))
            return Response("ok")
    '''}


def in_thread(fn):
    result = {}

    def run():
        result["value"] = fn()

    t = threading.Thread(target=run)
    t.start()
    return t, result


def assert_others_served_quickly(server):
    start = time.monotonic()
    status, _, body = server.get("/")
    elapsed = time.monotonic() - start
    assert (status, body) == (200, b"ok")
    assert elapsed < 0.1, f"another request took {elapsed * 1000:.0f} ms"


@contextlib.contextmanager
def asan_without_segv_handler():
    """A deliberate SIGSEGV must not become an AddressSanitizer report under `make asan`."""
    saved = os.environ.get("ASAN_OPTIONS")
    os.environ["ASAN_OPTIONS"] = (saved + ":" if saved else "") + "handle_segv=0"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["ASAN_OPTIONS"]
        else:
            os.environ["ASAN_OPTIONS"] = saved


def test_infinite_loop_exceeds_the_cpu_limit_gets_503_and_is_replaced(serve):
    server = serve(FAULTY, "--isolates", "2", "--cpu-limit-ms", "300")
    looping, result = in_thread(lambda: server.get("/loop"))
    time.sleep(0.2)
    assert_others_served_quickly(server)
    looping.join(10)
    status, _, body = result["value"]
    assert status == 503
    assert b"exceeded its CPU time limit" in body
    server.wait_log("exceeded its CPU time limit")
    assert server.get("/")[0] == 200


def test_busy_isolate_serving_short_requests_is_not_killed(serve):
    server = serve(FAULTY, "--cpu-limit-ms", "50")
    for _ in range(300):
        assert server.get("/")[0] == 200
    assert "CPU time limit" not in server.log()


@pytest.mark.skipif(UNDER_ASAN, reason="no RLIMIT_AS under AddressSanitizer")
@pytest.mark.parametrize("path", ["/bomb", "/bomb-grow"])
def test_memory_bomb_raises_memory_error_and_the_isolate_survives(serve, path):
    server = serve(FAULTY, "--memory-limit", "64")
    pid = server.get("/pid")[2]
    status, _, _ = server.get(path)
    assert status == 500
    server.wait_log("MemoryError")
    assert_others_served_quickly(server)
    assert server.get("/pid")[2] == pid


def test_deep_recursion_is_a_500_and_the_isolate_survives(serve):
    server = serve(FAULTY)
    assert server.get("/recurse")[0] == 500
    server.wait_log("RecursionError")
    assert_others_served_quickly(server)


def test_segfault_costs_only_its_request_and_is_replaced(serve):
    with asan_without_segv_handler():
        server = serve(FAULTY, "--isolates", "2")
    slow, result = in_thread(lambda: server.get("/sleep"))
    time.sleep(0.1)
    status, _, body = server.get("/segv")
    assert status == 502 and b"isolate" in body
    assert_others_served_quickly(server)
    slow.join(10)
    assert result["value"][0] == 200, "a request on the other isolate is unaffected"
    assert server.get("/")[0] == 200


def test_os_exit_is_a_502_and_is_replaced(serve):
    server = serve(FAULTY)
    assert server.get("/exit")[0] == 502
    assert server.get("/")[0] == 200


def test_sigkill_from_outside_fails_its_requests_and_is_replaced(serve):
    server = serve(FAULTY, "--verbose")
    pid = int(re.search(r"isolate (\d+) started", server.wait_log("started")).group(1))
    slow, result = in_thread(lambda: server.get("/sleep"))
    time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    slow.join(10)
    assert result["value"][0] == 502
    assert server.get("/")[0] == 200
    server.wait_log(f"isolate {pid} stopped")


def test_never_returning_worker_gets_504_after_the_request_timeout(serve):
    server = serve(FAULTY, "--request-timeout", "1")
    start = time.monotonic()
    waiting, result = in_thread(lambda: server.get("/never"))
    time.sleep(0.3)
    assert_others_served_quickly(server)
    waiting.join(10)
    elapsed = time.monotonic() - start
    status, _, body = result["value"]
    assert status == 504 and b"request timeout" in body
    assert 0.9 < elapsed < 2.5
    assert server.get("/")[0] == 200


def test_max_concurrent_requests_queues_the_rest(serve):
    server = serve(FAULTY, "--max-concurrent-requests", "1")
    start = time.monotonic()
    threads = [in_thread(lambda: server.get("/sleep")) for _ in range(3)]
    for t, r in threads:
        t.join(10)
        assert r["value"][0] == 200
    assert time.monotonic() - start >= 1.4, "three 0.5 s requests must run one at a time"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(UNDER_ASAN, reason="AddressSanitizer's quarantine grows the host's memory")
def test_host_memory_stays_flat_over_many_crash_replace_cycles(serve):
    server = serve(FAULTY, "--no-access-log")
    for _ in range(30):
        assert server.get("/exit")[0] == 502
    before = rss_kib(server.proc.pid)
    for _ in range(200):
        assert server.get("/exit")[0] == 502
    after = rss_kib(server.proc.pid)
    assert server.get("/")[0] == 200
    assert after - before < 1024, f"host RSS grew {after - before} KiB over 200 cycles"


def test_isolates_dying_at_start_are_retried_with_backoff_not_in_a_tight_loop(serve):
    server = serve({"worker.py": '''
        import os
        from workers import WorkerEntrypoint, Response

        os.register_at_fork(after_in_child=lambda: os._exit(3))   # every isolate dies at once

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response("unreachable")
        '''}, "--request-timeout", "1", "--verbose")
    server.wait_log("died at start; next try in")
    time.sleep(2)
    started = server.log().count("started")
    time.sleep(2)
    assert server.log().count("started") - started < 12, "isolates are respawned in a tight loop"
    assert server.get("/", timeout=10)[0] in (502, 504)   # the isolate died, or none came up
    assert server.proc.poll() is None
