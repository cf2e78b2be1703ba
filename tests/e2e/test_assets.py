"""Static assets: a `disk` service served by the host (no Python) as a socket's service and
through a worker's service binding (env.ASSETS.fetch), on the real binary: content types,
ETag / If-None-Match and If-Modified-Since → 304, Range → 206 / 416, If-Range, HEAD, index.html,
workerd's directory listing, PUT / DELETE on a writable one, and every path escape refused."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from conftest import BIN, REPO, Server, free_port, make_certificates, request_on

SECRET = "TOP-SECRET-OUTSIDE"

WORKER = """\
import json
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        # /via?method=GET&path=/x&h=name:value... -> what env.ASSETS answered, as JSON
        from urllib.parse import parse_qs, urlsplit
        q = parse_qs(urlsplit(request.url).query)
        headers = dict(h.split(":", 1) for h in q.get("h", []))
        target = "https://assets.internal" + q["path"][0]
        method = q.get("method", ["GET"])[0]
        body = q.get("body", [None])[0]
        binding = self.env.RW if "rw" in q else self.env.ASSETS
        if "rpc" in q:
            try:
                await binding.listFiles()
            except TypeError as e:
                return Response(str(e), status=500)
        try:
            r = await binding.fetch(target, method=method, headers=headers, body=body)
        except Exception as e:
            return Response(f"{type(e).__name__}: {e}", status=502)
        data = await r.bytes()
        return Response(json.dumps({"status": r.status, "headers": dict(r.headers.items()),
                                    "body": data.decode("latin-1")}))
"""


def config_text(ports):
    return textwrap.dedent(f"""\
        using Workerd = import "/workerd/workerd.capnp";
        const config :Workerd.Config = (
          services = [
            (name = "static", disk = (path = "public")),
            (name = "upload", disk = (path = "upload", writable = true)),
            (name = "dots", disk = (path = "public", allowDotfiles = true)),
            (name = "main", worker = .w),
          ],
          sockets = [
            (name = "http", address = "127.0.0.1:1", http = (), service = "static"),
            (name = "rw", address = "127.0.0.1:{ports['rw']}", http = (), service = "upload"),
            (name = "dots", address = "127.0.0.1:{ports['dots']}", http = (), service = "dots"),
            (name = "worker", address = "127.0.0.1:{ports['worker']}", http = (), service = "main"),
          ],
        );
        const w :Workerd.Worker = (
          modules = [(name = "worker.py", pythonModule = embed "worker.py")],
          compatibilityDate = "2025-09-01",
          compatibilityFlags = ["python_workers"],
          bindings = [(name = "ASSETS", service = "static"), (name = "RW", service = "upload")],
        );
        """)


def make_tree(root: Path):
    pub = root / "public"
    (pub / "sub").mkdir(parents=True)
    (pub / "empty").mkdir()
    (pub / ".hidden").mkdir()
    (root / "upload").mkdir()
    (root / "outside").mkdir()
    (root / "outside" / "secret.txt").write_text(SECRET)
    (pub / "index.html").write_text("<h1>home</h1>")
    (pub / "a.txt").write_text("0123456789")
    (pub / "style.css").write_text("body{}")
    (pub / "app.js").write_text("1;")
    (pub / "data.json").write_text("{}")
    (pub / "logo.svg").write_text("<svg/>")
    (pub / "noext").write_bytes(b"\x00\x01")
    (pub / "sub" / "index.html").write_text("<h1>sub</h1>")
    (pub / ".env").write_text("KEY=" + SECRET)
    (pub / ".hidden" / "x").write_text(SECRET)
    (pub / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    with open(pub / "huge.bin", "wb") as f:          # sparse: 96 MiB read as zeros
        f.truncate(96 * 1024 * 1024)
    os.mkfifo(pub / "pipe")
    os.symlink("a.txt", pub / "link-inside")
    os.symlink("../a.txt", pub / "sub" / "up-inside")
    os.symlink("../outside", pub / "out-dir")
    os.symlink("../outside/secret.txt", pub / "out-file")
    os.symlink(str(root / "outside" / "secret.txt"), pub / "abs-link")
    os.symlink("/etc", pub / "etc-link")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("assets")
    make_tree(root)
    ports = {"rw": free_port(), "dots": free_port(), "worker": free_port()}
    (root / "worker.py").write_text(WORKER)
    (root / "config.capnp").write_text(config_text(ports))
    server = Server(root / "config.capnp", tmp=root)
    server.root, server.ports = root, ports
    for port in ports.values():
        wait_port(port)
    yield server
    server.stop(signal.SIGKILL)


def wait_port(port, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"port {port} did not open")


def request(port, method="GET", path="/", headers=None, body=None):
    return request_on(port, method, path, body, headers)


def raw(port, target, method="GET"):
    """Sends the request line exactly as given; returns (status, whole response bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode("latin-1"))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def via(site, path, method="GET", headers=None, body=None, rw=False, rpc=False):
    """env.ASSETS.fetch (or env.RW's) from inside the worker, as JSON."""
    from urllib.parse import urlencode
    q = [("path", path), ("method", method)] + [("h", f"{k}:{v}") for k, v in (headers or {}).items()]
    if body is not None:
        q.append(("body", body))
    if rw:
        q.append(("rw", "1"))
    if rpc:
        q.append(("rpc", "1"))
    status, _, data = request(site.ports["worker"], path="/via?" + urlencode(q))
    return status, data


