"""WebSockets into a worker (issue 16 item 1), through the real server with a real client
(tests/e2e/ws_client.py, the socket module only): echo of text and binary, the handshake's
headers, close codes both ways, fragmented and 1 MiB messages, ping/pong, UTF-8 and protocol
errors, a client that vanishes (the handler sees 1006, nothing is left behind), an isolate
that dies, flow control both ways with bounded host memory, and 1,000 connections held at
once with flat host memory, on one host loop and on two."""

import json
import os
import resource
import socket
import struct
import time

import pytest
from conftest import BIN, Server, write_worker
from ws_client import BINARY, CLOSE, PING, PONG, TEXT, CONT, Refused, WSClient

WORKER = """
import asyncio
import json
import os
from urllib.parse import urlparse

from js import WebSocketPair
from pyworkerd import websocket as _ws
from workers import Response, WorkerEntrypoint

EVENTS = []


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlparse(request.url).path
        if path == "/events":
            return Response(json.dumps(EVENTS), headers={"content-type": "application/json"})
        if path == "/live":
            return Response(str(len(_ws.live)))
        if path == "/pid":
            return Response(str(os.getpid()))
        if path == "/misuse":       # a WebSocket for a request that is not an upgrade
            client, server = WebSocketPair.new().object_values()
            server.accept()
            server.addEventListener("close", lambda e: EVENTS.append(["misuse-close", e.code]))
            return Response(None, status=101, web_socket=client)
        if request.headers.get("upgrade") != "websocket":
            return Response("expected a WebSocket", status=426)
        client, server = WebSocketPair.new().object_values()
        server.accept()
        name = path.strip("/")

        def on_close(event):
            EVENTS.append([name, "close", event.code, event.reason, event.wasClean])

        server.addEventListener("close", on_close)
        server.addEventListener("error", lambda e: EVENTS.append([name, "error"]))
        if path == "/slow":
            async def slow(event):
                await asyncio.sleep(0.002)
                EVENTS.append([name, "got", len(event.data)])
            server.addEventListener("message", slow)
        elif path == "/flood":
            def flood(event):
                count, size = map(int, event.data.split())
                for i in range(count):
                    server.send(str(i).encode().ljust(size, b"."))
            server.addEventListener("message", flood)
        else:
            server.addEventListener("message", lambda e: command(server, e.data))
        if path == "/greet":
            server.send("welcome")
            server.send(b"\\x01\\x02")
        headers = {}
        protocols = request.headers.get("sec-websocket-protocol")
        if protocols:
            headers["sec-websocket-protocol"] = protocols.split(",")[0].strip()
        return Response(None, status=101, web_socket=client, headers=headers)


def command(server, data):
    if isinstance(data, str) and data.startswith("close "):
        _, code, reason = (data.split(" ", 2) + [""])[:3]
        server.close(int(code) if code != "-" else None, reason or None)
    elif data == "die":
        os._exit(3)
    elif data == "raise":
        raise RuntimeError("listener failure")
    elif data == "big":
        server.send(b"x" * (1024 * 1024))
    elif data == "too big":
        try:
            server.send(b"x" * (1024 * 1024 + 1))
        except ValueError as exc:
            server.send("refused: " + str(exc))
    else:
        server.send(data)
"""


@pytest.fixture(scope="module")
def ws_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("ws")
    server = Server(write_worker(d / "w", {"worker.py": WORKER}, date="2025-09-01"), tmp=d)
    yield server
    server.stop()


# ASan keeps freed memory in quarantine: RSS comparisons only hold for the plain build
UNDER_ASAN = "build-asan" in BIN


def events(server):
    return json.loads(server.get("/events")[2])


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# ---------------------------------------------------------------- echo and the handshake


def test_echo_text_and_binary(ws_server):
    c = WSClient(ws_server.port, "/echo")
    c.send_text("hello")
    assert c.recv() == (TEXT, "hello")
    c.send_text("héllo ✓ 🎉")
    assert c.recv() == (TEXT, "héllo ✓ 🎉")
    c.send_bytes(b"\x00\xff\x10")
    assert c.recv() == (BINARY, b"\x00\xff\x10")
    c.send_text("")
    assert c.recv() == (TEXT, "")
    c.close()
    assert c.recv()[0] == CLOSE
    assert c.at_eof()


def test_handshake_headers_and_subprotocol(ws_server):
    c = WSClient(ws_server.port, "/echo", headers={"Sec-WebSocket-Protocol": "chat, superchat"})
    assert c.headers["upgrade"].lower() == "websocket"
    assert c.headers["connection"].lower() == "upgrade"
    assert c.headers["sec-websocket-protocol"] == "chat"
    c.abort()


