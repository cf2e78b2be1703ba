# ASGI websockets for the SDK's ASGI adapter (`workers.asgi`): a Workers request carrying
# `Upgrade: websocket` runs the app with a "websocket" scope (FastAPI/Starlette
# `@app.websocket`), the full message set: websocket.connect, websocket.receive (text or
# bytes), websocket.disconnect (code, reason) in; websocket.accept (subprotocol, headers),
# websocket.send, websocket.close (code, reason) out. The app's accept becomes
# `Response(status=101, web_socket=client)`, returned while the app goes on in its own task;
# a close before accept (or an app that returns without accepting) is a 403, as uvicorn
# answers. Runs in isolates. Flow control: at most QUEUE messages wait for the app's
# receive() (then the client is slowed by the host), and send() returns once its message
# is within the socket's window.
# Invariant: one Response per request; after the socket closed, send() raises OSError.
"""ASGI websocket sessions (FastAPI/Starlette `@app.websocket`) over a Workers WebSocket."""

from __future__ import annotations

import asyncio
from typing import Any

from pyworkerd import context, webapi
from pyworkerd.response import Response
from pyworkerd.websocket import WebSocketPair

QUEUE = 16
"""Messages the client may have waiting for the app's receive()."""
_running: set[asyncio.Task[None]] = set()
"""The apps' tasks (asyncio keeps only weak references)."""


class ClientDisconnected(OSError):
    """send() after the WebSocket closed (uvicorn's name for it)."""


def is_upgrade(request: webapi.Request) -> bool:
    return (request.headers.get("upgrade") or "").lower() == "websocket"


def websocket_scope(http_scope: dict[str, Any], request: webapi.Request) -> dict[str, Any]:
    """The ASGI websocket scope: the HTTP one's fields with ws/wss and the subprotocols."""
    scope = dict(http_scope)
    scope["type"] = "websocket"
    scope["scheme"] = "wss" if http_scope["scheme"] == "https" else "ws"
    del scope["method"]
    offered = request.headers.get("sec-websocket-protocol") or ""
    scope["subprotocols"] = [p.strip() for p in offered.split(",") if p.strip()]
    return scope


class _Session:
    """receive() and send() of one ASGI websocket, and the Response it settles."""

    def __init__(self, request: webapi.Request, loop: asyncio.AbstractEventLoop) -> None:
        self.request = request
        self.client, self.server = WebSocketPair.new().object_values()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE)
        self.waiter: asyncio.Future[Response] = loop.create_future()
        self.connected = False      # websocket.connect delivered
        self.accepted = False
        self.closed = False         # either end closed
        self.disconnect: dict[str, Any] | None = None
        self.server.accept()
        self.server.addEventListener("message", self._on_message)
        self.server.addEventListener("close", self._on_close)

    async def _on_message(self, event: Any) -> None:
        data = event.data
        key = "text" if isinstance(data, str) else "bytes"
        await self.queue.put({"type": "websocket.receive", key: data})

    async def _on_close(self, event: Any) -> None:
        self.closed = True
        self.disconnect = {"type": "websocket.disconnect", "code": event.code, "reason": event.reason}
        await self.queue.put(self.disconnect)

    async def receive(self) -> dict[str, Any]:
        if not self.connected:
            self.connected = True
            return {"type": "websocket.connect"}
        if self.disconnect is not None and self.queue.empty():
            return self.disconnect
        return await self.queue.get()

    async def send(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            self._accept(message)
        elif kind == "websocket.send":
            await self._send(message)
        elif kind == "websocket.close":
            self._close(message)
        else:
            raise RuntimeError(f"ASGI app sent an unexpected message type {kind!r}")

    def _accept(self, message: dict[str, Any]) -> None:
        if self.accepted or self.waiter.done():
            raise RuntimeError("ASGI app sent 'websocket.accept' twice, or after closing")
        headers = [(k.decode("latin-1") if isinstance(k, bytes) else k,
                    v.decode("latin-1") if isinstance(v, bytes) else v)
                   for k, v in message.get("headers") or ()]
        subprotocol = message.get("subprotocol")
        if subprotocol:
            headers.append(("sec-websocket-protocol", subprotocol))
        self.accepted = True
        self.waiter.set_result(Response(None, status=101, headers=headers, web_socket=self.client))

    async def _send(self, message: dict[str, Any]) -> None:
        if not self.accepted:
            raise RuntimeError("ASGI app sent 'websocket.send' before 'websocket.accept'")
        if self.closed:
            raise ClientDisconnected("the WebSocket is closed")
        data = message.get("bytes")
        if data is None:
            data = message.get("text")
        if data is None:
            raise TypeError("'websocket.send' needs 'text' or 'bytes'")
        self.server.send(data)
        await self.server.drained()

    def _close(self, message: dict[str, Any]) -> None:
        if not self.accepted:
            if not self.waiter.done():
                self.waiter.set_result(Response("", status=403))
            return
        if not self.closed:
            self.closed = True
            self.server.close(int(message.get("code") or 1000), message.get("reason") or None)

    def app_done(self, task: asyncio.Task[None]) -> None:
        exc = None if task.cancelled() else task.exception()
        if not self.waiter.done():
            if exc is not None:
                self.waiter.set_exception(exc)
            else:
                self.waiter.set_result(Response("", status=403))   # never accepted
            return
        if exc is not None and not isinstance(exc, asyncio.CancelledError):
            req = self.request
            context.log_exception(f"{req._method} {req._url}: the ASGI websocket app raised", exc)
        if self.accepted and not self.closed:
            self.closed = True
            self.server.close(1011 if exc is not None else 1000)


async def serve(app: Any, request: webapi.Request, scope: dict[str, Any]) -> Response:
    """Run `app` on the websocket `scope` of `request`: the Response once it accepted (or
    refused); the app goes on in its own task while the socket is open."""
    loop = asyncio.get_running_loop()
    session = _Session(request, loop)
    task = loop.create_task(app(scope, session.receive, session.send))
    _running.add(task)
    task.add_done_callback(_running.discard)
    task.add_done_callback(session.app_done)
    try:
        return await asyncio.shield(session.waiter)
    except asyncio.CancelledError:
        task.cancel()
        raise
