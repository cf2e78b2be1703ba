"""JSON bodies read as workerd's JS surface reads them (issue 15, workerd's
samples/repl-server-python): `(await request.json()).cmd` works, as on a Pyodide JS object,
and dict access too; a caller's own object_hook wins. The sample's REPL pattern (sys.stdout
replaced at top level, code.InteractiveInterpreter) answers."""

import json

REPL = """
import code
import sys
from io import StringIO

from js import Response
from workers import WorkerEntrypoint

sys.stdout = StringIO()
ii = code.InteractiveInterpreter()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        cmd = (await request.json()).cmd
        ii.runsource(cmd)
        res = sys.stdout.getvalue()
        sys.stdout = StringIO()
        return Response.new(res)
"""


def test_a_repl_worker_reads_json_attributes(serve):
    server = serve({"worker.py": REPL}, date="2023-12-18")
    for cmd, out in (("print(1 + 1)", b"2\n"), ("x = 40", b""), ("print(x + 2)", b"42\n")):
        status, _, body = server.request("POST", "/", body=json.dumps({"cmd": cmd}),
                                         headers={"content-type": "application/json"})
        assert (status, body) == (200, out), server.log()


def test_json_objects_allow_attribute_and_item_access(serve):
    server = serve({"worker.py": """
import json
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        data = await request.clone().json()
        plain = await request.json(object_hook=lambda d: ("hooked", d))
        return Response(json.dumps([data.a.b, data["a"]["b"], data.list[0].c,
                                    isinstance(data, dict), plain[0]]))
"""})
    body = json.dumps({"a": {"b": 1}, "list": [{"c": "x"}]})
    status, _, got = server.request("POST", "/", body=body)
    assert status == 200
    assert json.loads(got) == [1, 1, "x", True, "hooked"]
