"""Durable Objects' hibernatable WebSockets (issue 17 item 6): ctx.acceptWebSocket(ws, tags),
getWebSockets(tag), getTags, serializeAttachment/deserializeAttachment, the auto-response,
webSocketMessage / webSocketClose / webSocketError, sockets that stay open while their object
is evicted (and wake it), many sockets on one object, an isolate crash closing them with 1011,
--threads 2 (the client's loop is not the object's), and the examples/durable-objects chat
room. Real binary, real WebSocket clients (tests/e2e/ws_client.py)."""

import json
import os
import shutil
import signal
import textwrap
import time

import pytest

from conftest import REPO, Server, assert_no_sanitizer_report, wait_for
from ws_client import BINARY, CLOSE, TEXT, WSClient

WORKER = r'''
import json
import os
from urllib.parse import urlparse, parse_qs

from js import WebSocketPair, WebSocketRequestResponsePair
from workers import DurableObject, Response, WorkerEntrypoint


class Room(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.built = os.getpid(), id(self)   # a new pair each time the object is rebuilt
        self.builds = (ctx.storage.kv.get("builds") or 0) + 1
        ctx.storage.kv.put("builds", self.builds)
        ctx.setWebSocketAutoResponse(WebSocketRequestResponsePair("ping", "pong"))

    async def fetch(self, request):
        q = parse_qs(urlparse(request.url).query)
        if "stats" in q:
            return Response.json(self.stats())
        client, server = WebSocketPair.new().object_values()
        tags = q.get("tag", [])
        if "plain" in q:                     # not hibernatable: accept() in the object
            server.accept()
            server.addEventListener("message", lambda e: server.send("plain:" + e.data))
            return Response(None, status=101, web_socket=client)
        if "bad" in q:
            self.ctx.acceptWebSocket(server, tags)
            raise ValueError("refused after accept")
        self.ctx.acceptWebSocket(server, tags)
        server.serializeAttachment({"name": q.get("name", ["?"])[0], "n": 0})
        server.send("welcome " + ",".join(self.ctx.getTags(server)))
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws, message):
        att = ws.deserializeAttachment()
        if isinstance(message, bytes):
            ws.send(b"bin:" + message)
            return
        cmd, _, arg = message.partition(" ")
        if cmd == "count":
            att["n"] += 1
            ws.serializeAttachment(att)
            ws.send(f"{att['name']}:{att['n']}")
        elif cmd == "builds":
            ws.send(str(self.builds))
        elif cmd == "who":
            ws.send(json.dumps({"pid": self.built[0], "obj": self.built[1]}))
        elif cmd == "tagged":
            ws.send(json.dumps(sorted(w.deserializeAttachment()["name"]
                                      for w in self.ctx.getWebSockets(arg or None))))
        elif cmd == "broadcast":
            for w in self.ctx.getWebSockets():
                w.send(f"{att['name']} says {arg}")
        elif cmd == "close":
            ws.close(4000, "asked to")
        elif cmd == "crash":
            os._exit(3)
        elif cmd == "raise":
            raise RuntimeError("handler failed")
        elif cmd == "autots":
            ts = self.ctx.getWebSocketAutoResponseTimestamp(ws)
            ws.send("none" if ts is None else "set")
        elif cmd == "store":
            await self.ctx.storage.put("last", arg)
            ws.send("stored " + (await self.ctx.storage.get("last")))
        else:
            ws.send("echo:" + message)

    async def webSocketClose(self, ws, code, reason, wasClean):
        events = (await self.ctx.storage.get("closes")) or []
        events.append([ws.deserializeAttachment()["name"], code, reason, wasClean])
        await self.ctx.storage.put("closes", events)
        if reason == "reply-yourself":
            ws.close(1000, "closed by the object")

    async def webSocketError(self, ws, error):
        errors = (await self.ctx.storage.get("errors")) or []
        errors.append([ws.deserializeAttachment()["name"], str(error)])
        await self.ctx.storage.put("errors", errors)

    async def history(self):
        return {"closes": (await self.ctx.storage.get("closes")) or [],
                "errors": (await self.ctx.storage.get("errors")) or [],
                "open": sorted(w.deserializeAttachment()["name"] for w in self.ctx.getWebSockets())}

    def stats(self):
        return {"pid": self.built[0], "sockets": len(self.ctx.getWebSockets())}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlparse(request.url).path.strip("/").split("/")
        room = self.env.ROOM.getByName(path[0] or "lobby")
        if path[1:] == ["history"]:
            return Response.json(await room.history())
        return await room.fetch(request)
'''


