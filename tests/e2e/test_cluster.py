"""Several pyworkerd nodes sharing state in PostgreSQL (--storage postgresql://...): a real
PostgreSQL (a temporary cluster on 127.0.0.1), three nodes and nginx in front of them, all
started by examples/cluster/cluster.py's harness and stopped by PID. KV's semantics on
PostgreSQL are test_kv.py's (its kv_any fixture runs every test on the postgres backend too)."""

import json
import signal
import subprocess
import threading
import time

import pytest

from conftest import (REPO, Server, assert_no_sanitizer_report, cluster_harness, free_port, request_on,
                      run_pyworkerd, write_worker)

harness = cluster_harness()

WORKER = '''
from urllib.parse import parse_qs, urlparse
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        q = {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}
        path = urlparse(request.url).path
        if path == "/put":
            await self.env.KV.put(q["key"], q["value"])
            return Response("ok")
        if path == "/get":
            return Response.json({"value": await self.env.KV.get(q["key"])})
        if path == "/caught":
            try:
                await self.env.KV.get("x")
                return Response("reachable")
            except Exception as e:
                return Response(f"{type(e).__name__}: {e}", status=299)
        return Response("no such path", status=404)
'''

KV_BINDING = '(name = "KV", kvNamespace = "kv")'


def kv_config(tmp_path):
    config = write_worker(tmp_path / "w", {"worker.py": WORKER}, bindings=KV_BINDING)
    text = config.read_text().replace('services = [(name = "main", worker = .w)]',
                                      'services = [(name = "main", worker = .w), '
                                      '(name = "kv", disk = (path = "kv-data", writable = true))]')
    config.write_text(text)
    return config


def get_json(port, path):
    status, _, body = request_on(port, "GET", path)
    assert status == 200, body
    return json.loads(body)


@pytest.fixture
def cluster(tmp_path, postgres):
    clusters = []

    def start(n=3, args=()):
        c = harness.Cluster(kv_config(tmp_path), n=n, node_args=args, work=tmp_path,
                            database=f"c{len(clusters)}_{free_port()}", pg=postgres)
        clusters.append(c)
        return c

    yield start
    for c in clusters:
        c.stop()
        for node in c.nodes:
            assert_no_sanitizer_report(node.log())


def test_kv_write_through_one_node_is_read_through_the_others(cluster):
    c = cluster()
    a, b, d = (n.port for n in c.nodes)
    assert request_on(a, "GET", "/put?key=greeting&value=hello")[0] == 200
    assert get_json(b, "/get?key=greeting") == {"value": "hello"}
    assert get_json(d, "/get?key=greeting") == {"value": "hello"}
    assert request_on(d, "GET", "/put?key=greeting&value=again")[0] == 200
    assert get_json(a, "/get?key=greeting") == {"value": "again"}
    for _ in range(6):      # nginx spreads these over the three nodes
        assert get_json(c.nginx.port, "/get?key=greeting") == {"value": "again"}


def test_writes_through_the_balancer_from_every_node_are_all_seen(cluster):
    c = cluster()
    for i in range(30):
        assert request_on(c.nginx.port, "GET", f"/put?key=k{i}&value=v{i}")[0] == 200
    for node in c.nodes:
        for i in range(0, 30, 7):
            assert get_json(node.port, f"/get?key=k{i}") == {"value": f"v{i}"}
    assert c.pg.psql("SELECT count(*) FROM pw_kv WHERE namespace = 'kv'", c.url.rsplit("/", 1)[1]) == "30"


