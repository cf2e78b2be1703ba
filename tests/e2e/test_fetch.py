"""Outbound fetch() through the host (libcurl on the host's loop), against an HTTP server
on 127.0.0.1 started by the test: statuses, headers, bodies up to 10 MiB, redirects,
timeouts, refused connections, and the globalOutbound network policy."""

import http.server
import json
import signal
import textwrap
import threading
import time

import pytest

from conftest import free_port

CONFIG = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w), {internet}],
  sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
);
"""
LOCAL_OK = '(name = "internet", network = (allow = ["public", "local"]))'

WORKER = '''
import json
from urllib.parse import urlparse, parse_qs
from workers import WorkerEntrypoint, Response, fetch
import js

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        q = {k: v[0] for k, v in parse_qs(urlparse(request.url).query).items()}
        target = q["url"]
        try:
            if q.get("js"):
                r = await js.fetch(target, {"method": q.get("method", "GET"), "body": q.get("body"),
                                            "headers": {"x-test": "js"}})
                body = await r.arrayBuffer()
                return Response.json({"status": r.status, "ok": r.ok, "len": len(body),
                                      "text": body[:200].decode(), "statusText": r.statusText})
            r = await fetch(target, method=q.get("method", "GET"), body=q.get("body"),
                            headers={"x-test": "py", "x-multi": "a"}, redirect=q.get("redirect", "follow"))
            data = await r.bytes()
            return Response.json({"status": r.status, "ok": r.ok, "len": len(data),
                                  "text": data[:200].decode(), "url": r.url, "redirected": r.redirected,
                                  "ctype": r.headers.get("content-type"), "xh": r.headers.get("x-h")})
        except Exception as e:
            return Response.json({"error": type(e).__name__, "message": str(e)}, status=502)
'''

SYNC_WORKER = '''
from js import Response, fetch
from workers import WorkerEntrypoint
class Default(WorkerEntrypoint):
    def fetch(self, request):
        r = fetch(request.url.split("url=", 1)[1])
        return Response.new(f"sync {r.status}")
'''


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        path = self.path
        if path.startswith("/status/"):
            self.reply(int(path.split("/")[2]), b"status body", [("x-h", "v")])
        elif path == "/headers":
            self.reply(200, json.dumps(dict(self.headers)).encode(), [("content-type", "application/json")])
        elif path.startswith("/big/"):
            self.reply(200, b"b" * int(path.split("/")[2]))
        elif path == "/redirect":
            self.reply(302, b"", [("location", "/final")])
        elif path == "/final":
            self.reply(200, b"final")
        elif path == "/hang":
            time.sleep(4)
            self.reply(200, b"late")
        else:
            self.reply(404, b"nope")

    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        body = self.rfile.read(n)
        self.reply(200, f"{self.command} {len(body)} {body[:50].decode()}".encode())

    do_PUT = do_POST


@pytest.fixture(scope="module")
def origin():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def fetcher(tmp_path, serve):
    def start(source=WORKER, internet=LOCAL_OK, *args):
        d = tmp_path / "f"
        d.mkdir(exist_ok=True)
        (d / "worker.py").write_text(textwrap.dedent(source))
        (d / "config.capnp").write_text(CONFIG.replace("{internet}", internet))
        return serve(d / "config.capnp", *args)

    return start


def get(server, url, **extra):
    from urllib.parse import urlencode
    code, _, body = server.get("/?" + urlencode({"url": url, **extra}), timeout=30)
    return code, json.loads(body)


def host_maps(server) -> str:
    return open(f"/proc/{server.proc.pid}/maps").read()


def test_libcurl_is_loaded_at_the_first_fetch_not_at_start(fetcher, origin):
    """Linked, libcurl and libpq made every start map and relocate ~28 more libraries: the
    host loads libcurl when a worker first fetches (base/lazy_lib.h), libpq only with --storage."""
    s = fetcher()
    assert "libcurl" not in host_maps(s) and "libpq" not in host_maps(s)
    code, r = get(s, f"{origin}/status/200")
    assert code == 200 and r["status"] == 200, r
    assert "libcurl.so.4" in host_maps(s)
    assert "libpq" not in host_maps(s)


@pytest.mark.parametrize("status", [200, 201, 404, 500, 503])
def test_status_codes_and_headers(fetcher, origin, status):
    code, r = get(fetcher(), f"{origin}/status/{status}")
    assert code == 200 and r["status"] == status and r["ok"] == (status < 300)
    assert r["text"] == "status body" and r["xh"] == "v"


def test_request_headers_and_body_reach_the_origin(fetcher, origin):
    s = fetcher()
    _, r = get(s, f"{origin}/headers")
    sent = json.loads(r["text"] if r["len"] <= 200 else "{}")
    assert sent.get("x-test") == "py" and r["ctype"] == "application/json"
    _, r = get(s, f"{origin}/echo", method="POST", body="hello body")
    assert r["text"] == "POST 10 hello body"
    _, r = get(s, f"{origin}/echo", method="PUT", body="x", js="1")
    assert r["text"] == "PUT 1 x" and r["statusText"] == ""


def test_ten_mib_body(fetcher, origin):
    _, r = get(fetcher(), f"{origin}/big/{10 * 1024 * 1024}")
    assert r["status"] == 200 and r["len"] == 10 * 1024 * 1024


def test_redirects_followed_or_manual(fetcher, origin):
    s = fetcher()
    _, r = get(s, f"{origin}/redirect")
    assert r["status"] == 200 and r["text"] == "final" and r["redirected"] is True
    assert r["url"].endswith("/final")
    _, r = get(s, f"{origin}/redirect", redirect="manual")
    assert r["status"] == 302 and r["redirected"] is False


def test_hanging_server_times_out(fetcher, origin):
    s = fetcher(WORKER, LOCAL_OK, "--fetch-timeout", "1")
    t0 = time.monotonic()
    code, r = get(s, f"{origin}/hang")
    assert code == 502 and "Timeout" in r["message"], r
    assert time.monotonic() - t0 < 3.5


def test_connection_refused_raises_with_the_reason(fetcher):
    code, r = get(fetcher(), f"http://127.0.0.1:{free_port()}/")
    assert code == 502 and "Couldn't connect" in r["message"], r


def test_default_internet_service_refuses_local_addresses(fetcher, origin):
    s = fetcher(WORKER, '(name = "other", disk = (path = "d"))')
    code, r = get(s, f"{origin}/status/200")
    assert code == 502 and "not allowed" in r["message"], r


def test_deny_list_and_cidr_rules(fetcher, origin):
    s = fetcher(WORKER, '(name = "internet", network = (allow = ["network"], deny = ["127.0.0.0/8"]))')
    code, r = get(s, f"{origin}/status/200")
    assert code == 502 and "not allowed" in r["message"]
    s.stop(signal.SIGKILL)
    s = fetcher(WORKER, '(name = "internet", network = (allow = ["127.0.0.1/32"]))')
    assert get(s, f"{origin}/status/200")[1]["status"] == 200


def test_bad_url_scheme_is_an_error(fetcher):
    code, r = get(fetcher(), "file:///etc/passwd")
    assert code == 502 and "http://" in r["message"]


def test_sync_handler_fetch_blocks_for_the_response(fetcher, origin):
    s = fetcher(SYNC_WORKER)
    assert s.get(f"/?url={origin}/status/204")[2] == b"sync 204"
