"""Durable Objects (issue 17): config and its errors, namespaces, ids and stubs, one live
instance per id (also across --threads 2), storage (async and sync key-value, SQL,
transactions), the gates, alarms (also across kill -9), ctx (id, blockConcurrencyWhile,
waitUntil, abort), eviction, isolate crashes, workerd's id scheme, the example and
`pyworkerd test`. Every test runs the real binary over real HTTP."""

import concurrent.futures
import hashlib
import hmac
import json
import os
import shutil
import signal
import textwrap
import time

import pytest

from conftest import REPO, Server, assert_no_sanitizer_report, run_pyworkerd

UNIQUE_KEY = "boxes-210bd0cb"

WORKER = r'''
import asyncio
import datetime
import json
import os
from urllib.parse import urlparse

from workers import DurableObject, Request, Response, WorkerEntrypoint


class Box(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.hits = 0                       # in memory only: lost when the object is rebuilt
        self.ready = "now"
        if (ctx.id.name or "").startswith("slow-init"):
            async def init():
                await asyncio.sleep(0.3)
                self.ready = "after init"
            ctx.blockConcurrencyWhile(init)

    async def fetch(self, request):
        self.hits += 1
        path = urlparse(request.url).path
        if path == "/incr":
            value = (await self.ctx.storage.get("n") or 0) + 1
            await self.ctx.storage.put("n", value)
            return Response(str(value))
        if path == "/raise":
            raise KeyError("no such thing")
        return Response(json.dumps({"hits": self.hits, "method": request.method,
                                    "body": await request.text(), "url": request.url,
                                    "id": self.ctx.id.toString(), "name": self.ctx.id.name}),
                        status=201, headers={"x-box": "yes"})

    def info(self):
        self.hits += 1
        return {"hits": self.hits, "pid": os.getpid(), "ready": self.ready,
                "id": self.ctx.id.toString(), "name": self.ctx.id.name}

    async def incr(self):
        value = (await self.ctx.storage.get("n") or 0) + 1
        await self.ctx.storage.put("n", value)
        return value

    async def racy_incr(self):
        value = (await self.ctx.storage.get("n") or 0) + 1
        await asyncio.sleep(0.01)           # not storage: other events may run meanwhile
        await self.ctx.storage.put("n", value)
        return value

    def sync_incr(self):
        value = (self.ctx.storage.kv.get("n") or 0) + 1
        self.ctx.storage.kv.put("n", value)
        return value

    async def echo(self, *args):
        return list(args)

    def fail(self, kind):
        if kind == "value":
            raise ValueError("bad value here")
        raise TypeError("bad type here")

    def crash(self):
        os._exit(3)

    async def slow(self, seconds):
        await asyncio.sleep(seconds)
        return os.getpid()

    async def storage_api(self):
        s = self.ctx.storage
        out = {}
        await s.put("a", 1)
        await s.put({"b": [1, 2, {"x": None}], "c": "three", "d": b"\x00\xff", "e": 1.5,
                     "f": {"nested": True}, "when": datetime.datetime(2024, 5, 6, 7, 8, 9)})
        out["get"] = await s.get("a")
        out["get_many"] = sorted((await s.get(["a", "b", "zz"])).items())
        out["bytes"] = (await s.get("d")) == b"\x00\xff"
        out["date"] = (await s.get("when")) == datetime.datetime(2024, 5, 6, 7, 8, 9)
        out["float"] = await s.get("e")
        out["missing"] = await s.get("nope")
        out["list"] = list(await s.list())
        out["prefix"] = list(await s.list(prefix="w"))
        out["range"] = list(await s.list(start="b", end="e"))
        out["after"] = list(await s.list(startAfter="b", limit=2))
        out["reverse"] = list(await s.list(reverse=True, limit=3))
        out["opts_dict"] = list(await s.list({"start": "c", "limit": 1}))
        out["delete_one"] = await s.delete("a")
        out["delete_again"] = await s.delete("a")
        out["delete_many"] = await s.delete(["b", "c", "nope"])
        out["after_delete"] = list(await s.list())
        value = await s.get("f")
        value["nested"] = False              # a copy: the stored value does not change
        out["copy"] = (await s.get("f"))["nested"]
        await s.deleteAll()
        out["after_delete_all"] = list(await s.list())
        out["get_after_delete_all"] = await s.get("f")
        kv = s.kv
        kv.put("k1", {"v": 1})
        kv.put("k2", [2])
        out["kv_get"] = kv.get("k1")
        out["kv_missing"] = kv.get("nope")
        out["kv_list"] = [k for k, _ in kv.list()]
        out["kv_list_prefix"] = list(kv.list(prefix="k2"))
        out["kv_delete"] = [kv.delete("k1"), kv.delete("k1")]
        for bad in (lambda: s.get(5), lambda: s.put("x" * 3000, 1)):
            try:
                await bad()
            except Exception as exc:
                out.setdefault("errors", []).append(type(exc).__name__)
        return out

    def sql_api(self):
        sql = self.ctx.storage.sql
        out = {}
        sql.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB)")
        c = sql.exec("INSERT INTO t (name, score, data) VALUES (?, ?, ?), (?, ?, ?)",
                     "ann", 1.5, b"\x01", "bob", None, None)
        out["written"] = c.rowsWritten
        cur = sql.exec("SELECT id, name, score, data FROM t ORDER BY id")
        out["columns"] = cur.columnNames
        rows = cur.toArray()
        out["rows"] = [[r["id"], r["name"], r["score"], r["data"] == b"\x01" if r["data"] else None]
                       for r in rows]
        out["read"] = cur.rowsRead >= 2
        out["raw"] = list(sql.exec("SELECT name FROM t ORDER BY id").raw())
        out["iter"] = [dict(r) for r in sql.exec("SELECT count(*) AS n FROM t")]
        out["one"] = sql.exec("SELECT name FROM t WHERE id = ?", 1).one()["name"]
        out["size"] = sql.databaseSize > 0
        errors = []
        for query, args in (("SELECT name FROM t", ()), ("SELEKT 1", ()), ("SELECT * FROM _cf_KV", ()),
                            ("BEGIN TRANSACTION", ()), ("SELECT ?", ())):
            try:
                cursor = sql.exec(query, *args)
                if query == "SELECT name FROM t":
                    cursor.one()
            except Exception as exc:
                errors.append(str(exc))
        out["errors"] = errors

        def txn_fails():
            sql.exec("INSERT INTO t (name) VALUES ('carl')")
            raise RuntimeError("undo")
        try:
            self.ctx.storage.transactionSync(txn_fails)
        except RuntimeError:
            pass
        out["after_rollback"] = sql.exec("SELECT count(*) AS n FROM t").one()["n"]
        out["txn_result"] = self.ctx.storage.transactionSync(
            lambda: sql.exec("INSERT INTO t (name) VALUES ('dan')").rowsWritten)
        out["after_commit"] = sql.exec("SELECT count(*) AS n FROM t").one()["n"]
        return out

    async def txn_api(self):
        s = self.ctx.storage
        await s.put("t", "before")

        async def fails(txn):
            await txn.put("t", "inside")
            raise RuntimeError("roll back")
        try:
            await s.transaction(fails)
        except RuntimeError:
            pass
        first = await s.get("t")

        async def rolls(txn):
            await txn.put("t", "inside again")
            txn.rollback()
        await s.transaction(rolls)
        second = await s.get("t")

        async def commits(txn):
            await txn.put("t", "committed")
            return "done"
        result = await s.transaction(commits)
        return [first, second, result, await s.get("t")]

    async def two_writes_one_too_big(self):
        self.ctx.storage.put("small", 1)
        self.ctx.storage.put("big", "x" * (3 * 1024 * 1024))
        return "answered"

    async def two_writes_then_die(self):
        self.ctx.storage.put("p", 1)
        self.ctx.storage.put("q", 2)
        os._exit(4)

    async def get_keys(self, *keys):
        return await self.ctx.storage.get(list(keys))

    async def set_alarm_in(self, ms, fail_times=0):
        await self.ctx.storage.put("fail_times", fail_times)
        now = datetime.datetime.now(datetime.timezone.utc)
        await self.ctx.storage.setAlarm(now + datetime.timedelta(milliseconds=ms))
        return await self.ctx.storage.getAlarm()

    async def set_alarm_ms(self, at_ms):
        await self.ctx.storage.setAlarm(at_ms)
        return await self.ctx.storage.getAlarm()

    async def delete_alarm(self):
        await self.ctx.storage.deleteAlarm()
        return await self.ctx.storage.getAlarm()

    async def get_alarm(self):
        return await self.ctx.storage.getAlarm()

    async def alarm(self, alarm_info):
        runs = await self.ctx.storage.get("alarm_runs") or []
        runs.append([alarm_info.retryCount, alarm_info.isRetry])
        await self.ctx.storage.put("alarm_runs", runs)
        if len(runs) <= (await self.ctx.storage.get("fail_times") or 0):
            raise RuntimeError("alarm fails on purpose")

    async def alarm_runs(self):
        return await self.ctx.storage.get("alarm_runs")

    def abort_me(self):
        self.ctx.abort("reset please")

    def later(self):
        async def work():
            await asyncio.sleep(0.05)
            await self.ctx.storage.put("later", "done")
        self.ctx.waitUntil(work())
        return "answered first"

    async def read(self, key):
        return await self.ctx.storage.get(key)

    async def call_other(self, name):
        other = self.env.BOX.getByName(name)
        return await other.info()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        parts = urlparse(request.url).path.strip("/").split("/")
        ns = self.env.BOX
        if parts[0] == "rpc":                       # /rpc/<name>/<method>, JSON args in the body
            stub = ns.getByName(parts[1])
            args = json.loads(await request.text() or "[]")
            try:
                result = await getattr(stub, parts[2])(*args)
            except Exception as exc:
                return Response.json({"error": [type(exc).__name__, str(exc)]})
            return Response.json({"ok": result})
        if parts[0] == "fetch":                     # /fetch/<name>/<path>: the object's fetch
            stub = ns.getByName(parts[1])
            target = "https://box.example/" + "/".join(parts[2:])
            try:
                if request.method == "POST":
                    r = await stub.fetch(Request(target, method="POST", body=await request.text()))
                else:
                    r = await stub.fetch(target)
            except Exception as exc:
                return Response.json({"error": [type(exc).__name__, str(exc)]})
            return Response(await r.text(), status=r.status, headers={"x-box": r.headers.get("x-box") or ""})
        if parts[0] == "ids":
            a, b = ns.idFromName("a"), ns.idFromName("a")
            u1, u2 = ns.newUniqueId(), ns.newUniqueId()
            out = {"a": a.toString(), "a_name": a.name, "equal": a.equals(b), "eq": a == b,
                   "unique_differ": not u1.equals(u2), "unique_name": u1.name,
                   "round_trip": ns.idFromString(u1.toString()).equals(u1),
                   "upper": ns.idFromString(a.toString().upper()).equals(a),
                   "stub_name": ns.get(a).name, "by_name": ns.getByName("a").id.toString(),
                   "jurisdiction": ns.jurisdiction("eu").idFromName("a").toString(),
                   "eu_unique": len(ns.newUniqueId({"jurisdiction": "eu"}).toString())}
            errors = []
            for bad in ("abc", "z" * 64, "0" * 64, a.toString()[:-1] + ("0" if a.toString()[-1] != "0" else "1")):
                try:
                    ns.idFromString(bad)
                except TypeError as exc:
                    errors.append(str(exc))
            out["errors"] = errors
            return Response.json(out)
        if parts[0] == "unique":                    # a fresh object's id, usable by /rpc-id
            return Response(ns.newUniqueId().toString())
        if parts[0] == "rpc-id":                    # /rpc-id/<hex>/<method>
            stub = ns.get(ns.idFromString(parts[1]))
            return Response.json({"ok": await getattr(stub, parts[2])()})
        return Response("no route", status=404)
'''


