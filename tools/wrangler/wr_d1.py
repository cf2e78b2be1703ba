"""`pyworkerd d1 execute` and `pyworkerd d1 migrations list|apply`, as wrangler's d1 commands
with --local: SQL run against the SQLite file `pyworkerd dev` keeps for the database.

Run by the wrangler translator (a child of the host process, `pyworkerd d1 ...`). The database
is named by its binding or its database_name in the wrangler file; its file is
<persist>/v3/d1/<database_id, else name>/d1.sqlite3 (wr_bindings.Bindings.d1 and
storage/d1_sqlite.h), <persist> being .wrangler/state beside the wrangler file or
--persist-to. A command's statements are one transaction: all applied, or none.
Invariant: pyworkerd holds its databases exclusively while it serves them, so these commands
refuse (never wait on, never bypass) a database that a running `pyworkerd dev` has open.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time

import wr_env
import wr_read
import wr_schema
from wr_bindings import safe

USAGE = ("usage: pyworkerd d1 execute DATABASE (--command SQL | --file FILE) [--local] "
         "[--persist-to DIR] [--json] [-c FILE] [--env NAME]\n"
         "       pyworkerd d1 migrations list|apply DATABASE [--local] [--persist-to DIR] "
         "[-c FILE] [--env NAME]")
FILE = "d1.sqlite3"
MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS {table}(
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)"""


