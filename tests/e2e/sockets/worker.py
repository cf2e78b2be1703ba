# The worker of tests/e2e/test_sockets.py: each path opens an outbound connection through the
# host the way a Python library would, and answers with what came back (or the error).
import asyncio
import json
import selectors
import socket
import ssl
import urllib.request
from urllib.parse import parse_qs, urlparse

from workers import Response, WorkerEntrypoint


def recv_all(sock):
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def blocking_echo(port, payload):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return recv_all(sock)


def selector_echo(port, payload):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_WRITE)
    got, sent = b"", 0
    while len(got) < len(payload):
        for key, events in sel.select(timeout=5):
            if events & selectors.EVENT_WRITE and sent < len(payload):
                sent += sock.send(payload[sent:])
                if sent == len(payload):
                    sel.modify(sock, selectors.EVENT_READ)
            if events & selectors.EVENT_READ:
                got += sock.recv(65536)
    sel.close()
    sock.close()
    return got


def timeout_recv(port):
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(0.2)
        try:
            sock.recv(10)       # the silent server sends nothing
        except socket.timeout:
            return b"timed out"
    return b"no timeout"


async def asyncio_echo(port, payload):
    reader, writer = await asyncio.open_connection("localhost", port, family=socket.AF_INET)
    writer.write(payload)
    await writer.drain()
    writer.write_eof()
    data = await reader.read()
    writer.close()
    return data


def tls_echo(port, payload, hostname="127.0.0.1"):
    context = ssl.create_default_context()
    with socket.create_connection(("127.0.0.1", port)) as raw:
        with context.wrap_socket(raw, server_hostname=hostname) as sock:
            sock.sendall(payload + b"\n")
            line = sock.makefile("rb").readline()
            return json.dumps({"echo": line.decode(), "version": sock.version(),
                               "san": sock.getpeercert()["subjectAltName"]}).encode()


def tls_handshake_timeout(port):
    with socket.create_connection(("127.0.0.1", port), timeout=0.3) as raw:
        try:
            ssl.create_default_context().wrap_socket(raw, server_hostname="127.0.0.1")
        except TimeoutError as exc:     # socket.timeout
            return f"timeout: {exc}".encode()
    return b"no timeout"


def redis_roundtrip(port):
    import redis
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
    r.set("greeting", "hello from a worker")
    r.incr("counter")
    return json.dumps({"get": r.get("greeting").decode(), "counter": int(r.get("counter"))}).encode()


def requests_get(port):
    import requests
    r = requests.get(f"http://127.0.0.1:{port}/hello", timeout=5)
    return f"{r.status_code} {r.text}".encode()


def urllib_get(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=5) as r:
        return f"{r.status} {r.read().decode()}".encode()


def postgres_query(env):
    import pg8000      # the DB-API, which every pg8000 version has
    db = env.DB
    conn = pg8000.connect(user=db.user, host=db.host, port=db.port, database=db.database,
                          password=db.password or None)
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT 1 + %s AS answer, current_database()", (41,))
        rows = [list(row) for row in cursor.fetchall()]
    finally:
        conn.close()
    return json.dumps({"rows": rows, "dsn": db.connectionString}).encode()


async def cf_connect(port, payload, tls_port):
    """cloudflare:sockets as Cloudflare documents it, plain and with secureTransport "on"."""
    from cloudflare.sockets import connect
    from workers import import_from_javascript

    out = {}
    sock = import_from_javascript("cloudflare:sockets").connect(f"127.0.0.1:{port}")
    info = await sock.opened
    out["remote"] = info.remoteAddress
    writer = sock.writable.getWriter()
    await writer.write(payload)
    await writer.close()
    reader = sock.readable.getReader()
    got = b""
    while True:
        chunk = await reader.read()
        if chunk.done:
            break
        got += chunk.value.to_bytes()
    out["echo"] = got.decode()
    await sock.close()
    tls = connect({"hostname": "127.0.0.1", "port": tls_port}, {"secureTransport": "on"})
    w = tls.writable.getWriter()
    await w.write(b"over tls\n")
    r = tls.readable.getReader()
    out["tls"] = (await r.read()).value.to_bytes().decode()
    await tls.close()
    bad = connect("127.0.0.1:1")
    try:
        await bad.opened
    except Exception as exc:
        out["refused"] = type(exc).__name__
    return json.dumps(out).encode()


def c_driver(env):
    import psycopg2
    try:
        psycopg2.connect(env.DB.connectionString, connect_timeout=5)
    except psycopg2.OperationalError as exc:
        return str(exc).encode()
    return b"connected"


def refused(kind):
    try:
        if kind == "udp":
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        elif kind == "unix":
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        elif kind == "listen":
            socket.socket().listen()
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}".encode()
    return b"allowed"


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        port = int(q.get("port", 0))
        payload = q.get("data", "hello").encode() * int(q.get("times", 1))
        try:
            body = await self.route(url.path, port, payload, q)
        except Exception as exc:
            return Response(f"{type(exc).__name__}: {exc}", status=500)
        return Response(body)

    async def route(self, path, port, payload, q):
        if path == "/echo":
            return blocking_echo(port, payload)
        if path == "/select":
            return selector_echo(port, payload)
        if path == "/timeout":
            return timeout_recv(port)
        if path == "/asyncio":
            return await asyncio_echo(port, payload)
        if path == "/tls":
            return tls_echo(port, payload, q.get("hostname", "127.0.0.1"))
        if path == "/tls_timeout":
            return tls_handshake_timeout(port)
        if path == "/redis":
            return redis_roundtrip(port)
        if path == "/requests":
            return requests_get(port)
        if path == "/urllib":
            return urllib_get(port)
        if path == "/postgres":
            return postgres_query(self.env)
        if path == "/cf":
            return await cf_connect(port, payload, int(q["tls_port"]))
        if path == "/psycopg2":
            return c_driver(self.env)
        if path == "/refused":
            return refused(q["kind"])
        if path == "/connect":
            blocking_echo(port, b"x")
            return b"connected"
        return b"?"