def test_plain_request_to_the_websocket_route(ws_server):
    status, _, body = ws_server.get("/echo")
    assert (status, body) == (426, b"expected a WebSocket")


def test_websocket_for_a_request_that_is_no_upgrade_is_an_error(ws_server):
    status, _, body = ws_server.get("/misuse")
    assert status == 400
    assert b"Upgrade: websocket" in body
    wait_for(lambda: ["misuse-close", 1006] in events(ws_server))
    assert ws_server.get("/")[0] == 426     # the server goes on


def test_bad_handshakes_are_refused_before_the_worker_accepts(ws_server):
    with socket.create_connection(("127.0.0.1", ws_server.port), timeout=5) as s:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 400")


def test_messages_sent_before_the_response_arrive_first(ws_server):
    c = WSClient(ws_server.port, "/greet")
    assert c.recv() == (TEXT, "welcome")
    assert c.recv() == (BINARY, b"\x01\x02")
    c.send_text("after")
    assert c.recv() == (TEXT, "after")
    c.abort()


def test_many_messages_keep_their_order(ws_server):
    c = WSClient(ws_server.port, "/echo")
    for i in range(500):
        c.send_text(f"m{i}")
    assert [c.recv()[1] for _ in range(500)] == [f"m{i}" for i in range(500)]
    c.abort()


# ---------------------------------------------------------------- closing


def test_client_close_code_and_reason_reach_the_handler_and_are_answered(ws_server):
    c = WSClient(ws_server.port, "/client-close")
    c.send_text("x")
    assert c.recv() == (TEXT, "x")
    c.close(4001, "bye now")
    assert c.recv() == (CLOSE, (4001, "bye now"))
    assert c.at_eof()
    wait_for(lambda: ["client-close", "close", 4001, "bye now", True] in events(ws_server))


def test_client_close_without_code_is_1005(ws_server):
    c = WSClient(ws_server.port, "/no-code")
    c.close(None)
    assert c.recv() == (CLOSE, (1005, ""))
    wait_for(lambda: ["no-code", "close", 1005, "", True] in events(ws_server))


def test_worker_close_code_and_reason_reach_the_client(ws_server):
    c = WSClient(ws_server.port, "/worker-close")
    c.send_text("close 4002 all done")
    assert c.recv() == (CLOSE, (4002, "all done"))
    c.close(4002, "all done")
    assert c.at_eof()
    wait_for(lambda: ["worker-close", "close", 4002, "all done", True] in events(ws_server))


def test_worker_close_without_code(ws_server):
    c = WSClient(ws_server.port, "/worker-close-plain")
    c.send_text("close -")
    fin, op, payload = c.recv_frame()
    assert (op, payload) == (CLOSE, b"")
    c.close(None)
    assert c.at_eof()


def test_worker_close_is_forced_when_the_client_never_answers(ws_server):
    c = WSClient(ws_server.port, "/rude")
    c.send_text("close 1000")
    assert c.recv() == (CLOSE, (1000, ""))
    t = time.monotonic()
    assert c.at_eof(timeout=10)             # the host's close timeout (5 s)
    assert time.monotonic() - t < 8


@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 2000, 5000])
def test_client_close_with_a_reserved_code_is_a_protocol_error(ws_server, code):
    c = WSClient(ws_server.port, "/bad-code")
    c.close(code)
    assert c.recv() == (CLOSE, (1002, "protocol error"))
    assert c.at_eof()


def test_invalid_close_codes_from_the_worker_raise(ws_server, tmp_path):
    worker = """
    from js import WebSocketPair
    from workers import Response, WorkerEntrypoint

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            client, server = WebSocketPair.new().object_values()
            server.accept()
            results = []
            for code, reason in ((1006, None), (999, None), (None, "why"), (1000, "x" * 124)):
                try:
                    server.close(code, reason)
                    results.append("closed")
                except TypeError as exc:
                    results.append(str(exc))
            server.send(" | ".join(results))
            return Response(None, status=101, web_socket=client)
    """
    server = Server(write_worker(tmp_path / "w", {"worker.py": worker}, date="2025-09-01"), tmp=tmp_path)
    try:
        c = WSClient(server.port, "/")
        op, text = c.recv()
        assert text == ("Invalid WebSocket close code: 1006. | Invalid WebSocket close code: 999. | "
                        "If you specify a WebSocket close reason, you must also specify a code. | "
                        "The WebSocket close reason is longer than 123 bytes.")
    finally:
        server.stop()


# ---------------------------------------------------------------- frames