def config_text():
    return textwrap.dedent("""\
        using Workerd = import "/workerd/workerd.capnp";
        const config :Workerd.Config = (
          services = [
            (name = "main", worker = .w),
            (name = "do-disk", disk = (path = "do-data", writable = true)),
          ],
          sockets = [(name = "http", address = "127.0.0.1:1", http = (), service = "main")],
        );
        const w :Workerd.Worker = (
          modules = [(name = "worker.py", pythonModule = embed "worker.py")],
          compatibilityDate = "2025-09-01",
          compatibilityFlags = ["python_workers"],
          durableObjectNamespaces = [(className = "Room", uniqueKey = "rooms-5e1f", enableSql = true)],
          durableObjectStorage = (localDisk = "do-disk"),
          bindings = [(name = "ROOM", durableObjectNamespace = "Room")],
        );
        """)


@pytest.fixture
def rooms(tmp_path, serve):
    """rooms(*args) -> a Server running WORKER."""
    def start(*args):
        d = tmp_path / "w"
        d.mkdir(exist_ok=True)
        (d / "worker.py").write_text(WORKER)
        (d / "config.capnp").write_text(config_text())
        return serve(d / "config.capnp", *args)

    return start


def join(s, room="lobby", name="a", tags=()):
    query = "&".join([f"name={name}"] + [f"tag={t}" for t in tags])
    ws = WSClient(s.port, f"/{room}?{query}")
    op, data = ws.recv_message()
    assert (op, data) == (TEXT, "welcome " + ",".join(tags)), data
    return ws


def ask(ws, text):
    ws.send_text(text)
    op, data = ws.recv_message()
    assert op == TEXT, (op, data)
    return data


def history(s, room="lobby"):
    status, _, body = s.get(f"/{room}/history")
    assert status == 200, body
    return json.loads(body)


def test_messages_reach_webSocketMessage_and_answers_come_back(rooms):
    s = rooms()
    ws = join(s, name="ann")
    assert ask(ws, "hello") == "echo:hello"
    assert ask(ws, "count") == "ann:1"
    assert ask(ws, "count") == "ann:2"
    ws.send_bytes(b"\x00\x01")
    assert ws.recv_message() == (BINARY, b"bin:\x00\x01")
    assert ask(ws, "store it") == "stored it"
    ws.close(1000, "bye")
    assert ws.recv_message() == (CLOSE, (1000, "bye"))     # the runtime's auto-reply
    assert wait_for(lambda: history(s)["closes"]) == [["ann", 1000, "bye", True]]
    assert history(s)["open"] == []


def test_sockets_stay_open_while_the_object_is_evicted_and_wake_it(rooms):
    s = rooms("--durable-object-idle-timeout", "0.3")
    ann, bob = join(s, name="ann", tags=["red"]), join(s, name="bob", tags=["red", "blue"])
    assert ask(ann, "count") == "ann:1"
    first = json.loads(ask(ann, "who"))
    time.sleep(1.0)                                 # idle: the object leaves memory
    assert ask(ann, "count") == "ann:2"             # the attachment survived
    assert ask(bob, "count") == "bob:1"
    assert json.loads(ask(bob, "who")) != first     # a new instance
    assert json.loads(ask(bob, "tagged red")) == ["ann", "bob"]    # restored from the host
    assert json.loads(ask(bob, "tagged blue")) == ["bob"]
    time.sleep(1.0)
    assert json.loads(ask(ann, "tagged")) == ["ann", "bob"]
    bob.send_text("broadcast hi")
    assert bob.recv_message() == (TEXT, "bob says hi")
    assert ann.recv_message() == (TEXT, "bob says hi")


