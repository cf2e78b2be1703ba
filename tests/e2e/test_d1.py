"""D1 databases: every method of Cloudflare's Python API (prepare/bind, all, run, first,
first(col), raw, raw(columnNames=True), batch, exec, dump, withSession/getBookmark) in async
and sync handlers, D1's type mapping and error messages, a failing batch that leaves nothing
behind, what a worker's SQL may not do (transactions, ATTACH, PRAGMAs outside D1's list),
the time limit, persistence across a restart and after kill -9, and the config's errors."""

import json
import os
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import BIN

D1_CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w),
              (name = "d1", {disk})],
  sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2024-01-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "DB", wrapped = (moduleName = "cloudflare-internal:d1-api",
                                       innerBindings = [{inner}]))],
);
"""
WRITABLE_DISK = 'disk = (path = "d1-data", writable = true)'
INNER = '(name = "fetcher", service = "d1")'

# /<op>?q=... runs one snippet and answers JSON of its result (bytes as {"bytes": hex}).
ASYNC_WORKER = '''
import json
from urllib.parse import urlparse, parse_qs
from workers import WorkerEntrypoint, Response
from pyodide.ffi import JsException

SCHEMA = ("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, "
          "n INTEGER, r REAL, b BLOB)")

def plain(v):
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"bytes": bytes(v).hex()}
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        db = self.env.DB
        u = urlparse(request.url)
        q = {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()}
        op = u.path[1:]
        try:
            if op == "setup":
                out = await db.exec(SCHEMA)
            elif op == "insert":
                r = await db.prepare("INSERT INTO t (name, n) VALUES (?, ?)").bind(q["name"], int(q["n"])).run()
                out = {"success": r.success, "meta": r.meta, "results": r.results}
            elif op == "get":
                out = await db.prepare("SELECT name, n FROM t WHERE name = ?1").bind(q["name"]).first()
            elif op == "count":
                out = await db.prepare("SELECT count(*) AS c FROM t").first("c")
            elif op == "types":
                await db.exec("CREATE TABLE IF NOT EXISTS ty (k TEXT PRIMARY KEY, v)")
                values = {"none": None, "int": 9007199254740993, "neg": -(2**63), "float": 3.25,
                          "whole": 2.0, "str": "h\u00e9llo \\u2603 \\"q\\"\\n", "bytes": b"\\x00\\xff\\x10",
                          "true": True, "false": False, "list": [1, 2, 255], "empty": b"", "inf": float("inf")}
                for k, v in values.items():
                    await db.prepare("INSERT OR REPLACE INTO ty VALUES (?, ?)").bind(k, v).run()
                rows = (await db.prepare("SELECT k, v, typeof(v) AS t FROM ty").all())["results"]
                out = {row["k"]: [plain(row["v"]), row.t, type(row["v"]).__name__] for row in rows}
            elif op == "access":
                r = await db.prepare("SELECT 1 AS one, 'x' AS two").all()
                row = r.results[0]
                out = {"attr": [r.success, row.one, row.two, r.meta.rows_read, r.meta.changed_db],
                       "item": [r["success"], row["one"], r["meta"]["size_after"] > 0],
                       "dict": isinstance(row, dict), "keys": sorted(r.meta.keys())}
            elif op == "raw":
                s = db.prepare("SELECT id, name FROM t ORDER BY id LIMIT 2")
                out = {"plain": await s.raw(), "names": await s.raw(columnNames=True),
                       "none": await s.raw(None), "dict": await s.raw({"columnNames": True})}
            elif op == "first":
                s = db.prepare("SELECT name, n FROM t WHERE name = ?")
                out = {"row": await s.bind(q["name"]).first(), "col": await s.bind(q["name"]).first("n"),
                       "missing": await s.bind("__nope__").first(), "missing_col": await s.bind("__nope__").first("n")}
            elif op == "batch":
                stmts = [db.prepare("INSERT INTO t (name, n) VALUES (?, ?)").bind(f"b{i}", i) for i in range(3)]
                stmts.append(db.prepare("SELECT count(*) AS c FROM t"))
                rs = await db.batch(stmts)
                out = [{"changes": r.meta.changes, "results": r.results} for r in rs]
            elif op == "batch_fail":
                rs = await db.batch([
                    db.prepare("INSERT INTO t (name, n) VALUES (?, ?)").bind("keep1", 1),
                    db.prepare("UPDATE t SET n = n + 100"),
                    db.prepare("INSERT INTO t (name, n) VALUES (?, ?)").bind(q["dup"], 2),
                ])
                out = "no error"
            elif op == "exec":
                out = await db.exec(q["sql"])
            elif op == "query":
                out = await db.prepare(q["sql"]).all()
            elif op == "dump":
                data = await db.dump()
                out = {"len": len(data), "head": data[:16].decode("latin-1"), "type": type(data).__name__}
            elif op == "session":
                session = db.withSession("first-unconstrained")
                before = session.getBookmark()
                r = await session.prepare("SELECT count(*) AS c FROM t").all()
                after = session.getBookmark()
                await session.batch([session.prepare("INSERT INTO t (name, n) VALUES ('s1', 1)")])
                later = session.getBookmark()
                s2 = db.withSession(later)
                out = {"before": before, "after": isinstance(after, str) and len(after) > 0,
                       "moved": later != after, "count": r.results[0]["c"],
                       "s2": (await s2.prepare("SELECT n FROM t WHERE name='s1'").first("n")),
                       "bookmark2": db.with_session().get_bookmark()}
            elif op == "bind_error":
                msgs = []
                for v in ({"a": 1}, 2**64, object(), [1, 300]):
                    try:
                        db.prepare("SELECT ?").bind(v)
                    except JsException as e:
                        msgs.append(str(e))
                out = msgs
            elif op == "params":
                out = []
                for sql, values in (("SELECT ?, ?", (1,)), ("SELECT 1", (1,)), ("SELECT ?", ())):
                    try:
                        await db.prepare(sql).bind(*values).all()
                        out.append("ok")
                    except JsException as e:
                        out.append(str(e))
            elif op == "big":
                await db.exec("CREATE TABLE IF NOT EXISTS big (i INTEGER PRIMARY KEY, s TEXT)")
                await db.exec("DELETE FROM big")
                await db.prepare("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
                                 "WHERE x < ?) INSERT INTO big SELECT x, printf('row %d', x) FROM c").bind(int(q["n"])).run()
                rows = (await db.prepare("SELECT * FROM big ORDER BY i").all()).results
                out = [len(rows), rows[0], rows[-1]]
            else:
                return Response("no such op", status=404)
        except JsException as e:
            return Response.json({"error": "JsException", "message": str(e)}, status=400)
        except Exception as e:
            return Response.json({"error": type(e).__name__, "message": str(e)}, status=400)
        return Response.json(plain(out))
'''

SYNC_WORKER = '''
from workers import WorkerEntrypoint, Response

class Default(WorkerEntrypoint):
    def fetch(self, request):
        db = self.env.DB
        db.exec("CREATE TABLE IF NOT EXISTS s (k TEXT PRIMARY KEY, v INTEGER)")
        db.prepare("INSERT OR REPLACE INTO s VALUES (?, ?)").bind("a", 41).run()
        v = db.prepare("UPDATE s SET v = v + 1 WHERE k = ? RETURNING v").bind("a").first("v")
        rows = db.batch([db.prepare("SELECT v FROM s")])[0].results
        return Response(f"{v} {rows[0]['v']}")
'''


def write_d1(d: Path, worker: str, disk: str = WRITABLE_DISK, inner: str = INNER) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "worker.py").write_text(textwrap.dedent(worker))
    config = d / "config.capnp"
    config.write_text(D1_CONFIG.replace("{disk}", disk).replace("{inner}", inner))
    return config


@pytest.fixture
def d1(serve, tmp_path, monkeypatch):
    """d1(worker=ASYNC_WORKER, *args, env=None) -> a running server (restartable: same dir)."""

    def start(worker=ASYNC_WORKER, *args, env=None):
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)      # the host reads it; Popen inherits it
        return serve(write_d1(tmp_path / "w", worker), *args)

    return start


def call(server, op, status=200, **query):
    from urllib.parse import urlencode
    code, _, body = server.get(f"/{op}?{urlencode(query)}")
    assert code == status, body
    return json.loads(body)


def test_insert_select_and_run_meta(d1):
    s = d1()
    assert call(s, "setup") == {"count": 1, "duration": pytest.approx(0, abs=1000)}
    r = call(s, "insert", name="alice", n=7)
    assert r["success"] is True and r["results"] == []
    meta = r["meta"]
    assert meta["changes"] == 1 and meta["rows_written"] == 1 and meta["changed_db"] is True
    assert meta["last_row_id"] == 1 and meta["size_after"] >= 4096 and meta["duration"] >= 0
    for key in ("duration", "changes", "last_row_id", "changed_db", "rows_read", "rows_written",
                "size_after"):
        assert key in meta
    assert call(s, "insert", name="bob", n=8)["meta"]["last_row_id"] == 2
    assert call(s, "get", name="alice") == {"name": "alice", "n": 7}
    assert call(s, "get", name="nobody") is None
    assert call(s, "count") == 2


def test_results_have_attribute_and_item_access(d1):
    s = d1()
    out = call(s, "access")
    assert out["attr"] == [True, 1, "x", 1, False]
    assert out["item"] == [True, 1, True]
    assert out["dict"] is True
    assert {"changes", "changed_db", "duration", "last_row_id", "rows_read", "rows_written",
            "size_after", "served_by"} <= set(out["keys"])


def test_type_mapping_as_d1_documents(d1):
    out = call(d1(), "types")
    assert out["none"] == [None, "null", "NoneType"]
    assert out["int"] == [9007199254740993, "integer", "int"]       # exact beyond 2**53
    assert out["neg"] == [-(2**63), "integer", "int"]
    assert out["float"] == [3.25, "real", "float"]
    assert out["whole"] == [2.0, "real", "float"]                   # stays a float
    assert out["str"] == ["h\u00e9llo \u2603 \"q\"\n", "text", "str"]
    assert out["bytes"] == [{"bytes": "00ff10"}, "blob", "bytes"]
    assert out["list"] == [{"bytes": "0102ff"}, "blob", "bytes"]    # a list of byte values
    assert out["empty"] == [{"bytes": ""}, "blob", "bytes"]
    assert out["true"] == [1, "integer", "int"] and out["false"] == [0, "integer", "int"]
    assert out["inf"] == [None, "null", "NoneType"]                 # as JSON.stringify(Infinity)


def test_bind_of_unsupported_types_is_a_d1_type_error(d1):
    msgs = call(d1(), "bind_error")
    assert len(msgs) == 4
    for m in msgs:
        assert m.startswith("Error: D1_TYPE_ERROR: Type '"), m
    assert "Type 'dict' not supported for value '{'a': 1}'" in msgs[0]


def test_wrong_number_of_bound_values(d1):
    out = call(d1(), "params")
    assert out == ["Error: D1_ERROR: Wrong number of parameter bindings for SQL query."] * 3


def test_raw_in_every_form(d1):
    s = d1()
    call(s, "setup")
    call(s, "insert", name="a", n=1)
    call(s, "insert", name="b", n=2)
    out = call(s, "raw")
    assert out["plain"] == [[1, "a"], [2, "b"]] == out["none"]
    assert out["names"] == [["id", "name"], [1, "a"], [2, "b"]] == out["dict"]


def test_first_and_first_column(d1):
    s = d1()
    call(s, "setup")
    call(s, "insert", name="a", n=5)
    out = call(s, "first", name="a")
    assert out == {"row": {"name": "a", "n": 5}, "col": 5, "missing": None, "missing_col": None}


def test_first_of_a_missing_column_is_d1_column_notfound(d1, tmp_path):
    worker = ASYNC_WORKER.replace('elif op == "count":',
                                  'elif op == "nocol":\n                out = await db.prepare("SELECT 1 AS a").first("b")\n'
                                  '            elif op == "count":')
    s = d1(worker)
    out = call(s, "nocol", status=400)
    assert out["message"] == "Error: D1_COLUMN_NOTFOUND: Column not found (b)"


def test_batch_runs_in_order_and_returns_a_result_each(d1):
    s = d1()
    call(s, "setup")
    out = call(s, "batch")
    assert [r["changes"] for r in out] == [1, 1, 1, 0]
    assert out[3]["results"] == [{"c": 3}]


def test_a_batch_with_a_failing_statement_leaves_nothing_behind(d1):
    s = d1()
    call(s, "setup")
    call(s, "insert", name="dup", n=1)
    out = call(s, "batch_fail", status=400, dup="dup")
    assert out["message"].startswith("Error: D1_ERROR: UNIQUE constraint failed: t.name")
    assert out["message"].endswith(": SQLITE_CONSTRAINT")
    assert call(s, "count") == 1                        # keep1 was rolled back
    assert call(s, "get", name="dup") == {"name": "dup", "n": 1}      # the UPDATE too
    assert call(s, "get", name="keep1") is None
    out = call(s, "batch_fail", dup="fresh")            # the same batch, succeeding
    assert out == "no error"
    assert call(s, "count") == 3


def test_exec_runs_several_statements_and_names_the_failing_line(d1):
    s = d1()
    sql = ("CREATE TABLE e (id INTEGER PRIMARY KEY, v TEXT);\n"
           "INSERT INTO e (v) VALUES ('a');\n"
           "INSERT INTO e (v) VALUES ('b');")
    out = call(s, "exec", sql=sql)
    assert out["count"] == 3 and out["duration"] >= 0
    assert call(s, "query", sql="SELECT v FROM e ORDER BY v")["results"] == [{"v": "a"}, {"v": "b"}]
    out = call(s, "exec", status=400, sql="INSERT INTO e (v) VALUES ('c');\nINSERT INTO nope VALUES (1);")
    assert out["message"] == ("Error: D1_EXEC_ERROR: Error in line 2: INSERT INTO nope VALUES (1);: "
                              "no such table: nope: SQLITE_ERROR")
    assert len(call(s, "query", sql="SELECT v FROM e")["results"]) == 3     # line 1 was kept


def test_invalid_sql_is_a_d1_error_with_sqlite_words(d1):
    s = d1()
    out = call(s, "query", status=400, sql="INVALID SQL GIBBERISH")
    assert out == {"error": "JsException",
                   "message": 'Error: D1_ERROR: near "INVALID": syntax error at offset 0: SQLITE_ERROR'}
    out = call(s, "query", status=400, sql="   ")
    assert out["message"] == "Error: D1_ERROR: No SQL statements detected."


@pytest.mark.parametrize("sql", [
    "BEGIN TRANSACTION", "COMMIT", "SAVEPOINT a", "ATTACH DATABASE '/tmp/x.db' AS x",
    "VACUUM INTO '/tmp/pyworkerd-d1-vacuum.db'", "PRAGMA journal_mode = OFF",
    "PRAGMA synchronous = OFF", "PRAGMA writable_schema = 1",
])
def test_what_d1_does_not_allow_is_refused(d1, sql):
    s = d1()
    out = call(s, "query", status=400, sql=sql)
    assert out["message"] in ("Error: D1_ERROR: not authorized: SQLITE_AUTH",
                              "Error: D1_ERROR: authorization denied: SQLITE_AUTH"), out
    assert not Path("/tmp/pyworkerd-d1-vacuum.db").exists()
    out = call(s, "exec", status=400, sql=sql)
    assert out["message"].startswith("Error: D1_EXEC_ERROR: Error in line 1: "), out
    # and the database works on, outside any transaction
    call(s, "setup")
    assert call(s, "insert", name="after", n=1)["success"] is True
    assert call(s, "query", sql="PRAGMA table_info(t)")["results"][0]["name"] == "id"


def test_dump_returns_the_sqlite_file(d1):
    s = d1()
    call(s, "setup")
    out = call(s, "dump")
    assert out["head"] == "SQLite format 3\x00" and out["len"] % 4096 == 0 and out["type"] == "bytes"


def test_sessions_are_accepted_and_give_bookmarks(d1):
    s = d1()
    call(s, "setup")
    out = call(s, "session")
    assert out == {"before": None, "after": True, "moved": True, "count": 0, "s2": 1, "bookmark2": None}


def test_sync_handlers_get_values_directly(d1):
    s = d1(SYNC_WORKER)
    code, _, body = s.get("/")
    assert (code, body) == (200, b"42 42")


def test_large_results_come_back_whole(d1):
    out = call(d1(), "big", n=20000)
    assert out == [20000, {"i": 1, "s": "row 1"}, {"i": 20000, "s": "row 20000"}]


def test_a_runaway_query_is_stopped_at_the_time_limit_and_the_host_serves_on(d1):
    s = d1(ASYNC_WORKER, env={"PYWORKERD_D1_QUERY_LIMIT_MS": "300"})
    call(s, "setup")
    forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    out = call(s, "query", status=400, sql=forever)
    assert out["message"].startswith("Error: D1_ERROR: D1 DB storage operation exceeded timeout")
    assert "300 ms" in out["message"]
    # a write that runs too long is rolled back
    slow_write = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                  "INSERT INTO t (name, n) SELECT 'w' || x, x FROM c")
    call(s, "query", status=400, sql=slow_write)
    assert call(s, "count") == 0
    assert call(s, "insert", name="ok", n=1)["success"] is True


def test_data_persists_across_a_restart(d1):
    s = d1()
    call(s, "setup")
    call(s, "insert", name="kept", n=3)
    assert s.stop() == 0
    s = d1()
    assert call(s, "get", name="kept") == {"name": "kept", "n": 3}
    assert (s.log_path.parent / "w" / "d1-data" / "d1.sqlite3").exists()


def test_acknowledged_writes_survive_kill_9(d1):
    s = d1()
    call(s, "setup")
    for i in range(30):
        call(s, "insert", name=f"k{i}", n=i)
    os.kill(s.proc.pid, signal.SIGKILL)
    s.proc.wait()
    s = d1()
    assert call(s, "count") == 30
    assert call(s, "get", name="k29") == {"name": "k29", "n": 29}


def test_persist_dir_moves_the_database_and_memory_keeps_none(d1, tmp_path):
    s = d1(ASYNC_WORKER, "--persist-dir", str(tmp_path / "state"))
    call(s, "setup")
    call(s, "insert", name="p", n=1)
    assert (tmp_path / "state" / "d1-data" / "d1.sqlite3").exists()
    assert not (tmp_path / "w" / "d1-data").exists()
    s.stop()
    s = d1(ASYNC_WORKER, "--persist-dir=:memory:")
    call(s, "setup")
    assert call(s, "count") == 0
    s.stop()
    s = d1(ASYNC_WORKER, "--persist-dir", str(tmp_path / "state"))
    assert call(s, "get", name="p") == {"name": "p", "n": 1}


SHARED_WORKER = """
from workers import WorkerEntrypoint, Response

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        await self.env.DB.exec("CREATE TABLE IF NOT EXISTS s (v INTEGER)")
        await self.env.DB.prepare("INSERT INTO s VALUES (?)").bind(5).run()
        seen = await self.env.OTHER.prepare("SELECT sum(v) AS t FROM s").first("t")
        return Response(str(seen))
