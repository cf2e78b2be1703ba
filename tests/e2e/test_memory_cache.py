"""The memoryCache binding (workerd's in-memory cache, issue 15): read(key, fallback) with the
fallback run once per key across concurrent readers, in one isolate and across isolates;
the next reader produces when the producer fails or its isolate dies; limits (maxKeys,
maxValueSize, maxTotalValueSize), expiration, key size and serialization errors in workerd's
words; one cache shared by bindings of the same id; a sync handler; config errors."""

import json
import threading
import time

from conftest import run_pyworkerd, write_worker

LIMITS = "limits = (maxKeys = 2, maxValueSize = 1024, maxTotalValueSize = 2056)"


def cache(name="CACHE", limits=LIMITS, cache_id=None):
    id_part = f'id = "{cache_id}", ' if cache_id else ""
    return f"(name = \"{name}\", memoryCache = ({id_part}{limits}))"


ROUTES = """
import asyncio, json, os, time
from workers import Response, WorkerEntrypoint
from pyodide.ffi import JsException

calls = []

def value_of(v):
    async def fallback(key):
        calls.append(key)
        return {"value": v}
    return fallback

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.split("/", 3)[3]
        out = await globals()["route_" + path.split("?")[0]](self.env.CACHE)
        return Response(json.dumps(out))
"""


def _json(server, path):
    status, _, body = server.get(path)
    assert status == 200, (body, server.log())
    return json.loads(body)


def test_fallback_runs_once_and_then_the_value_is_cached(serve):
    server = serve({"worker.py": ROUTES + """
async def route_basic(c):
    first = await c.read("foo", value_of("bar"))
    async def never(key):
        raise AssertionError("should not be called")
    second = await c.read("foo", never)
    return [first, second, await c.read("foo"), await c.read("missing"), calls]
"""}, bindings=cache())
    assert _json(server, "/basic") == ["bar", "bar", "bar", None, ["foo"]]


def test_concurrent_readers_share_one_fallback(serve):
    server = serve({"worker.py": ROUTES + """
async def route_concurrent(c):
    async def slow(key):
        calls.append(key)
        await asyncio.sleep(0.2)
        return {"value": {"n": [1, 2], "b": b"x"}}
    async def never(key):
        raise AssertionError("should not have been called")
    got = await asyncio.gather(c.read("qux", slow), c.read("qux", never), c.read("qux", never))
    return [repr(g) for g in got] + [calls]
"""}, bindings=cache())
    got = _json(server, "/concurrent")
    assert got[:3] == ["{'n': [1, 2], 'b': b'x'}"] * 3
    assert got[3] == ["qux"]


def test_a_failing_fallback_passes_the_key_to_the_next_reader(serve):
    server = serve({"worker.py": ROUTES + """
async def route_chain(c):
    async def boom(key):
        await asyncio.sleep(0.1)
        raise ValueError("foo")
    got = await asyncio.gather(c.read("fallback", boom), c.read("fallback", value_of("bar")),
                               return_exceptions=True)
    return [repr(got[0]), got[1], await c.read("fallback")]
"""}, bindings=cache())
    assert _json(server, "/chain") == ["ValueError('foo')", "bar", "bar"]


def test_limits_evict_the_least_recently_used_and_drop_big_values(serve):
    server = serve({"worker.py": ROUTES + """
async def route_keys(c):
    await c.read("foo", value_of("foo"))
    await c.read("bar", value_of("bar"))
    order = [await c.read("bar"), await c.read("foo")]
    await c.read("baz", value_of("baz"))
    return order + [await c.read("bar"), await c.read("foo"), await c.read("baz")]

async def route_size(c):
    big = "a" * 2000
    returned = await c.read("big", value_of(big))
    return [returned == big, await c.read("big")]
"""}, bindings=cache())
    assert _json(server, "/keys") == ["bar", "foo", None, "foo", "baz"]
    assert _json(server, "/size") == [True, None]


def test_entries_expire(serve):
    server = serve({"worker.py": ROUTES + """
async def route_expire(c):
    async def soon(key):
        return {"value": "foo", "expiration": time.time() * 1000 + 100}
    first = await c.read("expires", soon)
    kept = await c.read("expires")
    await asyncio.sleep(0.6)
    return [first, kept, await c.read("expires")]
"""}, bindings=cache())
    assert _json(server, "/expire") == ["foo", "foo", None]


def test_errors_in_workerds_words(serve):
    server = serve({"worker.py": ROUTES + """
async def attempt(coro):
    try:
        return ["ok", await coro]
    except (JsException, TypeError) as e:
        return [type(e).__name__, str(e)]

async def route_errors(c):
    async def nan(key):
        return {"value": 1, "expiration": float("nan")}
    async def function(key):
        return {"value": lambda: 1}
    out = [await attempt(c.read(k, value_of("v"))) for k in ("a" * 2048, "ä" * 1024)]
    out += [await attempt(c.read(k, value_of("v"))) for k in ("a" * 2049, "ä" * 1025)]
    out.append(await attempt(c.read("nan", nan)))
    out.append(await attempt(c.read("fn", function)))
    try:
        c.read(1)
    except TypeError as e:
        out.append(str(e))
    return out
"""}, bindings=cache())
    got = _json(server, "/errors")
    assert got[0] == ["ok", "v"] and got[1] == ["ok", "v"]
    assert got[2] == got[3] == ["JsException", "RangeError: Key too large."]
    assert got[4] == ["TypeError", "Expiration time must not be NaN."]
    assert got[5] == ["TypeError", "failed to serialize function"]
    assert got[6] == ("Failed to execute 'read' on 'MemoryCache': parameter 1 is not of type "
                      "'string'.")