class Database:
    """One d1_databases entry of the wrangler file and where its SQLite file is."""

    def __init__(self, item: dict, project_dir: str, persist: str) -> None:
        self.item = item
        self.key = item.get("database_id") or item.get("database_name") or item["binding"]
        self.name = item.get("database_name") or item["binding"]
        self.dir = os.path.join(persist, "v3", "d1", safe(self.key))
        self.path = os.path.join(self.dir, FILE)
        self.migrations_dir = os.path.join(project_dir, item.get("migrations_dir", "migrations"))
        self.migrations_table = item.get("migrations_table", "d1_migrations")

    def connect(self) -> sqlite3.Connection:
        os.makedirs(self.dir, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=0.2, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.OperationalError as e:
            db.close()
            raise ValueError(self.locked(e)) from None
        return db

    def locked(self, e: Exception) -> str:
        if "locked" in str(e):
            return (f"{self.path}: {e}: a running pyworkerd holds this database; stop "
                    f"`pyworkerd dev` (or serve) and run the command again")
        return f"{self.path}: {e}"


def parse(argv: list[str]) -> dict:
    a = {"configs": [], "env": None, "persist": None, "json": False, "command": None,
         "file": None, "positional": []}
    it = iter(argv)
    for arg in it:
        if arg in ("-c", "--config"):
            a["configs"].append(next(it))
        elif arg in ("-e", "--env"):
            a["env"] = next(it)
        elif arg == "--persist-to":
            a["persist"] = next(it)
        elif arg in ("--command", "--file"):
            a[arg[2:]] = next(it)
        elif arg == "--json":
            a["json"] = True
        elif arg in ("--local", "-y", "--yes", "--preview"):
            pass
        elif arg == "--remote":
            raise ValueError("--remote: pyworkerd has no remote databases (run wrangler for "
                             "Cloudflare's); drop it to use the local one")
        elif arg.startswith("-"):
            raise ValueError(f"{arg}: unknown option\n{USAGE}")
        else:
            a["positional"].append(arg)
    return a


def database(a: dict, warnings: list[str]) -> Database:
    path = a["configs"][0] if a["configs"] else wr_read.find(".")
    if not path:
        raise ValueError(f"no wrangler.toml, wrangler.json or wrangler.jsonc in {os.getcwd()} "
                         f"(give one with -c/--config)")
    src = wr_read.read(path)
    wr_schema.check_file(src, warnings)
    w = wr_env.select(src, a["env"], warnings)
    wanted = a["positional"][0]
    items = w.get("d1_databases", [])
    for item in items:
        if wanted in (item["binding"], item.get("database_name")):
            persist = a["persist"] or os.path.join(src.dir, ".wrangler", "state")
            return Database(item, src.dir, persist)
    names = ", ".join(f"{i['binding']} ({i.get('database_name', '-')})" for i in items) or "none"
    raise ValueError(f"{path}: no d1_databases entry has binding or database_name \"{wanted}\" "
                     f"(there are: {names})")


def statements(sql: str) -> list[str]:
    """The SQL's statements, split where SQLite says one is complete (strings, comments and
    trigger bodies keep their semicolons)."""
    out, current = [], ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \t\r\n;"):
                out.append(current.strip())
            current = ""
    if current.strip(" \t\r\n;"):
        out.append(current.strip().rstrip(";"))
    return out


def run_all(db: sqlite3.Connection, sqls: list[str]) -> list[dict]:
    """Runs every statement in one transaction; the D1-style result of each."""
    results = []
    db.execute("BEGIN IMMEDIATE")
    try:
        for sql in sqls:
            started, before = time.perf_counter(), db.total_changes
            cur = db.execute(sql)
            cols = [c[0] for c in cur.description or ()]
            rows = [dict(zip(cols, r)) for r in cur.fetchall()]
            results.append({"results": rows, "columns": cols, "success": True, "meta": {
                "duration": round((time.perf_counter() - started) * 1000, 3),
                "changes": db.total_changes - before, "last_row_id": cur.lastrowid or 0}})
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return results


def table(cols: list[str], rows: list[dict]) -> str:
    """Rows as wrangler prints them: a box-drawn table."""
    cells = [[_cell(r[c]) for c in cols] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]

    def line(left, mid, right):
        return left + mid.join("─" * (w + 2) for w in widths) + right

    def row(values):
        return "│" + "│".join(f" {v:<{w}} " for v, w in zip(values, widths)) + "│"

    return "\n".join([line("┌", "┬", "┐"), row(cols), line("├", "┼", "┤"),
                      *[row(r) for r in cells], line("└", "┴", "┘")])


def _cell(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def execute(a: dict, warnings: list[str]) -> str:
    if len(a["positional"]) != 1 or (a["command"] is None) == (a["file"] is None):
        raise ValueError(USAGE)
    d = database(a, warnings)
    if a["file"] is not None:
        with open(a["file"], encoding="utf-8") as f:
            sql = f.read()
    else:
        sql = a["command"]
    sqls = statements(sql)
    if not sqls:
        raise ValueError("no SQL statement to execute")
    db = d.connect()
    try:
        results = run_all(db, sqls)
    except sqlite3.Error as e:
        raise ValueError(d.locked(e) if "locked" in str(e) else f"{d.name}: {e}") from None
    finally:
        db.close()
    if a["json"]:
        return json.dumps([{k: v for k, v in r.items() if k != "columns"} for r in results],
                          indent=2) + "\n"
    out = [f"Executing on local database {d.name} ({d.key}) from {d.path}:",
           f"{len(sqls)} command{'s' if len(sqls) != 1 else ''} executed successfully."]
    out += [table(r["columns"], r["results"]) for r in results if r["columns"]]
    return "\n".join(out) + "\n"


def pending(d: Database, db: sqlite3.Connection) -> list[str]:
    """The migration files not yet in the migrations table, in name order."""
    if not os.path.isdir(d.migrations_dir):
        raise ValueError(f"{d.migrations_dir}: no migrations directory (set migrations_dir in "
                         f"the d1_databases entry of \"{d.item['binding']}\")")
    db.execute(MIGRATIONS_TABLE.format(table=_ident(d.migrations_table)))
    done = {r[0] for r in db.execute(f"SELECT name FROM {_ident(d.migrations_table)}")}
    return [f for f in sorted(os.listdir(d.migrations_dir))
            if f.endswith(".sql") and f not in done]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def migrations(a: dict, warnings: list[str]) -> str:
    verb = a["positional"].pop(0) if a["positional"] else ""
    if verb not in ("list", "apply") or len(a["positional"]) != 1:
        raise ValueError(USAGE)
    d = database(a, warnings)
    db = d.connect()
    try:
        todo = pending(d, db)
        if verb == "list" or not todo:
            return ("Migrations to be applied:\n" + "\n".join(f"  {f}" for f in todo) + "\n"
                    if todo else "No migrations to apply.\n")
        out = []
        for name in todo:
            with open(os.path.join(d.migrations_dir, name), encoding="utf-8") as f:
                sqls = statements(f.read())
            sqls.append(f"INSERT INTO {_ident(d.migrations_table)} (name) VALUES "
                        f"('{name.replace(chr(39), chr(39) * 2)}')")
            try:
                run_all(db, sqls)
            except sqlite3.Error as e:
                raise ValueError(f"{os.path.join(d.migrations_dir, name)}: {e} (this migration "
                                 f"and those after it were not applied)") from None
            out.append(f"  {name} applied")
        return f"Migrations applied to {d.name} ({d.path}):\n" + "\n".join(out) + "\n"
    finally:
        db.close()


def main(argv: list[str], warnings: list[str]) -> str:
    commands = {"execute": execute, "migrations": migrations}
    if argv[:1] and argv[0] in commands:
        try:
            return commands[argv[0]](parse(argv[1:]), warnings)
        except sqlite3.Error as e:
            raise ValueError(f"d1 {argv[0]}: {e}") from None
    raise ValueError(USAGE)
