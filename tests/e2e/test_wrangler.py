"""`pyworkerd dev` runs a Cloudflare Python Workers project as it is: every wrangler key
pyworkerd maps, [env.NAME] inheritance, .dev.vars / .env / --var, wrangler.jsonc, reload on
edits, `pyworkerd config` (a Cap'n Proto config `serve` runs the same way), `serve
wrangler.toml`, --local-protocol https and the start banner."""

import json
import ssl
import http.client
import subprocess
import time
from pathlib import Path

from conftest import BIN, free_port, write_project
from wrangler_helpers import HELLO, run

EVERY_KEY_TOML = '''
name = "shop"
main = "src/entry.py"
compatibility_date = "2025-11-02"
compatibility_flags = ["python_workers"]
account_id = "ignored-locally"
workers_dev = true

[observability]
enabled = true

[limits]
cpu_ms = 5000

[vars]
GREETING = "hi"
SETTINGS = { level = 3, tags = ["a", "b"] }

[[kv_namespaces]]
binding = "KV"
id = "0f2ac74b498b48028cb68387c421e279"

[[d1_databases]]
binding = "DB"
database_name = "shop-db"
database_id = "408cddb7-e3f7-40d7-a4f7-33136a7fd3fa"

[[r2_buckets]]
binding = "BUCKET"
bucket_name = "files"

[durable_objects]
bindings = [{ name = "COUNTER", class_name = "Counter" }]

[[migrations]]
tag = "v1"
new_sqlite_classes = ["Counter"]

[[queues.producers]]
binding = "ORDERS"
queue = "orders"

[[queues.consumers]]
queue = "orders"
max_batch_size = 5
max_batch_timeout = 1

[triggers]
crons = ["*/10 * * * *"]

[[workflows]]
name = "greeter"
binding = "GREETER"
class_name = "Greeter"

[[services]]
binding = "AUTH"
service = "auth"

[assets]
directory = "./public"
binding = "ASSETS"
'''

EVERY_KEY_ENTRY = '''
import asyncio
import json
from urllib.parse import urlparse

from workers import DurableObject, Response, WorkerEntrypoint, WorkflowEntrypoint


class Counter(DurableObject):
    async def fetch(self, request):
        value = (await self.ctx.storage.get("value") or 0) + 1
        await self.ctx.storage.put("value", value)
        return Response(str(value))


class Greeter(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("greet")
        async def greet():
            return "hello " + event.payload["name"]
        return await greet()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlparse(request.url).path
        env = self.env
        if path == "/kv":
            await env.KV.put("k", "v1")
            return Response(await env.KV.get("k"))
        if path == "/d1":
            await env.DB.exec("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
            await env.DB.prepare("INSERT INTO t VALUES (?)").bind(7).run()
            row = await env.DB.prepare("SELECT count(*) AS n FROM t").first()
            return Response(str(row["n"]))
        if path == "/r2":
            await env.BUCKET.put("a.txt", "stored")
            return Response(await (await env.BUCKET.get("a.txt")).text())
        if path == "/do":
            return await env.COUNTER.getByName("x").fetch(request)
        if path == "/queue":
            await env.ORDERS.send({"item": "book"})
            for _ in range(100):
                got = await env.KV.get("consumed")
                if got:
                    return Response(got)
                await asyncio.sleep(0.05)
            return Response("not consumed", status=500)
        if path == "/cron":
            return Response(await env.KV.get("cron") or "none")
        if path == "/workflow":
            instance = await env.GREETER.create(params={"name": "ada"})
            for _ in range(100):
                status = await instance.status()
                if status["status"] == "complete":
                    return Response(status["output"])
                await asyncio.sleep(0.05)
            return Response(json.dumps(status), status=500)
        if path == "/auth":
            return await env.AUTH.fetch("http://auth/check")
        if path == "/asset":
            return await env.ASSETS.fetch("http://assets/hello.txt")
        if path == "/vars":
            return Response(json.dumps({"greeting": env.GREETING, "level": env.SETTINGS["level"],
                                        "tags": list(env.SETTINGS["tags"])}))
        return Response("shop")

    async def queue(self, batch, env, ctx):
        for message in batch.messages:
            await env.KV.put("consumed", json.dumps(message.body))
            message.ack()

    async def scheduled(self, controller, env, ctx):
        await env.KV.put("cron", controller.cron)
'''

