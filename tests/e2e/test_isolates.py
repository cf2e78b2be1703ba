"""Isolates: concurrency inside one isolate, crash recovery, errors, logs, startup failures."""

import os
import re
import signal
import threading
import time

from conftest import run_pyworkerd, write_worker

CONCURRENT = {"worker.py": '''
    import asyncio, os
    from workers import WorkerEntrypoint, Response

    gate = asyncio.Event()

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            path = request.url.split("/", 3)[3]
            if path == "wait":
                await gate.wait()
                return Response("released")
            if path == "release":
                gate.set()
                return Response("released the waiter")
            if path == "pid":
                return Response(str(os.getpid()))
            if path == "slowpid":
                await asyncio.sleep(1)
                return Response(str(os.getpid()))
            if path == "slow":
                await asyncio.sleep(3)
                return Response("slow done")
            return Response("ok")
    '''}


def in_thread(fn):
    result = {}

    def run():
        try:
            result["value"] = fn()
        except Exception as e:  # surfaced by the assertion below
            result["error"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, result


def test_concurrent_async_requests_interleave_in_one_isolate(serve):
    server = serve(CONCURRENT)
    waiter, result = in_thread(lambda: server.get("/wait"))
    time.sleep(0.3)
    assert waiter.is_alive(), "the first request must still be waiting"
    status, _, body = server.get("/release")
    assert (status, body) == (200, b"released the waiter")
    waiter.join(10)
    assert result["value"][0] == 200 and result["value"][2] == b"released"


def test_isolate_killed_mid_request_gives_502_and_next_request_succeeds(serve):
    server = serve(CONCURRENT)
    pid = int(server.get("/pid")[2])
    slow, result = in_thread(lambda: server.get("/slow"))
    time.sleep(0.3)
    host_pid = server.host_pid(pid)
    os.kill(host_pid, signal.SIGKILL)
    slow.join(10)
    status, _, body = result["value"]
    assert status == 502
    assert b"isolate" in body
    status, _, new_pid = server.get("/pid")
    assert status == 200 and int(new_pid) != pid
    server.wait_log(f"isolate {host_pid} stopped")


def test_uncaught_exception_gives_500_with_traceback_in_log(serve):
    server = serve({"worker.py": '''
        from workers import WorkerEntrypoint, Response

        def explode():
            raise ValueError("kaboom from the worker")

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                if request.url.endswith("/fail"):
                    explode()
                return Response("fine")
        '''})
    status, _, _ = server.get("/fail")
    assert status == 500
    log = server.wait_log("ValueError: kaboom from the worker")
    assert "Traceback (most recent call last)" in log
    assert "[main iso " in log and "explode()" in log
    assert server.get("/")[0:3:2] == (200, b"fine")  # the isolate keeps serving


def test_print_reaches_the_host_log_tagged_with_the_worker(serve):
    server = serve({"worker.py": '''
        from workers import WorkerEntrypoint, Response
        print("top level says hi")

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                print("handling", request.method)
                return Response("ok")
        '''})
    server.get("/")
    log = server.wait_log(" handling GET")
    assert re.search(r"^\[main iso \d+\] req=[0-9a-f]{16} handling GET$", log, re.M), log
    assert re.search(r"^\[main tpl\] top level says hi$", log, re.M), log


def test_access_log_has_one_line_per_request(serve):
    server = serve(CONCURRENT)
    server.get("/pid?q=1")
    line = [l for l in server.wait_log(" GET /pid?q=1 ").splitlines() if " GET /pid?q=1 " in l][0]
    fields = line.split()
    assert fields[1] == "main" and fields[4] == "200" and fields[-2].endswith("ms")
    assert re.fullmatch(r"req=[0-9a-f]{16}", fields[-1]), line


def test_no_access_log_flag_silences_it(serve):
    server = serve(CONCURRENT, "--no-access-log")
    server.get("/pid")
    time.sleep(0.2)
    assert " GET /pid " not in server.log()


def test_verbose_logs_lifecycle(serve):
    server = serve(CONCURRENT, "--verbose")
    log = server.wait_log("isolate")
    assert "worker template ready" in log and "started" in log


def test_sigterm_lets_the_running_request_finish_then_exits_0(serve):
    server = serve(CONCURRENT)
    slow, result = in_thread(lambda: server.get("/slow"))
    time.sleep(0.5)
    server.proc.send_signal(signal.SIGTERM)
    slow.join(10)
    assert result["value"][0] == 200 and result["value"][2] == b"slow done"
    assert server.proc.wait(10) == 0


def test_several_isolates_share_the_load(serve):
    server = serve(CONCURRENT, "--isolates", "2")
    threads = [in_thread(lambda: server.get("/slowpid")) for _ in range(4)]
    pids = set()
    for t, r in threads:
        t.join(10)
        assert r["value"][0] == 200
        pids.add(r["value"][2])
    assert len(pids) == 2, "four concurrent requests must be spread over both isolates"


def test_top_level_exception_fails_startup_with_traceback(tmp_path):
    config = write_worker(tmp_path, {"worker.py": '''
        from workers import WorkerEntrypoint
        raise RuntimeError("broken at import time")
        '''})
    result = run_pyworkerd("serve", config, "-s", "http=127.0.0.1:1")
    assert result.returncode == 1
    assert "RuntimeError: broken at import time" in result.stderr
    assert "Traceback" in result.stderr and "service main" in result.stderr


def test_syntax_error_fails_startup(tmp_path):
    config = write_worker(tmp_path, {"worker.py": "def fetch(:\n    pass\n"})
    result = run_pyworkerd("serve", config, "-s", "http=127.0.0.1:1")
    assert result.returncode == 1
    assert "SyntaxError" in result.stderr and "worker.py" in result.stderr


def test_worker_without_a_handler_loads_and_its_fetch_fails(serve):
    """As workerd: the missing handler is the error of the call, not of the load (issue 15)."""
    server = serve({"worker.py": "x = 1\n"})
    assert server.get("/")[0] == 500
    server.wait_log('does not export a handler named "on_fetch"')



MIXED = {"worker.py": '''
    import asyncio
    from workers import WorkerEntrypoint, Response

    state = {"background": "not yet"}
    gate = asyncio.Event()

    async def background(label):
        await asyncio.sleep(0.3)
        state["background"] = label

    class Default(WorkerEntrypoint):
        def fetch(self, request):
            path = request.url.split("/", 3)[3]
            if path == "sync-wait-until":
                self.ctx.waitUntil(background("from sync"))
                return Response("scheduled")
            if path == "async-wait-until":
                return self.schedule_async()
            if path == "wait":
                return self.wait_for_gate()
            if path == "release":
                gate.set()
            if path == "async-quick":
                return self.answer_at_once()
            if path == "running-loop":
                return Response("running" if asyncio._get_running_loop() else "none")
            return Response(state["background"])

        async def answer_at_once(self):
            return Response("quick")

        async def schedule_async(self):
            self.ctx.waitUntil(background("from async"))
            return Response("scheduled")

        async def wait_for_gate(self):
            await gate.wait()
            return Response("gate opened")
    '''}


def test_wait_until_work_finishes_after_the_response(serve):
    server = serve(MIXED)
    for label in ("sync", "async"):
        assert server.get(f"/{label}-wait-until")[2] == b"scheduled"
        deadline = time.monotonic() + 5
        while server.get("/state")[2] != f"from {label}".encode():
            assert time.monotonic() < deadline, "waitUntil work never finished"
            time.sleep(0.05)


def test_sync_code_sees_no_running_loop_after_an_async_request(serve):
    server = serve(MIXED)
    for _ in range(3):
        assert server.get("/async-quick")[2] == b"quick"  # answered in its task's first step
        assert server.get("/running-loop")[2] == b"none"


def test_sync_requests_are_served_while_an_async_one_waits(serve):
    server = serve(MIXED)
    waiter, result = in_thread(lambda: server.get("/wait"))
    time.sleep(0.2)
    for _ in range(20):
        assert server.get("/state")[0] == 200
    assert waiter.is_alive()
    assert server.get("/release")[0] == 200
    waiter.join(10)
    assert result["value"][2] == b"gate opened"
    for _ in range(5):
        assert server.get("/state")[0] == 200   # back on the fast path


def test_processes_are_named_after_their_role_and_worker(serve):
    server = serve(CONCURRENT)
    pid = server.host_pid(int(server.get("/pid")[2]))
    with open(f"/proc/{pid}/comm") as f:
        assert f.read().strip() == "pw-iso:main"
    with open(f"/proc/{pid}/stat") as f:
        template = int(f.read().rsplit(")", 1)[1].split()[1])
    with open(f"/proc/{template}/comm") as f:
        assert f.read().strip() == "pw-tpl:main"
