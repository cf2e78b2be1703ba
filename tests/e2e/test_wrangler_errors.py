"""Every wrangler-project error stops `pyworkerd dev` with exit status 1 and a message that
names the file and line (and the field) to fix."""

import pytest

from conftest import write_project
from wrangler_helpers import HELLO, run

HEAD = '''name = "e"
main = "src/entry.py"
compatibility_date = "2025-11-02"
compatibility_flags = ["python_workers"]
'''

DO_ENTRY = '''
from workers import DurableObject, Response, WorkerEntrypoint


class Counter(DurableObject):
    pass


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("x")
'''

CASES = [
    # (id, files, extra args, the message)
    ("toml syntax", {"wrangler.toml": HEAD + "vars = { A = }\n"}, (),
     "wrangler.toml:5:"),
    ("json syntax", {"wrangler.json": '{\n  "name": "e",\n  "main": "src/entry.py"\n  "x": 1\n}\n'},
     (), "wrangler.json:4:"),
    ("jsonc syntax after a comment",
     {"wrangler.jsonc": '{\n  // c\n  "name": "e", /* c */\n  "main": "a" "b",\n}\n'}, (), "wrangler.jsonc:4:"),
    ("main type", {"wrangler.toml": HEAD.replace('main = "src/entry.py"', "main = 1")}, (),
     'wrangler.toml:2: The field "main" should be a string but got 1.'),
    ("flags type", {"wrangler.toml": HEAD.replace('["python_workers"]', '"python_workers"')}, (),
     'wrangler.toml:4: The field "compatibility_flags" should be an array of strings but got '
     '"python_workers".'),
    ("kv not an array", {"wrangler.toml": HEAD + 'kv_namespaces = "KV"\n'}, (),
     'wrangler.toml:5: The field "kv_namespaces" should be an array of objects but got "KV".'),
    ("kv binding missing", {"wrangler.toml": HEAD + '\n[[kv_namespaces]]\nid = "x"\n'}, (),
     'wrangler.toml:6: "kv_namespaces[0]" bindings should have a string "binding" field but got '
     '{"id": "x"}.'),
    ("nested type in env", {"wrangler.toml": HEAD + '\n[env.staging]\nvars = 3\n'}, ("--env", "staging"),
     'wrangler.toml:7: The field "env.staging.vars" should be an object but got 3.'),
    ("consumer batch size type", {"wrangler.toml": HEAD + '\n[[queues.consumers]]\nqueue = "q"\n'
                                  'max_batch_size = "ten"\n'}, (),
     'wrangler.toml:8: The field "queues.consumers[0].max_batch_size" should be an integer'),
    ("no python_workers flag", {"wrangler.toml": HEAD.replace('"python_workers"', '"nodejs_compat"')},
     (), "wrangler.toml:4: The python_workers compatibility flag is required"),
    ("main missing", {"wrangler.toml": HEAD.replace("src/entry.py", "src/nope.py")}, (),
     'wrangler.toml:2: main = "src/nope.py": no such file'),
    ("main not python", {"wrangler.toml": HEAD.replace("src/entry.py", "src/index.js")}, (),
     'wrangler.toml:2: main = "src/index.js": pyworkerd runs Python Workers'),
    ("unknown env", {"wrangler.toml": HEAD}, ("--env", "qa"),
     'wrangler.toml: No environment found in configuration with name "qa"'),
    ("class without migration",
     {"wrangler.toml": HEAD + '\n[[durable_objects.bindings]]\nname = "C"\nclass_name = "Counter"\n',
      "src/entry.py": DO_ENTRY}, (),
     'wrangler.toml:8: Durable Object class "Counter" is not created by any migration'),
    ("rename of an unknown class",
     {"wrangler.toml": HEAD + '\n[[migrations]]\ntag = "v1"\nrenamed_classes = [{ from = "A", to = "B" }]\n'},
     (), 'wrangler.toml:8: migration "v1": cannot rename "A": no such class'),
    ("transferred classes",
     {"wrangler.toml": HEAD + '\n[[migrations]]\ntag = "v1"\n'
                              'transferred_classes = [{ from = "A", from_script = "o", to = "B" }]\n'},
     (), "wrangler.toml:8: transferred_classes is not supported by pyworkerd"),
    ("service to an unknown worker",
     {"wrangler.toml": HEAD + '\n[[services]]\nbinding = "S"\nservice = "other"\n'}, (),
     'wrangler.toml:8: no worker named "other" among the configs given'),
    ("assets directory missing", {"wrangler.toml": HEAD + '\n[assets]\ndirectory = "./nope"\n'}, (),
     "wrangler.toml:7: assets.directory: no such directory"),
    ("assets handling value", {"wrangler.toml": HEAD + '\n[assets]\ndirectory = "src"\n'
                                                       'not_found_handling = "spa"\n'}, (),
     "wrangler.toml:8: assets.not_found_handling must be one of none, 404-page, single-page-application"),
    ("bad cron (checked by the config loader)",
     {"wrangler.toml": HEAD + '\n[triggers]\ncrons = ["61 * * * *"]\n'}, (), "wrangler.toml:7:"),
    ("bad queue name (checked by the config loader)",
     {"wrangler.toml": HEAD + '\n[[queues.producers]]\nbinding = "Q"\nqueue = "Bad Name"\n'}, (),
     "wrangler.toml:8:"),
    ("dev.vars unterminated quote", {"wrangler.toml": HEAD, ".dev.vars": 'A=1\nB="open\n'}, (),
     '.dev.vars:2: unterminated "quoted" value'),
    ("no wrangler file", {}, (), "no wrangler.toml, wrangler.json or wrangler.jsonc in"),
]


@pytest.mark.parametrize("files,args,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_config_error_names_file_and_line(tmp_path, files, args, message):
    d = write_project(tmp_path / "e", {"src/entry.py": HELLO, **files})
    r = run("dev", "--port", "0", *args, cwd=d)
    assert r.returncode == 1, r
    assert message in r.stderr, r.stderr
    assert "Ready on" not in r.stderr


def test_usage_errors_of_the_new_commands(tmp_path):
    r = run("dev", "src/entry.py", cwd=tmp_path)
    assert r.returncode == 1 and "pyworkerd dev takes no script" in r.stderr
    r = run("dev", "--local-protocol", "ftp", cwd=tmp_path)
    assert r.returncode == 1 and "--local-protocol: expected http or https" in r.stderr
    r = run("dev", "--var", "NOCOLON", cwd=tmp_path)
    assert r.returncode == 1 and "--var: expected KEY:VALUE" in r.stderr
    r = run("init", cwd=tmp_path)
    assert r.returncode == 1 and "missing argument <name>" in r.stderr
    r = run("init", "bad/../name!", cwd=tmp_path)
    assert r.returncode == 1 and "a project name is letters" in r.stderr
    r = run("help", "dev", cwd=tmp_path)
    assert r.returncode == 0 and "--persist-to" in r.stdout and "--socket-addr" in r.stdout
