# A counter per name and a chat room per name, each kept by a Durable Object (see
# config.capnp).
import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from js import WebSocketPair, WebSocketRequestResponsePair
from workers import DurableObject, Response, WorkerEntrypoint

PAGE = (Path(__file__).parent / "chat.html").read_text()
HISTORY = 20        # messages a new member of a room is shown


class Counter(DurableObject):
    async def fetch(self, request):
        # No lock: while get() reads storage no other request reaches this object, and the
        # response leaves only once the put() is durable.
        value = (await self.ctx.storage.get("value") or 0) + 1
        await self.ctx.storage.put("value", value)
        return Response(str(value))

    async def count(self):
        return await self.ctx.storage.get("value") or 0


class ChatRoom(DurableObject):
    """One chat room. Its members' WebSockets are hibernatable: the runtime holds them while
    the room sleeps, and wakes it (rebuilt from storage and the sockets' attachments) for the
    next message. "ping" is answered with "pong" without waking it."""

    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        ctx.setWebSocketAutoResponse(WebSocketRequestResponsePair("ping", "pong"))

    async def fetch(self, request):
        name = parse_qs(urlparse(request.url).query).get("name", ["anonymous"])[0][:32]
        client, server = WebSocketPair.new().object_values()
        self.ctx.acceptWebSocket(server)
        server.serializeAttachment({"name": name})
        for line in await self.ctx.storage.get("history") or []:
            server.send(json.dumps(line))
        await self.say("*", f"{name} joined ({len(self.ctx.getWebSockets())} here)")
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws, message):
        if isinstance(message, str) and message.strip():
            await self.say(ws.deserializeAttachment()["name"], message[:2000])

    async def webSocketClose(self, ws, code, reason, wasClean):
        await self.say("*", f"{ws.deserializeAttachment()['name']} left")

    async def say(self, sender, text):
        line = {"from": sender, "text": text}
        if sender != "*":
            history = (await self.ctx.storage.get("history") or [])[-(HISTORY - 1):]
            await self.ctx.storage.put("history", history + [line])
        for ws in self.ctx.getWebSockets():
            ws.send(json.dumps(line))


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        parts = urlparse(request.url).path.strip("/").split("/")
        if parts[0] == "chat" and len(parts) > 1:          # /chat/<room>, /chat/<room>/ws
            if parts[2:] != ["ws"]:
                return Response(PAGE, headers={"content-type": "text/html; charset=utf-8"})
            if request.headers.get("upgrade") != "websocket":
                return Response("this is the room's WebSocket: connect with one", status=426)
            return await self.env.CHAT.getByName(parts[1]).fetch(request)
        counter = self.env.COUNTER.getByName(parts[0] or "default")
        if parts[1:] == ["count"]:
            return Response(str(await counter.count()))
        return await counter.fetch(request)

    async def test(self, ctrl):
        # `pyworkerd test config.capnp` runs this with the same bindings.
        counter = self.env.COUNTER.getByName("test-run")
        before = await counter.count()
        response = await counter.fetch("https://counter.example/test-run")
        assert int(await response.text()) == before + 1
        assert await counter.count() == before + 1
