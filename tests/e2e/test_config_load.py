"""End-to-end: loading a config never writes next to it. A config that needs rewriting for
capnp 0.9 (bare-string `service = "main"`, no file ID) is evaluated from a private copy whose
relative `embed`s and `import`s still find the user's files: in a subdirectory, a sibling
capnp file, and a file named in a comment or a string is left alone."""

import os
import textwrap

from conftest import Server

WORKER = """\
from workers import WorkerEntrypoint, Response
import greeting


class Default(WorkerEntrypoint):
    def fetch(self, request):
        return Response(greeting.TEXT + " / " + self.env.NOTE)
"""

SHARED = """\
using Workerd = import "/workerd/workerd.capnp";
const note :Text = embed "notes/note.txt";
"""

CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
using Shared = import "shared.capnp";
# a comment naming embed "nowhere.py" is not a path to rewrite
const config :Workerd.Config = (
  services = [(name = "main", worker = (
    modules = [(name = "worker.py", pythonModule = embed "src/worker.py"),
               (name = "greeting.py", pythonModule = embed "src/lib/greeting.py")],
    compatibilityDate = "2024-01-01", compatibilityFlags = ["python_workers"],
    bindings = [(name = "NOTE", text = Shared.note),
                (name = "LITERAL", text = "import \\"x\\" embed \\"y\\"")]))],
  sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
);
"""


def tree_snapshot(root):
    """Every entry under root with its mtime: any file made (even removed again) changes it."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames + ["."]:
            path = os.path.join(dirpath, name)
            out[path] = os.stat(path).st_mtime_ns
    return out


def test_config_needing_a_copy_loads_without_writing_next_to_it(tmp_path):
    conf_dir = tmp_path / "conf"
    (conf_dir / "src" / "lib").mkdir(parents=True)
    (conf_dir / "notes").mkdir()
    (conf_dir / "src" / "worker.py").write_text(WORKER)
    (conf_dir / "src" / "lib" / "greeting.py").write_text('TEXT = "hello from a subdirectory"\n')
    (conf_dir / "notes" / "note.txt").write_text("note via a sibling capnp file")
    (conf_dir / "shared.capnp").write_text(SHARED)
    (conf_dir / "config.capnp").write_text(textwrap.dedent(CONFIG))
    before = tree_snapshot(conf_dir)

    logs = tmp_path / "logs"
    logs.mkdir()
    server = Server(conf_dir / "config.capnp", tmp=logs)
    try:
        status, _, body = server.get("/")
        assert status == 200, server.log()
        assert body == b"hello from a subdirectory / note via a sibling capnp file"
    finally:
        assert server.stop() == 0
    assert tree_snapshot(conf_dir) == before