def via_json(site, path, **kw):
    status, data = via(site, path, **kw)
    assert status == 200, data
    return json.loads(data)


# ---- the socket ----


def test_files_carry_type_etag_last_modified_and_length(site):
    types = {"/a.txt": "text/plain; charset=utf-8", "/style.css": "text/css; charset=utf-8",
             "/app.js": "text/javascript; charset=utf-8", "/data.json": "application/json; charset=utf-8",
             "/logo.svg": "image/svg+xml", "/noext": "application/octet-stream",
             "/big.bin": "application/octet-stream", "/index.html": "text/html; charset=utf-8"}
    for path, ctype in types.items():
        status, h, body = site.get(path)
        assert status == 200 and h["content-type"] == ctype, (path, h)
        assert h["etag"].startswith('"') and h["last-modified"].endswith(" GMT")
        assert h["accept-ranges"] == "bytes" and int(h["content-length"]) == len(body)
        assert body == (site.root / "public" / path[1:]).read_bytes()
    assert site.get("/a.txt?v=2#x")[2] == b"0123456789"       # the query is not the name
    assert site.get("/caf%C3%A9.txt")[0] == 404
    (site.root / "public" / "caf\u00e9 menu.txt").write_text("utf-8 name")
    assert site.get("/caf%C3%A9%20menu.txt")[2] == b"utf-8 name"


