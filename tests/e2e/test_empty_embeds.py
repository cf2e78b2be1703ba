"""Empty embedded files (an empty `__init__.py` is common): Debian's capnp 0.9.2 crashes
embedding an empty file into a Text field, so pyworkerd's copy of the config embeds "" in
its place (issue 15); a crash of capnp anywhere else names the config file."""

from conftest import Server, run_pyworkerd, write_worker

WORKER = """
from workers import Response, WorkerEntrypoint
import pkg

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("package " + pkg.__name__)
"""


def test_an_empty_init_module_loads(tmp_path):
    config = write_worker(tmp_path / "w", {"worker.py": WORKER, "pkg/__init__.py": ""})
    assert (tmp_path / "w" / "pkg" / "__init__.py").stat().st_size == 0
    server = Server(config, [], tmp=tmp_path)
    try:
        status, _, body = server.get("/")
        assert (status, body) == (200, b"package pkg")
    finally:
        server.stop()


def test_an_empty_embed_in_a_config_without_an_id(tmp_path):
    """The copy gets both fixes: "" for the empty file and the file ID capnp asks for."""
    config = write_worker(tmp_path / "w", {"worker.py": WORKER, "pkg/__init__.py": ""})
    text = config.read_text()
    assert "@0x" not in text
    server = Server(config, [], tmp=tmp_path)
    try:
        assert server.get("/")[2] == b"package pkg"
    finally:
        server.stop()


def test_an_empty_text_binding_embed(tmp_path):
    d = tmp_path / "w"
    config = write_worker(d, {"worker.py": """
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(repr(self.env.NOTE))
"""}, bindings='(name = "NOTE", text = embed "note.txt")')
    (d / "note.txt").write_text("")
    server = Server(config, [], tmp=tmp_path)
    try:
        assert server.get("/")[2] == b"''"
    finally:
        server.stop()


def test_a_capnp_crash_names_the_config(tmp_path):
    """An empty embed inside an imported file (not rewritten) still crashes capnp: the error
    names the config and says what happened, not only capnp's "Received signal #11"."""
    d = tmp_path / "w"
    config = write_worker(d, {"worker.py": WORKER.replace("import pkg\n", "")},
                          bindings='(name = "NOTE", text = note.text)')
    (d / "empty.txt").write_text("")
    (d / "note.capnp").write_text('@0xd3c2b1a0f9e8d7c6;\nconst text :Text = embed "empty.txt";\n')
    config.write_text('using note = import "note.capnp";\n' + config.read_text())
    r = run_pyworkerd("serve", config, timeout=60)
    assert r.returncode == 1
    assert str(config) in r.stderr or "config.capnp" in r.stderr
    assert "crashed" in r.stderr
