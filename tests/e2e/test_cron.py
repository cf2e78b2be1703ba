"""Cron Triggers end to end: `pyworkerd.crons` schedules call the worker's
scheduled(self, controller, env, ctx) on the host's timer (an every-minute schedule on a
clock made 60 times as fast with the hidden --test-cron-speed, so no test waits a minute),
with controller.cron and controller.scheduledTime on the minute; a failing run is run again
unless the handler called noRetry(); `--test-scheduled` answers wrangler's test paths on
every socket; the legacy top-level on_scheduled; a service binding's scheduled() from a
`pyworkerd test` test handler; bad schedules are config errors naming file:line."""

import http.client
import json
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, REPO, Server, free_port

CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w)],
  sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main"),
             (name = "other", address = "127.0.0.1:0", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "%(date)s",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "SELF", service = "main")],
  pyworkerd = (crons = [%(crons)s]),
);
"""

WORKER = '''
import json
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("fetch " + request.url)

    async def scheduled(self, controller, env, ctx):
        print("CRON " + json.dumps({"cron": controller.cron, "time": controller.scheduledTime}))
        if controller.cron == "fail-no-retry" or controller.cron.startswith("59 23"):
            controller.noRetry()
        if controller.cron.startswith("fail") or controller.cron.startswith("59 23"):
            raise ValueError("scheduled failed on purpose")
        ctx.waitUntil(self.later())

    async def later(self):
        print("WAITED")

    def queue(self, batch, env, ctx):
        assert batch.queue == "q" and batch.messages[0].body == {"n": 1}
        batch.ackAll()

    async def test(self, ctrl, env, ctx):
        result = await env.SELF.scheduled({"cron": "0 12 * * *", "scheduledTime": 1700000000000})
        assert result == {"outcome": "ok", "noRetry": False}, result
        failed = await env.SELF.scheduled(cron="fail-no-retry")
        assert failed == {"outcome": "exception", "noRetry": True}, failed
        acked = await env.SELF.queue("q", [{"id": "a", "timestamp": 0, "body": {"n": 1}, "attempts": 1}])
        assert acked["outcome"] == "ok" and acked["ackAll"] is True, acked
        print("TESTED")
'''


@pytest.fixture
def app(tmp_path):
    servers = []

    def start(crons='"* * * * *"', args=("--test-cron-speed", "60"), date="2025-11-15",
              worker=WORKER):
        (tmp_path / "worker.py").write_text(worker)
        config = tmp_path / "config.capnp"
        config.write_text(CONFIG % {"crons": crons, "date": date})
        s = Server(config, args=args, tmp=tmp_path)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def runs(server):
    return [json.loads(line.split("CRON ", 1)[1]) for line in server.log().splitlines()
            if "CRON " in line]


def wait_runs(server, n, timeout=10.0):
    deadline = time.monotonic() + timeout
    while len(runs(server)) < n:
        if time.monotonic() > deadline:
            raise AssertionError("timed out; log:\n" + server.log())
        time.sleep(0.02)
    return runs(server)


def test_an_every_minute_schedule_fires_on_each_minute_of_a_fast_clock(app):
    s = app()
    started = time.time() * 1000
    got = wait_runs(s, 3, timeout=6)
    assert all(r["cron"] == "* * * * *" for r in got)
    times = [r["time"] for r in got[:3]]
    assert all(t % 60000 == 0 for t in times)               # on the minute, UTC
    assert times[1] - times[0] == 60000 and times[2] - times[1] == 60000
    assert times[0] >= started - 60000
    s.wait_log("WAITED")                                     # its waitUntil() ran


def test_an_hourly_alias_fires_each_hour_of_the_clock(app):
    s = app('"@hourly", "*/20 * * * *"', args=("--test-cron-speed", "3600"))
    deadline = time.monotonic() + 6
    while not any(r["cron"] == "@hourly" for r in runs(s)) and time.monotonic() < deadline:
        time.sleep(0.05)
    got = runs(s)
    hourly = [r["time"] for r in got if r["cron"] == "@hourly"]
    assert hourly and all(t % 3600000 == 0 for t in hourly)
    assert any(r["cron"] == "*/20 * * * *" for r in got)


def test_a_failing_run_that_called_no_retry_is_not_run_again(app):
    # "59 23 * * *" fails after noRetry(): one run per day of the fast clock, never twice
    s = app('"59 23 * * *"', args=("--test-cron-speed", "86400"))
    got = wait_runs(s, 3, timeout=6)
    daily = [r["time"] for r in got]
    assert len(daily) == len(set(daily))
    assert all((t // 60000) % 1440 == 23 * 60 + 59 for t in daily)
    s.wait_log("scheduled() failed: exception (noRetry)")


RETRY_WORKER = '''
import json
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")

    def scheduled(self, controller, env, ctx):
        print("CRON " + json.dumps({"cron": controller.cron, "time": controller.scheduledTime}))
        raise ValueError("scheduled failed on purpose")
'''


def test_a_failing_run_runs_again_three_times(app):
    s = app('"0 0 1 1 *"', args=("--test-cron-speed", "1000000"), worker=RETRY_WORKER)
    got = wait_runs(s, 4, timeout=15)
    first = got[0]["time"]
    assert [r["time"] for r in got[:4]] == [first] * 4      # the same tick, retried
    s.wait_log("scheduled() failed: exception; it will run again")
    s.wait_log("scheduled failed on purpose")


def test_test_scheduled_endpoints_on_every_socket(app, tmp_path):
    other = free_port()
    s = app('"0 0 1 1 *"', args=("--test-scheduled", "-s", f"other=127.0.0.1:{other}"))
    status, _, body = s.get("/__scheduled?cron=*/5+*+*+*+*")
    assert (status, body) == (200, b"Ran scheduled event")
    assert runs(s)[-1]["cron"] == "*/5 * * * *"
    assert abs(runs(s)[-1]["time"] - time.time() * 1000) < 60000
    status, _, body = s.get("/cdn-cgi/handler/scheduled?cron=1+2+3+4+5&time=1234")
    assert (status, body) == (200, b"ok")
    assert runs(s)[-1] == {"cron": "1 2 3 4 5", "time": 1234}
    status, _, body = s.get("/cdn-cgi/handler/scheduled?cron=fail")
    assert (status, body) == (500, b"exception")
    s.wait_log("scheduled failed on purpose")
    c = http.client.HTTPConnection("127.0.0.1", other, timeout=5)     # the second socket
    c.request("GET", "/__scheduled?cron=from+other")
    assert c.getresponse().read() == b"Ran scheduled event"
    c.close()
    assert runs(s)[-1]["cron"] == "from other"


def test_without_the_flag_the_test_paths_reach_fetch(app):
    s = app('"0 0 1 1 *"', args=())
    status, _, body = s.get("/__scheduled?cron=x")
    assert status == 200 and body.startswith(b"fetch ")
    assert runs(s) == []


LEGACY = '''
import json
from workers import Response

def on_fetch(request):
    return Response("ok")

def on_scheduled(controller, env):
    print("CRON " + json.dumps({"cron": controller.cron, "time": controller.scheduledTime}))
'''


def test_legacy_top_level_on_scheduled(app):
    s = app(date="2024-01-01", worker=LEGACY)
    assert wait_runs(s, 1, timeout=4)[0]["cron"] == "* * * * *"


NO_HANDLER = '''
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    def fetch(self, request):
        return Response("ok")
'''


def test_a_worker_without_scheduled_says_so(app):
    s = app(worker=NO_HANDLER)
    s.wait_log("Handler does not export a scheduled() function.", timeout=5)


def test_pyworkerd_test_calls_scheduled_and_queue_through_a_service_binding(tmp_path):
    (tmp_path / "worker.py").write_text(WORKER)
    config = tmp_path / "config.capnp"
    config.write_text(CONFIG % {"crons": "", "date": "2025-11-15"})
    result = subprocess.run([BIN, "test", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "TESTED" in result.stdout + result.stderr
    assert "scheduled failed on purpose" in result.stdout + result.stderr


@pytest.mark.parametrize("cron, message", [
    ('"* * * *"', '"* * * *" is not a valid cron expression: 4 fields where five are needed'),
    ('"61 * * * *"', 'minute field "61": 61 is not between 0 and 59'),
    ('"0 0 * * 0"', "Cloudflare numbers them 1 (Sunday) to 7 (Saturday)"),
    ('"@reboot"', 'unknown alias "@reboot"'),
    ('"0 0 31 2 *"', '"0 0 31 2 *" never fires'),
])
def test_bad_schedules_are_config_errors(tmp_path, cron, message):
    (tmp_path / "worker.py").write_text(WORKER)
    config = tmp_path / "config.capnp"
    config.write_text(CONFIG % {"crons": cron, "date": "2025-11-15"})
    result = subprocess.run([BIN, "serve", str(config)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"{config}:12: service main: pyworkerd.crons: " in result.stderr, result.stderr
    assert message in result.stderr, result.stderr


def test_cron_example(tmp_path):
    example = REPO / "examples" / "cron"
    s = Server(example / "config.capnp", args=["--test-scheduled", "--test-cron-speed", "600",
                                               "--persist-dir", str(tmp_path)], tmp=tmp_path)
    try:
        status, _, body = s.get("/__scheduled?cron=*/10+*+*+*+*")
        assert status == 200
        deadline = time.monotonic() + 10
        while True:
            status, _, body = s.get("/")
            report = json.loads(body)
            if report["runs"] >= 3 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert report["runs"] >= 3, (report, s.log())
        assert report["last"]["cron"] in ("*/10 * * * *", "@hourly")
    finally:
        s.stop()