def test_fragmented_messages_are_reassembled(ws_server):
    c = WSClient(ws_server.port, "/echo")
    text = "fragments: é✓🎉".encode()
    # split inside a multi-byte character, with a ping between fragments
    c.send_frame(TEXT, text[:12], fin=False)
    c.send_frame(PING, b"between")
    c.send_frame(CONT, text[12:14], fin=False)
    c.send_frame(CONT, text[14:], fin=True)
    assert c.recv() == (PONG, b"between")
    assert c.recv() == (TEXT, text.decode())
    c.send_frame(BINARY, b"ab", fin=False)
    c.send_frame(CONT, b"", fin=False)
    c.send_frame(CONT, b"cd", fin=True)
    assert c.recv() == (BINARY, b"abcd")
    c.abort()


def test_ping_is_answered_with_pong(ws_server):
    c = WSClient(ws_server.port, "/echo")
    c.ping(b"are you there")
    assert c.recv() == (PONG, b"are you there")
    c.ping()
    assert c.recv() == (PONG, b"")
    c.abort()


def test_one_mib_messages_both_ways(ws_server):
    c = WSClient(ws_server.port, "/echo", timeout=30)
    data = os.urandom(1024 * 1024)
    c.send_bytes(data)
    assert c.recv() == (BINARY, data)
    c.send_text("big")
    assert c.recv() == (BINARY, b"x" * (1024 * 1024))
    c.send_text("too big")
    op, text = c.recv()
    assert text.startswith("refused: WebSocket message too large")
    # a 1 MiB text message in 16 fragments
    text = "é" * (512 * 1024)
    raw = text.encode()
    for i in range(16):
        part = raw[i * 65536:(i + 1) * 65536]
        c.send_frame(TEXT if i == 0 else CONT, part, fin=i == 15)
    assert c.recv() == (TEXT, text)
    c.abort()


def test_message_over_one_mib_closes_with_1009(ws_server):
    c = WSClient(ws_server.port, "/too-big", timeout=30)
    c.send_bytes(b"y" * (1024 * 1024 + 1))
    assert c.recv() == (CLOSE, (1009, "message too big"))
    assert c.at_eof()
    wait_for(lambda: ["too-big", "close", 1009, "message too big", True] in events(ws_server))


def test_fragments_adding_up_to_over_one_mib_close_with_1009(ws_server):
    c = WSClient(ws_server.port, "/echo", timeout=30)
    c.send_frame(BINARY, b"a" * (1024 * 1024), fin=False)
    c.send_frame(CONT, b"b", fin=True)
    assert c.recv() == (CLOSE, (1009, "message too big"))