def test_the_auto_response_answers_without_waking_the_object(rooms):
    s = rooms("--durable-object-idle-timeout", "0.3")
    ws = join(s, name="ann")
    assert ask(ws, "builds") == "1"
    assert ask(ws, "autots") == "none"
    time.sleep(1.0)                                 # evicted
    for _ in range(5):
        assert ask(ws, "ping") == "pong"
    time.sleep(1.0)                                 # had a ping woken it, it would be gone again
    assert ask(ws, "builds") == "2"                 # built for this message only
    assert ask(ws, "autots") == "set"
    assert ask(ws, "pingx") == "echo:pingx"         # only the exact request is answered


def test_tags_many_sockets_and_broadcast(rooms):
    s = rooms()
    clients = [join(s, name=f"u{i:02}", tags=["even" if i % 2 == 0 else "odd"]) for i in range(40)]
    assert len(json.loads(ask(clients[0], "tagged even"))) == 20
    assert json.loads(ask(clients[1], "tagged odd"))[:3] == ["u01", "u03", "u05"]
    clients[7].send_text("broadcast x")
    for c in clients:
        assert c.recv_message() == (TEXT, "u07 says x")
    for c in clients:
        c.close(1000, "")
        assert c.recv_message()[0] == CLOSE
    assert wait_for(lambda: len(history(s)["closes"]) == 40)


def test_the_object_closes_and_the_close_handler_may_answer(rooms):
    s = rooms()
    ws = join(s, name="ann")
    ws.send_text("close")
    assert ws.recv_message() == (CLOSE, (4000, "asked to"))
    ws.close(4000, "asked to")
    bob = join(s, name="bob")
    bob.close(1000, "reply-yourself")
    assert bob.recv_message() == (CLOSE, (1000, "closed by the object"))
    closes = wait_for(lambda: len(history(s)["closes"]) == 2 and history(s)["closes"])
    assert closes == [["ann", 4000, "asked to", True], ["bob", 1000, "reply-yourself", True]]
    assert ws.at_eof() and bob.at_eof()


def test_a_vanished_client_is_a_1006_close_and_a_bad_frame_an_error(rooms):
    s = rooms()
    ann = join(s, name="ann")
    ann.abort()
    assert wait_for(lambda: history(s)["closes"]) == \
        [["ann", 1006, "WebSocket disconnected without sending Close frame.", False]]
    bob = join(s, name="bob")
    bob.send_frame(TEXT, b"\xff\xfe")                # not UTF-8: the host closes with 1007
    assert bob.recv_message()[1][0] == 1007
    errors = wait_for(lambda: history(s)["errors"])
    assert errors[0][0] == "bob"
    assert history(s)["open"] == []


def test_a_handler_that_raises_leaves_the_socket_open(rooms):
    s = rooms()
    ws = join(s, name="ann")
    ws.send_text("raise")
    assert ask(ws, "hello") == "echo:hello"
    assert "handler failed" in s.wait_log("handler failed")


def test_an_isolate_crash_closes_its_sockets_with_1011(rooms):
    s = rooms()
    ann, bob = join(s, name="ann"), join(s, name="bob")
    ann.send_text("crash")
    for c in (ann, bob):
        op, (code, _) = c.recv_message()
        assert (op, code) == (CLOSE, 1011)
    again = join(s, name="cy")                      # the object is rebuilt elsewhere
    assert ask(again, "hello") == "echo:hello"
    assert json.loads(ask(again, "tagged")) == ["cy"]


