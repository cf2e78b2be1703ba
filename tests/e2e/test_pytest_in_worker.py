"""pytest inside a worker (issue 15, workerd's `pytest` test): under `pyworkerd test`,
pytest and pytest-asyncio are importable undeclared (never under `serve`), their plugins load
from their entry points (importlib.metadata sees the allowed distributions), a loop the
worker makes runs on the isolate's loop (pytest-asyncio's per-test loops, asyncio.run in a
sync handler) and closing it leaves the isolate's loop alone; cloudflare:workers' withEnv;
native extensions only from read-only places, in workerd's words."""

import json

from conftest import REPO, pyworkerd_test, write_worker


def test_pytest_example_passes_under_pyworkerd_test():
    output = pyworkerd_test(REPO / "examples" / "pytest" / "config.capnp")
    assert "3 passed" in output, output
    assert "[ PASS ] main (" in output, output


def test_a_failing_pytest_test_fails_the_run(tmp_path):
    config = write_worker(tmp_path / "w", {
        "worker.py": """
            import os, pytest
            from workers import WorkerEntrypoint

            class Default(WorkerEntrypoint):
                async def test(self):
                    here = os.path.join(os.path.dirname(__file__), "tests")
                    assert pytest.main([here, "-q", "-p", "no:cacheprovider"]) == 0
            """,
        "tests/test_it.py": """
            import asyncio, pytest

            @pytest.mark.asyncio
            async def test_sleeps_then_fails():
                await asyncio.sleep(0.01)
                assert 1 + 1 == 3
            """}, date="2025-09-01")
    output = pyworkerd_test(config)
    assert "test_sleeps_then_fails FAILED" in output or "1 failed" in output, output
    assert "[ FAIL ] main (" in output, output


def test_pytest_is_not_importable_under_serve(serve):
    server = serve({"worker.py": """
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                try:
                    import pytest
                except ModuleNotFoundError as e:
                    return Response(str(e))
                return Response("imported")
        """})
    status, _, body = server.get("/")
    assert status == 200
    assert body.decode().startswith("No module named 'pytest': pytest is installed"), body


def test_declared_distributions_are_visible_to_importlib_metadata(serve):
    server = serve({"worker.py": """
        import importlib.metadata as md
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                try:
                    md.version("flask")
                    flask = "visible"
                except md.PackageNotFoundError:
                    flask = "hidden"
                return Response(f"{md.version('numpy') != ''} {flask}")
        """}, bindings='(name = "requirements", json = %s)' % json.dumps(json.dumps(["numpy"])))
    status, _, body = server.get("/")
    assert (status, body) == (200, b"True hidden")


def test_a_loop_made_in_a_handler_runs_on_the_isolates_loop(serve):
    server = serve({"worker.py": """
        import asyncio
        from urllib.parse import urlparse
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                path = urlparse(request.url).path
                async def work(key):
                    await asyncio.sleep(0.01)   # a timer of the isolate's loop
                    return key.upper()
                if path == "/sync":
                    loop = asyncio.new_event_loop()
                    value = loop.run_until_complete(work("a"))
                    loop.close()
                    again = asyncio.run(work("a"))
                    return Response(f"{value} {again} {loop.is_closed()}")
                return self.later()

            async def later(self):
                # The isolate's loop was not closed by the handler's loop.close().
                old = asyncio.get_event_loop_policy().get_event_loop()
                old.close()
                await asyncio.sleep(0.01)
                return Response("still running")
        """})
    status, _, body = server.get("/sync")
    assert (status, body) == (200, b"A A True"), server.log()
    for _ in range(2):
        status, _, body = server.get("/async")
        assert (status, body) == (200, b"still running"), server.log()


def test_with_env_replaces_env_for_a_call_and_its_coroutine(serve):
    server = serve({"worker.py": """
        from workers import WorkerEntrypoint, Response, import_from_javascript

        workers = import_from_javascript("cloudflare:workers")

        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                sync = workers.withEnv({"WHO": "sync"}, lambda: workers.env.WHO)

                async def later():
                    return workers.env.WHO

                awaited = await workers.withEnv({"WHO": "async"}, later)
                return Response(f"{sync} {awaited} {workers.env.WHO}")
        """}, bindings='(name = "WHO", text = "config")')
    status, _, body = server.get("/")
    assert (status, body) == (200, b"sync async config")


def test_an_extension_written_at_run_time_is_refused(serve):
    server = serve({"worker.py": """
        import sys, tempfile, os
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                d = tempfile.mkdtemp()
                with open(os.path.join(d, "written.so"), "wb") as f:
                    f.write(b"\\x7fELF not really")
                sys.path.insert(0, d)
                try:
                    import written
                except ImportError as e:
                    return Response(str(e))
                finally:
                    sys.path.remove(d)
                return Response("loaded")
        """})
    status, _, body = server.get("/")
    assert status == 200
    assert body.decode().startswith("Can only load shared libraries from read only file systems"), body


def test_packaged_extensions_still_load(serve):
    server = serve({"worker.py": """
        import numpy, _json
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response(str(int(numpy.arange(4).sum())))
        """}, bindings='(name = "requirements", json = %s)' % json.dumps(json.dumps(["numpy"])))
    status, _, body = server.get("/")
    assert (status, body) == (200, b"6")
