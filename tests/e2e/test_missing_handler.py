"""A worker without a fetch handler loads, as on workerd (issue 15): it may have only tests, RPC
methods, a workflow or named entrypoints. Calling its missing fetch is the error: 500, with
workerd's message in the log; everything else it has works."""

import subprocess

from conftest import BIN, write_worker

ONLY_TESTS = """
from workers import WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def test(self, ctrl):
        assert self.env.WHO == "tested"
"""

ONLY_NAMED = """
from workers import WorkerEntrypoint

class Greeter(WorkerEntrypoint):
    async def greet(self, name):
        return f"hello {name}"
"""

CALLER = """
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(await self.env.GREETER.greet("rpc"))
"""

LEGACY_ONLY_TEST = """
def test(ctrl, env):
    assert env.WHO == "tested"
"""


def run_tests_of(tmp_path, source, date):
    """`pyworkerd test` on a worker with a WHO text binding, in its own directory."""
    config = write_worker(tmp_path / "w", {"worker.py": source}, date=date,
                          bindings='(name = "WHO", text = "tested")')
    return subprocess.run([BIN, "test", str(config)], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, cwd=config.parent)


def test_a_worker_with_only_a_test_handler_loads_and_its_tests_run(tmp_path):
    r = run_tests_of(tmp_path, ONLY_TESTS, "2025-09-01")
    assert r.returncode == 0, r.stderr
    assert "[ PASS ] main" in r.stderr


def test_a_legacy_worker_with_only_a_test_function_loads(tmp_path):
    r = run_tests_of(tmp_path, LEGACY_ONLY_TEST, "2024-01-01")
    assert r.returncode == 0, r.stderr


def test_calling_a_default_class_without_fetch_answers_500(serve):
    server = serve({"worker.py": ONLY_TESTS}, date="2025-09-01", bindings='(name = "WHO", text = "x")')
    assert server.get("/")[0] == 500
    server.wait_log("TypeError: Method fetch does not exist")


def test_calling_a_worker_without_default_answers_500_with_workerd_message(serve):
    server = serve({"worker.py": ONLY_NAMED}, date="2025-09-01")
    assert server.get("/")[0] == 500
    server.wait_log('LookupError: Python entrypoint "worker.py" does not export a default entrypoint')
    assert server.get("/")[0] == 500    # and again: the isolate lives on


def test_a_worker_with_only_named_entrypoints_serves_rpc(tmp_path):
    d = tmp_path / "w"
    config = write_worker(d, {"caller.py": CALLER}, date="2025-09-01",
                          bindings='(name = "GREETER", service = (name = "greeter", entrypoint = "Greeter"))')
    (d / "greeter.py").write_text(ONLY_NAMED)
    text = config.read_text().replace(
        'services = [(name = "main", worker = .w)],',
        'services = [(name = "main", worker = .w), (name = "greeter", worker = .g)],')
    text += ('const g :Workerd.Worker = (modules = [(name = "greeter.py", pythonModule = embed "greeter.py")], '
             'compatibilityDate = "2025-09-01", compatibilityFlags = ["python_workers"]);\n')
    config.write_text(text)
    from conftest import Server
    server = Server(config, [], tmp=tmp_path)
    try:
        status, _, body = server.get("/")
        assert (status, body) == (200, b"hello rpc")
    finally:
        server.stop()