def test_a_fetch_that_accepts_then_raises_keeps_no_socket(rooms):
    s = rooms()
    status, _, body = s.get("/lobby?bad=1", headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                                      "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                      "Sec-WebSocket-Version": "13"})
    assert status == 500, body
    status, _, body = s.get("/lobby?stats=1")
    assert json.loads(body)["sockets"] == 0


def test_a_plain_websocket_of_an_object_is_relayed_too(rooms):
    s = rooms()
    ws = WSClient(s.port, "/lobby?plain=1")
    assert ask(ws, "x") == "plain:x"
    ws.close(1000, "")
    assert ws.recv_message()[0] == CLOSE


def test_threads_two_loops_share_one_object(rooms):
    s = rooms("--threads", "2", "--durable-object-idle-timeout", "0.5")
    clients = [join(s, name=f"t{i}") for i in range(8)]     # accepted by both loops
    for i, c in enumerate(clients):
        assert ask(c, "count") == f"t{i}:1"
    clients[3].send_text("broadcast hey")
    for c in clients:
        assert c.recv_message() == (TEXT, "t3 says hey")
    time.sleep(1.5)                                 # evicted; the sockets stay
    assert ask(clients[5], "count") == "t5:2"
    for c in clients:
        c.close(1000, "done")
        assert c.recv_message() == (CLOSE, (1000, "done"))
    assert wait_for(lambda: len(history(s)["closes"]) == 8)


# ---------------------------------------------------------------- examples/durable-objects chat


def chat_line(ws):
    op, data = ws.recv_message()
    assert op == TEXT, (op, data)
    return json.loads(data)


@pytest.fixture
def chat_example(tmp_path):
    d = tmp_path / "durable-objects"
    shutil.copytree(REPO / "examples" / "durable-objects", d)
    return d


def test_chat_room_example(chat_example, tmp_path):
    s = Server(chat_example / "config.capnp", ["--durable-object-idle-timeout", "0.3"], tmp=tmp_path)
    try:
        status, headers, page = s.get("/chat/tea")
        assert status == 200 and b"<h1 id=\"room\">" in page
        ann = WSClient(s.port, "/chat/tea/ws?name=ann")
        assert chat_line(ann) == {"from": "*", "text": "ann joined (1 here)"}
        bob = WSClient(s.port, "/chat/tea/ws?name=bob")
        assert chat_line(bob) == chat_line(ann) == {"from": "*", "text": "bob joined (2 here)"}
        time.sleep(1.0)                                     # the room sleeps; sockets stay
        ann.send_text("ping")
        assert ann.recv_message() == (TEXT, "pong")
        ann.send_text("hello")
        assert chat_line(ann) == chat_line(bob) == {"from": "ann", "text": "hello"}
        bob.close(1000, "")
        assert bob.recv_message()[0] == CLOSE
        assert chat_line(ann) == {"from": "*", "text": "bob left"}
        other = WSClient(s.port, "/chat/other/ws?name=zed")   # another room, another object
        assert chat_line(other) == {"from": "*", "text": "zed joined (1 here)"}
    finally:
        s.stop(signal.SIGKILL)
    s = Server(chat_example / "config.capnp", [], tmp=tmp_path)     # after kill -9: history stays
    try:
        cy = WSClient(s.port, "/chat/tea/ws?name=cy")
        assert chat_line(cy) == {"from": "ann", "text": "hello"}
        assert chat_line(cy) == {"from": "*", "text": "cy joined (1 here)"}
    finally:
        s.stop(signal.SIGKILL)
        assert_no_sanitizer_report(s.log())


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                    reason="needs Debian's chromium and chromium-driver (scripts/install-deps)")
def test_chat_room_example_in_two_headless_chromium_pages(chat_example, tmp_path):
    from test_websockets import LINES, SAY, WebDriver

    server = Server(chat_example / "config.capnp", ["--threads", "2"], tmp=tmp_path)
    driver = WebDriver(tmp_path)
    sessions = []
    try:
        ann, bob = driver.session("ann"), driver.session("bob")
        sessions = [ann, bob]
        base = f"http://127.0.0.1:{server.port}/chat/lounge"
        driver.go(ann, base + "?name=ann")
        wait_for(lambda: driver.js(ann, "return document.getElementById('status').textContent")
                 == "connected as ann", timeout=30)
        driver.go(bob, base + "?name=bob")
        wait_for(lambda: "bob joined (2 here)" in driver.js(ann, LINES), timeout=30)
        driver.js(ann, SAY, "hello from ann")
        wait_for(lambda: "ann: hello from ann" in driver.js(bob, LINES))
        driver.js(bob, SAY, "hi ann, bob here ✓")
        wait_for(lambda: "bob: hi ann, bob here ✓" in driver.js(ann, LINES))
        driver.close(bob)
        sessions.remove(bob)
        wait_for(lambda: "bob left" in driver.js(ann, LINES))
    finally:
        for s in sessions:
            driver.close(s)
        driver.stop()
        server.stop()


