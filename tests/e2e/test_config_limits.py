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
    server = serve(big_config(tmp_path), wait=False)
    server.wait_ready(timeout=90)   # capnp's JSON of 6 MiB of bytes: ~5 s of its CPU, far more when loaded
    status, _, body = server.get("/", timeout=30)
    assert status == 200, (body, server.log())
    assert body.decode() == f"{3 * 1024 * 1024} {3 * 1024 * 1024} end"
    assert "cannot read the worker spec" not in server.log()


SECRET_WORKER = """from workers import WorkerEntrypoint, Response


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")
"""


def secret_config(d: Path) -> Path:
    d.mkdir(exist_ok=True)
    (d / "worker.py").write_text(SECRET_WORKER)
    config = d / "config.capnp"
    config.write_text(
        HEAD
        + "const config :Workerd.Config = (\n"
        + '  services = [ (name = "main", worker = .w) ],\n'
        + '  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],\n'
        + ");\n"
        + "const w :Workerd.Worker = (\n"
        + '  modules = [ (name = "worker.py", pythonModule = embed "worker.py") ],\n'
        + '  compatibilityDate = "2024-01-01",\n'
        + '  compatibilityFlags = ["python_workers"],\n'
        + '  bindings = [ (name = "API_KEY", text = "s3cret-value") ],\n'
        + ");\n")
    return config


def runtime_dirs(tmp: Path):
    return sorted(p for p in tmp.iterdir() if p.name.startswith("pyworkerd-") and p.is_dir()
                  and p.name != "pyworkerd-config")


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_crashed_hosts_runtime_directory_is_private_and_removed_at_the_next_start(serve, tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    config = secret_config(tmp_path / "w")
    server = serve(config)
    assert server.get()[2] == b"ok"
    server.proc.kill()          # a host crash: nothing of it cleans up
    server.proc.wait()
    left = runtime_dirs(tmp)
    assert len(left) == 1, left
    assert left[0].name.startswith(f"pyworkerd-{server.proc.pid}-")
    assert left[0].stat().st_mode & 0o777 == 0o700
    secrets = [p for p in left[0].rglob("*") if p.is_file() and b"s3cret-value" in p.read_bytes()]
    assert secrets                  # the spec holds the binding's value ...
    for p in secrets:
        assert p.stat().st_mode & 0o777 == 0o600    # ... readable by this user only
    # other directories that only look like ours are left alone
    alive = tmp / f"pyworkerd-{os.getpid()}-abcdef"      # a live pid
    other = tmp / "pyworkerd-notapid-abcdef"
    public = tmp / f"pyworkerd-{dead_pid()}-ghijkl"     # not private: not made by pyworkerd
    for d in (alive, other, public):
        d.mkdir()
    public.chmod(0o755)
    stale = tmp / f"pyworkerd-{dead_pid()}-mnopqr"      # dead pid, private: a crash's
    stale.mkdir(mode=0o700)
    (stale / "secret").write_text("s3cret-value")
    server2 = serve(config)
    assert server2.get()[2] == b"ok"
    names = {p.name for p in runtime_dirs(tmp)}
    assert left[0].name not in names and stale.name not in names, names
    assert {alive.name, other.name, public.name} <= names, names
    server2.stop()
    names = {p.name for p in runtime_dirs(tmp)}
    assert names == {alive.name, other.name, public.name}, names


def test_a_runtime_directory_whose_lock_is_held_is_kept(serve, tmp_path, monkeypatch):
    # a host in another pid namespace (a container sharing /tmp) looks dead by its pid, but
    # holds the lock on its directory
    import fcntl
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    held = tmp / f"pyworkerd-{dead_pid()}-stuvwx"
    held.mkdir(mode=0o700)
    with open(held / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        server = serve(secret_config(tmp_path / "w"))
        assert server.get()[2] == b"ok"
        assert held.exists()
