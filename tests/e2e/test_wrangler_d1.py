"""`pyworkerd d1 execute` and `pyworkerd d1 migrations list|apply`, as wrangler's d1 commands
with --local: they write the SQLite file that `pyworkerd dev` then serves to env.DB."""

import json

from conftest import write_project
from wrangler_helpers import run

WORKER = '''
import json
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        rows = await self.env.DB.prepare("SELECT name FROM people ORDER BY id").all()
        return Response(json.dumps([r["name"] for r in rows.results]))
'''

TOML = '''
name = "d1cmd"
main = "src/entry.py"
compatibility_date = "2025-09-01"
compatibility_flags = ["python_workers"]

[[d1_databases]]
binding = "DB"
database_name = "people-db"
database_id = "0000-1111"
migrations_dir = "db/migrations"
'''

SCHEMA = """
-- a comment; with a semicolon
CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE log (line TEXT);
CREATE TRIGGER people_log AFTER INSERT ON people BEGIN
  INSERT INTO log VALUES ('added; ' || new.name);
END;
INSERT INTO people (name) VALUES ('Ada; Lovelace'), ('Grace');
"""


def project(tmp_path):
    return write_project(tmp_path / "p", {"src/entry.py": WORKER, "wrangler.toml": TOML,
                                          "schema.sql": SCHEMA})


def test_execute_file_seeds_the_database_dev_serves(tmp_path, start_dev):
    p = project(tmp_path)
    r = run("d1", "execute", "people-db", "--local", "--file", "schema.sql", cwd=p)
    assert r.returncode == 0, r.stderr
    assert "4 commands executed successfully" in r.stdout
    assert (p / ".wrangler/state/v3/d1/0000-1111/d1.sqlite3").is_file()
    r = run("d1", "execute", "DB", "--command", "SELECT line FROM log ORDER BY line", cwd=p)
    assert r.returncode == 0, r.stderr
    assert "│ added; Ada; Lovelace │" in r.stdout and "│ added; Grace" in r.stdout
    dev = start_dev(p)
    assert json.loads(dev.text("/")) == ["Ada; Lovelace", "Grace"]
    r = run("d1", "execute", "DB", "--command", "SELECT 1", cwd=p)
    assert r.returncode == 1 and "a running pyworkerd holds this database" in r.stderr


def test_execute_json_and_a_failing_statement_rolls_back_the_rest(tmp_path):
    p = project(tmp_path)
    assert run("d1", "execute", "DB", "--file", "schema.sql", cwd=p).returncode == 0
    r = run("d1", "execute", "DB", "--command",
            "INSERT INTO people (name) VALUES ('Linus'); INSERT INTO nowhere VALUES (1)", cwd=p)
    assert r.returncode == 1 and "no such table: nowhere" in r.stderr
    r = run("d1", "execute", "DB", "--json", "--command",
            "SELECT count(*) AS n FROM people; UPDATE people SET name = upper(name)", cwd=p)
    out = json.loads(r.stdout)
    assert out[0]["results"] == [{"n": 2}] and out[0]["success"] is True
    assert out[1]["results"] == [] and out[1]["meta"]["changes"] == 2


def test_persist_to_and_unknown_database_and_remote(tmp_path):
    p = project(tmp_path)
    r = run("d1", "execute", "DB", "--persist-to", tmp_path / "state", "--file", "schema.sql",
            cwd=p)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "state/v3/d1/0000-1111/d1.sqlite3").is_file()
    assert not (p / ".wrangler").exists()
    r = run("d1", "execute", "other", "--command", "SELECT 1", cwd=p)
    assert r.returncode == 1 and 'no d1_databases entry has binding or database_name "other"' \
        in r.stderr and "DB (people-db)" in r.stderr
    r = run("d1", "execute", "DB", "--remote", "--command", "SELECT 1", cwd=p)
    assert r.returncode == 1 and "no remote databases" in r.stderr


def test_migrations_apply_once_each_in_name_order(tmp_path, start_dev):
    p = project(tmp_path)
    write_project(p, {
        "db/migrations/0001_people.sql": "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT);",
        "db/migrations/0002_seed.sql": "INSERT INTO people (name) VALUES ('Margaret');",
    })
    r = run("d1", "migrations", "list", "DB", cwd=p)
    assert r.stdout.splitlines()[1:] == ["  0001_people.sql", "  0002_seed.sql"]
    r = run("d1", "migrations", "apply", "people-db", "--local", cwd=p)
    assert r.returncode == 0, r.stderr
    assert "0001_people.sql applied" in r.stdout and "0002_seed.sql applied" in r.stdout
    assert "No migrations to apply" in run("d1", "migrations", "apply", "DB", cwd=p).stdout
    write_project(p, {"db/migrations/0003_bad.sql": "INSERT INTO nowhere VALUES (1);"})
    r = run("d1", "migrations", "apply", "DB", cwd=p)
    assert r.returncode == 1 and "0003_bad.sql: no such table: nowhere" in r.stderr
    r = run("d1", "execute", "DB", "--json", "--command", "SELECT name FROM d1_migrations", cwd=p)
    assert [x["name"] for x in json.loads(r.stdout)[0]["results"]] == \
        ["0001_people.sql", "0002_seed.sql"]
    dev = start_dev(p)
    assert json.loads(dev.text("/")) == ["Margaret"]