def config_text(storage='(localDisk = "do-disk")', namespaces=None, binding='"Box"', extra=""):
    if namespaces is None:
        namespaces = f'[(className = "Box", uniqueKey = "{UNIQUE_KEY}", enableSql = true)]'
    return textwrap.dedent(f"""\
        using Workerd = import "/workerd/workerd.capnp";
        const config :Workerd.Config = (
          services = [
            (name = "main", worker = .w),
            (name = "do-disk", disk = (path = "do-data", writable = true)),
            (name = "ro-disk", disk = (path = "ro-data")),
          ],
          sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
        );
        const w :Workerd.Worker = (
          modules = [(name = "worker.py", pythonModule = embed "worker.py")],
          compatibilityDate = "2025-09-01",
          compatibilityFlags = ["python_workers"],
          durableObjectNamespaces = {namespaces},
          durableObjectStorage = {storage},
          bindings = [(name = "BOX", durableObjectNamespace = {binding})],{extra}
        );
        """)


def write(d, worker=WORKER, **kw):
    d.mkdir(parents=True, exist_ok=True)
    (d / "worker.py").write_text(worker)
    (d / "config.capnp").write_text(config_text(**kw))
    return d / "config.capnp"


@pytest.fixture
def boxes(tmp_path):
    """boxes(*args) -> a Server running WORKER (state under tmp_path/w/do-data)."""
    servers = []

    def start(*args, d=None, **kw):
        config = write(d or tmp_path / "w", **kw)
        s = Server(config, args, tmp=tmp_path)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop(signal.SIGKILL)
        assert_no_sanitizer_report(s.log())


