"""End-to-end: what the config loader lets through and what it keeps out — large modules and
bindings reach the worker whole (no fixed cap on the worker's spec), embeds stay inside the
config's directory (or an -I directory), relative disk paths stay inside --persist-dir, and a
crashed host's runtime directory (it holds binding values) is removed at the next start."""

import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import BIN, free_port, run_pyworkerd

HEAD = 'using Workerd = import "/workerd/workerd.capnp";\n'

BIG_WORKER = """import os
from workers import WorkerEntrypoint, Response

with open(os.path.join(os.path.dirname(__file__), "blob.bin"), "rb") as f:
    BLOB = f.read()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(f"{len(self.env.BIG)} {len(BLOB)} {self.env.BIG[-3:]}")
"""


def big_config(tmp_path: Path) -> Path:
    (tmp_path / "worker.py").write_text(BIG_WORKER)
    (tmp_path / "big.txt").write_text("x" * (3 * 1024 * 1024 - 3) + "end")
    (tmp_path / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    config = tmp_path / "config.capnp"
    config.write_text(
        HEAD
        + "const config :Workerd.Config = (\n"
        + '  services = [ (name = "main", worker = .w) ],\n'
        + '  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],\n'
        + ");\n"
        + "const w :Workerd.Worker = (\n"
        + '  modules = [ (name = "worker.py", pythonModule = embed "worker.py"),\n'
        + '              (name = "blob.bin", data = embed "blob.bin") ],\n'
        + '  compatibilityDate = "2024-01-01",\n'
        + '  compatibilityFlags = ["python_workers"],\n'
        + '  bindings = [ (name = "BIG", text = embed "big.txt") ],\n'
        + ");\n")
    return config


def test_a_3_mib_binding_and_a_3_mib_data_module_reach_the_worker(serve, tmp_path):
    server = serve(big_config(tmp_path))
    status, _, body = server.get("/", timeout=30)
    assert status == 200, (body, server.log())
    assert body.decode() == f"{3 * 1024 * 1024} {3 * 1024 * 1024} end"
    assert "cannot read the worker spec" not in server.log()
