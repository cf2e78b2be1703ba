"""`pyworkerd init NAME`: a minimal Python Workers project, as `pywrangler init` lays it out.

Run by the wrangler translator (a child of the host process). Writes NAME/pyproject.toml,
NAME/wrangler.toml, NAME/src/entry.py (a fetch handler, and a test handler that
`pyworkerd test` runs; Cloudflare ignores it) and NAME/.gitignore; never overwrites: an
existing NAME is an error. `pyworkerd dev` in NAME serves it; pywrangler deploys it as is.
"""
from __future__ import annotations

import datetime
import os
import re

PYPROJECT = """[project]
name = "{name}"
version = "0.1.0"
description = "A Python Worker"
requires-python = ">=3.11"
dependencies = []

[dependency-groups]
dev = ["workers-py", "workers-runtime-sdk"]
"""

WRANGLER = """name = "{name}"
main = "src/entry.py"
compatibility_date = "{date}"
compatibility_flags = ["python_workers"]

[vars]
GREETING = "Hello"
"""

ENTRY = '''from workers import Request, Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(f"{self.env.GREETING} from {name}!")

    async def test(self, ctrl):
        # `pyworkerd test wrangler.toml` runs this; Cloudflare never calls it.
        response = await self.fetch(Request("http://localhost/"))
        assert await response.text() == "Hello from {name}!"
'''

GITIGNORE = ".wrangler/\n.venv/\npython_modules/\n__pycache__/\n.dev.vars*\n.env*\n"


def init(name: str) -> str:
    """Writes the project; returns what to tell the person."""
    base = os.path.basename(os.path.normpath(name))
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", base):
        raise ValueError(f"{name}: a project name is letters, digits, '-' and '_'")
    if os.path.exists(name):
        raise ValueError(f"{name}: already exists")
    os.makedirs(os.path.join(name, "src"))
    date = datetime.date.today().isoformat()
    files = {"pyproject.toml": PYPROJECT.format(name=base),
             "wrangler.toml": WRANGLER.format(name=base, date=date),
             "src/entry.py": ENTRY.replace("{name}", base),
             ".gitignore": GITIGNORE}
    for rel, text in files.items():
        with open(os.path.join(name, rel), "w", encoding="utf-8") as f:
            f.write(text)
    return (f"Created {name}/ (pyproject.toml, wrangler.toml, src/entry.py).\n"
            f"  cd {name} && pyworkerd dev      # http://localhost:8787/\n"
            f"  pyworkerd test wrangler.toml    # runs Default.test\n")
