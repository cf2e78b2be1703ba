"""KV namespaces: every method and option of Cloudflare's Python API, in sync and async
handlers, limits, expiry, against each backend a kvNamespace binding can name — a disk service
(SQLite), a worker service and an `external` HTTP service speaking workerd's KV protocol — plus
what only SQLite has: persistence across restarts and kill -9, --persist-dir, read-only disks."""

import json
import os
import shutil
import signal
import textwrap
import time

import pytest

from conftest import KV_BINDING, REPO, Server, external_service, kv_disk_service, worker_config
from kv_protocol_server import KvProtocolServer

# One handler per path: /<op>?... runs a snippet and answers with JSON of its result.
ASYNC_WORKER = '''
import json, time
from urllib.parse import urlparse, parse_qs
from workers import WorkerEntrypoint, Response

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        kv = self.env.KV
        u = urlparse(request.url)
        q = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        op = u.path[1:]
        try:
            if op == "put":
                opts = json.loads(q.get("opts", "null"))
                if q.get("style") == "kw":
                    await kv.put(q["key"], q["value"], **(opts or {}))
                else:
                    await kv.put(q["key"], q["value"], opts)
                out = "ok"
            elif op == "get":
                v = await kv.get(q["key"], q["type"]) if "type" in q else await kv.get(q["key"])
                out = v if not isinstance(v, (bytes, memoryview)) else {"bytes": bytes(v).decode(), "kind": type(v).__name__}
            elif op == "get_ttl":
                out = await kv.get(q["key"], cacheTtl=int(q["ttl"]))
            elif op == "get_kw":
                out = await kv.get(q["key"], type=q["type"])
            elif op == "get_many":
                out = await kv.get(q["keys"].split(","))
            elif op == "meta":
                r = await kv.getWithMetadata(q["key"])
                r2 = await kv.get_with_metadata(q["key"], "json") if q.get("json") else None
                out = {"value": r["value"], "metadata": r.metadata, "json": r2 and r2["value"]}
            elif op == "delete":
                await kv.delete(q["key"])
                out = "ok"
            elif op == "list":
                opts = json.loads(q.get("opts", "null"))
                r = await (kv.list(**opts) if q.get("style") == "kw" else kv.list(opts))
                out = {"keys": r["keys"], "list_complete": r.list_complete, "cursor": r.get("cursor")}
            elif op == "listall":
                names, cursor, pages = [], None, 0
                while True:
                    r = await kv.list(prefix=q.get("prefix"), limit=int(q["limit"]), cursor=cursor)
                    names += [k["name"] for k in r["keys"]]
                    pages += 1
                    if r["list_complete"]:
                        break
                    cursor = r["cursor"]
                out = {"names": names, "pages": pages}
            elif op == "iter":
                msgs = []
                for f in (iter, len):
                    try:
                        f(kv)
                    except TypeError as e:
                        msgs.append(str(e))
                out = {"msgs": msgs, "truthy": bool(kv)}
            elif op == "big":
                await kv.put("big", "x" * int(q["n"]))
                out = len(await kv.get("big"))
            elif op == "wait":
                import asyncio, workers
                async def later(key):
                    await asyncio.sleep(0.3)
                    await kv.put(key, "done")
                self.ctx.waitUntil(later("w1"))
                workers.wait_until(later("w2"))
                out = "scheduled"
            elif op == "gather":
                import asyncio
                await asyncio.gather(*(kv.put(f"g{i}", str(i)) for i in range(50)))
                vals = await asyncio.gather(*(kv.get(f"g{i}") for i in range(50)))
                out = vals == [str(i) for i in range(50)]
            else:
                return Response("no such op", status=404)
        except Exception as e:
            return Response.json({"error": type(e).__name__, "message": str(e)}, status=400)
        return Response.json(out)
'''