def rpc(s, name, method, *args):
    status, _, body = s.request("POST", f"/rpc/{name}/{method}", body=json.dumps(list(args)))
    assert status == 200, body
    return json.loads(body)


def ok(s, name, method, *args):
    answer = rpc(s, name, method, *args)
    assert "ok" in answer, answer
    return answer["ok"]


def workerd_id(unique_key, name):
    key = hashlib.sha256(unique_key.encode()).digest()
    first = hmac.new(key, name.encode(), hashlib.sha256).digest()[:16]
    return (first + hmac.new(key, first, hashlib.sha256).digest()[:16]).hex()


# ---------------------------------------------------------------- namespaces, ids, stubs


def test_ids_follow_workerds_scheme_and_are_checked(boxes):
    s = boxes()
    out = json.loads(s.get("/ids")[2])
    assert out["a"] == workerd_id(UNIQUE_KEY, "a") and out["a_name"] == "a"
    assert out["equal"] and out["eq"] and out["unique_differ"] and out["unique_name"] is None
    assert out["round_trip"] and out["upper"] and out["stub_name"] == "a"
    assert out["by_name"] == out["a"] and out["jurisdiction"] == out["a"] and out["eu_unique"] == 64
    assert out["errors"] == ["Invalid Durable Object ID: must be 64 hex digits"] * 2 + \
        ["Durable Object ID is not valid for this namespace."] * 2
    hex_id = s.get("/unique")[2].decode()
    assert json.loads(s.get(f"/rpc-id/{hex_id}/info")[2])["ok"]["id"] == hex_id


