"""TCP and TLS sockets through the host (issue 16 items 5-6): the stdlib's socket, ssl,
selectors and asyncio, and the pure-Python drivers redis, pg8000 (through a hyperdrive
binding), requests and urllib.request, against real servers this test starts: a TCP echo
server, TLS servers with a trusted and an untrusted certificate, redis-server, PostgreSQL and
an HTTP server. Connections follow the worker's globalOutbound rules as fetch() does."""

import glob
import http.server
import json
import os
import pwd
import shutil
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import Server, free_port, make_certificates, run_tool

WORKER = Path(__file__).parent / "sockets" / "worker.py"

CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .w),
    (name = "internet", network = (allow = [{allow}],
                                   tlsOptions = (trustedCertificates = [embed "ca.pem"]))),
    (name = "pg", external = (address = "127.0.0.1:{pg_port}", tcp = ())),
  ],
  sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "DB", hyperdrive = (designator = (name = "pg"), database = "postgres",
                                          user = "postgres", password = "", scheme = "postgresql"))],
);
"""


# ---- servers the worker connects to ----

class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)


class _Silent(socketserver.BaseRequestHandler):
    def handle(self):
        time.sleep(2)


class _LineEcho(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"tls echo: " + self.rfile.readline())


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Threaded(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _TlsServer(_Threaded):
    def __init__(self, addr, handler, cert, key):
        super().__init__(addr, handler)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)

    def get_request(self):
        sock, addr = super().get_request()
        return self.context.wrap_socket(sock, server_side=True), addr

    def handle_error(self, request, client_address):
        pass        # the untrusted server's handshake fails: expected


def _serve(server):
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    make_certificates(d)
    run_tool("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", "bad.key", "-out", "bad.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", cwd=d)
    return d


@pytest.fixture(scope="module")
def peers(certs):
    servers = {
        "echo": _serve(_Threaded(("127.0.0.1", 0), _Echo)),
        "silent": _serve(_Threaded(("127.0.0.1", 0), _Silent)),
        "tls": _serve(_TlsServer(("127.0.0.1", 0), _LineEcho, certs / "server.pem", certs / "server.key")),
        "bad_tls": _serve(_TlsServer(("127.0.0.1", 0), _LineEcho, certs / "bad.pem", certs / "bad.key")),
        "http": _serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)),
    }
    yield {name: s.server_address[1] for name, s in servers.items()}
    for s in servers.values():
        s.shutdown()
        s.server_close()


def _wait_port(port, proc, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}")


def _stop(proc):
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory):
    port = free_port()
    d = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(d)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port, proc, "redis-server")
    yield port
    _stop(proc)


def _postgres_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found, f"{name} not found: scripts/install-deps installs postgresql"
    return found[-1]


@pytest.fixture(scope="module")
def pg_port():
    """A throwaway PostgreSQL cluster on a loopback port (as the postgres user when root: its
    folder is outside pytest's, which only root may enter)."""
    port = free_port()
    d = Path(tempfile.mkdtemp(prefix="pyworkerd-pg-"))
    data = d / "data"
    demote = None
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chmod(d, 0o777)
        shutil.chown(d, user.pw_uid, user.pw_gid)

        def demote():
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
    subprocess.run([_postgres_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True, preexec_fn=demote, timeout=120, cwd=d)
    proc = subprocess.Popen([_postgres_bin("postgres"), "-D", str(data), "-h", "127.0.0.1",
                             "-p", str(port), "-k", str(d)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=demote,
                            cwd=d)
    _wait_port(port, proc, "postgres")
    yield port
    _stop(proc)
    shutil.rmtree(d, ignore_errors=True)


def _start(tmp_path, certs, pg_port, allow='"private"'):
    d = tmp_path / "w"
    d.mkdir()
    shutil.copy(WORKER, d / "worker.py")
    shutil.copy(WORKER.parent / "requirements.txt", d / "requirements.txt")
    shutil.copy(certs / "ca.pem", d / "ca.pem")
    (d / "config.capnp").write_text(CONFIG.format(allow=allow, pg_port=pg_port))
    return Server(d / "config.capnp", tmp=tmp_path)


@pytest.fixture
def server(tmp_path, certs, pg_port):
    s = _start(tmp_path, certs, pg_port)
    yield s
    s.stop()


def _get(server, path):
    status, _, body = server.get(path, timeout=30)
    assert status == 200, body.decode(errors="replace")
    return body


# ---- the tests ----

def test_blocking_socket_echoes_through_the_host(server, peers):
    assert _get(server, f"/echo?port={peers['echo']}&data=abc") == b"abc"


def test_large_payload_round_trips_with_backpressure(server, peers):
    body = _get(server, f"/echo?port={peers['echo']}&data=0123456789&times=200000")
    assert body == b"0123456789" * 200000


def test_selectors_on_a_non_blocking_socket(server, peers):
    assert _get(server, f"/select?port={peers['echo']}&data=xyz&times=50000") == b"xyz" * 50000


def test_recv_timeout_raises_socket_timeout(server, peers):
    assert _get(server, f"/timeout?port={peers['silent']}") == b"timed out"


def test_asyncio_open_connection_resolves_names_in_the_host(server, peers):
    assert _get(server, f"/asyncio?port={peers['echo']}&data=async") == b"async"


def test_tls_is_done_by_the_host_and_verifies_the_server(server, peers):
    out = json.loads(_get(server, f"/tls?port={peers['tls']}&data=secret"))
    assert out["echo"] == "tls echo: secret\n"
    assert out["version"].startswith("TLSv1.")
    assert ["IP Address", "127.0.0.1"] in out["san"]


def test_tls_to_an_untrusted_certificate_fails(server, peers):
    status, _, body = server.get(f"/tls?port={peers['bad_tls']}", timeout=30)
    assert status == 500
    assert body.startswith(b"SSLCertVerificationError") and b"certificate verify failed" in body, body


def test_tls_hostname_mismatch_fails(server, peers):
    status, _, body = server.get(f"/tls?port={peers['tls']}&hostname=example.com", timeout=30)
    assert status == 500 and b"certificate verify failed" in body, body


def test_cloudflare_sockets_connect_plain_and_tls(server, peers):
    out = json.loads(_get(server, f"/cf?port={peers['echo']}&tls_port={peers['tls']}&data=streams"))
    assert out == {"remote": f"127.0.0.1:{peers['echo']}", "echo": "streams",
                   "tls": "tls echo: over tls\n", "refused": "JsException"}


def test_tls_handshake_obeys_the_socket_timeout(server, peers):
    assert _get(server, f"/tls_timeout?port={peers['silent']}") == \
        b"timeout: _ssl.c: The handshake operation timed out"


def test_redis_driver_works_unchanged(server, redis_port):
    out = json.loads(_get(server, f"/redis?port={redis_port}"))
    assert out == {"get": "hello from a worker", "counter": 1}


def test_requests_and_urllib_work_unchanged(server, peers):
    assert _get(server, f"/requests?port={peers['http']}") == b"200 hello from /hello"
    assert _get(server, f"/urllib?port={peers['http']}") == b"200 hello from /hello"


def test_pg8000_through_a_hyperdrive_binding(server, pg_port):
    out = json.loads(_get(server, "/postgres"))
    assert out["rows"] == [[42, "postgres"]]
    assert out["dsn"] == f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"


def test_connection_refused_is_a_clear_error(server):
    status, _, body = server.get(f"/connect?port={free_port()}", timeout=30)
    assert status == 500 and body.startswith(b"ConnectionRefusedError"), body


def test_c_driver_error_names_the_pure_python_alternative(server):
    body = _get(server, "/psycopg2")
    assert b"psycopg2 is a C driver" in body and b"Use pg8000" in body, body


def test_udp_unix_and_listening_sockets_are_refused(server):
    for kind, words in (("udp", b"UDP sockets"), ("unix", b"Unix sockets"), ("listen", b"listening")):
        body = _get(server, f"/refused?kind={kind}")
        assert body.startswith(b"PermissionError") and words in body, body


def test_denied_address_is_refused_but_the_hyperdrive_target_is_not(tmp_path, certs, peers, pg_port):
    s = _start(tmp_path, certs, pg_port, allow='"public"')
    try:
        status, _, body = s.get(f"/echo?port={peers['echo']}", timeout=30)
        assert status == 500, body
        assert b"PermissionError" in body and b"not allowed by the worker's globalOutbound" in body, body
        assert json.loads(_get(s, "/postgres"))["rows"] == [[42, "postgres"]]
    finally:
        s.stop()


def test_sockets_close_with_the_isolate_and_nothing_leaks(server, peers):
    for _ in range(30):
        _get(server, f"/echo?port={peers['echo']}&data=x")
    # every socket's host end is closed once its worker closed it: no descriptor piles up
    fds = len(os.listdir(f"/proc/{server.proc.pid}/fd"))
    for _ in range(30):
        _get(server, f"/echo?port={peers['echo']}&data=x")
    assert len(os.listdir(f"/proc/{server.proc.pid}/fd")) <= fds + 2


def test_postgres_example_counts_visits(tmp_path, pg_port):
    """examples/postgres as shipped, its database moved with --external-addr."""
    from conftest import REPO
    d = tmp_path / "postgres"
    shutil.copytree(REPO / "examples" / "postgres", d)
    s = Server(d / "config.capnp", ["--external-addr", f"postgres=127.0.0.1:{pg_port}"], tmp=tmp_path)
    try:
        first = json.loads(_get(s, "/"))
        second = json.loads(_get(s, "/"))
        assert second["visits"] == first["visits"] + 1
        assert first["database"] == "postgres" and first["server"].startswith("PostgreSQL")
    finally:
        s.stop()


def test_sockets_work_on_every_host_loop(tmp_path, certs, pg_port, peers):
    """--threads: a socket belongs to its isolate's loop (the kind is per_loop)."""
    d = tmp_path / "threads"
    d.mkdir()
    shutil.copy(WORKER, d / "worker.py")
    shutil.copy(WORKER.parent / "requirements.txt", d / "requirements.txt")
    shutil.copy(certs / "ca.pem", d / "ca.pem")
    (d / "config.capnp").write_text(CONFIG.format(allow='"private"', pg_port=pg_port))
    s = Server(d / "config.capnp", ["--threads", "3"], tmp=tmp_path)
    try:
        for i in range(12):
            assert _get(s, f"/echo?port={peers['echo']}&data=t{i}") == f"t{i}".encode()
        assert json.loads(_get(s, f"/tls?port={peers['tls']}&data=x"))["echo"] == "tls echo: x\n"
    finally:
        s.stop()
