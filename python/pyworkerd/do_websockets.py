# Hibernatable WebSockets of a Durable Object (isolate process, in the isolate holding the
# object): ctx.acceptWebSocket(ws, tags), getWebSockets(tag), getTags(ws), the auto-response,
# and ws.serializeAttachment()/deserializeAttachment(). The host keeps each accepted socket
# (src/host/do_sockets.c) with its tags, attachment and the object's auto-response, so the
# object may leave memory while its sockets stay open; a message, close or error on one
# comes back as an event of the object (pyworkerd.do_runtime calls webSocketMessage,
# webSocketClose, webSocketError with the socket). Here each object keeps a view of its
# sockets (`Sockets`), filled as it accepts them and, after it was rebuilt, from the host
# ("dos.wslist") the first time it needs them all.
# A socket's sends, closes and attachment are one-way binding calls ("dos.ws*"), sent after
# the object's pending storage writes (the output gate), in order.
"""Hibernatable WebSockets of Durable Objects: acceptWebSocket and friends."""

from __future__ import annotations

import datetime
import json
import os
import sys
from typing import Any

from pyworkerd import rpc
from pyworkerd.bindings import python_from_rpc, python_to_rpc
from pyworkerd.websocket import CLOSED, CLOSING, MAX_MESSAGE, OPEN, WebSocket, _check_close, _size

MAX_TAGS = 10
MAX_TAG = 256
MAX_ATTACHMENT = 16 * 1024
"""workerd's limit on a serialized attachment (bytes)."""
MAX_AUTO = 2048
MARK = "x-pyworkerd-hibernate"
"""The first header of a fetch answer that returns a hibernatable socket (host/do_sockets.h)."""
_BYTES = (bytes, bytearray, memoryview)


class WebSocketRequestResponsePair:
    """An auto-response: a text message equal to `request` is answered with `response` by the
    runtime, without waking the object."""

    __slots__ = ("_request", "_response")

    def __init__(self, request: str, response: str) -> None:
        if not isinstance(request, str) or not isinstance(response, str):
            raise TypeError("WebSocketRequestResponsePair takes two strings")
        self._request = request
        self._response = response

    @classmethod
    def new(cls, request: str, response: str) -> WebSocketRequestResponsePair:
        return cls(request, response)

    @property
    def request(self) -> str:
        return self._request

    @property
    def response(self) -> str:
        return self._response

    def __repr__(self) -> str:
        return f"WebSocketRequestResponsePair({self._request!r}, {self._response!r})"


def _current_task() -> Any:
    asyncio = sys.modules.get("asyncio")
    if asyncio is None or asyncio.events._get_running_loop() is None:
        return None
    return asyncio.current_task()


def _checked_tags(tags: Any) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str) or not hasattr(tags, "__iter__"):
        raise TypeError("acceptWebSocket() tags must be a list of strings")
    distinct: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise TypeError("acceptWebSocket() tags must be a list of strings")
        if tag in distinct:
            continue
        if len(distinct) >= MAX_TAGS:
            raise RuntimeError(f"a Hibernatable WebSocket cannot have more than {MAX_TAGS} tags")
        if len(tag) > MAX_TAG:
            raise RuntimeError(f'"{tag}" is longer than the max tag length ({MAX_TAG} characters).')
        distinct.append(tag)
    return distinct


