"""`pyworkerd test`, as `workerd test`: each entry point's `test` handler runs once, with the
worker's bindings; "[ TEST ]" then "[ PASS ]" / "[ FAIL ]" lines; exit 0 only when at least one
test passed and none failed; a filter selects service and entry point."""

import subprocess

from conftest import BIN, REPO, write_worker

FAILING = """
from workers import WorkerEntrypoint, Response

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")

    async def test(self, ctrl):
        await self.env.KV.put("k", "v")
        assert await self.env.KV.get("k") == "v"

class Broken(WorkerEntrypoint):
    def test(self):
        raise AssertionError("this one fails on purpose")
"""

LEGACY = """
def on_fetch(request):
    from js import Response
    return Response.new("ok")

def test(ctrl, env):
    assert env.WHO == "legacy"
    print("legacy test ran")
"""


def failing_worker(tmp_path):
    """FAILING with a KV namespace on a disk service."""
    config = write_worker(tmp_path / "w", {"worker.py": FAILING}, date="2025-09-01",
                          bindings='(name = "KV", kvNamespace = "kv")')
    config.write_text(config.read_text().replace(
        'services = [(name = "main", worker = .w)],',
        'services = [(name = "main", worker = .w), (name = "kv", disk = (path = "kv", writable = true))],'))
    return config


def run_tests(config, *args):
    """Runs `pyworkerd test` in the config's directory (relative state paths land there)."""
    return subprocess.run([BIN, "test", str(config), *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, cwd=config.parent)


def test_testing_example_passes():
    result = run_tests(REPO / "examples" / "testing" / "config.capnp")
    assert result.returncode == 0, result.stderr
    assert "[ TEST ] main\n" in result.stderr and "[ PASS ] main (" in result.stderr
    assert "[ PASS ] main:Admin (" in result.stderr


def test_a_failing_test_fails_the_run_with_its_traceback(tmp_path):
    config = failing_worker(tmp_path)
    result = run_tests(config, "--persist-dir=:memory:")
    assert result.returncode == 1
    assert "[ PASS ] main (" in result.stderr
    assert "[ FAIL ] main:Broken (" in result.stderr
    assert "AssertionError: this one fails on purpose" in result.stderr
    assert "Tests failed! (1 passed, 1 failed)" in result.stderr


def test_filter_selects_entry_points(tmp_path):
    config = failing_worker(tmp_path)
    result = run_tests(config, "main:default", "--persist-dir=:memory:")
    assert result.returncode == 0, result.stderr
    assert "Broken" not in result.stderr
    result = run_tests(config, "other")
    assert result.returncode == 1 and "No tests found!" in result.stderr


def test_top_level_test_handler_of_a_legacy_worker(tmp_path):
    config = write_worker(tmp_path / "w", {"worker.py": LEGACY}, date="2024-01-01",
                          bindings='(name = "WHO", text = "legacy")')
    result = run_tests(config)
    assert result.returncode == 0, result.stderr
    assert "legacy test ran" in result.stderr and "[ PASS ] main (" in result.stderr


def test_usage_errors_name_the_test_command():
    result = subprocess.run([BIN, "test"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith("pyworkerd test: missing argument <config-file>\n"
                                    "Try 'pyworkerd test --help'")