def test_stub_fetch_and_rpc(boxes):
    s = boxes()
    status, headers, body = s.get("/fetch/f1/hello")
    assert status == 201 and headers["x-box"] == "yes"
    got = json.loads(body)
    assert got["method"] == "GET" and got["url"] == "https://box.example/hello" and got["name"] == "f1"
    assert got["id"] == workerd_id(UNIQUE_KEY, "f1")
    got = json.loads(s.request("POST", "/fetch/f1/post", body="payload")[2])
    assert got["method"] == "POST" and got["body"] == "payload" and got["hits"] == 2
    assert ok(s, "f1", "echo", 1, "two", [3], {"four": 4.5}, None, True) == [1, "two", [3], {"four": 4.5}, None, True]
    assert rpc(s, "f1", "fail", "value") == {"error": ["ValueError", "bad value here"]}
    assert rpc(s, "f1", "fail", "type") == {"error": ["TypeError", "bad type here"]}
    assert rpc(s, "f1", "nonexistent")["error"][0] == "TypeError"
    assert rpc(s, "f1", "fetch")["error"][0] == "TypeError"     # not an RPC method
    err = json.loads(s.get("/fetch/f1/raise")[2])["error"]
    assert err[0] == "KeyError" and "no such thing" in err[1]
    assert ok(s, "f1", "call_other", "f2")["name"] == "f2"      # an object calling another


