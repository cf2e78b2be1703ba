"""--watch: a change to a worker's module or to the config rebuilds the template in the
background and swaps it in; in-flight requests finish on the old version; a broken change
is logged and the previous version keeps serving."""

import shutil
import threading
import time

from conftest import worker_config

VERSION = '''
import asyncio
from workers import WorkerEntrypoint, Response

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/slow"):
            await asyncio.sleep(1.5)
        return Response("{version} " + self.env.GREETING)
'''


def write(directory, version, greeting="hello", source=None):
    (directory / "worker.py").write_text(source if source is not None else VERSION.replace("{version}", version))
    config = directory / "config.capnp"
    config.write_text(worker_config(["worker.py"], bindings=f'(name = "GREETING", text = "{greeting}")'))
    return config


def body(server, path="/"):
    status, _, data = server.get(path)
    assert status == 200, data
    return data.decode()


def wait_body(server, expected, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if body(server) == expected:
            return
        time.sleep(0.05)
    raise AssertionError(f"never answered {expected!r}:\n{server.log()}")


def test_watch_swaps_in_a_changed_module_and_a_changed_config(serve, tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    server = serve(write(d, "v1"), "--watch")
    assert body(server) == "v1 hello"
    time.sleep(0.2)
    write(d, "v2")
    wait_body(server, "v2 hello")
    write(d, "v2", greeting="bonjour")
    wait_body(server, "v2 bonjour")
    server.wait_log("--watch: reloaded")


def test_in_flight_requests_finish_on_the_old_version(serve, tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    server = serve(write(d, "old"), "--watch")
    result = {}
    slow = threading.Thread(target=lambda: result.setdefault("body", body(server, "/slow")))
    slow.start()
    time.sleep(0.3)
    write(d, "new")
    wait_body(server, "new hello")
    slow.join(10)
    assert result["body"] == "old hello"


def test_a_broken_change_keeps_the_previous_version_serving(serve, tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    server = serve(write(d, "good"), "--watch")
    time.sleep(0.2)
    write(d, "x", source="from workers import WorkerEntrypoint\nraise ValueError('half-written worker')\n")
    server.wait_log("the new version failed to load; still serving the previous version")
    assert "ValueError: half-written worker" in server.log()
    assert body(server) == "good hello"
    (d / "config.capnp").write_text("this is not capnp")
    server.wait_log("--watch: the config has errors")
    assert body(server) == "good hello"
    write(d, "fixed")
    wait_body(server, "fixed hello")


DEEP_MAIN = '''
from workers import WorkerEntrypoint, Response
from {package} import greeting

class Default(WorkerEntrypoint):
    def fetch(self, request):
        return Response(greeting.TEXT)
'''


def write_deep(directory, parts, text):
    """worker.py importing <parts...>/greeting.py (a module len(parts) levels down)."""
    module_dir = directory.joinpath(*parts)
    module_dir.mkdir(parents=True, exist_ok=True)
    (module_dir / "greeting.py").write_text(f"TEXT = {text!r}\n")
    (directory / "worker.py").write_text(DEEP_MAIN.replace("{package}", ".".join(parts)))
    config = directory / "config.capnp"
    config.write_text(worker_config(["worker.py", "/".join(parts) + "/greeting.py"]))
    return config


def test_a_module_deep_in_the_tree_and_a_new_directory_are_watched(serve, tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    server = serve(write_deep(d, ["pkg", "sub", "deeper"], "v1"), "--watch")
    assert body(server) == "v1"
    time.sleep(0.2)
    # only the module 3 levels down changes
    (d / "pkg" / "sub" / "deeper" / "greeting.py").write_text("TEXT = 'v2'\n")
    wait_body(server, "v2")
    # a directory tree made after the start is watched too
    write_deep(d, ["pkg", "sub", "deeper", "newer", "newest"], "n1")
    wait_body(server, "n1")
    time.sleep(0.3)
    (d / "pkg" / "sub" / "deeper" / "newer" / "newest" / "greeting.py").write_text("TEXT = 'n2'\n")
    wait_body(server, "n2")
    # a tree deleted and made again under the same names (a checkout) is watched anew
    shutil.rmtree(d / "pkg" / "sub")
    write_deep(d, ["pkg", "sub", "deeper", "newer", "newest"], "r1")
    wait_body(server, "r1")
    time.sleep(0.3)
    (d / "pkg" / "sub" / "deeper" / "newer" / "newest" / "greeting.py").write_text("TEXT = 'r2'\n")
    wait_body(server, "r2")


LOGGING = '''
from workers import WorkerEntrypoint, Response

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        print("handling", request.url, flush=True)
        return Response("{version}")
'''


def test_a_log_file_inside_the_config_directory_is_no_change(serve, tmp_path):
    # the server's own log (stdout and stderr) is written inside the watched directory: each
    # line used to count as a change, each reload logged a line, and it reloaded endlessly
    (tmp_path / "worker.py").write_text(LOGGING.replace("{version}", "v1"))
    (tmp_path / "notes.txt").write_text("not an input\n")
    config = tmp_path / "config.capnp"
    config.write_text(worker_config(["worker.py"]))
    server = serve(config, "--watch")
    assert server.log_path.parent == tmp_path       # the log is inside the config's directory
    for _ in range(10):
        assert body(server) == "v1"
    (tmp_path / "notes.txt").write_text("still not an input\n")
    time.sleep(1.5)
    log = server.log()
    assert "handling" in log, log                   # the requests did write to the log
    assert "files changed" not in log, log
    # a module edit still reloads, once
    (tmp_path / "worker.py").write_text(LOGGING.replace("{version}", "v2"))
    wait_body(server, "v2")
    for _ in range(5):
        assert body(server) == "v2"
    time.sleep(1.5)
    assert server.log().count("files changed") == 1, server.log()


def test_an_embedded_data_file_is_an_input(serve, tmp_path):
    (tmp_path / "worker.py").write_text(
        "from workers import WorkerEntrypoint, Response\n\n"
        "class Default(WorkerEntrypoint):\n"
        "    async def fetch(self, request):\n"
        "        return Response(self.env.GREETING)\n")
    (tmp_path / "greeting.txt").write_text("hello")
    config = tmp_path / "config.capnp"
    config.write_text(worker_config(["worker.py"], bindings='(name = "GREETING", text = embed "greeting.txt")'))
    server = serve(config, "--watch")
    assert body(server) == "hello"
    time.sleep(0.2)
    (tmp_path / "greeting.txt").write_text("bonjour")
    wait_body(server, "bonjour")
