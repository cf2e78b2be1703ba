"""https sockets, as workerd configures them: `https = (tlsOptions = (keypair = (...)))`.
TLS with the config's certificate, HTTP/2 offered by ALPN (curl --http2 and Python's ssl
check it), HTTP/1.1 over TLS, request.url with the https scheme, and clear config errors."""

import http.client
import socket
import ssl
import subprocess
import textwrap

import pytest

from conftest import Server, make_certificates, run_pyworkerd

CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = (
    modules = [(name = "worker.py", pythonModule = embed "worker.py")],
    compatibilityDate = "2025-09-01", compatibilityFlags = ["python_workers"]))],
  # named "http" only because the test harness overrides that socket's address
  sockets = [(name = "http", address = "127.0.0.1:1", service = "main",
              https = (options = (), tlsOptions = ({tls})))],
);
"""
KEYPAIR = 'keypair = (privateKey = embed "server.key", certificateChain = embed "server.pem")'

WORKER = """
from workers import WorkerEntrypoint, Response

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        body = await request.text()
        return Response(f"{request.method} {request.url} {len(body)}")
"""


@pytest.fixture
def https_worker(tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    make_certificates(d)
    (d / "worker.py").write_text(textwrap.dedent(WORKER))

    def write(tls=KEYPAIR):
        (d / "config.capnp").write_text(CONFIG.replace("{tls}", tls))
        return d / "config.capnp"

    return d, write


@pytest.fixture
def server(https_worker, tmp_path):
    d, write = https_worker
    s = Server(write(), tmp=tmp_path)
    yield s, d
    s.stop()


def test_http1_over_tls_with_the_configured_certificate(server):
    s, d = server
    ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
    c = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=10)
    c.request("GET", "/path?q=1")
    r = c.getresponse()
    assert (r.status, r.read()) == (200, f"GET https://127.0.0.1:{s.port}/path?q=1 0".encode())
    c.close()


def test_alpn_offers_http2_first(server):
    s, d = server
    ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.selected_alpn_protocol() == "h2"


def test_http2_requests_with_bodies(server):
    s, d = server
    url = f"https://127.0.0.1:{s.port}/up"
    out = subprocess.run(["curl", "-sS", "--http2", "--cacert", str(d / "ca.pem"), "-X", "POST",
                          "--data-binary", "x" * 100000, "-w", " %{http_version} %{http_code}", url],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"POST {url} 100000 2 200"


def test_an_untrusted_client_sees_the_certificate_error_and_the_server_goes_on(server):
    s, d = server
    ctx = ssl.create_default_context()      # the system's CAs: our test CA is not among them
    with pytest.raises(ssl.SSLCertVerificationError):
        c = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=10)
        c.request("GET", "/")
    ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
    c = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=10)
    c.request("GET", "/")
    assert c.getresponse().status == 200


def test_https_without_keypair_is_a_config_error(https_worker):
    d, write = https_worker
    result = run_pyworkerd("serve", write(tls="minVersion = tls1Dot2"))
    assert result.returncode == 1
    assert 'Socket "http" is https but has no tlsOptions.keypair' in result.stderr


def test_a_bad_certificate_is_reported_at_start(https_worker):
    d, write = https_worker
    (d / "server.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    result = run_pyworkerd("serve", write())
    assert result.returncode == 1
    assert 'Socket "http": tlsOptions.keypair.certificateChain:' in result.stderr


def test_client_certificates_are_not_supported(https_worker):
    d, write = https_worker
    result = run_pyworkerd("serve", write(tls=KEYPAIR + ", requireClientCerts = true"))
    assert result.returncode == 1
    assert "not supported by pyworkerd: sockets[\"http\"].https.tlsOptions.requireClientCerts" in result.stderr


def test_https_example(tmp_path):
    """examples/https: make-cert.sh, then the same worker on an https and an http socket."""
    import shutil
    from conftest import REPO, free_port
    d = tmp_path / "https"
    shutil.copytree(REPO / "examples" / "https", d, ignore=shutil.ignore_patterns("*.pem"))
    subprocess.run([str(d / "make-cert.sh")], check=True, capture_output=True, timeout=60)
    https_port = free_port()
    s = Server(d / "config.capnp", ["-s", f"https=127.0.0.1:{https_port}"], tmp=tmp_path)
    try:
        ctx = ssl.create_default_context(cafile=str(d / "cert.pem"))
        c = http.client.HTTPSConnection("localhost", https_port, context=ctx, timeout=10)
        c.request("GET", "/")
        assert c.getresponse().read() == b"Hello over https!\n"
        assert s.get("/")[2] == b"Hello over http!\n"
    finally:
        assert s.stop() == 0