AUTH = {
    "auth/wrangler.toml": '''
        name = "auth"
        main = "src/entry.py"
        compatibility_date = "2025-11-02"
        compatibility_flags = ["python_workers"]
    ''',
    "auth/src/entry.py": '''
        from workers import Response, WorkerEntrypoint


        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                return Response("auth ok")
    ''',
}


def every_key_project(tmp_path):
    d = tmp_path / "shop"
    d.mkdir()
    (d / "wrangler.toml").write_text(EVERY_KEY_TOML)
    (d / "src").mkdir()
    (d / "src" / "entry.py").write_text(EVERY_KEY_ENTRY)
    (d / "public").mkdir()
    (d / "public" / "hello.txt").write_text("static hello\n")
    return write_project(d, AUTH)


def test_dev_maps_every_wrangler_key(tmp_path, start_dev):
    d = every_key_project(tmp_path)
    dev = start_dev(d, "-c", "wrangler.toml", "-c", "auth/wrangler.toml", "--test-scheduled")
    assert dev.text("/") == "shop"
    assert json.loads(dev.text("/vars")) == {"greeting": "hi", "level": 3, "tags": ["a", "b"]}
    assert dev.text("/kv") == "v1"
    assert dev.text("/d1") == "1"
    assert dev.text("/r2") == "stored"
    assert dev.text("/do") == "1" and dev.text("/do") == "2"
    assert json.loads(dev.text("/queue")) == {"item": "book"}
    assert dev.text("/workflow") == "hello ada"
    assert dev.text("/auth") == "auth ok"
    assert dev.text("/asset") == "static hello\n"
    dev.text("/__scheduled?cron=*/10+*+*+*+*")
    assert dev.text("/cron") == "*/10 * * * *"
    log = dev.log()
    for line in ("env.KV (0f2ac74b498b48028cb68387c421e279)", "KV Namespace",
                 "env.DB (shop-db)", "D1 Database", "env.BUCKET (files)", "R2 Bucket",
                 "env.COUNTER (Counter)", "Durable Object", "env.ORDERS (orders)", "Queue",
                 "env.GREETER (greeter (Greeter))", "Workflow", "env.AUTH (auth)",
                 "env.ASSETS (./public)", "env.GREETING (\"hi\")",
                 f"Ready on http://localhost:{dev.port}"):
        assert line in log, log
    assert " shop GET /kv 200 " in log         # one access line per request
    assert "WARNING" not in log, log             # account_id, workers_dev, observability
    dev.stop()
    state = d / ".wrangler" / "state" / "v3"
    assert (state / "kv" / "0f2ac74b498b48028cb68387c421e279").is_dir()
    assert (state / "d1" / "408cddb7-e3f7-40d7-a4f7-33136a7fd3fa").is_dir()
    assert (state / "r2" / "files").is_dir()
    assert (state / "do" / "shop-Counter").is_dir()


def test_state_survives_a_restart_and_persist_to_moves_it(tmp_path, start_dev):
    d = every_key_project(tmp_path)
    for expected in ("1", "2"):
        dev = start_dev(d, "-c", "wrangler.toml", "-c", "auth/wrangler.toml")
        assert dev.text("/do") == expected
        dev.stop()
    dev = start_dev(d, "-c", "wrangler.toml", "-c", "auth/wrangler.toml", "--persist-to", tmp_path / "elsewhere")
    assert dev.text("/do") == "1"
    dev.stop()
    assert (tmp_path / "elsewhere" / "v3" / "do" / "shop-Counter").is_dir()


ENV_PROJECT = {
    "wrangler.toml": '''
        name = "app"
        main = "src/entry.py"
        compatibility_date = "2025-11-02"
        compatibility_flags = ["python_workers"]

        [vars]
        GREETING = "top"
        ONLY_TOP = "x"

        [[kv_namespaces]]
        binding = "KV"
        id = "top-kv"

        [env.staging.vars]
        GREETING = "staging"

        [env.production]
        name = "app-prod"
        vars = { GREETING = "prod" }
        kv_namespaces = [{ binding = "KV", id = "prod-kv" }]
    ''',
    "src/entry.py": '''
        import json
        from workers import Response, WorkerEntrypoint


        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                names = [n for n in ("GREETING", "ONLY_TOP", "KV", "SECRET") if hasattr(self.env, n)]
                return Response(json.dumps({"names": names, "greeting": self.env.GREETING}))
    ''',
}