class HibernatableWebSocket(WebSocket):
    """A WebSocket accepted with `ctx.acceptWebSocket(ws)`: the runtime holds it while the
    object sleeps. `send()`, `close()`, `serializeAttachment(value)`,
    `deserializeAttachment()`; its events go to the object's webSocketMessage,
    webSocketClose and webSocketError instead of listeners."""

    def _hib_init(self, owner: Sockets, sock: str, tags: list[str], attachment: bytes | None, ts: int) -> None:
        self._owner = owner
        self._sock = sock
        self._tags = tags
        self._attachment = attachment   # its RPC encoding (JSON bytes), or None
        self._auto_ts = ts
        self._event = None              # the task of the fetch that accepted it, until returned
        self._accepted = True

    @classmethod
    def _restored(cls, owner: Sockets, info: dict[str, Any]) -> HibernatableWebSocket:
        ws = cls.__new__(cls)
        WebSocket.__init__(ws, "", accepted=True)
        att = info.get("att")
        ws._hib_init(owner, info["sock"], list(info.get("tags") or []),
                     None if att is None else json.dumps(att, separators=(",", ":")).encode(), int(info.get("ts") or 0))
        if info.get("closing"):
            ws._state = CLOSING
        return ws

    @property
    def readyState(self) -> int:
        return self._state

    ready_state = readyState

    def accept(self) -> None:
        raise TypeError("This WebSocket was accepted with ctx.acceptWebSocket(): its events go to "
                        "the Durable Object's webSocketMessage, webSocketClose and webSocketError.")

    def _post(self, op: str, *args: str | bytes) -> None:
        if rpc.before_send is not None:
            rpc.before_send()   # the object's writes leave first (the output gate)
        owner = self._owner
        rpc.post(op, owner.cls, owner.id, self._sock, *args)

    def send(self, message: str | bytes | bytearray | memoryview) -> None:
        """Send a text (str) or binary (bytes-like) message of at most 1 MiB."""
        if not isinstance(message, str):
            if not isinstance(message, _BYTES):
                raise TypeError(f"WebSocket send() takes str or bytes, not {type(message).__name__}")
            message = bytes(message)
        if self._close_sent or self._state == CLOSED:
            raise TypeError("Can't call WebSocket send() after close().")
        size = _size(message)
        if size > MAX_MESSAGE:
            raise ValueError(f"WebSocket message too large: {size} bytes (the limit is {MAX_MESSAGE}).")
        binary = not isinstance(message, str)
        self._post("dos.wssend", "1" if binary else "0", message if binary else message.encode())

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close with `code` and `reason` (as WebSocket.close)."""
        code, reason = _check_close(code, reason)
        if self._close_sent:
            return
        self._close_sent = True
        self._state = CLOSED if self._close_received else CLOSING
        self._post("dos.wsclose", str(code), reason)

    def serializeAttachment(self, value: Any) -> None:
        """Keep `value` with the socket (at most 16 KiB serialized); it survives hibernation."""
        data = python_to_rpc(value)
        if len(data) > MAX_ATTACHMENT:
            raise RuntimeError(f"A WebSocket 'attachment' cannot be larger than {MAX_ATTACHMENT} bytes."
                               f"'attachment' was {len(data)} bytes.")
        self._attachment = data
        self._post("dos.wsattach", b"=" + data)

    def deserializeAttachment(self) -> Any:
        """The value given to serializeAttachment() (a fresh copy), or None."""
        return None if self._attachment is None else python_from_rpc(self._attachment)

    serialize_attachment = serializeAttachment
    deserialize_attachment = deserializeAttachment

    def __repr__(self) -> str:
        return f"HibernatableWebSocket(readyState={self._state}, tags={self._tags!r})"


class Sockets:
    """One object's hibernatable sockets, as its instance sees them."""

    def __init__(self, cls: str, id_hex: str) -> None:
        self.cls = cls
        self.id = id_hex
        self.by_id: dict[str, HibernatableWebSocket] = {}
        self.complete = False           # the host's list was read (after a rebuild)
        self.auto: WebSocketRequestResponsePair | None = None
        self.auto_known = False
        self.timeout_ms: int | None = None

    # ---- accepting ----

    def accept(self, ws: Any, tags: Any) -> None:
        if type(ws) is not WebSocket:
            raise TypeError("acceptWebSocket() takes the server end of a WebSocketPair")
        if ws._accepted:
            raise RuntimeError("Cannot call `acceptWebSocket()` if the WebSocket was already accepted via `accept()`")
        if ws._peer is None or ws._peer._transferred or ws._wire is not None:
            raise RuntimeError("Cannot call `acceptWebSocket()` on this WebSocket because its pair has already "
                               "been accepted or used in a Response.")
        distinct = _checked_tags(tags)
        if len(self.by_id) >= 32768:
            raise RuntimeError("only 32768 websockets can be accepted on a single Durable Object instance")
        sock = os.urandom(12).hex()
        ws.__class__ = HibernatableWebSocket
        ws._hib_init(self, sock, distinct, None, 0)
        ws._event = _current_task()
        self.by_id[sock] = ws
        ws._post("dos.wsaccept", json.dumps(distinct, separators=(",", ":")))

    def answer(self, client: WebSocket, headers: list[tuple[str, str]]) -> tuple[int, list[Any], bytes] | None:
        """A fetch answer returning `client`: when its other end is hibernatable, the answer
        that hands that socket to the caller (else None: an ordinary WebSocket)."""
        server = client._peer
        if type(server) is not HibernatableWebSocket or server._owner is not self:
            return None
        client._transferred = True
        client._peer = server._peer = None
        server._event = None
        return (101, [(MARK, "1")] + list(headers), json.dumps({"sock": server._sock}).encode())

    def settle(self) -> None:
        """The current fetch ended: sockets it accepted and did not return go."""
        if not self.by_id:
            return      # the usual case, every fetch: no socket to look at
        task = _current_task()
        for ws in list(self.by_id.values()):
            if ws._event is task and ws._peer is not None:
                ws._event = None
                del self.by_id[ws._sock]
                rpc.post("dos.wsdrop", self.cls, self.id, ws._sock)

    # ---- the host's view ----

    def load(self) -> None:
        """Read the host's sockets (after the object was rebuilt)."""
        if self.complete:
            return
        info = rpc.call_blocking(lambda fields: json.loads(fields[0]), "dos.wslist", self.cls, self.id)
        seen = set()
        for item in info["sockets"]:
            seen.add(item["sock"])
            ws = self.by_id.get(item["sock"])
            if ws is None:
                self.by_id[item["sock"]] = HibernatableWebSocket._restored(self, item)
            else:
                ws._auto_ts = int(item.get("ts") or 0)
        for sock in [s for s, ws in self.by_id.items() if s not in seen and ws._peer is None]:
            del self.by_id[sock]     # closed meanwhile
        if not self.auto_known:
            pair = info.get("auto")
            self.auto = None if pair is None else WebSocketRequestResponsePair(pair[0], pair[1])
            self.auto_known = True
        self.complete = True

    def from_event(self, info: dict[str, Any]) -> HibernatableWebSocket:
        """The socket an event names (restored when this instance has not seen it)."""
        sock = info["sock"]
        ws = self.by_id.get(sock)
        if ws is None and "tags" in info:
            ws = self.by_id[sock] = HibernatableWebSocket._restored(self, info)
        elif ws is None:
            self.complete = False
            self.load()
            ws = self.by_id.get(sock) or HibernatableWebSocket._restored(self, {"sock": sock})
        ws._auto_ts = int(info.get("ts") or 0)
        return ws

    def closed(self, ws: HibernatableWebSocket) -> None:
        """Its client closed (or vanished): it leaves the list."""
        ws._close_received = True
        ws._state = CLOSED if ws._close_sent else CLOSING
        self.by_id.pop(ws._sock, None)

    # ---- ctx's methods ----

    def get(self, tag: str | None = None) -> list[HibernatableWebSocket]:
        self.load()
        return [ws for ws in self.by_id.values() if ws._state != CLOSED and (tag is None or tag in ws._tags)]

    def tags(self, ws: Any) -> list[str]:
        if type(ws) is not HibernatableWebSocket:
            raise TypeError("getTags() takes a WebSocket accepted with acceptWebSocket()")
        return list(ws._tags)

    def set_auto_response(self, pair: WebSocketRequestResponsePair | None) -> None:
        if pair is not None:
            if not isinstance(pair, WebSocketRequestResponsePair):
                raise TypeError("setWebSocketAutoResponse() takes a WebSocketRequestResponsePair")
            for what, text in (("Request", pair.request), ("Response", pair.response)):
                size = len(text.encode())
                if size > MAX_AUTO:
                    raise ValueError(f"{what} cannot be larger than {MAX_AUTO} bytes. A {what.lower()} "
                                     f"of size {size} was provided.")
        self.auto, self.auto_known = pair, True
        if rpc.before_send is not None:
            rpc.before_send()
        if pair is None:
            rpc.post("dos.wsauto", self.cls, self.id, "", "")
        else:
            rpc.post("dos.wsauto", self.cls, self.id, "=" + pair.request, pair.response)

    def get_auto_response(self) -> WebSocketRequestResponsePair | None:
        if not self.auto_known:
            self.load()
        return self.auto

    def auto_response_timestamp(self, ws: Any) -> datetime.datetime | None:
        if type(ws) is not HibernatableWebSocket:
            raise TypeError("getWebSocketAutoResponseTimestamp() takes a WebSocket accepted with "
                            "acceptWebSocket()")
        self.complete = False
        self.load()
        if not ws._auto_ts:
            return None
        return datetime.datetime.utcfromtimestamp(ws._auto_ts / 1000)
