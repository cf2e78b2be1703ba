"""The escape suite: from inside a worker, try every way out of the sandbox we could think
of; each must be refused with the documented exception while the server stays healthy.
Add a probe here whenever a new hole is thought of.

One server serves the whole module (two isolates); every probe is a GET /probe/<name> that
answers "<ExceptionType>: <message>" or "OK: <result>".
"""

import os
import signal
import threading
import time

import pytest

from conftest import REPO, Server, assert_no_sanitizer_report, write_worker

PROBE_WORKER = r'''
import _socket, asyncio, os, signal, socket, sys, threading
from urllib.parse import parse_qs, urlsplit
from workers import WorkerEntrypoint, Response

HERE = os.path.dirname(os.path.abspath(__file__))


def libc():
    import ctypes
    return ctypes.CDLL("libc.so.6", use_errno=True)


def fork_exec():
    import _posixsubprocess
    r, w = os.pipe()
    return _posixsubprocess.fork_exec(
        [b"/bin/true"], [b"/bin/true"], True, (w,), None, None, -1, -1, -1, -1, -1, -1,
        r, w, False, False, -1, None, None, None, -1, None, True)


def sqlite_write(path):
    import sqlite3
    db = sqlite3.connect(path)
    db.execute("create table t (x)")
    db.commit()
    return "created"


def write_tmp():
    with open("/tmp/probe.txt", "w") as f:
        f.write("hello")
    with open("/tmp/probe.txt") as f:
        return f.read()


PROBES = {
    "read_passwd": lambda arg: open("/etc/passwd").read(),
    "read_config": lambda arg: open(arg).read(),
    "read_config_bytes_path": lambda arg: open(arg.encode(), "rb").read(),
    "read_relative_escape": lambda arg: open(HERE + "/../../../../etc/passwd").read(),
    "write_outside_tmp": lambda arg: open("/usr/lib/python3.11/evil.py", "w"),
    "write_own_module_dir": lambda arg: open(os.path.join(HERE, "evil.py"), "w"),
    "os_open_write": lambda arg: os.open("/etc/evil", os.O_WRONLY | os.O_CREAT),
    "mkdir_outside_tmp": lambda arg: os.mkdir("/evil"),
    "list_root": lambda arg: os.listdir("/"),
    "list_cwd": lambda arg: os.listdir(),
    # the C socket type itself: socket.socket is pyworkerd's HostSocket, whose TCP
    # connections the host makes (tests/e2e/test_sockets.py)
    "tcp_socket": lambda arg: _socket.socket(socket.AF_INET, socket.SOCK_STREAM),
    "udp_socket": lambda arg: _socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
    "unix_socket": lambda arg: _socket.socket(socket.AF_UNIX, socket.SOCK_STREAM),
    "host_socket_udp": lambda arg: socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
    "connect_host_port": lambda arg: socket.create_connection(("127.0.0.1", int(arg)), 1),
    "thread": lambda arg: threading.Thread(target=print).start(),
    "fork": lambda arg: os.fork(),
    "exec": lambda arg: os.execv("/bin/sh", ["sh", "-c", "true"]),
    "subprocess": lambda arg: __import__("subprocess").run(["id"]),
    "os_system": lambda arg: os.system("id"),
    "ctypes_libc": lambda arg: libc(),
    "ctypes_raw_syscall": lambda arg: libc().syscall(39),
    "kill_host": lambda arg: os.kill(int(arg), signal.SIGKILL),
    "kill_parent": lambda arg: os.kill(os.getppid(), signal.SIGKILL),
    "kill_all": lambda arg: os.kill(-1, signal.SIGKILL),
    "killpg": lambda arg: os.killpg(0, signal.SIGKILL),
    "ptrace": lambda arg: libc().ptrace(16, int(arg), 0, 0),
    "proc_1_environ": lambda arg: open("/proc/1/environ").read(),
    "proc_self_environ": lambda arg: open("/proc/self/environ").read(),
    "host_environ": lambda arg: sorted(os.environ),
    "raise_nofile": lambda arg: __import__("resource").setrlimit(
        __import__("resource").RLIMIT_NOFILE, (1 << 20, 1 << 20)),
    "raise_as": lambda arg: __import__("resource").setrlimit(
        __import__("resource").RLIMIT_AS, (-1, -1)),
    "unshare": lambda arg: libc().unshare(0x10000000),
    "setns": lambda arg: libc().setns(0, 0),
    "mount": lambda arg: libc().mount(b"none", b"/tmp", b"tmpfs", 0, None),
    # past the audit hook: the kernel's layers answer
    "kernel_fork_exec": lambda arg: fork_exec(),
    "kernel_sqlite_write_module_dir": lambda arg: sqlite_write(os.path.join(HERE, "evil.db")),
    "kernel_sqlite_write_root": lambda arg: sqlite_write("/evil.db"),
    "kernel_sqlite_read_passwd": lambda arg: sqlite_write("/etc/passwd"),
    # what must keep working
    "tmp_read_write": lambda arg: write_tmp(),
    "kill_self_0": lambda arg: os.kill(os.getpid(), 0),
    "import_stdlib": lambda arg: __import__("decimal").Decimal("1.5") * 2,
    "read_own_module": lambda arg: len(open(__file__).read()) > 0,
    "hostname": lambda arg: socket.gethostname(),
    "numpy": lambda arg: int(__import__("numpy").arange(4).dot(__import__("numpy").arange(4))),
}


def run(name, arg):
    try:
        result = PROBES[name](arg)
    except BaseException as exc:
        return f"{type(exc).__name__}: {exc}"
    return f"OK: {result!r}"


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlsplit(request.url)
        arg = parse_qs(url.query).get("arg", [""])[0]
        parts = url.path.split("/")
        if parts[1] == "probe":
            return Response(run(parts[2], arg))
        if parts[1] == "tmp-hold":
            with open("/tmp/secret.txt", "w") as f:
                f.write("isolate secret")
            await asyncio.sleep(1.5)
            return Response(str(os.getpid()))
        if parts[1] == "tmp-peek":
            return Response(str(os.getpid()) + " " + run("read_secret", ""))
        return Response("healthy")


PROBES["read_secret"] = lambda arg: open("/tmp/secret.txt").read()
'''