SYNC_WORKER = '''
from js import Response
from workers import WorkerEntrypoint
class Default(WorkerEntrypoint):
    def fetch(self, request):
        # Access environment bindings
        kv = self.env.KV
        # Use KV store
        value = kv.get("key")
        kv.put("key", "value")
        kv.put("n", str(int(kv.get("n") or 0) + 1))
        return Response.new(f"Stored value: {value} n={kv.get('n')}")
'''


# The same front worker, its KV binding naming a worker service (examples/kv-service's
# kv_service.py, storing in its own disk namespace) or an external HTTP service.
WORKER_BACKEND = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w), (name = "kvsvc", worker = .svc),
              (name = "kv", disk = (path = "kv-data", writable = true))],
  sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2024-01-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "KV", kvNamespace = "kvsvc")],
);
const svc :Workerd.Worker = (
  modules = [(name = "kv_service.py", pythonModule = embed "kv_service.py")],
  compatibilityDate = "2024-01-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "STORE", kvNamespace = "kv")],
);
"""



def kv_server(tmp_path, source, *args, writable="true", backend="disk", address=None):
    d = tmp_path / "w"
    d.mkdir(exist_ok=True)
    (d / "worker.py").write_text(textwrap.dedent(source))
    config = d / "config.capnp"
    if backend == "worker":
        shutil.copy(REPO / "examples" / "kv-service" / "kv_service.py", d / "kv_service.py")
        config.write_text(WORKER_BACKEND)
    elif backend == "external":
        config.write_text(worker_config(["worker.py"], services=external_service("kvext", address),
                                        bindings='(name = "KV", kvNamespace = "kvext")'))
    else:
        config.write_text(worker_config(["worker.py"], services=kv_disk_service(writable == "true"),
                                        bindings=KV_BINDING))
    return Server(config, args, tmp=tmp_path)


@pytest.fixture
def kv(tmp_path):
    servers = []

    def start(source=ASYNC_WORKER, *args, **kw):
        s = kv_server(tmp_path, source, *args, **kw)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop(signal.SIGKILL)


@pytest.fixture(params=["disk", "worker", "external", "postgres"])
def kv_any(request, kv):
    """kv(), on each backend in turn; the external one is a KvProtocolServer run here; the
    postgres one is the disk service's namespace with --storage (conftest's PostgreSQL)."""
    backend = request.param
    if backend == "postgres":
        url = request.getfixturevalue("pg_url")
        yield lambda source=ASYNC_WORKER, *args: kv(source, "--storage", url, *args)
        return
    if backend != "external":
        yield lambda source=ASYNC_WORKER, *args: kv(source, *args, backend=backend)
        return
    with KvProtocolServer() as remote:
        yield lambda source=ASYNC_WORKER, *args: kv(source, *args, backend="external",
                                                    address=remote.address)


def call(server, path, status=200):
    code, _, body = server.get(path)
    assert code == status, body
    return json.loads(body)


def q(**kw):
    from urllib.parse import urlencode
    return urlencode(kw)


def test_seed_sync_example_returns_values_and_persists(kv, tmp_path):
    s = kv(SYNC_WORKER)
    assert s.get("/")[2] == b"Stored value: None n=1"
    assert s.get("/")[2] == b"Stored value: value n=2"
    assert (tmp_path / "w" / "kv-data" / "kv.sqlite3").exists()


def test_seed_sync_example_on_every_backend(kv_any):
    s = kv_any(SYNC_WORKER)
    assert s.get("/")[2] == b"Stored value: None n=1"
    assert s.get("/")[2] == b"Stored value: value n=2"


def test_get_put_types_and_delete(kv_any):
    s = kv_any()
    assert call(s, "/get?" + q(key="missing")) is None
    assert call(s, "/put?" + q(key="k", value='{"a": [1, 2]}')) == "ok"
    assert call(s, "/get?" + q(key="k")) == '{"a": [1, 2]}'
    assert call(s, "/get?" + q(key="k", type="text")) == '{"a": [1, 2]}'
    assert call(s, "/get?" + q(key="k", type="json")) == {"a": [1, 2]}
    assert call(s, "/get_kw?" + q(key="k", type="json")) == {"a": [1, 2]}
    assert call(s, "/get?" + q(key="k", type="arrayBuffer")) == {"bytes": '{"a": [1, 2]}', "kind": "memoryview"}
    assert call(s, "/get?" + q(key="k", type="bytes")) == {"bytes": '{"a": [1, 2]}', "kind": "bytes"}
    assert call(s, "/delete?" + q(key="k")) == "ok"
    assert call(s, "/delete?" + q(key="k")) == "ok"   # missing key is fine
    assert call(s, "/get?" + q(key="k")) is None


def test_bulk_get_gives_none_for_missing_keys(kv_any):
    s = kv_any()
    call(s, "/put?" + q(key="a", value="1"))
    call(s, "/put?" + q(key="c", value="3"))
    assert call(s, "/get_many?" + q(keys="a,b,c")) == {"a": "1", "b": None, "c": "3"}


def test_metadata_with_options_dict_and_keywords(kv_any):
    s = kv_any()
    call(s, "/put?" + q(key="m", value='[1]', opts=json.dumps({"metadata": {"v": 1}})))
    assert call(s, "/meta?" + q(key="m", json="1")) == {"value": "[1]", "metadata": {"v": 1}, "json": [1]}
    call(s, "/put?" + q(key="m2", value="x", style="kw", opts=json.dumps({"metadata": {"w": 2}})))
    assert call(s, "/meta?" + q(key="m2"))["metadata"] == {"w": 2}
    assert call(s, "/meta?" + q(key="nothing")) == {"value": None, "metadata": None, "json": None}


def test_expiration_ttl_and_expiration_are_listed_and_validated(kv_any):
    s = kv_any()
    now = int(time.time())
    call(s, "/put?" + q(key="t1", value="x", opts=json.dumps({"expirationTtl": 120})))
    call(s, "/put?" + q(key="t2", value="y", style="kw", opts=json.dumps({"expiration": now + 600})))
    keys = {k["name"]: k for k in call(s, "/list?" + q(opts="null"))["keys"]}
    assert now + 115 <= keys["t1"]["expiration"] <= now + 125
    assert keys["t2"]["expiration"] == now + 600
    err = call(s, "/put?" + q(key="t3", value="z", opts=json.dumps({"expirationTtl": 10})), 400)
    assert "Invalid expiration_ttl of 10" in err["message"]
    err = call(s, "/put?" + q(key="t3", value="z", opts=json.dumps({"expiration": now})), 400)
    assert "Invalid expiration of" in err["message"]


def test_expired_keys_are_never_returned(kv, tmp_path):
    import sqlite3
    s = kv()
    call(s, "/put?" + q(key="old", value="x", opts=json.dumps({"expirationTtl": 60})))
    call(s, "/put?" + q(key="new", value="y"))
    db = sqlite3.connect(tmp_path / "w" / "kv-data" / "kv.sqlite3")
    db.execute("UPDATE kv SET expiration = ? WHERE key = ?", (int(time.time()) - 1, b"old"))
    db.commit()
    db.close()
    assert call(s, "/get?" + q(key="old")) is None
    assert call(s, "/get_many?" + q(keys="old,new")) == {"old": None, "new": "y"}
    assert [k["name"] for k in call(s, "/list?" + q(opts="null"))["keys"]] == ["new"]


def test_list_prefix_limit_cursor_pagination(kv_any):
    s = kv_any()
    call(s, "/gather")     # g0..g49
    for i in range(5):
        call(s, "/put?" + q(key=f"other{i}", value="v"))
    r = call(s, "/list?" + q(opts=json.dumps({"prefix": "g", "limit": 20})))
    assert len(r["keys"]) == 20 and r["list_complete"] is False and r["cursor"]
    assert r["keys"][0] == {"name": "g0"}
    r = call(s, "/list?" + q(style="kw", opts=json.dumps({"prefix": "other"})))
    assert [k["name"] for k in r["keys"]] == [f"other{i}" for i in range(5)]
    assert r["list_complete"] is True and r["cursor"] is None
    all_g = call(s, "/listall?" + q(prefix="g", limit=7))
    assert sorted(all_g["names"]) == sorted(f"g{i}" for i in range(50))
    assert all_g["names"] == sorted(all_g["names"]) and all_g["pages"] == 8
    assert len(call(s, "/list?" + q(opts="null"))["keys"]) == 55
    err = call(s, "/list?" + q(opts=json.dumps({"limit": 1001})), 400)
    assert "key_count_limit" in err["message"]


def test_binding_is_not_iterable_and_has_no_len(kv_any):
    s = kv_any()
    r = call(s, "/iter")
    assert r["msgs"] == ["'KvNamespace' object is not iterable", "object of type 'KvNamespace' has no len()"]
    assert r["truthy"] is True


def test_limits_give_clear_errors(kv_any):
    s = kv_any()
    err = call(s, "/put?" + q(key="k" * 513, value="x"), 400)
    assert "414 UTF-8 encoded length of 513 exceeds key length limit of 512" in err["message"]
    err = call(s, "/get?" + q(key="k" * 513), 400)
    assert "exceeds key length limit" in err["message"]
    err = call(s, "/put?" + q(key="m", value="x", opts=json.dumps({"metadata": "a" * 1100})), 400)
    assert "Metadata length of 1102 exceeds limit of 1024" in err["message"]
    err = call(s, "/put?" + q(key="", value="x"), 400)
    assert err["error"] == "TypeError"
    err = call(s, "/big?n=" + str(25 * 1024 * 1024 + 1), 400)
    assert "Value length of 26214401 exceeds limit of 26214400" in err["message"]
    assert call(s, "/big?n=" + str(5 * 1024 * 1024)) == 5 * 1024 * 1024


def test_read_only_disk_service_refuses_writes(kv):
    s = kv(writable="false")
    err = call(s, "/put?" + q(key="k", value="x"), 400)
    assert "405" in err["message"] and "writable" in err["message"]


def test_wait_until_work_finishes_after_the_response(kv_any):
    s = kv_any()
    assert call(s, "/wait") == "scheduled"
    assert call(s, "/get?" + q(key="w1")) is None
    deadline = time.monotonic() + 5
    while call(s, "/get?" + q(key="w2")) != "done" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert call(s, "/get?" + q(key="w1")) == "done" and call(s, "/get?" + q(key="w2")) == "done"


def test_concurrent_async_calls_pipeline(kv_any):
    assert call(kv_any(), "/gather") is True


def test_persist_dir_relocates_and_memory_keeps_nothing(kv, tmp_path):
    base = tmp_path / "state"
    s = kv(ASYNC_WORKER, "--persist-dir", str(base))
    call(s, "/put?" + q(key="p", value="1"))
    assert (base / "kv-data" / "kv.sqlite3").exists()
    s.stop(signal.SIGKILL)
    s = kv(ASYNC_WORKER, "--persist-dir=:memory:")
    assert call(s, "/get?" + q(key="p")) is None
    call(s, "/put?" + q(key="p", value="2"))
    assert call(s, "/get?" + q(key="p")) == "2"
    assert not (tmp_path / "w" / "kv-data").exists()


def test_acknowledged_puts_survive_kill_9(kv):
    """20 cycles: put N keys (each answered 200), kill -9 the host, restart, all present."""
    n = 25
    s = kv()
    for cycle in range(20):
        for i in range(n):
            assert call(s, "/put?" + q(key=f"c{cycle}-{i}", value=str(i))) == "ok"
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait()
        s = kv()
        r = call(s, "/list?" + q(opts=json.dumps({"prefix": f"c{cycle}-"})))
        assert len(r["keys"]) == n, cycle
    assert len(call(s, "/listall?" + q(limit=1000))["names"]) == 20 * n
