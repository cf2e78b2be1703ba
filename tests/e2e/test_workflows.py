"""Workflows end to end: a worker creates instances of its own WorkflowEntrypoint class through
a `wrapped` workflows binding and reads their status over HTTP. Steps count their runs in KV
(the isolate's /tmp is not durable), so the tests see that completed steps never run twice:
across a durable sleep, and across kill -9 of pyworkerd and a restart. Also: retries,
NonRetryableError, errored status, pause/resume/terminate, bad configs, examples/workflows.
The tests taking app_any run on each store: SQLite, and PostgreSQL (--storage)."""

import json
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from conftest import BIN, REPO, Server, assert_no_sanitizer_report

CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w),
              (name = "kv", disk = (path = "kv-data", writable = true))],
  sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-11-15",
  compatibilityFlags = ["python_workers"],
  bindings = [
    (name = "KV", kvNamespace = "kv"),
    (name = "FLOW", wrapped = (moduleName = "cloudflare-internal:workflows-api",
        innerBindings = [(name = "fetcher", service = (name = "main", entrypoint = "Flow"))])),
  ],
);
"""

WORKER = '''
import asyncio, json
from urllib.parse import urlparse, parse_qs
from workers import Response, WorkerEntrypoint, WorkflowEntrypoint
from workers.workflows import NonRetryableError

FAST = {"retries": {"limit": 2, "delay": 10, "backoff": "constant"}}


async def count(env, name):
    n = int(await env.KV.get(name) or 0) + 1
    await env.KV.put(name, str(n))
    return n


class Flow(WorkflowEntrypoint):
    async def run(self, event, step):
        p, iid = event.payload, event.instanceId
        assert event["workflowName"] == "FLOW" and event.timestamp.year >= 2024

        @step.do("first")
        async def first():
            await count(self.env, f"{iid}:first")
            return {"n": p.get("n", 1)}

        value = await first()
        if p.get("sleep"):
            await step.sleep("nap", p["sleep"])
        if p.get("fail"):
            @step.do("flaky", config=FAST)
            async def flaky():
                await count(self.env, f"{iid}:flaky")
                raise (NonRetryableError if p["fail"] == "fatal" else ValueError)("boom " + iid)
            await flaky()
        if p.get("wait"):
            try:
                got = await step.wait_for_event("approval", "approved", timeout=p["wait"])
            except TimeoutError as exc:
                got = {"timeout": str(exc)}
            value = {**value, "event": got.get("payload"), "timeout": got.get("timeout")}
        if p.get("crash"):
            @step.do("crashy")
            async def crashy():
                if await count(self.env, f"{iid}:crashy") <= p["crash"]:
                    import os
                    os.abort()  # the isolate dies in the middle of the run
                return "survived"
            value = {**value, "crashy": await crashy()}
        if p.get("slow"):
            @step.do("slow")
            async def slow():
                await count(self.env, f"{iid}:slow")
                await asyncio.sleep(p["slow"])
                return "slept"
            await slow()

        @step.do("second")
        async def second(first):
            await count(self.env, f"{iid}:second")
            return first["n"] + 1

        return {"first": value, "second": await second()}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        flow = self.env.FLOW
        try:
            if url.path == "/create":
                opts = {"params": json.loads(q.get("params", "{}"))}
                if "id" in q:
                    opts["id"] = q["id"]
                inst = await flow.create(opts) if "dict" in q else await flow.create(**opts)
                return Response.json({"id": inst.id})
            if url.path == "/status":
                return Response.json(await (await flow.get(q["id"])).status())
            if url.path in ("/pause", "/resume", "/terminate", "/restart"):
                inst = await flow.get(q["id"])
                await getattr(inst, url.path[1:])()
                return Response.json(await inst.status())
            if url.path == "/event":
                inst = await flow.get(q["id"])
                await inst.send_event({"type": q["type"], "payload": json.loads(q["payload"])})
                return Response.json(await inst.status())
            if url.path == "/count":
                return Response.json(int(await self.env.KV.get(q["key"]) or 0))
        except Exception as exc:
            return Response.json({"exception": type(exc).__name__, "message": str(exc)}, status=500)
        return Response("not found", status=404)
'''


@pytest.fixture
def app(tmp_path):
    (tmp_path / "worker.py").write_text(WORKER)
    config = tmp_path / "config.capnp"
    config.write_text(CONFIG)
    servers = []

    def start(*args):
        s = Server(config, args=args, tmp=tmp_path)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()
        assert_no_sanitizer_report(s.log())


@pytest.fixture(params=["sqlite", "postgres"])
def app_any(request, app):
    """app, on each store in turn: SQLite, and PostgreSQL (--storage; conftest's postgres)."""
    storage = ("--storage", request.getfixturevalue("pg_url")) if request.param == "postgres" else ()
    return lambda *args: app(*storage, *args)


def get_json(server, path):
    status, _, body = server.get(path)
    return status, json.loads(body)


def create(server, params, **extra):
    query = urlencode({"params": json.dumps(params), **extra})
    status, body = get_json(server, f"/create?{query}")
    assert status == 200, body
    return body["id"]


def wait_status(server, iid, want, timeout=4.0):
    deadline = time.monotonic() + timeout
    while True:
        status, body = get_json(server, f"/status?id={iid}")
        assert status == 200, body
        if body["status"] == want or time.monotonic() > deadline:
            assert body["status"] == want, (body, server.log())
            return body
        time.sleep(0.02)


def count(server, iid, step):
    return get_json(server, f"/count?key={iid}:{step}")[1]


def test_instance_completes_with_output(app_any):
    app = app_any
    s = app()
    iid = create(s, {"n": 41})
    body = wait_status(s, iid, "complete")
    assert body["output"] == {"first": {"n": 41}, "second": 42}
    assert "error" not in body
    assert count(s, iid, "first") == 1 and count(s, iid, "second") == 1


def test_create_with_own_id_dict_form_and_duplicate(app_any):
    app = app_any
    s = app()
    assert create(s, {"n": 1}, id="order-7", dict="1") == "order-7"
    assert wait_status(s, "order-7", "complete")["output"]["second"] == 2
    status, body = get_json(s, f"/create?id=order-7&params={{}}")
    assert status == 500 and "already exists" in body["message"]
    status, body = get_json(s, "/status?id=nope")
    assert status == 500 and "instance.not_found" in body["message"]
    status, body = get_json(s, "/create?id=bad%20id&params={}")
    assert status == 500 and body["exception"] == "TypeError"


def test_durable_sleep_suspends_then_resumes_without_rerunning_steps(app_any):
    app = app_any
    s = app()
    iid = create(s, {"sleep": "1 second"})
    wait_status(s, iid, "waiting", timeout=2)
    started = time.monotonic()
    body = wait_status(s, iid, "complete")
    assert 0.5 < time.monotonic() - started < 2.5
    assert body["output"]["second"] == 2
    assert count(s, iid, "first") == 1        # run() replayed after the sleep: step memoised
    assert count(s, iid, "second") == 1


def test_kill_9_mid_workflow_then_restart_completes_without_rerunning_steps(app):
    s = app()
    iid = create(s, {"slow": 0.8})
    deadline = time.monotonic() + 3
    while count(s, iid, "slow") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert count(s, iid, "first") == 1 and count(s, iid, "slow") == 1
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    s2 = app()
    body = wait_status(s2, iid, "complete")
    assert body["output"]["second"] == 2
    assert count(s2, iid, "first") == 1       # completed before the kill: not run again
    assert count(s2, iid, "slow") == 2        # interrupted: run again
    assert count(s2, iid, "second") == 1


def test_sleeping_instance_survives_restart(app_any):
    app = app_any
    s = app()
    iid = create(s, {"sleep": 600})
    wait_status(s, iid, "waiting", timeout=2)
    s.stop()
    s2 = app()
    assert wait_status(s2, iid, "complete")["output"]["second"] == 2
    assert count(s2, iid, "first") == 1


def test_failing_step_retries_then_errors(app_any):
    app = app_any
    s = app()
    iid = create(s, {"fail": "retry"})
    body = wait_status(s, iid, "errored")
    assert body["error"] == {"name": "ValueError", "message": f"boom {iid}"}
    assert count(s, iid, "flaky") == 3       # the first attempt and limit=2 retries
    assert count(s, iid, "second") == 0
    log = s.wait_log(f"workflow FLOW instance {iid}: run() failed")
    assert "Traceback" in log and f"ValueError: boom {iid}" in log


def wait_status_through_crashes(server, iid, want, timeout=12.0):
    """wait_status, but a poll that met the dying isolate (502) is simply repeated."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, raw = server.get(f"/status?id={iid}")
        body = json.loads(raw) if status == 200 else {"status": f"HTTP {status}"}
        if body["status"] == want or time.monotonic() > deadline:
            assert body["status"] == want, (body, server.log())
            return body
        time.sleep(0.05)


def test_run_is_retried_after_its_isolate_dies(app_any):
    app = app_any
    """An isolate that dies mid-run (here os.abort() in a step) does not end the instance: the
    run starts again, its finished steps are not run again."""
    s = app()
    iid = create(s, {"crash": 1})
    body = wait_status_through_crashes(s, iid, "complete")
    assert body["output"]["first"]["crashy"] == "survived"
    assert count(s, iid, "crashy") == 2
    assert count(s, iid, "first") == 1
    assert "its isolate died during the run" in s.log()


def test_a_run_that_keeps_killing_its_isolate_errors(app_any):
    app = app_any
    s = app()
    iid = create(s, {"crash": 100})
    body = wait_status_through_crashes(s, iid, "errored")
    assert "isolate" in body["error"]["message"], body
    assert count(s, iid, "crashy") == 4     # the first run and 3 retries


def test_non_retryable_error_stops_retries(app_any):
    app = app_any
    s = app()
    iid = create(s, {"fail": "fatal"})
    body = wait_status(s, iid, "errored")
    assert body["error"]["name"] == "NonRetryableError"
    assert count(s, iid, "flaky") == 1


def test_pause_resume_terminate_and_restart(app_any):
    app = app_any
    s = app()
    iid = create(s, {"sleep": 300})
    wait_status(s, iid, "waiting", timeout=2)
    assert get_json(s, f"/pause?id={iid}")[1]["status"] == "paused"
    time.sleep(0.5)
    assert wait_status(s, iid, "paused")
    assert get_json(s, f"/resume?id={iid}")[1]["status"] in ("queued", "running", "complete")
    wait_status(s, iid, "complete")
    other = create(s, {"sleep": 5000})
    wait_status(s, other, "waiting", timeout=2)
    assert get_json(s, f"/terminate?id={other}")[1]["status"] == "terminated"
    assert get_json(s, f"/restart?id={iid}")[0] == 200   # from the top: steps run again
    wait_status(s, iid, "complete")
    assert count(s, iid, "first") == 2 and count(s, iid, "second") == 2


def test_wait_for_event_resumes_on_send_event_and_times_out(app_any):
    app = app_any
    s = app()
    iid = create(s, {"wait": "10 seconds"})
    wait_status(s, iid, "waiting", timeout=2)
    query = urlencode({"id": iid, "type": "other", "payload": "1"})
    assert get_json(s, f"/event?{query}")[0] == 200        # another type: it waits on
    time.sleep(0.2)
    wait_status(s, iid, "waiting")
    query = urlencode({"id": iid, "type": "approved", "payload": json.dumps({"by": "ada"})})
    assert get_json(s, f"/event?{query}")[0] == 200
    body = wait_status(s, iid, "complete")
    assert body["output"]["first"]["event"] == {"by": "ada"}
    assert count(s, iid, "first") == 1
    early = create(s, {"wait": 5000})                    # an event sent before the wait
    query = urlencode({"id": early, "type": "approved", "payload": "7"})
    assert get_json(s, f"/event?{query}")[0] == 200
    assert wait_status(s, early, "complete")["output"]["first"]["event"] == 7
    late = create(s, {"wait": 300})
    body = wait_status(s, late, "complete")
    assert 'step.wait_for_event("approval") timed out' in body["output"]["first"]["timeout"]


WRAPPED = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w)],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-11-15",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "FLOW", wrapped = %s)],
);
"""


@pytest.mark.parametrize("wrapped, message", [
    ('(moduleName = "my-module")',
     'not supported by pyworkerd: worker.bindings["FLOW"].wrapped.moduleName "my-module"'),
    ('(moduleName = "cloudflare-internal:workflows-api")',
     'Workflow binding "FLOW": innerBindings must hold exactly one service binding'),
    ('(moduleName = "cloudflare-internal:workflows-api", innerBindings = [(name = "fetcher", '
     'service = (name = "nope", entrypoint = "Flow"))])',
     'Worker "main"\'s binding "FLOW" refers to a service "nope", but no such service is defined.'),
])
def test_bad_workflow_binding_is_a_clear_error(tmp_path, wrapped, message):
    (tmp_path / "worker.py").write_text(WORKER)
    path = tmp_path / "config.capnp"
    path.write_text(WRAPPED % wrapped)
    result = subprocess.run([BIN, "serve", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr, result.stderr
    assert f"{path}:" in result.stderr


def test_unusable_persist_dir_is_a_clear_error(tmp_path):
    (tmp_path / "worker.py").write_text(WORKER)
    (tmp_path / "file").write_text("")
    path = tmp_path / "config.capnp"
    path.write_text(CONFIG)
    result = subprocess.run([BIN, "serve", str(path), "--persist-dir", str(tmp_path / "file")],
                            capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "workflows: cannot open their store: " in result.stderr, result.stderr
    assert "file/workflows.sqlite3" in result.stderr and "--persist-dir" in result.stderr


def test_workflows_example(tmp_path):
    example = REPO / "examples" / "workflows"
    s = Server(example / "config.capnp", args=["--persist-dir", str(tmp_path)], tmp=tmp_path)
    try:
        status, body = get_json(s, "/create?name=Ada")
        assert status == 200
        done = wait_status(s, body["id"], "complete")
        assert done["output"] == {"greeting": "Hello, Ada!", "shouted": "HELLO, ADA!"}
        assert (Path(tmp_path) / "workflows.sqlite3").exists()
    finally:
        s.stop()


def test_seed_workflow_example(tmp_path):
    """The seed's form: `class MyWorkflow(Workflow)` with `@step` methods and no run(): the
    steps run in order, each with the previous one's result; the notification runs once."""
    example = REPO / "examples" / "workflows-seed"
    s = Server(example / "config.capnp", args=["--persist-dir", str(tmp_path)], tmp=tmp_path)
    try:
        status, _, body = s.request("POST", "/start", body=json.dumps({"numbers": [1, 2, 3]}))
        assert status == 200, body
        iid = json.loads(body)["id"]
        deadline = time.monotonic() + 4
        while True:
            status, done = get_json(s, f"/status/{iid}")
            if done["status"] == "complete" or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert done["status"] == "complete", (done, s.log())
        assert done.get("output") is None  # send_notification returns nothing
        assert get_json(s, "/notes")[1] == {"notifications": "1", "last": "total 6 of 3 numbers"}
    finally:
        s.stop()
