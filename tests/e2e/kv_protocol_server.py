"""An in-memory KV service in workerd's KV HTTP protocol, run by the tests on 127.0.0.1 as
the `external` service a kvNamespace binding names. It keeps what a real KV keeps (value,
expiration, metadata), lists keys in byte order with an opaque cursor, and records every
request line and header so tests can check what pyworkerd sent. Keys starting with
"fail500" answer 500."""

import http.server
import json
import threading
import time
from urllib.parse import parse_qs, unquote, urlsplit


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body are separate writes: no 40 ms ACK stalls

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _parts(self):
        url = urlsplit(self.path)
        self.server.kv.requests.append((self.command, self.path, dict(self.headers.items())))
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        return url.path, query

    def _body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        path, query = self._parts()
        kv = self.server.kv
        if path == "/":
            return self._reply(200, json.dumps(kv.list(query)).encode(), [("Content-Type", "application/json")])
        key = unquote(path[1:])
        if key.startswith("fail500"):
            return self._reply(500, b"the KV service failed")
        entry = kv.live(key)
        if entry is None:
            return self._reply(404, b"Not Found")
        value, _, meta = entry
        return self._reply(200, value, [("CF-KV-Metadata", meta)] if meta else [])

    def do_POST(self):
        path, _ = self._parts()
        body = json.loads(self._body())
        out = {}
        for key in body["keys"]:
            entry = self.server.kv.live(key)
            if entry is None:
                out[key] = None
            else:
                value = entry[0].decode()
                out[key] = {"value": value, "metadata": json.loads(entry[2]) if entry[2] else None}
        self._reply(200, json.dumps(out).encode(), [("Content-Type", "application/json")])

    def do_PUT(self):
        path, query = self._parts()
        key, value = unquote(path[1:]), self._body()
        if key.startswith("fail500"):
            return self._reply(500, b"the KV service failed")
        expiration = None
        if "expiration_ttl" in query:
            expiration = int(time.time()) + int(query["expiration_ttl"])
        elif "expiration" in query:
            expiration = int(query["expiration"])
        with self.server.kv.lock:
            self.server.kv.data[key] = (value, expiration, self.headers.get("CF-KV-Metadata"))
        self._reply(200)

    def do_DELETE(self):
        path, _ = self._parts()
        with self.server.kv.lock:
            self.server.kv.data.pop(unquote(path[1:]), None)
        self._reply(200)


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 256    # pyworkerd opens many connections at once (asyncio.gather)
    daemon_threads = True


class KvProtocolServer:
    """with KvProtocolServer() as kv: kv.address is "127.0.0.1:PORT"."""

    def __init__(self):
        self.data = {}
        self.requests = []
        self.lock = threading.RLock()
        self.httpd = _Server(("127.0.0.1", 0), _Handler)
        self.httpd.kv = self
        self.address = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def live(self, key):
        with self.lock:
            entry = self.data.get(key)
        if entry is None or (entry[1] is not None and entry[1] <= time.time()):
            return None
        return entry

    def list(self, query):
        prefix, cursor = query.get("prefix", ""), query.get("cursor", "")
        limit = int(query.get("key_count_limit", 1000))
        with self.lock:
            names = sorted((k for k in self.data if k.startswith(prefix) and self.live(k)),
                           key=lambda k: k.encode())
        names = [k for k in names if not cursor or k.encode() > cursor.encode()]
        page = names[:limit]
        keys = []
        for name in page:
            _, expiration, meta = self.data[name]
            entry = {"name": name}
            if expiration:
                entry["expiration"] = expiration
            if meta:
                entry["metadata"] = json.loads(meta)
            keys.append(entry)
        out = {"keys": keys, "list_complete": len(names) <= limit}
        if not out["list_complete"]:
            out["cursor"] = page[-1]
        return out
