"""HTTP/1 request conformance over raw sockets: what the host refuses before a worker sees a
request (smuggling, folding, absolute-form and other targets, header limits), the URL and
headers a worker sees, and that every refusal closes the connection."""

import json
import socket
import ssl
import textwrap
import time

from conftest import Server, assert_no_sanitizer_report, make_certificates

WORKER = {"worker.py": '''
    import json
    from workers import WorkerEntrypoint, Response

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            body = await request.bytes()
            return Response(json.dumps({
                "url": request.url,
                "method": request.method,
                "host": request.headers.get("host"),
                "headers": sorted(k for k, _ in request.headers.items()),
                "body": body.decode("latin-1"),
            }))
    '''}


def exchange(port, data: bytes, timeout=10.0):
    """Sends data, reads until the server closes (or timeout). Returns (bytes, closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        reply = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return reply, False
            if not chunk:
                return reply, True
            reply += chunk
        return reply, False


def one_response(port, data: bytes, timeout=3.0):
    """Sends data and reads one response; returns (status, headers dict, body, closed after)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk, f"connection closed without a response: {buf!r}"
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            chunk = s.recv(65536)
            assert chunk
            rest += chunk
        body, extra = rest[:n], rest[n:]
        try:
            more = s.recv(65536)
            closed = more == b""
            extra += more
        except socket.timeout:
            closed = False
        return status, headers, body, closed, extra


def status_of(reply: bytes) -> int:
    assert reply.startswith(b"HTTP/1.1 "), reply[:200]
    return int(reply.split(b" ", 2)[1])


def assert_refused(port, data, status, closes=True):
    st, headers, body, closed, extra = one_response(port, data)
    assert st == status, (st, body)
    assert headers.get("connection", "").lower() == "close"
    assert closed, "the connection stayed open after a refusal"
    assert not extra, f"something answered after the refusal: {extra!r}"
    return body


def ask(port, data):
    st, _, body, _, _ = one_response(port, data)
    assert st == 200, (st, body)
    return json.loads(body)


# ---- smuggling (RFC 9112 §6.3) ----

def test_two_different_content_lengths_get_400_and_close(serve):
    server = serve(WORKER)
    assert_refused(server.port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                   b"Content-Length: 9\r\n\r\nabcGET /x HTTP/1.1\r\nHost: a\r\n\r\n", 400)


def test_identical_content_lengths_are_folded(serve):
    server = serve(WORKER)
    got = ask(server.port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
              b"Content-Length: 3\r\n\r\nabc")
    assert got["body"] == "abc"


def test_content_length_with_transfer_encoding_gets_400_and_close(serve):
    server = serve(WORKER)
    assert_refused(server.port, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400)


def test_two_transfer_encodings_get_400(serve):
    server = serve(WORKER)
    assert_refused(server.port, b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400)


def test_obs_fold_gets_400(serve):
    server = serve(WORKER)
    assert_refused(server.port, b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n  folded\r\n\r\n", 400)
    assert_refused(server.port, b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\r\n\tfolded\r\n\r\n", 400)


def test_two_host_headers_get_400(serve):
    server = serve(WORKER)
    assert_refused(server.port, b"GET / HTTP/1.1\r\nHost: good\r\nHost: evil\r\n\r\n", 400)


def test_host_header_is_visible_to_the_worker(serve):
    server = serve(WORKER)
    got = ask(server.port, b"GET /p?q=1 HTTP/1.1\r\nHost: good.example:8080\r\nX-One: 1\r\n\r\n")
    assert got["host"] == "good.example:8080"
    assert got["url"] == "http://good.example:8080/p?q=1"
    assert "host" in got["headers"] and "x-one" in got["headers"]


def test_host_with_a_path_gets_400(serve):
    server = serve(WORKER)
    assert_refused(server.port, b"GET /p HTTP/1.1\r\nHost: good/evil?\r\n\r\n", 400)
    assert_refused(server.port, b"GET /p HTTP/1.1\r\nHost: user@good\r\n\r\n", 400)


# ---- request targets (RFC 9112 §3.2) ----

def test_absolute_form_target_is_the_url_and_replaces_host(serve):
    server = serve(WORKER)
    got = ask(server.port, b"GET http://evil.example/p?x=1 HTTP/1.1\r\nHost: good\r\n\r\n")
    assert got["url"] == "http://evil.example/p?x=1"
    assert got["host"] == "evil.example"
    got = ask(server.port, b"GET HTTP://evil.example HTTP/1.1\r\nHost: good\r\n\r\n")
    assert got["url"] == "http://evil.example/"


def test_absolute_form_with_another_scheme_or_userinfo_gets_400(serve):
    server = serve(WORKER)
    assert_refused(server.port, b"GET https://evil/p HTTP/1.1\r\nHost: good\r\n\r\n", 400)
    assert_refused(server.port, b"GET http://user@evil/p HTTP/1.1\r\nHost: good\r\n\r\n", 400)
    assert_refused(server.port, b"GET ftp://evil/p HTTP/1.1\r\nHost: good\r\n\r\n", 400)


def test_asterisk_form_gets_400_and_connect_gets_405(serve):
    server = serve(WORKER)
    assert_refused(server.port, b"OPTIONS * HTTP/1.1\r\nHost: good\r\n\r\n", 400)
    body = assert_refused(server.port, b"CONNECT good:443 HTTP/1.1\r\nHost: good:443\r\n\r\n", 405)
    assert b"CONNECT" in body
    assert_refused(server.port, b"GET p HTTP/1.1\r\nHost: good\r\n\r\n", 400)


def test_non_ascii_target_bytes_are_percent_encoded(serve):
    server = serve(WORKER)
    got = ask(server.port, b"GET /caf\xc3\xa9/\xff\"<x>?q=\xfe'`{} HTTP/1.1\r\nHost: good\r\n\r\n")
    assert got["url"] == "http://good/caf%C3%A9/%FF%22%3Cx%3E?q=%FE%27`{}"
    got["url"].encode("ascii")


# ---- header limits ----

def test_a_mebibyte_of_headers_gets_431_and_close(serve):
    server = serve(WORKER)
    big = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(
        b"X-Big-%d: %s\r\n" % (i, b"a" * 8000) for i in range(131)) + b"\r\n"
    reply, closed = exchange(server.port, big)
    assert status_of(reply) == 431
    assert b"\r\nconnection: close\r\n" in reply.lower()
    assert closed
    assert server.get("/")[0] == 200


def test_more_than_100_headers_get_431_and_close(serve):
    server = serve(WORKER)
    many = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(150)) + b"\r\n"
    reply, closed = exchange(server.port, many)
    assert status_of(reply) == 431 and closed
    assert b"\r\nconnection: close\r\n" in reply.lower()
    exactly = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(99)) + b"\r\n"
    assert len(ask(server.port, exactly)["headers"]) == 100


