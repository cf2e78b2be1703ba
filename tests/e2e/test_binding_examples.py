"""examples/kv, examples/service-binding and examples/fetch, served as shipped."""

import http.server
import json
import shutil
import signal
import threading

import pytest

from conftest import REPO, Server


@pytest.fixture
def example(tmp_path):
    servers = []

    def start(name, *args, extra_socket=None):
        d = tmp_path / name
        shutil.copytree(REPO / "examples" / name, d)
        more = ["-s", f"{extra_socket}=127.0.0.1:{extra_port}"] if extra_socket else []
        s = Server(d / "config.capnp", [*more, *args], tmp=tmp_path)
        servers.append(s)
        return s

    extra_port = __import__("conftest").free_port()
    start.extra_port = extra_port
    yield start
    for s in servers:
        s.stop(signal.SIGKILL)


def test_kv_example_sync_and_async(example, tmp_path):
    s = example("kv", extra_socket="http-async")
    assert s.get("/")[2] == b"Stored value: None"
    assert s.get("/")[2] == b"Stored value: value"
    assert (tmp_path / "kv" / "kv-data" / "kv.sqlite3").exists()
    import http.client
    for n in (1, 2):
        c = http.client.HTTPConnection("127.0.0.1", example.extra_port, timeout=10)
        c.request("GET", "/")
        r = json.loads(c.getresponse().read())
        c.close()
        assert r["visits"] == n and r["keys"] == ["visits"] and r["metadata"]["last"].endswith("/")


def test_service_binding_example(example):
    s = example("service-binding")
    assert s.get("/", headers={"authorization": "Bearer ann-token"})[2] == b"hello ann (admin)\n"
    assert s.get("/", headers={"authorization": "Bearer bob-token"})[2] == b"hello bob (member)\n"
    assert s.get("/")[0] == 403


def test_fetch_example(example):
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"hi")

    origin = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=origin.serve_forever, daemon=True).start()
    try:
        s = example("fetch")
        url = f"http://127.0.0.1:{origin.server_address[1]}/x"
        r = json.loads(s.get(f"/?url={url}")[2])
        assert r == {"status": 200, "url": url, "redirected": False, "content_type": "text/plain", "length": 2}
    finally:
        origin.shutdown()
        origin.server_close()


def test_kv_service_example_front_worker_over_the_kv_protocol(example, tmp_path):
    s = example("kv-service")
    assert s.request("PUT", "/greeting", body=b"hello there")[2] == b"stored\n"
    assert s.request("PUT", "/todo", body=b"write tests")[2] == b"stored\n"
    assert s.get("/greeting")[2] == b"hello there"
    assert s.get("/index")[2] == b"greeting (11 chars)\ntodo (11 chars)\n"
    assert s.request("DELETE", "/todo")[2] == b"deleted\n"
    assert s.get("/todo")[0] == 404
    # the data lives in the KV service's own namespace, on its disk service
    assert (tmp_path / "kv-service" / "kv-data" / "kv.sqlite3").exists()