def test_invalid_utf8_closes_with_1007(ws_server):
    c = WSClient(ws_server.port, "/bad-utf8")
    c.send_frame(TEXT, b"ok \xc3\x28 no")
    assert c.recv() == (CLOSE, (1007, "invalid UTF-8"))
    assert c.at_eof()
    wait_for(lambda: ["bad-utf8", "close", 1007, "invalid UTF-8", True] in events(ws_server))
    for bad in (b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf", b"\xe2\x82"):
        c = WSClient(ws_server.port, "/echo")
        c.send_frame(TEXT, bad)
        assert c.recv() == (CLOSE, (1007, "invalid UTF-8")), bad


def test_invalid_utf8_split_over_fragments_closes_with_1007(ws_server):
    c = WSClient(ws_server.port, "/echo")
    c.send_frame(TEXT, b"abc\xe2", fin=False)
    c.send_frame(CONT, b"\x28", fin=True)
    assert c.recv() == (CLOSE, (1007, "invalid UTF-8"))


@pytest.mark.parametrize("frame", [
    dict(opcode=TEXT, payload=b"unmasked", mask=False),
    dict(opcode=TEXT, payload=b"rsv", rsv=4),
    dict(opcode=CONT, payload=b"nothing to continue"),
    dict(opcode=3, payload=b"reserved opcode"),
    dict(opcode=PING, payload=b"x" * 126),
    dict(opcode=PING, payload=b"fragmented", fin=False),
    dict(opcode=CLOSE, payload=b"\x03"),
])
def test_protocol_errors_close_with_1002(ws_server, frame):
    c = WSClient(ws_server.port, "/echo")
    c.send_frame(**frame)
    assert c.recv() == (CLOSE, (1002, "protocol error"))
    assert c.at_eof()


def test_new_message_inside_a_fragmented_one_is_a_protocol_error(ws_server):
    c = WSClient(ws_server.port, "/echo")
    c.send_frame(TEXT, b"part", fin=False)
    c.send_frame(TEXT, b"new", fin=True)
    assert c.recv() == (CLOSE, (1002, "protocol error"))


# ---------------------------------------------------------------- failures


def test_listener_exception_is_logged_and_the_socket_goes_on(ws_server):
    c = WSClient(ws_server.port, "/raising")
    c.send_text("raise")
    c.send_text("still here")
    assert c.recv() == (TEXT, "still here")
    ws_server.wait_log("RuntimeError: listener failure")
    c.abort()


def test_client_that_vanishes_is_seen_as_1006_and_nothing_is_left(ws_server):
    for i in range(5):
        c = WSClient(ws_server.port, "/vanish")
        c.send_text("x")
        assert c.recv() == (TEXT, "x")
        c.abort()
    wait_for(lambda: sum(1 for e in events(ws_server) if e[:3] == ["vanish", "close", 1006]) == 5)
    assert [e for e in events(ws_server) if e == ["vanish", "error"]]
    wait_for(lambda: ws_server.get("/live")[2] == b"0")


def test_isolate_death_closes_the_socket_with_1011(tmp_path):
    server = Server(write_worker(tmp_path / "w", {"worker.py": WORKER}, date="2025-09-01"), tmp=tmp_path)
    try:
        c = WSClient(server.port, "/die")
        c2 = WSClient(server.port, "/other")
        c.send_text("die")
        assert c.recv() == (CLOSE, (1011, ""))
        assert c.at_eof()
        assert c2.recv() == (CLOSE, (1011, ""))
        server.wait_log("isolate")
        c3 = WSClient(server.port, "/echo")     # a fresh isolate serves
        c3.send_text("back")
        assert c3.recv() == (TEXT, "back")
    finally:
        server.stop()


RUN_SYNC_WORKER = """
from js import WebSocketPair
from pyodide.ffi import run_sync
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.headers.get("upgrade") != "websocket":
            return Response("sub:" + request.url.rsplit("/", 1)[1])
        client, server = WebSocketPair.new().object_values()
        server.accept()

        async def ask(path):
            return await (await self.env.SELF.fetch("http://x/" + path)).text()

        # a sync listener that turns the loop (run_sync) for a binding call, several a burst
        server.addEventListener("message", lambda e: server.send(run_sync(ask(e.data))))
        return Response(None, status=101, web_socket=client)
"""


def test_sync_listener_waiting_on_a_binding_call_with_run_sync_gets_its_answer(tmp_path):
    """A listener that dispatch() runs may turn the loop itself (run_sync) for a binding
    call: the call it queued goes out then, though dispatch() writes the rest at its end."""
    config = write_worker(tmp_path / "w", {"worker.py": RUN_SYNC_WORKER}, date="2025-09-01",
                          bindings='(name = "SELF", service = "main")')
    server = Server(config, tmp=tmp_path)
    try:
        c = WSClient(server.port, "/", timeout=10.0)
        c.send_text("one")
        assert c.recv() == (TEXT, "sub:one")
        for i in range(5):            # several messages in one read: one dispatch() for all
            c.send_text(f"m{i}")
        assert [c.recv() for _ in range(5)] == [(TEXT, f"sub:m{i}") for i in range(5)]
        c.close()
        assert c.recv()[0] == CLOSE
    finally:
        server.stop()


def test_a_sync_listener_in_run_sync_sees_the_next_message_after_it_returns(tmp_path):
    """Messages that arrive one by one while a sync listener waits in run_sync are held for
    this socket and delivered in order once it returns (they once ran nested inside it, and
    the innermost answered first: CI saw sub:m4 before sub:m0)."""
    slow = RUN_SYNC_WORKER.replace('            return Response("sub:"',
                                   '            await asyncio.sleep(0.1)\n            return Response("sub:"')
    assert slow != RUN_SYNC_WORKER
    config = write_worker(tmp_path / "w", {"worker.py": "import asyncio\n" + slow}, date="2025-09-01",
                          bindings='(name = "SELF", service = "main")')
    server = Server(config, tmp=tmp_path)
    try:
        c = WSClient(server.port, "/", timeout=10.0)
        for i in range(5):            # separate reads: each arrives while the one before waits
            c.send_text(f"m{i}")
            time.sleep(0.02)
        assert [c.recv() for _ in range(5)] == [(TEXT, f"sub:m{i}") for i in range(5)]
        c.close()
        assert c.recv()[0] == CLOSE
    finally:
        server.stop()


# ---------------------------------------------------------------- flow control


def test_slow_handler_slows_the_client_and_host_memory_stays_bounded(ws_server):
    """4,000 messages of 8 KiB (32 MiB) to a handler that takes 2 ms each: the client is held
    back (the host reads no further than its window) instead of the host buffering."""
    host = ws_server.proc.pid
    before = rss_kib(host)
    c = WSClient(ws_server.port, "/slow", timeout=60)
    payload = b"z" * 8192
    sent = 0
    c.sock.setblocking(False)
    deadline = time.monotonic() + 1.0
    frame = bytes([0x82, 0xFE]) + struct.pack("!H", 8192) + b"\0\0\0\0" + payload  # zero mask
    blocked = False
    while time.monotonic() < deadline and sent < 4000:
        try:
            c.sock.send(frame)      # partial sends would corrupt the stream: check below
            sent += 1
        except BlockingIOError:
            blocked = True
            break
    assert blocked, "the host read 32 MiB at once: no backpressure"
    assert UNDER_ASAN or rss_kib(host) - before < 20 * 1024
    c.abort()


def test_client_that_does_not_read_holds_back_the_worker(ws_server):
    """The worker sends 2,000 messages of 32 KiB (64 MiB) to a client that reads nothing at
    first: the host holds at most the window, then everything arrives in order."""
    host = ws_server.proc.pid
    c = WSClient(ws_server.port, "/flood", timeout=60)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    before = rss_kib(host)
    c.send_text("2000 32768")
    time.sleep(1.5)
    assert UNDER_ASAN or rss_kib(host) - before < 16 * 1024
    for i in range(2000):
        op, data = c.recv()
        assert op == BINARY and data.startswith(str(i).encode() + b"."), (i, data[:20])
    c.abort()


# ---------------------------------------------------------------- many connections


def _raise_fd_limit(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _open_many(port, n):
    clients = [WSClient(port, f"/many{i % 7}", timeout=30) for i in range(n)]
    for i, c in enumerate(clients):
        c.send_text(f"hi {i}")
    for i, c in enumerate(clients):
        assert c.recv() == (TEXT, f"hi {i}")
    return clients


@pytest.mark.parametrize("threads", [1, 2])
def test_a_thousand_connections_with_flat_host_memory(tmp_path, threads):
    n = 1000
    if _raise_fd_limit(2 * n + 200) < 2 * n + 100:
        pytest.skip("not enough file descriptors for 1,000 connections")
    server = Server(write_worker(tmp_path / "w", {"worker.py": WORKER}, date="2025-09-01"),
                    ["--threads", str(threads)], tmp=tmp_path)
    try:
        host = server.proc.pid
        t = time.monotonic()
        clients = _open_many(server.port, n)
        first = rss_kib(host)
        for c in clients:
            c.close(1000)
        for c in clients:
            assert c.recv()[0] == CLOSE
            c.abort()
        clients = _open_many(server.port, n)       # again: memory must not grow
        second = rss_kib(host)
        for c in clients:
            c.abort()
        assert time.monotonic() - t < 60
        if not UNDER_ASAN:
            assert second - first < 4 * 1024, (first, second)
        wait_for(lambda: server.get("/live")[2] == b"0", timeout=20)
    finally:
        server.stop()


# ---------------------------------------------------------------- ASGI (item 2)

FASTAPI_WORKER = """
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from workers import WorkerEntrypoint
import asgi

app = FastAPI()
CLOSED = []


@app.get("/closed")
async def closed():
    return CLOSED


@app.websocket("/ws/{room}")
async def room(websocket: WebSocket, room: str, name: str = "anon"):
    await websocket.accept(subprotocol=websocket.scope["subprotocols"][0]
                           if websocket.scope["subprotocols"] else None)
    await websocket.send_text(f"{name} joined {room} ({websocket.scope['scheme']})")
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                CLOSED.append([room, message["code"]])
                return
            if message.get("bytes") is not None:
                await websocket.send_bytes(message["bytes"][::-1])
            elif message["text"] == "bye":
                await websocket.close(code=4000, reason="see you")
                return
            else:
                await websocket.send_json({"echo": message["text"]})
    except WebSocketDisconnect as exc:
        CLOSED.append([room, exc.code])


@app.websocket("/refuse")
async def refuse(websocket: WebSocket):
    await websocket.close(code=1008)


@app.websocket("/crash")
async def crash(websocket: WebSocket):
    await websocket.accept()
    raise RuntimeError("app failure after accept")


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await asgi.fetch(app, request, self.env)
"""


@pytest.fixture(scope="module")
def asgi_server(tmp_path_factory):
    d = tmp_path_factory.mktemp("asgi-ws")
    server = Server(write_worker(d / "w", {"worker.py": FASTAPI_WORKER}, date="2025-09-01",
                                 bindings='(name = "requirements", json = "[\\"fastapi\\"]")'), tmp=d)
    yield server
    server.stop()


def test_fastapi_websocket_route(asgi_server):
    c = WSClient(asgi_server.port, "/ws/lobby?name=ann", headers={"Sec-WebSocket-Protocol": "v2, v1"})
    assert c.headers["sec-websocket-protocol"] == "v2"
    assert c.recv() == (TEXT, "ann joined lobby (ws)")
    c.send_text("hi")
    assert json.loads(c.recv()[1]) == {"echo": "hi"}
    c.send_bytes(b"abc")
    assert c.recv() == (BINARY, b"cba")
    c.send_text("bye")
    assert c.recv() == (CLOSE, (4000, "see you"))
    c.close(4000)
    assert c.at_eof()


def test_fastapi_websocket_disconnect_code_reaches_the_app(asgi_server):
    c = WSClient(asgi_server.port, "/ws/kitchen")
    c.recv()
    c.close(4321, "leaving")
    assert c.recv() == (CLOSE, (4321, "leaving"))
    wait_for(lambda: ["kitchen", 4321] in json.loads(asgi_server.get("/closed")[2]))
    c = WSClient(asgi_server.port, "/ws/garden")
    c.recv()
    c.abort()
    wait_for(lambda: ["garden", 1006] in json.loads(asgi_server.get("/closed")[2]))


def test_fastapi_websocket_close_before_accept_is_403(asgi_server):
    with pytest.raises(Refused) as refused:
        WSClient(asgi_server.port, "/refuse")
    assert refused.value.status == 403
    with pytest.raises(Refused) as refused:
        WSClient(asgi_server.port, "/no-such-route")
    assert refused.value.status == 403


def test_fastapi_websocket_app_failure_after_accept_closes_1011(asgi_server):
    c = WSClient(asgi_server.port, "/crash")
    assert c.recv() == (CLOSE, (1011, ""))
    asgi_server.wait_log("app failure after accept")


def test_fastapi_http_routes_still_work_beside_websockets(asgi_server):
    status, _, body = asgi_server.get("/closed")
    assert status == 200 and isinstance(json.loads(body), list)


def test_fastapi_websocket_many_messages_in_order(asgi_server):
    c = WSClient(asgi_server.port, "/ws/order")
    c.recv()
    for i in range(300):
        c.send_text(str(i))
    assert [json.loads(c.recv()[1])["echo"] for _ in range(300)] == [str(i) for i in range(300)]
    c.abort()


# ---------------------------------------------------------------- service bindings (item 3)
# and outbound WebSockets (item 4)

SERVICES = """\
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .front), (name = "room", worker = .room),
              (name = "internet", network = (allow = ["public", "local"]{tls}))],
  sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
);
const front :Workerd.Worker = (
  modules = [(name = "front.py", pythonModule = embed "front.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "ROOM", service = "room")],
  globalOutbound = "internet",
);
const room :Workerd.Worker = (
  modules = [(name = "room.py", pythonModule = embed "room.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
);
"""

ROOM = """
from js import WebSocketPair
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.headers.get("upgrade") != "websocket":
            return Response("room wants a WebSocket", status=426)
        client, server = WebSocketPair.new().object_values()
        server.accept()
        server.send("room: welcome " + request.headers.get("x-user", "?"))

        def on_message(event):
            if event.data == "close":
                server.close(4100, "room closed")
            else:
                data = event.data
                server.send("room: " + (data if isinstance(data, str) else "bytes " + data.decode()))

        server.addEventListener("message", on_message)
        return Response(None, status=101, web_socket=client, headers={"x-room": "1"})
"""

FRONT = """
import asyncio
import json
from urllib.parse import parse_qs, urlparse

import js
from js import WebSocketPair
from workers import Response, WorkerEntrypoint, fetch


def pair():
    client, server = WebSocketPair.new().object_values()
    server.accept()
    return client, server


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/svc":              # the room's socket, handed to the client
            return await self.env.ROOM.fetch(request)
        if url.path == "/svc-relay":        # the room's socket used here, relayed
            resp = await self.env.ROOM.fetch(request)
            back = resp.web_socket
            back.accept()
            client, server = pair()
            back.addEventListener("message", lambda e: server.send("via front | " + e.data))
            back.addEventListener("close", lambda e: server.close(e.code, e.reason))
            server.addEventListener("message", lambda e: back.send(e.data))
            return Response(None, status=101, web_socket=client)
        if url.path == "/svc-plain":
            resp = await self.env.ROOM.fetch("http://room/")
            return Response(f"{resp.status} {resp.web_socket} {await resp.text()}")
        if url.path == "/out-js":           # js.WebSocket.new, relayed to the client
            client, server = pair()
            out = js.WebSocket.new(q["target"])
            out.addEventListener("open", lambda e: server.send(f"open {out.readyState}"))
            out.addEventListener("message", lambda e: server.send("remote | " + str(e.data)))
            out.addEventListener("error", lambda e: server.send("error | " + e.message))
            out.addEventListener("close", lambda e: server.send(f"remote closed {e.code}"))
            server.addEventListener("message", lambda e: out.send(e.data))
            out.send("sent while connecting")
            return Response(None, status=101, web_socket=client)
        if url.path == "/out-fetch":        # fetch() with Upgrade: websocket, in a plain request
            try:
                resp = await fetch(q["target"], headers={"Upgrade": "websocket", "x-user": "fetcher",
                                                         "Sec-WebSocket-Protocol": "p1"})
            except Exception as exc:
                return Response(json.dumps({"error": type(exc).__name__, "message": str(exc)}), status=502)
            ws = resp.web_socket
            if ws is None:
                return Response(json.dumps({"status": resp.status, "body": await resp.text()}))
            got = []
            done = asyncio.get_running_loop().create_future()
            ws.addEventListener("message", lambda e: got.append(e.data))
            ws.addEventListener("close", lambda e: done.set_result([e.code, e.reason]))
            ws.accept()
            ws.send("hello")
            ws.send(b"bytes")
            ws.send("close")
            closed = await asyncio.wait_for(done, 10)
            return Response(json.dumps({"status": resp.status, "got": got, "closed": closed,
                                        "x-room": resp.headers.get("x-room")}))
        return Response("front", status=404)
"""


@pytest.fixture
def services_ws(tmp_path):
    servers = []

    def start(tls=""):
        d = tmp_path / f"s{len(servers)}"
        d.mkdir()
        (d / "config.capnp").write_text(SERVICES.replace("{tls}", tls))
        (d / "front.py").write_text(FRONT)
        (d / "room.py").write_text(ROOM)
        if tls:
            (d / "ca.pem").write_text((tmp_path / "ca.pem").read_text())
        server = Server(d / "config.capnp", (), tmp=tmp_path)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_service_binding_upgrade_hands_the_socket_to_the_client(services_ws):
    s = services_ws()
    c = WSClient(s.port, "/svc", headers={"x-user": "ann"})
    assert c.headers["x-room"] == "1"
    assert c.recv() == (TEXT, "room: welcome ann")
    c.send_text("hi")
    assert c.recv() == (TEXT, "room: hi")
    c.send_text("close")
    assert c.recv() == (CLOSE, (4100, "room closed"))
    c.close(4100)
    assert c.at_eof()


def test_service_binding_socket_used_by_the_caller(services_ws):
    s = services_ws()
    c = WSClient(s.port, "/svc-relay", headers={"x-user": "bob"})
    assert c.recv() == (TEXT, "via front | room: welcome bob")
    for i in range(50):
        c.send_text(f"m{i}")
    assert [c.recv()[1] for _ in range(50)] == [f"via front | room: m{i}" for i in range(50)]
    c.send_text("close")
    assert c.recv() == (CLOSE, (4100, "room closed"))


def test_service_binding_plain_fetch_has_no_socket(services_ws):
    s = services_ws()
    assert s.get("/svc-plain")[2] == b"426 None room wants a WebSocket"


def test_js_websocket_new_connects_out_and_relays(services_ws, ws_server):
    s = services_ws()
    c = WSClient(s.port, f"/out-js?target=ws://127.0.0.1:{ws_server.port}/echo")
    assert c.recv() == (TEXT, "open 1")
    assert c.recv() == (TEXT, "remote | sent while connecting")
    c.send_text("through two hosts")
    assert c.recv() == (TEXT, "remote | through two hosts")
    c.send_text("close 4005 remote done")
    assert c.recv() == (TEXT, "remote closed 4005")
    c.abort()


def test_js_websocket_to_a_denied_address_fails_with_a_clear_error(services_ws):
    s = services_ws()
    c = WSClient(s.port, "/out-js?target=ws://10.255.255.1/x")
    op, text = c.recv()
    assert text.startswith("error | ") and "not allowed by the worker's globalOutbound" in text, text
    assert c.recv() == (TEXT, "remote closed 1006")
    c.abort()


def test_fetch_with_upgrade_returns_the_socket(services_ws):
    s = services_ws()
    target = f"http://127.0.0.1:{s.port}/svc"       # this same server, through its front door
    status, _, body = s.get(f"/out-fetch?target={target}")
    result = json.loads(body)
    assert result == {"status": 101, "got": ["room: welcome fetcher", "room: hello", "room: bytes bytes"],
                      "closed": [4100, "room closed"], "x-room": "1"}, result


def test_fetch_with_upgrade_to_a_plain_page_is_a_plain_response(services_ws, ws_server):
    s = services_ws()
    status, _, body = s.get(f"/out-fetch?target=http://127.0.0.1:{ws_server.port}/pid")
    result = json.loads(body)
    assert result["status"] == 200 and result["body"].isdigit(), result


def test_fetch_with_upgrade_to_a_denied_or_dead_address(services_ws):
    s = services_ws()
    result = json.loads(s.get("/out-fetch?target=ws://10.255.255.1/")[2])
    assert result["error"] == "TypeError" and "not allowed" in result["message"]
    result = json.loads(s.get(f"/out-fetch?target=ws://127.0.0.1:{free_port_nobody()}/")[2])
    assert result["error"] == "TypeError" and "connection refused" in result["message"], result


def free_port_nobody():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_wss_verifies_the_certificate(services_ws, tmp_path):
    from conftest import make_certificates
    make_certificates(tmp_path)
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    for name in ("server.key", "server.pem"):
        (tls_dir / name).write_bytes((tmp_path / name).read_bytes())
    (tls_dir / "worker.py").write_text(WORKER)
    (tls_dir / "config.capnp").write_text(
        'using Workerd = import "/workerd/workerd.capnp";\n'
        'const config :Workerd.Config = (\n'
        '  services = [(name = "main", worker = (modules = [(name = "worker.py", pythonModule = embed "worker.py")],\n'
        '    compatibilityDate = "2025-09-01", compatibilityFlags = ["python_workers"]))],\n'
        '  sockets = [(name = "http", address = "127.0.0.1:1", service = "main",\n'
        '    https = (options = (), tlsOptions = (keypair = (privateKey = embed "server.key", '
        'certificateChain = embed "server.pem"))))],\n);\n')
    tls_server = Server(tls_dir / "config.capnp", (), tmp=tmp_path)
    try:
        trusted = services_ws(', tlsOptions = (trustedCertificates = [embed "ca.pem"])')
        c = WSClient(trusted.port, f"/out-js?target=wss://127.0.0.1:{tls_server.port}/echo")
        assert c.recv() == (TEXT, "open 1")
        assert c.recv() == (TEXT, "remote | sent while connecting")
        c.abort()
        untrusted = services_ws()
        result = json.loads(untrusted.get(f"/out-fetch?target=wss://127.0.0.1:{tls_server.port}/echo")[2])
        assert result["error"] == "TypeError" and "TLS" in result["message"], result
    finally:
        tls_server.stop()


# ---------------------------------------------------------------- examples/chat in a browser

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


class WebDriver:
    """chromedriver's W3C WebDriver HTTP API, with urllib: sessions, navigation, scripts."""

    def __init__(self, tmp):
        import subprocess
        self.port = free_port_nobody()
        self.proc = subprocess.Popen([CHROMEDRIVER, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.tmp = tmp
        wait_for(self._up, timeout=20)

    def _up(self):
        try:
            return self.call("GET", "/status")["ready"]
        except OSError:
            return False

    def call(self, method, path, body=None):
        import urllib.request
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read())["value"]

    def session(self, profile):
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--user-data-dir={self.tmp / profile}"]
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome",
                                                 "goog:chromeOptions": {"binary": CHROMIUM, "args": args}}}}
        return self.call("POST", "/session", caps)["sessionId"]

    def go(self, session, url):
        self.call("POST", f"/session/{session}/url", {"url": url})

    def js(self, session, script, *args):
        return self.call("POST", f"/session/{session}/execute/sync", {"script": script, "args": list(args)})

    def close(self, session):
        self.call("DELETE", f"/session/{session}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


SAY = """
const input = document.getElementById("text");
input.value = arguments[0];
document.querySelector("#form button").click();
"""
LINES = "return [...document.querySelectorAll('#log li')].map(li => li.textContent);"


@pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                    reason="needs Debian's chromium and chromium-driver (scripts/install-deps)")
def test_chat_example_in_two_headless_chromium_pages(tmp_path):
    import shutil
    from conftest import REPO
    shutil.copytree(REPO / "examples" / "chat", tmp_path / "chat")
    server = Server(tmp_path / "chat" / "config.capnp", (), tmp=tmp_path)
    driver = WebDriver(tmp_path)
    sessions = []
    try:
        ann, bob = driver.session("ann"), driver.session("bob")
        sessions = [ann, bob]
        base = f"http://127.0.0.1:{server.port}/"
        driver.go(ann, base + "?name=ann")
        wait_for(lambda: driver.js(ann, "return document.getElementById('status').textContent")
                 == "connected as ann")
        driver.go(bob, base + "?name=bob")
        wait_for(lambda: "bob joined (2 here)" in driver.js(ann, LINES))
        driver.js(ann, SAY, "hello from ann")
        wait_for(lambda: "ann: hello from ann" in driver.js(bob, LINES))
        driver.js(bob, SAY, "hi ann, bob here ✓")
        wait_for(lambda: "bob: hi ann, bob here ✓" in driver.js(ann, LINES))
        assert driver.js(bob, LINES)[-2:] == ["ann: hello from ann", "bob: hi ann, bob here ✓"]
        driver.close(bob)
        sessions.remove(bob)
        wait_for(lambda: "bob left" in driver.js(ann, LINES))
    finally:
        for s in sessions:
            driver.close(s)
        driver.stop()
        server.stop()