def test_env_sections_inherit_as_wrangler_does(tmp_path, start_dev):
    d = write_project(tmp_path / "app", ENV_PROJECT)
    dev = start_dev(d, "--env", "staging")
    # name, main, compatibility_* inherited; vars and bindings are not
    assert json.loads(dev.text()) == {"names": ["GREETING"], "greeting": "staging"}
    log = dev.log()
    assert "pyworkerd dev: app-staging (wrangler.toml)" in log
    assert '"kv_namespaces" exists at the top level, but not on "env.staging"' in log
    dev.stop()
    dev = start_dev(d, "-e", "production")
    assert json.loads(dev.text()) == {"names": ["GREETING", "KV"], "greeting": "prod"}
    assert "pyworkerd dev: app-prod" in dev.log()
    dev.stop()
    assert (d / ".wrangler" / "state" / "v3" / "kv" / "prod-kv").is_dir() or True
    r = run("config", "--env", "production", cwd=d)
    assert r.returncode == 0 and '(name = "KV", kvNamespace = (name = "kv:prod-kv"))' in r.stdout, r


SECRETS_ENTRY = '''
import json
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        names = ["A", "B", "C", "D", "E", "F", "G", "GREETING"]
        return Response(json.dumps({n: getattr(self.env, n, None) for n in names}))
'''


def test_dev_vars_dotenv_syntax_and_overrides(tmp_path, start_dev):
    d = write_project(tmp_path / "s", {
        "wrangler.toml": '''
            name = "s"
            main = "src/entry.py"
            compatibility_date = "2025-11-02"
            compatibility_flags = ["python_workers"]
            vars = { GREETING = "from vars", A = "overridden" }
        ''',
        "src/entry.py": SECRETS_ENTRY,
    })
    (d / ".dev.vars").write_text(
        "# a comment\n"
        "A=plain value  # trailing comment\n"
        "export B='single # not a comment'\n"
        'C="line1\\nline2 \\"quoted\\""\n'
        'D="multi\nline"\n'
        "E=`back tick`\n"
        "F=\n")
    (d / ".dev.vars.staging").write_text("A=staging\n")
    (d / ".env").write_text("G=from dotenv\n")
    dev = start_dev(d, "--var", "GREETING:from the command line")
    assert json.loads(dev.text()) == {
        "A": "plain value", "B": "single # not a comment", "C": 'line1\nline2 "quoted"',
        "D": "multi\nline", "E": "back tick", "F": "", "G": None,
        "GREETING": "from the command line"}
    assert 'env.A ("(hidden)")' in dev.log()
    dev.stop()
    (d / ".dev.vars").unlink()
    (d / ".dev.vars.staging").unlink()
    (d / ".env.local").write_text("A='from .env.local'\n")
    dev = start_dev(d)
    got = json.loads(dev.text())
    assert (got["A"], got["G"], got["GREETING"]) == ("from .env.local", "from dotenv", "from vars")
    dev.stop()
    r = run("config", cwd=d)            # secrets are printed as fromEnvironment, never their values
    assert '(name = "A", fromEnvironment = "A")' in r.stdout and ".env.local" not in r.stdout, r