def test_thirty_concurrent_increments_give_thirty(boxes):
    s = boxes()
    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        results = list(pool.map(lambda _: s.get("/fetch/hot/incr"), range(30)))
    assert all(r[0] == 200 for r in results)
    assert sorted(int(r[2]) for r in results) == list(range(1, 31))
    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        values = list(pool.map(lambda _: ok(s, "hot", "incr"), range(30)))
    assert sorted(values) == list(range(31, 61))
    assert ok(s, "hot", "read", "n") == 60


def test_sync_kv_increments_are_atomic_too(boxes):
    s = boxes()
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        values = list(pool.map(lambda _: ok(s, "sync", "sync_incr"), range(20)))
    assert sorted(values) == list(range(1, 21))


def test_two_ids_never_share_state(boxes):
    s = boxes()
    for _ in range(3):
        ok(s, "left", "incr")
    ok(s, "right", "incr")
    assert ok(s, "left", "read", "n") == 3 and ok(s, "right", "read", "n") == 1
    assert ok(s, "left", "info")["hits"] == 1 and ok(s, "left", "info")["hits"] == 2
    assert ok(s, "right", "info")["hits"] == 1


def test_an_object_that_raises_leaves_others_working(boxes):
    s = boxes()
    ok(s, "steady", "incr")
    for _ in range(3):
        assert rpc(s, "flaky", "fail", "value")["error"] == ["ValueError", "bad value here"]
    assert ok(s, "steady", "incr") == 2
    assert ok(s, "flaky", "incr") == 1


# ---------------------------------------------------------------- storage


def test_storage_api(boxes):
    s = boxes()
    out = ok(s, "store", "storage_api")
    assert out["get"] == 1 and out["float"] == 1.5 and out["missing"] is None
    assert out["get_many"] == [["a", 1], ["b", [1, 2, {"x": None}]]]
    assert out["bytes"] and out["date"]
    assert out["list"] == ["a", "b", "c", "d", "e", "f", "when"]
    assert out["prefix"] == ["when"] and out["range"] == ["b", "c", "d"]
    assert out["after"] == ["c", "d"] and out["reverse"] == ["when", "f", "e"]
    assert out["opts_dict"] == ["c"]
    assert out["delete_one"] is True and out["delete_again"] is False and out["delete_many"] == 2
    assert out["after_delete"] == ["d", "e", "f", "when"]
    assert out["copy"] is True
    assert out["after_delete_all"] == [] and out["get_after_delete_all"] is None
    assert out["kv_get"] == {"v": 1} and out["kv_missing"] is None
    assert out["kv_list"] == ["k1", "k2"] and out["kv_list_prefix"] == [["k2", [2]]]
    assert out["kv_delete"] == [True, False]
    assert out["errors"] == ["TypeError", "RangeError"]


def test_sql_api(boxes):
    s = boxes()
    out = ok(s, "sql", "sql_api")
    assert out["written"] == 2 and out["columns"] == ["id", "name", "score", "data"]
    assert out["rows"] == [[1, "ann", 1.5, True], [2, "bob", None, None]] and out["read"]
    assert out["raw"] == [["ann"], ["bob"]] and out["iter"] == [{"n": 2}] and out["one"] == "ann"
    assert out["size"]
    e = out["errors"]
    assert e[0] == "Expected exactly one result from SQL query, but got 2 results."
    assert "syntax error" in e[1] and "SQLITE_ERROR" in e[1]
    assert "_cf_" in e[2] and "SQLITE_AUTH" in e[2]
    assert "transactionSync()" in e[3]
    assert e[4] == "Error: Wrong number of parameter bindings for SQL query."
    assert out["after_rollback"] == 2 and out["txn_result"] == 1 and out["after_commit"] == 3


def test_async_transactions_roll_back(boxes):
    s = boxes()
    assert ok(s, "txn", "txn_api") == ["before", "before", "done", "committed"]


