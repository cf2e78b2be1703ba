"""Workflows on a cluster (--storage postgresql://...): instances live in PostgreSQL and each
runs on one node at a time under a lease (storage/pg_workflow.h: PW_PG_WF_LEASE_MS, 10 s,
renewed every 3 s while the run is in flight). A node killed (SIGKILL) mid-run: another node
takes the instance over once the lease lapses and completes it without rerunning the steps
already done. PostgreSQL down: create and status answer 503 and recover without a restart.
The Workflows semantics on PostgreSQL are test_workflows.py's (its app_any fixture)."""

import json
import signal
import time
from urllib.parse import urlencode

from conftest import Server, assert_no_sanitizer_report, cluster_harness, free_port, request_on
from test_workflows import CONFIG     # a worker with KV and the workflow FLOW of its class Flow

harness = cluster_harness()

WORKER = '''
import asyncio, json
from urllib.parse import urlparse, parse_qs
from workers import Response, WorkerEntrypoint, WorkflowEntrypoint


async def count(env, name):
    n = int(await env.KV.get(name) or 0) + 1
    await env.KV.put(name, str(n))
    return n


class Flow(WorkflowEntrypoint):
    async def run(self, event, step):
        iid = event.instanceId

        @step.do("first")
        async def first():
            return await count(self.env, f"{iid}:first")

        @step.do("slow")
        async def slow():
            n = await count(self.env, f"{iid}:slow")
            print(f"SLOW {iid} attempt {n}", flush=True)
            if event.payload.get("hang") and n == 1:    # the first attempt never ends
                await asyncio.sleep(120)
            return n

        return {"first": await first(), "slow": await slow()}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/create":
            inst = await self.env.FLOW.create(params=json.loads(q.get("params", "{}")))
            return Response.json({"id": inst.id})
        if url.path == "/status":
            return Response.json(await (await self.env.FLOW.get(q["id"])).status())
        return Response("not found", status=404)
'''


def write_config(tmp_path):
    d = tmp_path / "w"
    d.mkdir(parents=True, exist_ok=True)
    (d / "worker.py").write_text(WORKER)
    (d / "config.capnp").write_text(CONFIG)
    return d / "config.capnp"


def get_json(port, path):
    status, _, body = request_on(port, "GET", path)
    assert status == 200, body
    return json.loads(body)


def create(port, params):
    return get_json(port, "/create?" + urlencode({"params": json.dumps(params)}))["id"]


def wait_complete(port, iid, timeout):
    deadline = time.monotonic() + timeout
    while True:
        body = get_json(port, f"/status?id={iid}")
        if body["status"] == "complete" or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_a_workflow_whose_node_dies_completes_on_another(tmp_path, postgres):
    """The node running an instance is killed (SIGKILL) in the middle of its step "slow":
    another node takes the instance over after the lease lapses (not before) and completes it;
    the completed step "first" is not run again, "slow" runs a second time."""
    c = harness.Cluster(write_config(tmp_path), n=2, work=tmp_path, database=f"wf_{free_port()}", pg=postgres)
    try:
        iid = create(c.nodes[0].port, {"hang": True})
        deadline = time.monotonic() + 15
        while not any(f"SLOW {iid} attempt 1" in n.log() for n in c.nodes):
            assert time.monotonic() < deadline, [n.log() for n in c.nodes]
            time.sleep(0.1)
        holder = next(n for n in c.nodes if f"SLOW {iid} attempt 1" in n.log())
        other = next(n for n in c.nodes if n is not holder)
        db = c.url.rsplit("/", 1)[1]
        assert c.pg.psql(f"SELECT status FROM pw_wf_instances WHERE id = '{iid}'", db) == "running"
        time.sleep(4)                           # past a renewal: the lease was extended
        assert f"SLOW {iid}" not in other.log()
        holder.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        body = wait_complete(other.port, iid, timeout=25)
        took = time.monotonic() - killed_at
        print(f"taken over and completed {took:.1f} s after the kill")
        assert body["status"] == "complete", (body, other.log())
        assert body["output"] == {"first": 1, "slow": 2}        # "first" was not run again
        assert 3 < took < 15, took                              # after the lease, within it
        assert f"SLOW {iid} attempt 2" in other.log()
        assert c.pg.psql(f"SELECT owner IS NULL FROM pw_wf_instances WHERE id = '{iid}'", db) == "t"
    finally:
        c.stop()
    assert_no_sanitizer_report(other.log())


def test_instances_are_spread_over_the_nodes_and_each_runs_once(tmp_path, postgres):
    """Twenty instances created through nginx all complete, each step of each run once,
    whichever node took it."""
    c = harness.Cluster(write_config(tmp_path), n=2, work=tmp_path, database=f"wf_{free_port()}", pg=postgres)
    try:
        ids = [create(c.nginx.port, {}) for _ in range(20)]
        for iid in ids:
            assert wait_complete(c.nodes[0].port, iid, timeout=20)["output"] == {"first": 1, "slow": 1}
        logs = "".join(n.log() for n in c.nodes)
        assert all(logs.count(f"SLOW {iid} attempt") == 1 for iid in ids)
    finally:
        c.stop()
    for node in c.nodes:
        assert_no_sanitizer_report(node.log())


def test_postgres_down_is_a_503_on_create_and_status_and_workflows_recover(tmp_path):
    """PostgreSQL stopped: create and status answer 503 at once; once it is back, the same
    pyworkerd creates and completes instances again, the earlier one included."""
    pg = harness.Postgres().start()
    s = None
    try:
        s = Server(write_config(tmp_path), ["--storage", pg.create_database("wfdown")], tmp=tmp_path)
        first = create(s.port, {})
        assert wait_complete(s.port, first, timeout=15)["status"] == "complete"
        pg.stop()
        t = time.monotonic()
        status, headers, body = request_on(s.port, "GET", "/create?params={}", timeout=10)
        assert status == 503 and headers["retry-after"] == "1", body
        status, _, body = request_on(s.port, "GET", f"/status?id={first}", timeout=10)
        assert status == 503, body
        assert time.monotonic() - t < 12
        pg.start()
        deadline = time.monotonic() + 10
        while request_on(s.port, "GET", f"/status?id={first}")[0] != 200:
            assert time.monotonic() < deadline, "no recovery"
            time.sleep(0.2)
        second = create(s.port, {})
        assert wait_complete(s.port, second, timeout=15)["output"] == {"first": 1, "slow": 1}
        assert s.proc.poll() is None            # the same pyworkerd throughout
    finally:
        if s:
            s.stop()
            assert_no_sanitizer_report(s.log())
        pg.remove()
