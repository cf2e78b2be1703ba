"""Graceful isolate retirement: whenever the host retires an isolate (server SIGTERM, the pool
shrinking an idle one, --watch swapping in a new version) the isolate finishes its requests
and waitUntil() tasks, runs its ASGI lifespan shutdown and exits; one that hangs is killed
after --drain-timeout, and the host does not wait longer than that."""

import json
import os
import signal
import re
import threading
import time

from conftest import worker_config

FASTAPI_REQUIREMENT = '(name = "requirements", json = "[\\"fastapi\\"]")'

FASTAPI_APP = '''
import asyncio, os
from fastapi import FastAPI
from workers import WorkerEntrypoint
import asgi

HANG = False
app = FastAPI()

@app.on_event("startup")
async def startup():
    print("STARTUP-MARK", os.getpid(), flush=True)

@app.on_event("shutdown")
async def shutdown():
    if HANG:
        await asyncio.sleep(3600)
    print("SHUTDOWN-MARK", os.getpid(), flush=True)

@app.get("/")
async def root():
    return {"pid": os.getpid()}

@app.get("/slow")
async def slow():
    await asyncio.sleep(1.0)
    print("SLOW-DONE-MARK", flush=True)
    return {"slow": True}

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await asgi.fetch(app, request, self.env)
'''


def fastapi_worker(hang=False):
    source = FASTAPI_APP.replace("HANG = False", f"HANG = {hang}")
    return {"worker.py": source}


def wait_log_match(server, pattern, timeout=10.0):
    """The host logs an isolate by its host pid; the worker knows its pid in the sandbox."""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, server.log()):
        assert time.monotonic() < deadline, f"{pattern!r} not in log:\n{server.log()}"
        time.sleep(0.02)


def serve_fastapi(serve, *args, hang=False):
    return serve(fastapi_worker(hang), *args, bindings=FASTAPI_REQUIREMENT)


def test_sigterm_runs_the_lifespan_shutdown_of_every_isolate(serve):
    server = serve_fastapi(serve, "--spare-isolates", "0")
    status, _, body = server.get("/")
    assert status == 200, body
    pid = json.loads(body)["pid"]
    assert server.stop(signal.SIGTERM) == 0
    log = server.log()
    assert f"SHUTDOWN-MARK {pid}" in log, log
    assert "killing" not in log, log


def test_an_in_flight_request_finishes_before_the_shutdown_runs(serve):
    server = serve_fastapi(serve, "--spare-isolates", "0")
    assert server.get("/")[0] == 200
    result = {}
    thread = threading.Thread(target=lambda: result.update(r=server.get("/slow")))
    thread.start()
    time.sleep(0.3)
    server.proc.send_signal(signal.SIGTERM)
    thread.join(10)
    assert result["r"][0] == 200
    server.proc.wait(10)  # the one SIGTERM stops it (a second one could race with its exit)
    assert server.stop() == 0
    log = server.log()
    # the isolate's own marks: the host may write the request's access-log line after it has
    # already retired the isolate (whose shutdown then runs at once)
    assert log.index("SLOW-DONE-MARK") < log.index("SHUTDOWN-MARK"), log
    assert "GET /slow 200" in log, log


def test_ctrl_c_at_a_terminal_drains_instead_of_interrupting_the_isolates(serve):
    """A terminal's Ctrl-C sends SIGINT to the whole foreground process group: it must reach
    only the host, which drains; an isolate that got it would raise KeyboardInterrupt in the
    middle of its request."""
    server = serve(fastapi_worker(), "--spare-isolates", "0", own_group=True,
                   bindings=FASTAPI_REQUIREMENT)
    assert server.get("/")[0] == 200
    result = {}
    thread = threading.Thread(target=lambda: result.update(r=server.get("/slow")))
    thread.start()
    time.sleep(0.3)
    os.killpg(server.proc.pid, signal.SIGINT)
    thread.join(10)
    assert result["r"][0] == 200, server.log()
    assert server.proc.wait(10) == 0
    log = server.log()
    assert "KeyboardInterrupt" not in log, log
    assert log.index("SLOW-DONE-MARK") < log.index("SHUTDOWN-MARK"), log


def test_an_idle_isolate_retired_by_the_pool_runs_its_shutdown(serve):
    server = serve_fastapi(serve, "--min-isolates", "0", "--spare-isolates", "0", "--idle-timeout", "0",
                           "--verbose")
    status, _, body = server.get("/")
    assert status == 200, body
    pid = json.loads(body)["pid"]
    server.wait_log(f"SHUTDOWN-MARK {pid}")
    wait_log_match(server, r"retired isolate \d+ exited")
    assert server.get("/")[0] == 200   # a new isolate starts for the next request


def test_a_watch_reload_retires_the_old_version_gracefully(serve, tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    (d / "worker.py").write_text(FASTAPI_APP)
    config = d / "config.capnp"
    config.write_text(worker_config(["worker.py"], bindings=FASTAPI_REQUIREMENT))
    server = serve(config, "--watch", "--spare-isolates", "0")
    status, _, body = server.get("/")
    assert status == 200, body
    pid = json.loads(body)["pid"]
    time.sleep(0.2)
    (d / "worker.py").write_text(FASTAPI_APP.replace('{"pid"', '{"v": 2, "pid"'))
    server.wait_log("--watch: reloaded", timeout=30)
    server.wait_log(f"SHUTDOWN-MARK {pid}")


WITHOUT_LIFESPAN = {"worker.py": '''
import asyncio
from workers import WorkerEntrypoint, Response
import asgi

async def app(scope, receive, send):
    assert scope["type"] == "http"   # no lifespan support: raises on the lifespan scope
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"plain"})

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/later"):
            async def later():
                await asyncio.sleep(0.5)
                print("WAIT-UNTIL-DONE", flush=True)
            self.ctx.waitUntil(later())
        return await asgi.fetch(app, request, self.env)
'''}


def test_an_app_without_lifespan_exits_cleanly_after_its_wait_until_tasks(serve):
    server = serve(WITHOUT_LIFESPAN, "--spare-isolates", "0")
    status, _, body = server.get("/later")
    assert (status, body) == (200, b"plain")
    started = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 5
    log = server.log()
    assert "WAIT-UNTIL-DONE" in log, log
    assert "killing" not in log and "Traceback" not in log, log


def test_a_hanging_shutdown_is_killed_after_the_drain_timeout(serve):
    server = serve_fastapi(serve, "--spare-isolates", "0", "--drain-timeout", "1", hang=True)
    assert server.get("/")[0] == 200
    started = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 4
    log = server.log()
    assert "SHUTDOWN-MARK" not in log
    assert "killing" in log, log


def test_a_hanging_shutdown_of_an_idle_isolate_is_killed_and_replaced(serve):
    server = serve_fastapi(serve, "--min-isolates", "0", "--spare-isolates", "0", "--idle-timeout", "0",
                           "--drain-timeout", "1", hang=True)
    status, _, body = server.get("/")
    assert status == 200, body
    pid = json.loads(body)["pid"]
    wait_log_match(server, r"retired isolate \d+ did not exit within 1000 ms; killing it")
    assert server.get("/")[0] == 200