def test_sql_needs_enable_sql(boxes):
    s = boxes(namespaces=f'[(className = "Box", uniqueKey = "{UNIQUE_KEY}")]')
    err = rpc(s, "nosql", "sql_api")["error"]
    assert "SQL is not enabled" in err[1]
    assert ok(s, "nosql", "incr") == 1


def test_storage_in_memory(boxes, tmp_path):
    s = boxes(storage="(inMemory = void)")
    ok(s, "mem", "incr")
    ok(s, "mem", "incr")
    assert ok(s, "mem", "read", "n") == 2
    assert not (tmp_path / "w" / "do-data").exists()


def test_database_file_per_object_under_the_unique_key(boxes, tmp_path):
    s = boxes()
    ok(s, "filed", "incr")
    d = tmp_path / "w" / "do-data" / UNIQUE_KEY
    assert (d / (workerd_id(UNIQUE_KEY, "filed") + ".sqlite")).exists()


# ---------------------------------------------------------------- gates


def test_output_gate_a_failed_batch_commits_nothing_and_its_answer_is_an_error(boxes):
    s = boxes()
    err = rpc(s, "gate", "two_writes_one_too_big")["error"]
    assert err[0] == "JsException" and "storage write failed" in err[1], err
    assert ok(s, "gate", "get_keys", "small", "big") == {}     # the batch was all or nothing
    assert ok(s, "gate", "incr") == 1                          # the object works again


def test_writes_not_sent_are_lost_together(boxes):
    s = boxes()
    status, _, body = s.request("POST", "/rpc/die/two_writes_then_die", body="[]")
    assert status == 502 or b"error" in body     # the caller's isolate may be the one that died
    assert ok(s, "die", "get_keys", "p", "q") == {}


def test_an_await_that_is_not_storage_opens_the_input_gate(boxes):
    s = boxes()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda _: ok(s, "racy", "racy_incr"), range(10)))
    assert ok(s, "racy", "read", "n") < 10     # as Cloudflare: only storage keeps the gate shut


# ---------------------------------------------------------------- durability


def test_acknowledged_increments_survive_kill_9(tmp_path):
    """20 cycles: increments acknowledged by the server, then kill -9 mid-traffic; after
    the restart every acknowledged increment is there (and nothing more than was sent)."""
    config = write(tmp_path / "w")
    acknowledged = sent = 0
    for cycle in range(20):
        s = Server(config, ["--threads", "1"], tmp=tmp_path)
        try:
            start = ok(s, "durable", "read", "n") or 0
            assert acknowledged <= start <= sent, (cycle, acknowledged, start, sent)
            acknowledged = sent = start
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                futures = [pool.submit(ok, s, "durable", "incr") for _ in range(8)]
                time.sleep(0.01 * (cycle % 4))
                sent += 8
                os.kill(s.proc.pid, signal.SIGKILL)
                for f in futures:
                    try:
                        f.result()
                        acknowledged += 1
                    except Exception:
                        pass
        finally:
            s.stop(signal.SIGKILL)
    s = Server(config, ["--threads", "1"], tmp=tmp_path)
    try:
        final = ok(s, "durable", "read", "n")
        assert acknowledged <= final <= sent
    finally:
        s.stop(signal.SIGKILL)


def test_alarm_set_before_kill_9_runs_after_restart(tmp_path):
    config = write(tmp_path / "w")
    s = Server(config, ["--threads", "1"], tmp=tmp_path)
    at = ok(s, "wake", "set_alarm_in", 1500)
    assert at > time.time() * 1000
    s.stop(signal.SIGKILL)
    s = Server(config, ["--threads", "1"], tmp=tmp_path)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not ok(s, "wake", "alarm_runs"):
            time.sleep(0.1)
        assert ok(s, "wake", "alarm_runs") == [[0, False]]
        assert time.time() * 1000 >= at
        assert ok(s, "wake", "get_alarm") is None       # done: deleted
    finally:
        s.stop(signal.SIGKILL)


# ---------------------------------------------------------------- alarms


