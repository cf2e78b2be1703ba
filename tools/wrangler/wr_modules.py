"""The worker's modules: `main` first, then every file the upload would carry beside it.

Run by the wrangler translator (a child of the host process). As pywrangler uploads a
project: the files below main's directory, named relative to it (main = "src/entry.py" gives
"entry.py"; src/lib/util.py gives "lib/util.py"), by wrangler's default module rules: `*.py`
Python, `*.txt`, `*.html`, `*.sql` text, `*.bin` data. Hidden directories, __pycache__,
node_modules and python_modules are skipped (vendored packages are found by the runtime in
the project's python_modules/, as for capnp configs).
"""
from __future__ import annotations

import os

KINDS = {".py": "pythonModule", ".txt": "text", ".html": "text", ".sql": "text", ".bin": "data"}
SKIP_DIRS = {"__pycache__", "node_modules", "python_modules"}
MAX_FILES = 2000


class Embed:
    """A file whose contents are a value: JSON gets the contents, capnp `embed "path"`."""

    def __init__(self, path: str, binary: bool = False) -> None:
        self.path = path
        self.binary = binary

    def read(self):
        with open(self.path, "rb") as f:
            data = f.read()
        if self.binary:
            return list(data)
        return data.decode("utf-8", errors="replace")


class ProjectPath(str):
    """An absolute path: loaded as it is, printed relative to the project directory."""


def _walk(root: str):
    for base, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(files):
            yield os.path.join(base, name)


def collect(main_path: str) -> list[dict]:
    """Module entries ({"name", kind: Embed}) for main_path (absolute) and its neighbours."""
    root = os.path.dirname(main_path)
    mods = [{"name": os.path.basename(main_path), "pythonModule": Embed(main_path)}]
    for path in _walk(root):
        if len(mods) >= MAX_FILES:
            break
        kind = KINDS.get(os.path.splitext(path)[1])
        if not kind or os.path.samefile(path, main_path):
            continue
        mods.append({"name": os.path.relpath(path, root), kind: Embed(path, kind == "data")})
    return mods