def test_header_limits_hold_on_a_kept_alive_connection(serve):
    server = serve(WORKER)
    many = b"GET /2 HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(300)) + b"\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n")
        first = b""
        while b"}" not in first:
            chunk = s.recv(65536)
            assert chunk
            first += chunk
        assert status_of(first) == 200
        time.sleep(0.1)
        s.sendall(many)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    assert status_of(reply) == 431


def test_server_keeps_serving_after_refusals(serve):
    server = serve(WORKER)
    for data in (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                 b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: y\r\n" * 200 + b"\r\n"):
        exchange(server.port, data)
    status, _, body = server.get("/ok")
    assert status == 200 and json.loads(body)["url"].endswith("/ok")


# ---- the same limits on https sockets ----

HTTPS_CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = (
    modules = [(name = "worker.py", pythonModule = embed "worker.py")],
    compatibilityDate = "2025-09-01", compatibilityFlags = ["python_workers"]))],
  sockets = [(name = "http", address = "127.0.0.1:1", service = "main",
              https = (options = (), tlsOptions = (keypair = (
                privateKey = embed "server.key", certificateChain = embed "server.pem"))))],
);
"""


def tls_exchange(port, cafile, requests):
    """Sends each request on one TLS connection (HTTP/1.1 by ALPN), returns the first status
    line of each reply and the headers of the last."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.set_alpn_protocols(["http/1.1"])
    statuses, headers = [], {}
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            for data in requests:
                try:
                    s.sendall(data)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass
                buf = b""
                while b"\r\n\r\n" not in buf:
                    chunk = s.recv(65536)
                    assert chunk, buf
                    buf += chunk
                head, _, rest = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                statuses.append(int(lines[0].split()[1]))
                headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
                n = int(headers.get("content-length", "0"))
                while len(rest) < n:
                    rest += s.recv(65536)
    return statuses, headers


def test_header_limits_hold_on_https_sockets(tmp_path):
    d = tmp_path / "w"
    d.mkdir()
    make_certificates(d)
    (d / "worker.py").write_text(textwrap.dedent(WORKER["worker.py"]))
    (d / "config.capnp").write_text(HTTPS_CONFIG)
    server = Server(d / "config.capnp", tmp=tmp_path)
    try:
        many = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: y\r\n" * 150 + b"\r\n"
        big = b"GET / HTTP/1.1\r\nHost: a\r\n" + b"".join(
            b"X-Big-%d: %s\r\n" % (i, b"a" * 8000) for i in range(131)) + b"\r\n"
        ok = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        for requests, expected in (([many], [431]), ([big], [431]), ([ok, many], [200, 431])):
            statuses, headers = tls_exchange(server.port, d / "ca.pem", requests)
            assert statuses == expected
            assert headers["connection"] == "close"
        assert tls_exchange(server.port, d / "ca.pem", [ok])[0] == [200]
    finally:
        server.stop()
        assert_no_sanitizer_report(server.log())