def test_alarm_api_and_retries(boxes):
    s = boxes()
    at = int(time.time() * 1000) + 3_600_000
    assert ok(s, "al", "set_alarm_ms", at) == at
    assert ok(s, "al", "get_alarm") == at
    assert ok(s, "al", "delete_alarm") is None
    assert rpc(s, "al", "set_alarm_ms", "soon")["error"][0] == "TypeError"
    ok(s, "retry", "set_alarm_in", 50, 2)      # fails twice, then succeeds: 2 s + 4 s of backoff
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(ok(s, "retry", "alarm_runs") or []) < 3:
        time.sleep(0.2)
    assert ok(s, "retry", "alarm_runs") == [[0, False], [1, True], [2, True]]
    assert ok(s, "retry", "get_alarm") is None
    assert "alarm fails on purpose" in s.log()


# ---------------------------------------------------------------- ctx


def test_block_concurrency_while_in_the_constructor(boxes):
    s = boxes()
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        infos = list(pool.map(lambda _: ok(s, "slow-init-1", "info"), range(5)))
    assert all(i["ready"] == "after init" for i in infos)
    assert sorted(i["hits"] for i in infos) == [1, 2, 3, 4, 5]


def test_wait_until_runs_after_the_answer(boxes):
    s = boxes()
    assert ok(s, "wu", "later") == "answered first"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and ok(s, "wu", "read", "later") != "done":
        time.sleep(0.05)
    assert ok(s, "wu", "read", "later") == "done"


def test_abort_resets_the_object(boxes):
    s = boxes()
    ok(s, "ab", "incr")
    assert ok(s, "ab", "info")["hits"] == 1
    assert rpc(s, "ab", "abort_me") == {"error": ["JsException", "Error: reset please"]}
    info = ok(s, "ab", "info")
    assert info["hits"] == 1                    # a new instance
    assert ok(s, "ab", "read", "n") == 1        # its storage stays


def test_idle_objects_are_evicted_and_keep_their_storage(boxes):
    s = boxes("--durable-object-idle-timeout", "0.5")
    ok(s, "idle", "incr")
    assert ok(s, "idle", "info")["hits"] == 1
    assert ok(s, "idle", "info")["hits"] == 2
    time.sleep(1.5)
    assert ok(s, "idle", "info")["hits"] == 1   # rebuilt
    assert ok(s, "idle", "read", "n") == 1


# ---------------------------------------------------------------- isolates and loops


def with_front(d):
    """The config of d with a second worker, "front" (the same module, no classes of its own),
    that takes the HTTP requests and reaches Box in "main" by serviceName: the objects' isolates
    then run nothing but the objects."""
    text = (d / "config.capnp").read_text()
    text = text.replace('(name = "main", worker = .w),',
                        '(name = "main", worker = .w),\n    (name = "front", worker = .f),')
    text = text.replace('service = "main")]', 'service = "front")]')
    text += textwrap.dedent("""\
        const f :Workerd.Worker = (
          modules = [(name = "worker.py", pythonModule = embed "worker.py")],
          compatibilityDate = "2025-09-01",
          compatibilityFlags = ["python_workers"],
          bindings = [(name = "BOX", durableObjectNamespace = (className = "Box", serviceName = "main"))],
        );
        """)
    (d / "config.capnp").write_text(text)
    return d / "config.capnp"


def test_one_isolate_crash_rebuilds_only_its_objects(tmp_path):
    d = tmp_path / "w"
    write(d)
    s = Server(with_front(d), ["--threads", "1", "--isolates", "2", "--spare-isolates", "0"], tmp=tmp_path)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        slow = pool.submit(ok, s, "victim", "slow", 0.5)      # keeps its isolate busy...
        time.sleep(0.2)
        other = ok(s, "bystander", "info")                   # ...so this one gets the other
        victim_pid = slow.result()
    assert other["pid"] != victim_pid
    ok(s, "victim", "incr")
    assert ok(s, "victim", "info")["hits"] == 1
    assert ok(s, "victim", "info")["hits"] == 2
    assert ok(s, "bystander", "info")["hits"] == 2
    assert "error" in rpc(s, "victim", "crash")
    assert ok(s, "victim", "info")["hits"] == 1              # rebuilt
    assert ok(s, "victim", "read", "n") == 1                 # from its storage
    bystander = ok(s, "bystander", "info")
    assert bystander["hits"] == 3 and bystander["pid"] == other["pid"]   # untouched
    s.stop(signal.SIGKILL)


