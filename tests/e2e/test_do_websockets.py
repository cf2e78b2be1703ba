"""Durable Objects' hibernatable WebSockets (issue 17 item 6): ctx.acceptWebSocket(ws, tags),
getWebSockets(tag), getTags, serializeAttachment/deserializeAttachment, the auto-response,
webSocketMessage / webSocketClose / webSocketError, sockets that stay open while their object
is evicted (and wake it), many sockets on one object, an isolate crash closing them with 1011,
--threads 2 (the client's loop is not the object's), and the examples/durable-objects chat
room. Real binary, real WebSocket clients (tests/e2e/ws_client.py)."""

import json
import os
import signal
import textwrap
import time

import pytest

from conftest import REPO, Server, assert_no_sanitizer_report
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
def rooms(tmp_path):
    """rooms(*args) -> a Server running WORKER."""
    servers = []

    def start(*args):
        d = tmp_path / "w"
        d.mkdir(exist_ok=True)
        (d / "worker.py").write_text(WORKER)
        (d / "config.capnp").write_text(config_text())
        s = Server(d / "config.capnp", args, tmp=tmp_path)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop(signal.SIGKILL)
        assert_no_sanitizer_report(s.log())


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


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


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