# ---------------------------------------------------------------- workerd's test, in Python

SHAPE_OF_WORKERDS_TEST = r'''
from js import WebSocketPair
from workers import DurableObject, Request, Response, WorkerEntrypoint


class DurableObjectWebSocket(DurableObject):
    async def fetch(self, request):
        assert isinstance(request, Request)
        client, server = WebSocketPair.new()        # iterating a pair: (client, server)
        self.ctx.acceptWebSocket(server)
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws, message):
        print("the object got", message)
        ws.send("hello")

    async def webSocketClose(self, ws, code, reason, wasClean):
        print("closed in the object", code)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.headers.get("Upgrade") != "websocket":
            return Response(None, status=426)
        return await self.env.ns.getByName("A").fetch(request)
'''

TESTER = r'''
import asyncio

from workers import WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def test(self, ctrl):
        resp = await self.env.PYTHON.fetch("http://example.com/websocket",
                                           headers={"Upgrade": "websocket"})
        ws = resp.web_socket
        assert ws is not None, resp.status
        ws.accept()
        got = asyncio.get_running_loop().create_future()
        ws.addEventListener("message", lambda e: got.done() or got.set_result(e.data))
        ws.send("test")
        assert await asyncio.wait_for(got, 10) == "hello"
        ws.close()
'''


def test_workerds_durable_object_websocket_test_as_a_python_tester(tmp_path):
    """workerd's tests/python/durable-object-websocket (its tester is JavaScript; the same
    steps in Python): a service binding's fetch reaches a worker that returns the object's
    hibernatable socket; a message comes back from webSocketMessage."""
    from conftest import run_pyworkerd
    (tmp_path / "worker.py").write_text(SHAPE_OF_WORKERDS_TEST)
    (tmp_path / "tester.py").write_text(TESTER)
    (tmp_path / "config.capnp").write_text(textwrap.dedent("""\
        using Workerd = import "/workerd/workerd.capnp";
        const config :Workerd.Config = (
          services = [
            (name = "main", worker = .w),
            (name = "tester", worker = .t),
            (name = "disk", disk = (path = "do", writable = true)),
          ],
        );
        const w :Workerd.Worker = (
          modules = [(name = "worker.py", pythonModule = embed "worker.py")],
          compatibilityDate = "2025-09-01", compatibilityFlags = ["python_workers"],
          durableObjectNamespaces = [(className = "DurableObjectWebSocket", uniqueKey = "ws-test")],
          durableObjectStorage = (localDisk = "disk"),
          bindings = [(name = "ns", durableObjectNamespace = "DurableObjectWebSocket")],
        );
        const t :Workerd.Worker = (
          modules = [(name = "tester.py", pythonModule = embed "tester.py")],
          compatibilityDate = "2025-09-01", compatibilityFlags = ["python_workers"],
          bindings = [(name = "PYTHON", service = "main")],
        );
        """))
    r = run_pyworkerd("test", tmp_path / "config.capnp", cwd=tmp_path)
    assert r.returncode == 0 and "[ PASS ] tester" in r.stderr, r.stderr
    assert "the object got test" in r.stderr + r.stdout