def test_kill_9_of_a_node_under_load_loses_no_acknowledged_write(cluster):
    c = cluster()
    acked, stop = [], threading.Event()

    def load(k):
        i = 0
        while not stop.is_set():
            key = f"w{k}-{i}"
            try:
                if request_on(c.nginx.port, "GET", f"/put?key={key}&value={i}", timeout=5)[0] == 200:
                    acked.append(key)
            except OSError:
                pass
            i += 1

    threads = [threading.Thread(target=load, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    c.nodes[1].kill(signal.SIGKILL)
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 50
    for key in acked:
        assert get_json(c.nodes[0].port, f"/get?key={key}")["value"] == key.split("-")[1], key


def test_nodes_register_and_heartbeat(cluster):
    c = cluster()
    db = c.url.rsplit("/", 1)[1]
    rows = c.pg.psql("SELECT id, pid FROM pw_nodes ORDER BY pid", db).splitlines()
    assert sorted(int(r.split("|")[1]) for r in rows) == sorted(n.proc.pid for n in c.nodes)
    first = c.pg.psql("SELECT max(heartbeat_at) FROM pw_nodes", db)
    time.sleep(2.5)
    assert c.pg.psql("SELECT max(heartbeat_at) FROM pw_nodes", db) > first
    assert c.pg.psql("SELECT version FROM pw_schema", db) == "5"


def test_threads_run_kv_on_the_main_loop(tmp_path, pg_url):
    s = Server(kv_config(tmp_path), ["--storage", pg_url, "--threads", "2"], tmp=tmp_path)
    try:
        for i in range(20):     # new connections: both loops accept some
            assert request_on(s.port, "GET", f"/put?key=t{i}&value={i}")[0] == 200
        assert all(get_json(s.port, f"/get?key=t{i}") == {"value": str(i)} for i in range(20))
    finally:
        s.stop()


def test_bad_url_is_a_usage_error(tmp_path):
    r = run_pyworkerd("serve", kv_config(tmp_path), "--storage", "sqlite:///x")
    assert r.returncode == 1
    assert "--storage: expected a postgresql://" in r.stderr


def test_unreachable_server_at_start_is_a_clear_error(tmp_path):
    port = free_port()      # nothing listens there
    r = run_pyworkerd("serve", kv_config(tmp_path), "-s", f"http=127.0.0.1:{free_port()}",
                      "--storage", f"postgresql://u:secret@127.0.0.1:{port}/db")
    assert r.returncode == 1
    assert f"--storage postgresql://u:***@127.0.0.1:{port}/db: cannot connect to PostgreSQL" in r.stderr
    assert "secret" not in r.stderr


def test_a_newer_schema_is_refused(tmp_path, postgres, pg_url):
    db = pg_url.rsplit("/", 1)[1]
    postgres.psql("CREATE TABLE pw_schema (version int4 NOT NULL); INSERT INTO pw_schema VALUES (99)", db)
    r = run_pyworkerd("serve", kv_config(tmp_path), "-s", f"http=127.0.0.1:{free_port()}", "--storage", pg_url)
    assert r.returncode == 1
    assert "the database's pyworkerd schema is version 99, newer than this pyworkerd's (5)" in r.stderr


def test_nodes_starting_together_migrate_once(tmp_path, pg_url, postgres):
    procs = [subprocess.Popen(["sh", "-c", 'exec "$0" serve "$1" -s "http=127.0.0.1:$2" --storage "$3" '
                               '--threads 1', harness.BIN, kv_config(tmp_path / str(i)), str(free_port()), pg_url],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(3)]
    try:
        deadline = time.monotonic() + 20
        db = pg_url.rsplit("/", 1)[1]
        while time.monotonic() < deadline:
            assert all(p.poll() is None for p in procs)
            try:
                if postgres.psql("SELECT count(*) FROM pw_nodes", db) == "3":
                    break
            except RuntimeError:        # not created yet
                pass
            time.sleep(0.1)
        assert postgres.psql("SELECT count(*) FROM pw_nodes", db) == "3"
        assert postgres.psql("SELECT version FROM pw_schema", db) == "5"
    finally:
        for p in procs:
            harness.stop_pid(p)


def test_postgres_restart_under_load_answers_503_then_recovers(tmp_path):
    """PostgreSQL stopped while requests flow: each request that needs it gets a 503 at once
    (no 500, no hang) and the same pyworkerd answers 200 again once it is back."""
    pg = harness.Postgres().start()
    s = None
    try:
        s = Server(kv_config(tmp_path), ["--storage", pg.create_database("restart")], tmp=tmp_path)
        assert request_on(s.port, "GET", "/put?key=k&value=v")[0] == 200
        seen, stop = [], threading.Event()

        def load():
            while not stop.is_set():
                t = time.monotonic()
                status = request_on(s.port, "GET", "/get?key=k", timeout=10)[0]
                seen.append((time.monotonic(), status, time.monotonic() - t))

        threads = [threading.Thread(target=load) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        pg.stop()                               # fast shutdown: clients are disconnected
        down_at = time.monotonic()
        time.sleep(1.5)
        status, headers, body = request_on(s.port, "GET", "/get?key=k")
        assert status == 503 and b"state storage cannot be reached" in body
        assert headers["retry-after"] == "1"
        caught = request_on(s.port, "GET", "/caught")
        assert caught[0] == 299 and b"KV GET failed: 503 Service Unavailable" in caught[2]
        pg.start()                              # same port, same data
        up_at = time.monotonic()
        deadline = up_at + 10
        while request_on(s.port, "GET", "/get?key=k")[0] != 200:
            assert time.monotonic() < deadline, "no recovery"
            time.sleep(0.1)
        recovered_in = time.monotonic() - up_at
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        assert s.proc.poll() is None            # the same pyworkerd throughout
        statuses = {status for _, status, _ in seen}
        assert statuses <= {200, 503}, statuses
        assert any(st == 503 for at, st, _ in seen if down_at < at < up_at)
        assert max(took for _, _, took in seen) < 6, "a request hung while PostgreSQL was down"
        assert seen[-1][1] == 200
        assert recovered_in < 5
        assert "PostgreSQL: unreachable" in s.log() and "PostgreSQL: reachable again" in s.log()
        assert get_json(s.port, "/get?key=k") == {"value": "v"}
    finally:
        if s:
            s.stop()
            assert_no_sanitizer_report(s.log())
        pg.remove()


def test_example_cluster_script_runs_and_stops_everything():
    r = subprocess.run(["/usr/bin/python3.11", str(REPO / "examples" / "cluster" / "cluster.py")],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for n in ("node1", "node2", "node3"):
        assert f"GET / through {n}: 200" in out
    assert out.count('"guests": ["guest-of-node1", "guest-of-node2", "guest-of-node3"]') == 3
    assert ("thank-you notes (queue consumed by any node): 3 "
            "['guest-of-node1', 'guest-of-node2', 'guest-of-node3']") in out
    assert ('workflow started through node1, read through node3: complete {"greeting": "welcome, ada", '
            '"by": "node') in out
    assert "stopped: nodes, nginx and PostgreSQL (by PID)" in out
    pids = [int(w) for line in out.splitlines() if line.startswith("PostgreSQL ")
            for w in [line.split("(pid ")[1].split(")")[0]]]
    assert pids and not any(harness.Path(f"/proc/{p}").exists() for p in pids)


CRON_WORKER = '''
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")

    async def scheduled(self, controller, env, ctx):
        print(f"CRON {int(controller.scheduledTime)}")
'''


def test_each_cron_tick_fires_once_across_the_nodes(tmp_path, postgres):
    """Three nodes with the same every-minute schedule on a clock 60 times as fast: each tick
    (one a second) runs on exactly one node."""
    config = write_worker(tmp_path / "w", {"worker.py": CRON_WORKER})
    config.write_text(config.read_text().replace("bindings = [],", 'bindings = [],\n  pyworkerd = (crons = ["* * * * *"]),'))
    c = harness.Cluster(config, n=3, node_args=["--test-cron-speed", "60"], work=tmp_path,
                        database=f"cron_{free_port()}", pg=postgres)
    try:
        time.sleep(6)
        runs = [int(line.split("CRON ")[1].split()[0]) for node in c.nodes
                for line in node.log().splitlines() if "CRON " in line]
        assert len(runs) >= 4, runs
        assert len(runs) == len(set(runs)), sorted(runs)        # no tick ran twice
        assert all(t % 60000 == 0 for t in runs)
        span = (max(runs) - min(runs)) // 60000 + 1
        assert len(runs) >= span - 1                            # and (nearly) none was lost
        db = c.url.rsplit("/", 1)[1]
        claimed = int(c.pg.psql("SELECT count(*) FROM pw_cron_ticks", db))
        assert len(runs) <= claimed <= len(runs) + 1        # one row per tick; the last may be running
    finally:
        c.stop()
    for node in c.nodes:
        assert_no_sanitizer_report(node.log())


QUEUE_WORKER = '''
import json
from urllib.parse import parse_qs, urlparse
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        q = {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}
        start, n = int(q["start"]), int(q["n"])
        await self.env.JOBS.sendBatch([{"body": {"n": i}} for i in range(start, start + n)])
        return Response("ok")

    async def queue(self, batch, env, ctx):
        await env.KV.put("b:" + batch.messages[0].id, json.dumps([m.body["n"] for m in batch.messages]))
'''


def queue_config(tmp_path):
    config = write_worker(tmp_path / "w", {"worker.py": QUEUE_WORKER},
                          bindings='(name = "JOBS", queue = "jobs"), ' + KV_BINDING)
    text = config.read_text().replace('services = [(name = "main", worker = .w)]',
                                      'services = [(name = "main", worker = .w), '
                                      '(name = "kv", disk = (path = "kv-data", writable = true))]')
    text = text.replace("bindings = [", 'pyworkerd = (queueConsumers = [(queue = "jobs", maxBatchSize = 100, '
                        'maxBatchTimeout = 0)]),\n  bindings = [', 1)
    config.write_text(text)
    return config


def queue_cluster(tmp_path, postgres):
    return harness.Cluster(queue_config(tmp_path), n=3, work=tmp_path, database=f"q_{free_port()}", pg=postgres)


def consumed(pg, db):
    rows = pg.psql("SELECT convert_from(value, 'UTF8') FROM pw_kv WHERE namespace = 'kv'", db)
    return [n for line in rows.splitlines() if line for n in json.loads(line)]


def test_ten_thousand_queue_messages_are_each_consumed_across_a_kill_9(tmp_path, postgres):
    """10,000 messages sent through nginx in batches of 100, consumed by the three nodes; one
    node is killed (SIGKILL) midway: what it had taken comes back when its lease lapses
    (PW_PG_QUEUE_LEASE_MS, 10 s) and another node delivers it. None is lost; a message may be
    delivered more than once (at least once)."""
    c = queue_cluster(tmp_path, postgres)
    try:
        for start in range(0, 10000, 100):
            if start == 5000:
                c.nodes[1].kill(signal.SIGKILL)
            for _ in range(20):     # a send through the dying node fails: sent again
                try:
                    if request_on(c.nginx.port, "GET", f"/?start={start}&n=100", timeout=10)[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            else:
                pytest.fail(f"the batch from {start} was never accepted")
        db = c.url.rsplit("/", 1)[1]
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if c.pg.psql("SELECT count(*) FROM pw_queue", db) == "0":
                break
            time.sleep(0.5)
        seen = consumed(c.pg, db)
        assert set(seen) == set(range(10000)), sorted(set(range(10000)) - set(seen))[:20]
        assert c.pg.psql("SELECT count(*) FROM pw_queue", db) == "0"
        logs = [node.log() for node in (c.nodes[0], c.nodes[2])]
        assert all("__queue__" not in log or "Traceback" not in log for log in logs)
    finally:
        c.stop()
    for node in (c.nodes[0], c.nodes[2]):
        assert_no_sanitizer_report(node.log())


def test_a_queue_send_while_postgres_is_down_is_a_503_and_queues_recover(tmp_path):
    """PostgreSQL stopped: a send fails at once with 503 (StorageUnavailable), the consumer
    waits; once it is back, sends succeed and every acknowledged message is consumed, without a
    restart of pyworkerd."""
    pg = harness.Postgres().start()
    s = None
    try:
        s = Server(queue_config(tmp_path), ["--storage", pg.create_database("qdown")], tmp=tmp_path)
        assert request_on(s.port, "GET", "/?start=0&n=100")[0] == 200
        pg.stop()
        status, headers, body = request_on(s.port, "GET", "/?start=100&n=100")
        assert status == 503 and headers["retry-after"] == "1", body
        pg.start()
        deadline = time.monotonic() + 10
        while request_on(s.port, "GET", "/?start=100&n=100")[0] != 200:
            assert time.monotonic() < deadline, "no recovery"
            time.sleep(0.2)
        deadline = time.monotonic() + 20
        while set(consumed(pg, "qdown")) != set(range(200)):
            assert time.monotonic() < deadline, sorted(set(range(200)) - set(consumed(pg, "qdown")))[:20]
            time.sleep(0.3)
        assert s.proc.poll() is None
    finally:
        if s:
            s.stop()
            assert_no_sanitizer_report(s.log())
        pg.remove()


HANGING_CONSUMER = '''
import asyncio, os
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        await self.env.JOBS.send({"n": 0})
        return Response("ok")

    async def queue(self, batch, env, ctx):
        print(f"TAKEN attempts={batch.messages[0].attempts}", flush=True)
        if await env.KV.get("hung") is None:      # the first delivery never finishes
            await env.KV.put("hung", "1")
            await asyncio.sleep(120)
        await env.KV.put("done", "1")
'''


def test_a_batch_whose_node_dies_mid_delivery_is_delivered_by_another_after_its_lease(tmp_path, postgres):
    """The node delivering a batch is killed (SIGKILL) while its consumer runs: the batch's
    lease (10 s, renewed every 3 s while the node lives) lapses and the other node delivers it;
    a lapsed lease counts no attempt (the consumer did not fail)."""
    config = queue_config(tmp_path)
    (tmp_path / "w" / "worker.py").write_text(HANGING_CONSUMER)
    c = harness.Cluster(config, n=2, work=tmp_path, database=f"lease_{free_port()}", pg=postgres)
    try:
        assert request_on(c.nodes[0].port, "GET", "/")[0] == 200
        deadline = time.monotonic() + 10
        while not any("TAKEN" in n.log() for n in c.nodes):
            assert time.monotonic() < deadline, "never delivered"
            time.sleep(0.1)
        holder = next(n for n in c.nodes if "TAKEN" in n.log())
        other = next(n for n in c.nodes if n is not holder)
        time.sleep(4)                           # past a renewal: the lease was extended
        assert "TAKEN" not in other.log()
        holder.kill(signal.SIGKILL)
        killed_at = time.monotonic()
        db = c.url.rsplit("/", 1)[1]
        while c.pg.psql("SELECT count(*) FROM pw_kv WHERE key = 'done'::bytea", db) != "1":
            assert time.monotonic() - killed_at < 20, other.log()
            time.sleep(0.2)
        assert 3 < time.monotonic() - killed_at < 15      # after the lease, not before
        assert "TAKEN attempts=1" in other.log()
        assert c.pg.psql("SELECT count(*) FROM pw_queue", db) == "0"
    finally:
        c.stop()
    assert_no_sanitizer_report(other.log())