def test_delete_removes_a_key(serve):
    server = serve({"worker.py": ROUTES + """
async def route_delete(c):
    await c.read("k", value_of("v"))
    await c.delete("k")
    return [await c.read("k")]
"""}, bindings=cache())
    assert _json(server, "/delete") == [None]


def test_a_sync_handler_reads_with_a_sync_fallback(serve):
    server = serve({"worker.py": """
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    def fetch(self, request):
        first = self.env.CACHE.read("k", lambda key: {"value": key.upper()})
        return Response(f"{first} {self.env.CACHE.read('k')}")
"""}, bindings=cache())
    assert server.get("/")[2] == b"K K"


SHARED = """
import asyncio, os
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        mode = request.url.rsplit("/", 1)[1]
        async def fallback(key):
            if mode == "die":
                await asyncio.sleep(0.5)
                os._exit(1)
            await asyncio.sleep(0.3 if mode == "slow" else 0)
            return {"value": f"{mode} from {os.getpid()}"}
        got = await self.env.CACHE.read("key", fallback)
        return Response(f"{got}|{os.getpid()}")
"""


def _get_later(server, path, delay, results):
    def run():
        time.sleep(delay)
        results[path] = server.get(path, timeout=20)
    t = threading.Thread(target=run)
    t.start()
    return t


def test_isolates_of_a_worker_share_the_cache_and_one_fallback(serve):
    server = serve({"worker.py": SHARED}, "--isolates=2", bindings=cache())
    results = {}
    threads = [_get_later(server, "/slow", 0, results), _get_later(server, "/fast", 0.1, results)]
    for t in threads:
        t.join()
    slow, fast = (results[p][2].decode().split("|") for p in ("/slow", "/fast"))
    assert slow[1] != fast[1], "the two requests ran in two isolates"
    assert slow[0] == fast[0], "one fallback ran; the other reader waited for its value"
    assert slow[0] in (f"slow from {slow[1]}", f"fast from {fast[1]}")


def test_isolates_on_two_host_loops_share_the_cache(serve):
    """With --threads=2 each loop has its isolates; memoryCache calls run on the main loop
    (forwarded from the other), so the cache and its one fallback per key are still shared."""
    server = serve({"worker.py": SHARED}, "--threads=2", "--isolates=2", bindings=cache())
    values = set()
    for _ in range(3):
        results = {}
        threads = [_get_later(server, p, 0, results) for p in ("/slow", "/fast")]
        for t in threads:
            t.join()
        for p in ("/slow", "/fast"):
            status, _, body = results[p]
            assert status == 200, server.log()
            values.add(body.decode().split("|")[0])
    assert len(values) == 1, values


def test_the_next_reader_produces_when_the_producers_isolate_dies(serve):
    server = serve({"worker.py": SHARED}, "--isolates=2", bindings=cache())
    results = {}
    threads = [_get_later(server, "/die", 0, results), _get_later(server, "/fast", 0.2, results)]
    for t in threads:
        t.join()
    assert results["/die"][0] >= 500
    status, _, body = results["/fast"]
    value, pid = body.decode().split("|")
    assert status == 200 and value == f"fast from {pid}"
    assert server.get("/slow")[2].decode().startswith("fast from ")


def test_bindings_with_one_id_share_a_cache(serve, tmp_path):
    d = tmp_path / "shared"
    write_worker(d, {"worker.py": """
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        async def fallback(key):
            return {"value": "written by A"}
        if request.url.endswith("/write"):
            return Response(await self.env.A.read("k", fallback))
        return Response(repr([await self.env.B.read("k"), await self.env.OWN.read("k")]))
"""}, bindings=", ".join([cache("A", cache_id="same"), cache("B", cache_id="same"), cache("OWN")]))
    server = serve(d / "config.capnp")
    assert server.get("/write")[2] == b"written by A"
    assert server.get("/read")[2] == b"['written by A', None]"


def test_a_binding_without_limits_is_a_config_error(tmp_path):
    config = write_worker(tmp_path / "w", {"worker.py": "def on_fetch(r): pass\n"},
                          bindings='(name = "CACHE", memoryCache = (id = "x"))')
    r = run_pyworkerd("serve", config)
    assert r.returncode == 1
    assert f"{config}:" in r.stderr
    assert "MemoryCache bindings must specify limits." in r.stderr


def test_the_memory_cache_example(tmp_path):
    """examples/memory-cache as shipped: concurrent first requests share one lookup; later
    ones are cached."""
    import shutil
    from conftest import REPO, Server

    d = tmp_path / "memory-cache"
    shutil.copytree(REPO / "examples" / "memory-cache", d)
    server = Server(d / "config.capnp", [], tmp=tmp_path)
    try:
        results = {}
        threads = [_get_later(server, "/rates/eur", delay, results.setdefault(delay, {}))
                   for delay in (0, 0.05)]
        for t in threads:
            t.join()
        first = [json.loads(r["/rates/eur"][2]) for r in results.values()]
        assert sorted(f["cached"] for f in first) == [False, True]
        assert first[0]["at"] == first[1]["at"], "one lookup for both"
        again = json.loads(server.get("/rates/eur")[2])
        assert again["cached"] is True and again["rate"] == 1.3
    finally:
        server.stop()
