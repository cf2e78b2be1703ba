"""Shared fixtures for the end-to-end suite: start the real pyworkerd binary on a free
loopback port, talk to it with real HTTP clients, read its log, stop it by PID."""

import http.client
import os
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("PYWORKERD_BIN", str(REPO / "build" / "pyworkerd"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_config(modules, *, date="2024-01-01", flags=("python_workers",), bindings="",
                  service="main") -> str:
    """A config with one Python worker service and one http socket named "http"."""
    mods = ",\n    ".join(f'(name = "{n}", pythonModule = embed "{n}")' if n.endswith(".py")
                          else f'(name = "{n}", text = embed "{n}")' for n in modules)
    flag_list = ", ".join(f'"{f}"' for f in flags)
    return textwrap.dedent(f"""\
        using Workerd = import "/workerd/workerd.capnp";
        const config :Workerd.Config = (
          services = [(name = "{service}", worker = .w)],
          sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "{service}")],
        );
        const w :Workerd.Worker = (
          modules = [
            {mods}
          ],
          compatibilityDate = "{date}",
          compatibilityFlags = [{flag_list}],
          bindings = [{bindings}],
        );
        """)


def write_worker(directory: Path, files: dict, **config_kwargs) -> Path:
    """Writes the given files (name -> source) and a config.capnp loading them, in order."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    config = directory / "config.capnp"
    config.write_text(worker_config(list(files), **config_kwargs))
    return config


def request_on(port, method="GET", path="/", body=None, headers=None, timeout=10.0):
    """One request to 127.0.0.1:port on a fresh connection; returns (status, headers, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.headers, r.read()
    finally:
        c.close()


class Server:
    """One running `pyworkerd serve`, with its log captured to a file."""

    def __init__(self, config: Path, args=(), tmp: Path = None, wait=True, own_group=False):
        self.port = free_port()
        self.log_path = (tmp or config.parent) / f"pyworkerd-{self.port}.log"
        self.log_file = open(self.log_path, "wb")
        # One host loop unless a test is about loops: the suite counts isolates and log lines,
        # and --threads' default depends on the machine's CPUs (test_threads.py covers loops).
        loops = [] if any(str(a).startswith("--threads") for a in args) else ["--threads", "1"]
        cmd = [BIN, "serve", str(config), "-s", f"http=127.0.0.1:{self.port}", *loops, *args]
        # own_group: a process group of its own, as a shell gives a command it runs (a
        # terminal's Ctrl-C is then os.killpg(server.proc.pid, SIGINT))
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=subprocess.STDOUT, cwd=config.parent,
                                     process_group=0 if own_group else None)
        if wait:
            try:
                self.wait_ready()
            except BaseException:
                self.proc.kill()        # a server that never became ready is not left running
                self.proc.wait()
                self.log_file.close()
                raise

    def wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"pyworkerd exited with {self.proc.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"pyworkerd did not listen within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, needle: str, timeout=10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if needle in text:
                return text
            time.sleep(0.02)
        raise AssertionError(f"{needle!r} not in log:\n{self.log()}")

    def conn(self, timeout=10.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method="GET", path="/", body=None, headers=None, timeout=10.0):
        """One request on a fresh connection; returns (status, headers, body bytes)."""
        return request_on(self.port, method, path, body, headers, timeout)

    def get(self, path="/", **kw):
        return self.request("GET", path, **kw)

    def host_pid(self, pid) -> int:
        """The host's pid of a process of this server that a worker knows by its pid inside
        the sandbox's pid namespace (os.getpid() in a worker: the template is pid 1 there)."""
        return host_pid(self.proc.pid, int(pid))

    def stop(self, sig=signal.SIGTERM, timeout=15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        return self.proc.returncode


def _status_field(pid, name):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []


def process_parents() -> dict:
    """Every process of the machine -> its parent, from /proc/*/stat."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def children(pid: int) -> list:
    return [p for p, parent in process_parents().items() if parent == pid]


def descendants(root: int) -> list:
    """Every process below root (its children, theirs, ...)."""
    parents = process_parents()
    found, frontier = [], [root]
    while frontier:
        frontier = [p for p, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def descends_from(pid, ancestor) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        ppid = _status_field(pid, "PPid")
        pid = int(ppid[0]) if ppid else 0
    return False


def host_pid(server_pid: int, inner: int) -> int:
    """Finds the descendant of server_pid whose innermost pid (NSpid's last) is `inner`;
    without a pid namespace (--no-sandbox) that is the pid itself."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        nspid = _status_field(entry, "NSpid")
        if nspid and int(nspid[-1]) == inner and descends_from(int(entry), server_pid):
            return int(entry)
    raise AssertionError(f"no process of server {server_pid} has pid {inner} in its namespace")


@pytest.fixture
def serve(tmp_path):
    """serve(files_or_config, *args, **config_kwargs) -> a running Server, stopped afterwards."""
    servers = []

    def start(files, *args, wait=True, own_group=False, **config_kwargs):
        config = files if isinstance(files, Path) else write_worker(tmp_path / "w", files, **config_kwargs)
        server = Server(config, args, tmp=tmp_path, wait=wait, own_group=own_group)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(signal.SIGKILL)
        assert_no_sanitizer_report(server.log())


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def assert_no_sanitizer_report(log: str) -> None:
    """Under `make asan` the binary reports memory errors in its log: any is a failure."""
    for mark in SANITIZER_MARKS:
        assert mark not in log, f"sanitizer report in the server log:\n{log}"


def run_pyworkerd(*args, cwd=None, timeout=60):
    """Runs pyworkerd to completion (for commands that must fail or print and exit)."""
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def pyworkerd_test(config, timeout=120) -> str:
    """Runs `pyworkerd test CONFIG` in the config's folder; its stderr (the [ TEST ]/[ PASS ]
    lines and the workers' log)."""
    return subprocess.run([BIN, "test", str(config)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, cwd=config.parent).stderr


def assert_test_passed(output: str, entrypoint: str, service="main") -> None:
    """`pyworkerd test` output says entry point `entrypoint` of `service` passed."""
    assert f"[ PASS ] {service}:{entrypoint} (" in output, output


def run_tool(*cmd, cwd):
    """Runs a command-line tool the tests need (openssl, curl), failing loudly."""
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(d):
    """A CA, and a certificate for 127.0.0.1 signed by it (P-256 keys: fast to make)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run_tool("openssl", "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=pyworkerd test CA", cwd=d)
    run_tool("openssl", "req", *ec, "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=127.0.0.1", cwd=d)
    (d / "san.ext").write_text("subjectAltName = IP:127.0.0.1\n")
    run_tool("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext", cwd=d)


# ---- PostgreSQL (--storage): examples/cluster/cluster.py's throwaway cluster ----

def cluster_harness():
    """examples/cluster/cluster.py as a module: Postgres, Node, Nginx, Cluster."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("pyworkerd_cluster", REPO / "examples" / "cluster" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL for the session (initdb in /tmp, 127.0.0.1 on a free port), stopped by PID."""
    pg = cluster_harness().Postgres().start()
    yield pg
    pg.remove()


@pytest.fixture
def pg_url(postgres, request):
    """A database of its own for one test: the URL to give --storage."""
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    postgres.psql(f'DROP DATABASE IF EXISTS "{name}"')
    return postgres.create_database(name)