SECRET = "pyworkerd-test-secret-5d1e"
HAVE_NUMPY = os.path.isdir("/usr/lib/python3/dist-packages/numpy")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("escape")
    config = write_worker(tmp / "w", {"worker.py": PROBE_WORKER},
                          bindings='(name = "requirements", json = "[\\"numpy\\"]")'
                          if HAVE_NUMPY else "")
    os.environ["PYWORKERD_TEST_SECRET"] = SECRET
    try:
        srv = Server(config, ("--isolates", "2"), tmp=tmp)
    finally:
        del os.environ["PYWORKERD_TEST_SECRET"]
    srv.config = config
    yield srv
    srv.stop(signal.SIGKILL)
    assert_no_sanitizer_report(srv.log())


def probe(server, name, arg=""):
    status, _, body = server.get(f"/probe/{name}?arg={arg}")
    assert status == 200, body
    text = body.decode()
    assert server.get("/")[2] == b"healthy", f"server unhealthy after {name}: {server.log()}"
    return text


FS_REFUSED = "PermissionError: [Errno 13] the file system is not available to workers"


@pytest.mark.parametrize("name", ["read_passwd", "read_relative_escape", "write_outside_tmp",
                                  "write_own_module_dir", "os_open_write", "mkdir_outside_tmp",
                                  "list_root", "list_cwd", "proc_1_environ", "proc_self_environ"])
def test_file_system_outside_the_worker_is_refused(server, name):
    text = probe(server, name)
    assert text.startswith(FS_REFUSED), text
    assert "bindings" in text and "fetch()" in text


def test_reading_the_config_file_is_refused(server):
    # this config lives under the host's /tmp, which the isolate's private /tmp hides
    for name in ("read_config", "read_config_bytes_path"):
        text = probe(server, name, str(server.config))
        assert text.startswith("FileNotFoundError"), text
    # a config anywhere else is refused outright
    text = probe(server, "read_config", str(REPO / "examples" / "hello" / "config.capnp"))
    assert text.startswith("FileNotFoundError" if str(REPO).startswith("/tmp/") else FS_REFUSED), text