def test_conditional_requests_answer_304(site):
    _, h, _ = site.get("/a.txt")
    etag, date = h["etag"], h["last-modified"]
    for headers in ({"If-None-Match": etag}, {"If-None-Match": "W/" + etag},
                    {"If-None-Match": f'"nope", {etag}'}, {"If-None-Match": "*"},
                    {"If-Modified-Since": date}, {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}):
        status, h2, body = site.get("/a.txt", headers=headers)
        assert status == 304 and body == b"" and h2["etag"] == etag, headers
    for headers in ({"If-None-Match": '"nope"'}, {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
                    {"If-None-Match": '"nope"', "If-Modified-Since": date},   # If-None-Match wins
                    {"If-Modified-Since": "not a date"}):
        status, _, body = site.get("/a.txt", headers=headers)
        assert status == 200 and body == b"0123456789", headers
    status, _, _ = site.request("HEAD", "/a.txt", headers={"If-None-Match": etag})
    assert status == 304


def test_a_changed_file_gets_a_new_etag(site):
    f = site.root / "public" / "changing.txt"
    f.write_text("one")
    _, h1, _ = site.get("/changing.txt")
    time.sleep(0.01)
    f.write_text("two!")
    status, h2, body = site.get("/changing.txt", headers={"If-None-Match": h1["etag"]})
    assert status == 200 and body == b"two!" and h2["etag"] != h1["etag"]


def test_ranges(site):
    big = (site.root / "public" / "big.bin").read_bytes()
    size = len(big)
    cases = {"bytes=0-0": (0, 0), "bytes=2-4": (2, 4), "bytes=-5": (size - 5, size - 1),
             f"bytes={size - 3}-": (size - 3, size - 1), "bytes=1000-99999999999": (1000, size - 1),
             f"bytes={size + 5}-,10-19": (10, 19)}
    for value, (first, last) in cases.items():
        status, h, body = site.get("/big.bin", headers={"Range": value})
        assert status == 206, value
        assert h["content-range"] == f"bytes {first}-{last}/{size}"
        assert body == big[first:last + 1] and int(h["content-length"]) == last - first + 1
    for value in ("bytes=0-", f"bytes=0-{size - 1}", "bytes=0-1,5-6", "items=0-1"):
        status, _, body = site.get("/big.bin", headers={"Range": value})
        assert status == 200 and body == big, value
    for value in (f"bytes={size}-", "bytes=-0", "bytes=5-2", "bytes=x", "bytes="):
        status, h, _ = site.get("/big.bin", headers={"Range": value})
        assert status == 416 and h["content-range"] == f"bytes */{size}", value
    status, h, body = site.request("HEAD", "/big.bin", headers={"Range": "bytes=0-1"})
    assert status == 200 and int(h["content-length"]) == size and body == b""


def test_if_range(site):
    _, h, _ = site.get("/a.txt")
    for validator, expect in ((h["etag"], 206), (h["last-modified"], 206), ('"old"', 200),
                              ("W/" + h["etag"], 200), ("Thu, 01 Jan 1970 00:00:00 GMT", 200)):
        status, _, body = site.get("/a.txt", headers={"Range": "bytes=1-2", "If-Range": validator})
        assert status == expect and body == (b"12" if expect == 206 else b"0123456789"), validator


def test_head_has_the_length_and_no_body(site):
    status, h, body = site.request("HEAD", "/big.bin")
    assert status == 200 and body == b""
    assert int(h["content-length"]) == (site.root / "public" / "big.bin").stat().st_size


def test_directories_serve_index_html_or_workerds_listing(site):
    for path in ("/", "/sub", "/sub/"):
        status, h, body = site.get(path)
        assert status == 200 and h["content-type"] == "text/html; charset=utf-8", path
        assert body in (b"<h1>home</h1>", b"<h1>sub</h1>")
    status, h, body = site.get("/empty/")
    assert status == 200 and h["content-type"] == "application/json" and json.loads(body) == []
    (site.root / "public" / "empty" / "f.txt").write_text("x")
    (site.root / "public" / "empty" / "d").mkdir()
    os.symlink("f.txt", site.root / "public" / "empty" / "l")
    (site.root / "public" / "empty" / ".dot").write_text("x")
    _, _, body = site.get("/empty")
    assert json.loads(body) == [{"name": "d", "type": "directory"}, {"name": "f.txt", "type": "file"},
                                {"name": "l", "type": "symlink"}]
    _, _, body = request(site.ports["dots"], path="/empty/")
    assert {"name": ".dot", "type": "file"} in json.loads(body)


def test_dotfiles_only_with_allow_dotfiles(site):
    for path in ("/.env", "/.hidden/x", "/%2Eenv"):
        status, _, body = site.get(path)
        assert status == 404 and SECRET.encode() not in body, path
    status, _, body = request(site.ports["dots"], path="/.env")
    assert status == 200 and body == ("KEY=" + SECRET).encode()


def test_special_files_and_methods(site):
    assert site.get("/pipe")[0] == 406                  # a FIFO: refused, never read
    assert site.get("/missing.txt")[0] == 404
    assert site.request("POST", "/a.txt", body=b"x")[0] == 501
    status, h, _ = site.request("PUT", "/a.txt", body=b"x")
    assert status == 405 and h["allow"] == "GET, HEAD"
    assert site.request("DELETE", "/a.txt")[0] == 405
    assert (site.root / "public" / "a.txt").read_text() == "0123456789"


def test_symlinks_inside_are_followed(site):
    for path in ("/link-inside", "/sub/up-inside"):
        status, _, body = site.get(path)
        assert status == 200 and body == b"0123456789", path


ESCAPES = [
    "/../outside/secret.txt", "/sub/../../outside/secret.txt", "/..", "/../",
    "/%2e%2e/outside/secret.txt", "/%2E%2E/outside/secret.txt", "/.%2e/outside/secret.txt",
    "/%2e./outside/secret.txt", "/sub/%2e%2e/%2e%2e/outside/secret.txt",
    "/..%2Foutside%2Fsecret.txt", "/%2e%2e%2foutside%2fsecret.txt", "/sub%2F..%2F..%2Foutside%2Fsecret.txt",
    "/%2F..%2Foutside%2Fsecret.txt", "/%2Fetc%2Fpasswd", "/%2fetc/passwd",
    "/a.txt%00", "/a.txt%00.png", "/%00/etc/passwd", "/sub%00/../../outside/secret.txt",
    "/out-dir/secret.txt", "/out-file", "/abs-link", "/etc-link/passwd", "/etc-link/hostname",
    "//etc/passwd", "///etc/passwd", "/etc/passwd",
    "/..%5c..%5coutside%5csecret.txt", "/%252e%252e/outside/secret.txt",
]


def test_every_path_escape_is_refused_on_the_socket(site):
    for target in ESCAPES + ["http://x/../outside/secret.txt", "http://x/%2e%2e/outside/secret.txt"]:
        status, data = raw(site.port, target)
        assert status in (400, 404), (target, data[:200])
        assert SECRET.encode() not in data and b"root:" not in data, target


def test_every_path_escape_is_refused_through_the_binding(site):
    for target in ESCAPES:
        r = via_json(site, target)
        assert r["status"] == 404, (target, r)
        assert SECRET not in r["body"] and "root:" not in r["body"], target


def test_writes_cannot_escape(site):
    up = site.root / "upload"
    os.symlink("../outside", up / "out")
    for target in ("/../outside/new.txt", "/%2e%2e/outside/new.txt", "/a%2F..%2F..%2Foutside%2Fnew.txt",
                   "/out/new.txt", "/out/secret.txt", "/.evil", "/", "/%00x"):
        status, data = raw(site.ports["rw"], target, method="PUT")
        assert status in (400, 403), (target, data[:200])
        status, _ = raw(site.ports["rw"], target, method="DELETE")
        assert status in (400, 403), target
    assert sorted(p.name for p in (site.root / "outside").iterdir()) == ["secret.txt"]
    assert (site.root / "outside" / "secret.txt").read_text() == SECRET


def test_put_and_delete_on_a_writable_disk(site):
    port = site.ports["rw"]
    assert request(port, "PUT", "/docs/2024/notes.txt", body=b"first")[0] == 204
    assert request(port, "GET", "/docs/2024/notes.txt")[2] == b"first"
    assert request(port, "PUT", "/docs/2024/notes.txt", body=b"second version")[0] == 204
    assert (site.root / "upload" / "docs" / "2024" / "notes.txt").read_bytes() == b"second version"
    assert not [p for p in (site.root / "upload" / "docs" / "2024").iterdir() if p.name.startswith(".")]
    assert request(port, "PUT", "/docs", body=b"x")[0] == 409          # a directory is there
    assert json.loads(request(port, "GET", "/docs/")[2]) == [{"name": "2024", "type": "directory"}]
    assert request(port, "DELETE", "/docs")[0] == 204                  # with everything in it
    assert request(port, "DELETE", "/docs")[0] == 404
    assert request(port, "GET", "/docs/2024/notes.txt")[0] == 404


def test_a_large_file_is_streamed_not_read_whole(site):
    """96 MiB read by a client that stops after 1 MiB: the host's memory does not grow by the
    file (it holds one 64 KiB piece while the socket is full)."""
    def rss_kib():
        for line in Path(f"/proc/{site.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    site.get("/a.txt")
    before = rss_kib()
    s = socket.create_connection(("127.0.0.1", site.port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.sendall(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    got = 0
    while got < 1024 * 1024:
        got += len(s.recv(65536))
    time.sleep(0.5)
    during = rss_kib()
    assert during - before < 16 * 1024, (before, during)
    assert site.get("/a.txt")[2] == b"0123456789"        # the loop is not blocked meanwhile
    total = got
    while chunk := s.recv(1 << 20):
        total += len(chunk)
        if total >= 96 * 1024 * 1024 + 100:
            break
    s.close()
    assert total > 96 * 1024 * 1024


def test_a_file_shrinking_while_sent_cuts_the_response_not_the_server(site):
    f = site.root / "public" / "shrinking.bin"
    f.write_bytes(os.urandom(48 * 1024 * 1024))
    s = socket.create_connection(("127.0.0.1", site.port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.sendall(b"GET /shrinking.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    got = len(s.recv(65536))
    with open(f, "r+b") as fh:
        fh.truncate(1024 * 1024)
    while chunk := s.recv(1 << 20):
        got += len(chunk)
    s.close()
    assert got < 48 * 1024 * 1024                       # cut short, the connection closed
    assert site.get("/a.txt")[2] == b"0123456789"       # and the host serves on


def test_keep_alive_mixes_statuses(site):
    c = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    _, h, _ = site.get("/a.txt")
    for method, path, headers, expect, body in (
            ("GET", "/a.txt", {}, 200, b"0123456789"), ("HEAD", "/big.bin", {}, 200, b""),
            ("GET", "/a.txt", {"If-None-Match": h["etag"]}, 304, b""),
            ("GET", "/a.txt", {"Range": "bytes=9-"}, 206, b"9"), ("GET", "/nope", {}, 404, b"Not Found"),
            ("GET", "/a.txt", {"Range": "bytes=99-"}, 416, b"Range Not Satisfiable"),
            ("GET", "/big.bin", {}, 200, None), ("GET", "/a.txt", {}, 200, b"0123456789")):
        c.request(method, path, headers=headers)
        r = c.getresponse()
        data = r.read()
        assert r.status == expect, (method, path)
        if body is not None:
            assert data == body, (method, path)
    c.close()


def test_tls_and_http2_send_files_in_pieces(tmp_path):
    """Over TLS (h2o encrypts in user space) a file is read in pieces, not sendfile'd."""
    make_certificates(tmp_path)
    (tmp_path / "public").mkdir()
    data = os.urandom(5 * 1024 * 1024 + 3)
    (tmp_path / "public" / "f.bin").write_bytes(data)
    (tmp_path / "config.capnp").write_text(textwrap.dedent("""\
        using Workerd = import "/workerd/workerd.capnp";
        const config :Workerd.Config = (
          services = [(name = "static", disk = (path = "public"))],
          sockets = [(name = "http", address = "127.0.0.1:1", service = "static",
                      https = (options = (), tlsOptions = (keypair = (
                        privateKey = embed "server.key", certificateChain = embed "server.pem"))))],
        );
        """))
    s = Server(tmp_path / "config.capnp", tmp=tmp_path)
    try:
        import ssl
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        c = http.client.HTTPSConnection("127.0.0.1", s.port, context=ctx, timeout=20)
        c.request("GET", "/f.bin")
        r = c.getresponse()
        assert r.status == 200 and r.read() == data
        c.request("GET", "/f.bin", headers={"Range": "bytes=100-199999"})
        r = c.getresponse()
        assert r.status == 206 and r.read() == data[100:200000]
        c.close()
        out = subprocess.run(["curl", "-sS", "--http2", "--cacert", str(tmp_path / "ca.pem"), "-o", "-",
                              "-w", "%{http_version}", f"https://127.0.0.1:{s.port}/f.bin"],
                             capture_output=True, timeout=30)
        assert out.returncode == 0 and out.stdout[-1:] == b"2" and out.stdout[:-1] == data
    finally:
        s.stop(signal.SIGKILL)


# ---- the service binding ----


def test_binding_fetch_answers_like_the_socket(site):
    r = via_json(site, "/a.txt")
    assert r["status"] == 200 and r["body"] == "0123456789"
    h = r["headers"]
    assert h["content-type"] == "text/plain; charset=utf-8" and h["content-length"] == "10"
    assert h["etag"] == site.get("/a.txt")[1]["etag"]
    assert via_json(site, "/a.txt", headers={"If-None-Match": h["etag"]})["status"] == 304
    assert via_json(site, "/a.txt", headers={"If-Modified-Since": h["last-modified"]})["status"] == 304
    r = via_json(site, "/a.txt", headers={"Range": "bytes=3-5"})
    assert r["status"] == 206 and r["body"] == "345" and r["headers"]["content-range"] == "bytes 3-5/10"
    assert via_json(site, "/a.txt", headers={"Range": "bytes=50-"})["status"] == 416
    r = via_json(site, "/big.bin", method="HEAD")
    assert r["status"] == 200 and r["body"] == "" and int(r["headers"]["content-length"]) == 3 * 1024 * 1024 + 17
    r = via_json(site, "/big.bin")
    assert r["body"].encode("latin-1") == (site.root / "public" / "big.bin").read_bytes()
    assert via_json(site, "/sub/")["body"] == "<h1>sub</h1>"
    assert via_json(site, "/.env")["status"] == 404
    assert via_json(site, "/pipe")["status"] == 406
    assert via_json(site, "/a.txt", method="POST")["status"] == 501
    assert via_json(site, "/a.txt", method="PUT", body="x")["status"] == 405


def test_binding_put_delete_on_a_writable_disk(site):
    assert via_json(site, "/from-worker/x.txt", method="PUT", body="hello", rw=True)["status"] == 204
    assert (site.root / "upload" / "from-worker" / "x.txt").read_text() == "hello"
    assert via_json(site, "/from-worker/x.txt", rw=True)["body"] == "hello"
    assert via_json(site, "/from-worker", method="DELETE", rw=True)["status"] == 204
    assert via_json(site, "/../outside/x", method="PUT", body="x", rw=True)["status"] == 403


def test_binding_bodies_over_32_mib_are_an_error_and_ranges_work(site):
    status, data = via(site, "/huge.bin")
    assert status == 502 and b"over the 32 MiB" in data and b"Range" in data
    r = via_json(site, "/huge.bin", headers={"Range": "bytes=0-99"})
    assert r["status"] == 206 and r["body"] == "\x00" * 100


def test_a_disk_binding_has_no_rpc_methods(site):
    status, data = via(site, "/a.txt", rpc=True)
    assert status == 500 and data == b'The RPC receiver does not implement the method "listFiles".'


# ---- config ----


def run_config(tmp_path, text, files=None):
    (tmp_path / "config.capnp").write_text(textwrap.dedent(text))
    for name, body in (files or {}).items():
        (tmp_path / name).write_text(body)
    return subprocess.run([BIN, "serve", "config.capnp", "-s", f"http=127.0.0.1:{free_port()}"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=30)


def test_a_missing_directory_is_an_error_at_start(tmp_path):
    r = run_config(tmp_path, """\
        using Workerd = import "/workerd/workerd.capnp";
        const config :Workerd.Config = (
          services = [(name = "static", disk = (path = "no-such-dir"))],
          sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "static")],
        );
        """)
    assert r.returncode == 1
    assert 'socket http: Directory named "static" not found: no-such-dir' in r.stderr


def test_a_missing_directory_of_a_binding_is_an_error_at_start(tmp_path):
    r = run_config(tmp_path, """\
        using Workerd = import "/workerd/workerd.capnp";
        const config :Workerd.Config = (
          services = [(name = "main", worker = .w), (name = "static", disk = (path = "gone"))],
          sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
        );
        const w :Workerd.Worker = (
          modules = [(name = "w.py", pythonModule = embed "w.py")],
          compatibilityDate = "2025-09-01", compatibilityFlags = ["python_workers"],
          bindings = [(name = "ASSETS", service = "static")],
        );
        """, {"w.py": "def on_fetch(request):\n    pass\n"})
    assert r.returncode == 1
    assert 'service main: binding "ASSETS": Directory named "static" not found: gone' in r.stderr


def test_an_entrypoint_on_a_disk_binding_is_a_config_error(tmp_path):
    (tmp_path / "public").mkdir()
    r = run_config(tmp_path, """\
        using Workerd = import "/workerd/workerd.capnp";
        const config :Workerd.Config = (
          services = [(name = "main", worker = .w), (name = "static", disk = (path = "public"))],
          sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
        );
        const w :Workerd.Worker = (
          modules = [(name = "w.py", pythonModule = embed "w.py")],
          compatibilityDate = "2025-09-01", compatibilityFlags = ["python_workers"],
          bindings = [(name = "ASSETS", service = (name = "static", entrypoint = "Files"))],
        );
        """, {"w.py": "def on_fetch(request):\n    pass\n"})
    assert r.returncode == 1
    assert "config.capnp:" in r.stderr and '"static" is a disk service, so does not have any named ' \
        'entrypoints' in r.stderr


def test_a_network_service_socket_is_still_refused(tmp_path):
    r = run_config(tmp_path, """\
        using Workerd = import "/workerd/workerd.capnp";
        const config :Workerd.Config = (
          services = [(name = "net", network = ())],
          sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "net")],
        );
        """)
    assert r.returncode == 1 and "which is not a Python worker" in r.stderr


# ---- examples/assets ----


def test_assets_example(tmp_path):
    d = tmp_path / "assets"
    shutil.copytree(REPO / "examples" / "assets", d)
    static_port = free_port()
    s = Server(d / "config.capnp", ["-s", f"static=127.0.0.1:{static_port}"], tmp=tmp_path)
    try:
        wait_port(static_port)
        assert json.loads(s.get("/api/hello")[2]) == {"hello": "from Python", "path": "/api/hello"}
        status, h, body = s.get("/")
        assert status == 200 and b"Hello from a disk service" in body
        assert h["content-type"] == "text/html; charset=utf-8"
        status, h, body = s.get("/css/site.css")
        assert status == 200 and h["content-type"] == "text/css; charset=utf-8"
        assert s.get("/css/site.css", headers={"If-None-Match": h["etag"]})[0] == 304
        assert s.get("/some/page")[2] == (d / "public" / "index.html").read_bytes()   # the app
        status, h, body = request(static_port, path="/app.js")
        assert status == 200 and h["content-type"] == "text/javascript; charset=utf-8"
        assert request(static_port, path="/api/hello")[0] == 404       # no worker there
    finally:
        s.stop(signal.SIGKILL)