def test_two_loops_reach_the_same_object(boxes):
    s = boxes("--threads", "2")
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        values = list(pool.map(lambda _: ok(s, "shared", "incr"), range(48)))
        infos = list(pool.map(lambda _: ok(s, "shared", "info"), range(16)))
    assert sorted(values) == list(range(1, 49))
    assert len({i["pid"] for i in infos}) == 1                # one instance
    assert sorted(i["hits"] for i in infos) == list(range(1, 17))


# ---------------------------------------------------------------- config


@pytest.mark.parametrize("kw, message", [
    (dict(storage="(none = void)"),
     'Worker service "main" implements durable object classes but has `durableObjectStorage` set to `none`.'),
    (dict(binding='"Nope"'),
     'Worker "main"\'s binding "BOX" refers to a Durable Object namespace named "Nope", but no such '
     'Durable Object namespace is defined by this Worker.'),
    (dict(binding='(className = "Box", serviceName = "ghost")'),
     'refers to a service "ghost", but no such service is defined.'),
    (dict(storage='(localDisk = "ghost")'),
     'durableObjectStorage config refers to a service "ghost", but no such service is defined.'),
    (dict(storage='(localDisk = "main")'),
     'durableObjectStorage config refers to the service "main", but that service is not a local disk service.'),
    (dict(storage='(localDisk = "ro-disk")'),
     'durableObjectStorage config refers to the disk service "ro-disk", but that service is defined read-only.'),
    (dict(namespaces='[(className = "Box", ephemeralLocal = void)]'),
     "not supported by pyworkerd: worker.durableObjectNamespaces.ephemeralLocal"),
    (dict(namespaces='[(className = "Box")]'), 'Durable Object namespace "Box" has no uniqueKey.'),
    (dict(namespaces='[(className = "Box", uniqueKey = "a/b")]'), 'uniqueKey "a/b" names its storage'),
    (dict(namespaces=f'[(className = "Box", uniqueKey = "k"), (className = "Box", uniqueKey = "j")]'),
     'Durable Object class "Box" is named by more than one namespace.'),
])
def test_config_errors_name_the_line(tmp_path, kw, message):
    config = write(tmp_path / "w", **kw)
    r = run_pyworkerd("serve", config, "-s", "http=127.0.0.1:0", cwd=config.parent)
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert "config.capnp:" in r.stderr, r.stderr


def test_a_class_the_module_does_not_export_fails_the_load(tmp_path):
    config = write(tmp_path / "w", namespaces=f'[(className = "Missing", uniqueKey = "m")]',
                   binding='"Missing"')
    r = run_pyworkerd("serve", config, "-s", "http=127.0.0.1:0", cwd=config.parent)
    assert r.returncode == 1
    assert 'config.capnp:' in r.stderr and 'Durable Object class "Missing"' in r.stderr
    assert "is not exported by the main module" in r.stderr


def test_a_namespace_of_another_service(tmp_path):
    d = tmp_path / "w"
    write(d)
    s = Server(with_front(d), ["--threads", "1"], tmp=tmp_path)
    try:
        assert ok(s, "x", "incr") == 1 and ok(s, "x", "incr") == 2
        assert ok(s, "x", "info")["name"] == "x"
    finally:
        s.stop(signal.SIGKILL)


# ---------------------------------------------------------------- the example, pyworkerd test


def test_counter_example(tmp_path):
    d = tmp_path / "durable-objects"
    shutil.copytree(REPO / "examples" / "durable-objects", d)
    s = Server(d / "config.capnp", ["--threads", "1"], tmp=tmp_path)
    try:
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            values = list(pool.map(lambda _: s.get("/ann")[2], range(10)))
        assert sorted(int(v) for v in values) == list(range(1, 11))
        assert s.get("/bob")[2] == b"1" and s.get("/ann/count")[2] == b"10"
        assert (d / "do-data" / "counters").is_dir()
    finally:
        s.stop(signal.SIGKILL)
    r = run_pyworkerd("test", d / "config.capnp", cwd=d)
    assert r.returncode == 0 and "[ PASS ] main" in r.stderr, r.stderr