@pytest.mark.parametrize("name", ["tcp_socket", "udp_socket", "unix_socket"])
def test_sockets_are_refused_pointing_to_fetch(server, name):
    text = probe(server, name)
    assert text.startswith("PermissionError: [Errno 13] network sockets are not available"), text
    assert "fetch()" in text


def test_host_socket_refuses_udp_naming_what_works(server):
    text = probe(server, "host_socket_udp")
    assert text.startswith("PermissionError: [Errno 1] UDP sockets are not available"), text


def test_connecting_to_the_hosts_own_port_is_refused(server):
    text = probe(server, "connect_host_port", str(server.port))
    assert text.startswith("PermissionError"), text


def test_starting_a_thread_is_refused_as_in_pyodide(server):
    assert probe(server, "thread") == "RuntimeError: can't start new thread"


@pytest.mark.parametrize("name", ["fork", "exec", "subprocess", "os_system"])
def test_processes_are_refused(server, name):
    text = probe(server, name)
    assert text.startswith("PermissionError: [Errno 13] workers cannot start processes"), text


@pytest.mark.parametrize("name", ["ctypes_libc", "ctypes_raw_syscall", "ptrace", "unshare",
                                  "setns", "mount"])
def test_ctypes_is_refused(server, name):
    text = probe(server, name, "1")
    assert text.startswith("PermissionError: [Errno 13]"), text
    assert "ctypes" in text


@pytest.mark.parametrize("name", ["kill_host", "kill_parent", "kill_all", "killpg"])
def test_signals_to_other_processes_are_refused(server, name):
    text = probe(server, name, str(server.proc.pid))
    assert text.startswith("PermissionError"), text
    assert server.proc.poll() is None


def test_the_host_environment_is_not_visible(server):
    text = probe(server, "host_environ")
    assert SECRET not in text and "PYWORKERD_TEST_SECRET" not in text
    assert "PATH" not in text.replace("'", " ").split()


@pytest.mark.parametrize("name", ["raise_nofile", "raise_as"])
def test_raising_rlimits_is_refused(server, name):
    text = probe(server, name)
    assert text.startswith("PermissionError"), text


def test_kernel_refuses_process_creation_past_the_audit_hook(server):
    text = probe(server, "kernel_fork_exec")
    assert text.startswith("PermissionError: [Errno 1] Operation not permitted"), text


@pytest.mark.parametrize("name", ["kernel_sqlite_write_module_dir", "kernel_sqlite_write_root",
                                  "kernel_sqlite_read_passwd"])
def test_kernel_refuses_files_past_the_audit_hook(server, name):
    text = probe(server, name)
    assert text.startswith("OperationalError: unable to open database file"), text


@pytest.mark.parametrize("name,expected", [
    ("tmp_read_write", "OK: 'hello'"),
    ("kill_self_0", "OK: None"),
    ("import_stdlib", "OK: Decimal('3.0')"),
    ("read_own_module", "OK: True"),
    ("hostname", "OK: 'pyworkerd'"),
])
def test_what_a_worker_needs_still_works(server, name, expected):
    assert probe(server, name) == expected


@pytest.mark.skipif(not HAVE_NUMPY, reason="Debian's python3-numpy is not installed")
def test_an_extension_module_with_shared_libraries_loads_in_an_isolate(server):
    # numpy's BLAS is reached through /etc/alternatives
    assert probe(server, "numpy") == "OK: 14"


def test_another_isolates_tmp_is_not_visible(server):
    held = {}

    def hold():
        held["value"] = server.get("/tmp-hold")

    t = threading.Thread(target=hold)
    t.start()
    time.sleep(0.4)
    status, _, body = server.get("/tmp-peek")
    t.join(10)
    holder_pid = held["value"][2].decode()
    peek_pid, result = body.decode().split(" ", 1)
    assert peek_pid != holder_pid, "the two requests must run on different isolates"
    assert result.startswith("FileNotFoundError"), result
