"""Outbound fetch() over TLS and HTTP/2: an nginx on 127.0.0.1 with a certificate from a CA
made by the test. Verification is always on; which CAs are trusted follows the worker's
network service's tlsOptions as in workerd (trustedCertificates, trustBrowserCas, minVersion)."""

import json
import signal
import socket
import subprocess
import textwrap
import time
from urllib.parse import urlencode

import pytest

from conftest import Server, free_port, make_certificates, run_pyworkerd

NGINX = "/usr/sbin/nginx"

CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w), (name = "internet", network = {network})],
  sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
);
"""

WORKER = '''
from urllib.parse import urlparse, parse_qs
from workers import WorkerEntrypoint, Response, fetch

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        target = parse_qs(urlparse(request.url).query)["url"][0]
        try:
            r = await fetch(target)
            return Response.json({"status": r.status, "text": await r.text()})
        except Exception as e:
            return Response.json({"error": type(e).__name__, "message": str(e)}, status=502)
'''


def nginx_config(d, port, tls12_port):
    temp = " ".join(f"{n}_temp_path {d}/{n};" for n in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return textwrap.dedent(f"""\
        daemon off;
        master_process off;
        pid {d}/nginx.pid;
        error_log {d}/error.log warn;
        events {{ worker_connections 64; }}
        http {{
            access_log off;
            {temp}
            ssl_certificate {d}/server.pem;
            ssl_certificate_key {d}/server.key;
            default_type text/plain;
            server {{
                listen 127.0.0.1:{port} ssl http2;
                location / {{ return 200 "$server_protocol"; }}
            }}
            server {{
                listen 127.0.0.1:{tls12_port} ssl;
                ssl_protocols TLSv1.2;
                location / {{ return 200 "$ssl_protocol"; }}
            }}
        }}
        """)


def wait_listening(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"nginx exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise AssertionError("nginx did not listen")


@pytest.fixture(scope="module")
def tls_origin(tmp_path_factory):
    """(https URL of an HTTP/2 server, https URL of a TLS-1.2-only server, the CA's PEM)."""
    d = tmp_path_factory.mktemp("tls")
    make_certificates(d)
    port, tls12_port = free_port(), free_port()
    (d / "nginx.conf").write_text(nginx_config(d, port, tls12_port))
    proc = subprocess.Popen([NGINX, "-c", str(d / "nginx.conf"), "-p", str(d)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
        wait_listening(tls12_port, proc)
        yield f"https://127.0.0.1:{port}/", f"https://127.0.0.1:{tls12_port}/", d / "ca.pem"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


@pytest.fixture
def fetcher(tmp_path, tls_origin):
    servers = []

    def start(network):
        d = tmp_path / "w"
        d.mkdir(exist_ok=True)
        (d / "worker.py").write_text(textwrap.dedent(WORKER))
        (d / "ca.pem").write_text(tls_origin[2].read_text())
        (d / "config.capnp").write_text(CONFIG.replace("{network}", network))
        server = Server(d / "config.capnp", tmp=tmp_path)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(signal.SIGKILL)


def fetch_via(server, url):
    status, _, body = server.get("/?" + urlencode({"url": url}), timeout=30)
    return status, json.loads(body)


def test_trusted_certificates_allow_a_private_ca_and_http2_is_negotiated(fetcher, tls_origin):
    server = fetcher('(allow = ["local"], tlsOptions = (trustedCertificates = [embed "ca.pem"]))')
    status, result = fetch_via(server, tls_origin[0])
    assert status == 200, result
    assert result == {"status": 200, "text": "HTTP/2.0"}


def test_unknown_ca_is_refused_with_the_system_store(fetcher, tls_origin):
    server = fetcher('(allow = ["local"])')
    status, result = fetch_via(server, tls_origin[0])
    assert status == 502
    assert "certificate" in result["message"].lower(), result


def test_trust_browser_cas_keeps_the_system_store_and_adds_the_listed_ones(fetcher, tls_origin):
    server = fetcher('(allow = ["local"], tlsOptions = (trustBrowserCas = true, '
                     'trustedCertificates = [embed "ca.pem"]))')
    status, result = fetch_via(server, tls_origin[0])
    assert (status, result["text"]) == (200, "HTTP/2.0")


def test_min_version_refuses_an_older_server(fetcher, tls_origin):
    trust = 'trustedCertificates = [embed "ca.pem"]'
    ok = fetcher(f'(allow = ["local"], tlsOptions = ({trust}))')
    assert fetch_via(ok, tls_origin[1]) == (200, {"status": 200, "text": "TLSv1.2"})
    strict = fetcher(f'(allow = ["local"], tlsOptions = ({trust}, minVersion = tls1Dot3))')
    status, result = fetch_via(strict, tls_origin[1])
    assert status == 502 and result["error"], result


def test_client_keypair_is_reported_as_not_supported(tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    (d / "worker.py").write_text(textwrap.dedent(WORKER))
    (d / "config.capnp").write_text(CONFIG.replace(
        "{network}", '(allow = ["local"], tlsOptions = (keypair = (privateKey = "k", certificateChain = "c")))'))
    result = run_pyworkerd("serve", d / "config.capnp")
    assert result.returncode == 1
    assert "not supported by pyworkerd: network.tlsOptions.keypair" in result.stderr