"""


def test_bindings_naming_one_disk_service_share_its_database(serve, tmp_path):
    config = write_d1(tmp_path / "w", SHARED_WORKER)
    config.write_text(config.read_text().replace(
        'innerBindings = [(name = "fetcher", service = "d1")]))],',
        'innerBindings = [(name = "fetcher", service = "d1")])),\n'
        '              (name = "OTHER", wrapped = (moduleName = "cloudflare-internal:d1-api",\n'
        '                                       innerBindings = [(name = "fetcher", service = "d1")]))],'))
    s = serve(config)
    assert s.get("/")[2] == b"5"
    assert s.get("/")[2] == b"10"


def test_a_second_server_on_the_same_database_is_refused_clearly(d1, tmp_path):
    s = d1()
    call(s, "setup")
    r = subprocess.run([BIN, "serve", str(tmp_path / "w" / "config.capnp"), "-s", "http=127.0.0.1:0"],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path / "w")
    assert r.returncode == 1
    assert ("cannot open its D1 database: d1-data/d1.sqlite3: database is locked (is another "
            "pyworkerd serving this database?)") in r.stderr, r.stderr
    assert call(s, "count") == 0                # the first one serves on


def test_several_host_threads_share_one_database(d1):
    """--threads 3: calls from every host loop reach the one connection (run on the main loop,
    D1 being a kind with one owner) and none is lost."""
    import concurrent.futures
    s = d1(ASYNC_WORKER, "--threads", "3")
    call(s, "setup")
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda i: call(s, "insert", name=f"t{i}", n=i), range(120)))
    assert call(s, "count") == 120
    assert call(s, "query", sql="SELECT sum(n) AS s FROM t")["results"] == [{"s": sum(range(120))}]


# ---- config errors ----

def serve_config(tmp_path, disk=WRITABLE_DISK, inner=INNER):
    config = write_d1(tmp_path / "c", ASYNC_WORKER, disk, inner)
    return config, subprocess.run([BIN, "serve", str(config)], capture_output=True, text=True, timeout=30)


def config_line(config: Path, text: str) -> int:
    return next(i for i, line in enumerate(config.read_text().splitlines(), 1) if text in line)


def test_a_read_only_disk_service_is_refused_at_its_line(tmp_path):
    config, r = serve_config(tmp_path, disk='disk = (path = "d1-data")')
    assert r.returncode == 1
    line = config_line(config, '(name = "DB"')
    assert (f'{config}:{line}: service main: D1 binding "DB": disk service "d1" is not writable'
            in r.stderr), r.stderr


def test_a_d1_binding_naming_a_worker_is_refused(tmp_path):
    config, r = serve_config(tmp_path, inner='(name = "fetcher", service = "main")')
    assert r.returncode == 1
    assert ('not supported by pyworkerd: worker.bindings["DB"].wrapped.innerBindings[0].service '
            'naming service "main", which is not a disk service') in r.stderr, r.stderr


def test_a_d1_binding_naming_no_service_is_refused(tmp_path):
    config, r = serve_config(tmp_path, inner='(name = "fetcher", service = "nope")')
    assert r.returncode == 1
    assert 'refers to a service "nope", but no such service is defined' in r.stderr, r.stderr


def test_a_d1_binding_without_its_inner_binding_is_refused(tmp_path):
    config, r = serve_config(tmp_path, inner="")
    assert r.returncode == 1
    line = config_line(config, '(name = "DB"')
    assert f'{config}:{line}: service main: D1 binding "DB": innerBindings must hold exactly one' in r.stderr


def test_other_wrapped_modules_are_still_refused(tmp_path):
    config = write_d1(tmp_path / "c", ASYNC_WORKER)
    config.write_text(config.read_text().replace("cloudflare-internal:d1-api", "cloudflare-internal:nope"))
    r = subprocess.run([BIN, "serve", str(config)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert 'wrapped.moduleName "cloudflare-internal:nope"' in r.stderr, r.stderr


# ---- examples/d1 ----

def test_the_d1_example_as_shipped(serve, tmp_path):
    import shutil
    from conftest import REPO
    d = tmp_path / "d1"
    shutil.copytree(REPO / "examples" / "d1", d)
    s = serve(d / "config.capnp")
    code, _, body = s.request("POST", "/notes", body=b"buy milk")
    assert (code, json.loads(body)) == (201, {"id": 1, "text": "buy milk"})
    code, _, body = s.request("POST", "/notes/import", body=json.dumps(["a", "b"]).encode())
    assert (code, json.loads(body)) == (200, {"imported": 2})
    code, _, body = s.request("POST", "/notes/import", body=json.dumps(["c", ""]).encode())
    assert code == 400 and "CHECK constraint failed" in json.loads(body)["error"]
    notes = json.loads(s.get("/notes")[2])["notes"]
    assert [n["text"] for n in notes] == ["buy milk", "a", "b"]        # "c" was not kept
    assert json.loads(s.get("/notes/2")[2]) == {"id": 2, "text": "a"}
    assert s.get("/notes/99")[0] == 404
    assert (d / "d1-data" / "d1.sqlite3").exists()