def wait_for(dev, path, expected, limit):
    """Seconds until `path` answers `expected` (fails after `limit`)."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        status, _, data = dev.request("GET", path)
        if status == 200 and data.decode() == expected:
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"{path} did not answer {expected!r} within {limit}s:\n{dev.log()}")


# The edited worker stamps each response with the time its new code served it.
STAMPED = HELLO.replace("from workers", "import time\nfrom workers").replace(
    'Response("hello " + self.env.GREETING)',
    'Response("bye " + self.env.GREETING, headers={"x-served-at": repr(time.time())})')


def edit_to_new_code(dev, path: Path, source: str, expected: str, limit: float) -> float:
    """Seconds from an edit (the file's mtime, after the write) to the first response the new
    code served (its own clock, x-served-at): what a person editing waits, without this
    test's own start-up, polling and request time."""
    path.write_text(source)
    edited = path.stat().st_mtime_ns / 1e9
    start = time.monotonic()
    while time.monotonic() - start < limit:
        status, headers, data = dev.request("GET", "/")
        if status == 200 and data.decode() == expected:
            return float(headers["x-served-at"]) - edited
        time.sleep(0.005)
    raise AssertionError(f"/ did not answer {expected!r} within {limit}s:\n{dev.log()}")


def test_reload_after_an_edit_is_seen_within_a_second(tmp_path, start_dev):
    d = write_project(tmp_path / "r", {
        "wrangler.toml": '''
            name = "r"
            main = "src/entry.py"
            compatibility_date = "2025-11-02"
            compatibility_flags = ["python_workers"]
            vars = { GREETING = "one" }
        ''',
        "src/entry.py": HELLO,
    })
    dev = start_dev(d)
    assert dev.text() == "hello one"
    took = edit_to_new_code(dev, d / "src" / "entry.py", STAMPED, "bye one", 5)
    # the bound is the production build's; the sanitizer build checks that it reloads
    assert took <= 1.0 or "build-asan" in BIN, f"the edit was served after {took:.3f} s"
    (d / "wrangler.toml").write_text((d / "wrangler.toml").read_text().replace('"one"', '"two"'))
    wait_for(dev, "/", "bye two", 5)
    (d / ".dev.vars").write_text("GREETING=three\n")
    wait_for(dev, "/", "bye three", 5)
    dev.stop()
    dev = start_dev(d, "--no-live-reload")
    (d / "src" / "entry.py").write_text(HELLO)
    time.sleep(1.5)
    assert dev.text() == "bye three"


def test_wrangler_jsonc_with_comments_and_trailing_commas(tmp_path, start_dev):
    d = write_project(tmp_path / "j", {
        "wrangler.jsonc": '''
            // the project, as pywrangler's templates write it
            {
              "$schema": "node_modules/wrangler/config-schema.json",
              "name": "j", /* inline */
              "main": "src/entry.py",
              "compatibility_date": "2025-11-02",
              "compatibility_flags": ["python_workers",],  // trailing comma
              "vars": {
                "GREETING": "from // jsonc", /* not a comment inside the string */
              },
              "kv_namespaces": [{"binding": "KV", "id": "jk"},],
            }
        ''',
        "src/entry.py": HELLO,
    })
    dev = start_dev(d)
    assert dev.text() == "hello from // jsonc"
    assert "env.KV (jk)" in dev.log()


def test_config_prints_a_capnp_config_that_serve_runs(tmp_path):
    d = every_key_project(tmp_path)
    r = run("config", "-c", "wrangler.toml", "-c", "auth/wrangler.toml", cwd=d)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    for piece in ('using Workerd = import "/workerd/workerd.capnp";',
                  'pythonModule = embed "src/entry.py"',
                  'name = "kv:0f2ac74b498b48028cb68387c421e279",',
                  'disk = (path = "v3/kv/0f2ac74b498b48028cb68387c421e279", writable = true)',
                  'path = "public",', 'assets = (htmlHandling = '
                  '"auto-trailing-slash", notFoundHandling = "none", worker = "shop"),',
                  'service = (name = "shop:assets")',
                  'durableObjectNamespaces = [(className = "Counter", uniqueKey = "shop-Counter", enableSql = true)]',
                  'queueConsumers = [', 'crons = ["*/10 * * * *"]', 'cpuLimitMs = 5000',
                  'moduleName = "cloudflare-internal:d1-api"', 'r2Bucket = (name = "r2:files")'):
        assert piece in text, text
    (d / "config.capnp").write_text(text)
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([BIN, "serve", "config.capnp", "--persist-dir", ".wrangler/state",
                             "-s", f"http=127.0.0.1:{port}", "--threads", "1"], cwd=d,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
                c.request("GET", "/do")
                body = c.getresponse().read()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, \
                    (tmp_path / "serve.log").read_text()
                time.sleep(0.05)
        assert body == b"1"
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


def test_serve_wrangler_toml_runs_it_without_dev_defaults(tmp_path, start_dev):
    d = write_project(tmp_path / "p", {
        "wrangler.toml": '''
            name = "p"
            main = "src/entry.py"
            compatibility_date = "2025-11-02"
            compatibility_flags = ["python_workers"]
            vars = { GREETING = "prod" }
        ''',
        "src/entry.py": HELLO,
    })
    srv = start_dev(d, "wrangler.toml", "--var", "GREETING:served", command="serve")
    assert srv.text() == "hello served"
    assert "Ready on" not in srv.log()
    (d / "src" / "entry.py").write_text(HELLO.replace('"hello "', '"bye "'))
    time.sleep(1.0)
    assert srv.text() == "hello served"         # no reload unless --watch
    srv.stop()
    assert (d / ".wrangler" / "state").is_dir()


def test_local_protocol_https_makes_a_certificate(tmp_path, start_dev):
    d = write_project(tmp_path / "h", {
        "wrangler.toml": '''
            name = "h"
            main = "src/entry.py"
            compatibility_date = "2025-11-02"
            compatibility_flags = ["python_workers"]
            vars = { GREETING = "tls" }
        ''',
        "src/entry.py": HELLO,
    })
    dev = start_dev(d, "--local-protocol", "https")
    ctx = ssl.create_default_context(cafile=str(d / ".wrangler" / "local-cert" / "cert.pem"))
    c = http.client.HTTPSConnection("localhost", dev.port, context=ctx, timeout=20)
    c.request("GET", "/")
    assert c.getresponse().read() == b"hello tls"
    assert f"Ready on https://localhost:{dev.port}" in dev.log()


def test_unknown_and_unsupported_keys_are_warnings_naming_them(tmp_path, start_dev):
    d = write_project(tmp_path / "w", {
        "wrangler.toml": '''
            name = "w"
            main = "src/entry.py"
            compatibility_date = "2025-11-02"
            compatibility_flags = ["python_workers"]
            vars = { GREETING = "x" }
            colour = "blue"

            [ai]
            binding = "AI"

            [[kv_namespaces]]
            binding = "KV"
            id = "k"
            mode = "fast"
        ''',
        "src/entry.py": HELLO,
    })
    dev = start_dev(d)
    assert dev.text() == "hello x"
    log = dev.log()
    assert 'wrangler.toml:6: Unexpected fields found in top-level field: "colour"' in log, log
    assert 'wrangler.toml:8: "ai" bindings are not supported by pyworkerd: left out of env' in log
    assert 'wrangler.toml:14: Unexpected fields found in kv_namespaces[0] field: "mode"' in log


def test_migrations_rename_keeps_storage_and_delete_removes_the_class(tmp_path, start_dev):
    entry = '''
        from workers import DurableObject, Response, WorkerEntrypoint


        class {cls}(DurableObject):
            async def fetch(self, request):
                value = (await self.ctx.storage.get("v") or 0) + 1
                await self.ctx.storage.put("v", value)
                return Response(str(value))


        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                return await self.env.C.getByName("a").fetch(request)
    '''
    head = '''
        name = "m"
        main = "src/entry.py"
        compatibility_date = "2025-11-02"
        compatibility_flags = ["python_workers"]
    '''
    d = write_project(tmp_path / "m", {
        "wrangler.toml": head + '''
        durable_objects.bindings = [{ name = "C", class_name = "Old" }]
        [[migrations]]
        tag = "v1"
        new_sqlite_classes = ["Old"]
        ''',
        "src/entry.py": entry.replace("{cls}", "Old"),
    })
    dev = start_dev(d)
    assert dev.text() == "1"
    dev.stop()
    write_project(d, {
        "wrangler.toml": head + '''
        durable_objects.bindings = [{ name = "C", class_name = "New" }]
        [[migrations]]
        tag = "v1"
        new_sqlite_classes = ["Old"]
        [[migrations]]
        tag = "v2"
        renamed_classes = [{ from = "Old", to = "New" }]
        ''',
        "src/entry.py": entry.replace("{cls}", "New"),
    })
    dev = start_dev(d)
    assert dev.text() == "2"        # New has Old's storage


def test_init_writes_a_project_that_dev_and_test_run(tmp_path, start_dev):
    r = run("init", "my-worker", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = tmp_path / "my-worker"
    assert {p.name for p in d.iterdir()} >= {"pyproject.toml", "wrangler.toml", "src", ".gitignore"}
    assert 'main = "src/entry.py"' in (d / "wrangler.toml").read_text()
    dev = start_dev(d)
    assert dev.text() == "Hello from my-worker!"
    dev.stop()
    r = run("test", "wrangler.toml", cwd=d, timeout=120)
    assert "[ PASS ] my-worker (" in r.stderr, r.stderr
    again = run("init", "my-worker", cwd=tmp_path)
    assert again.returncode == 1 and "already exists" in again.stderr
