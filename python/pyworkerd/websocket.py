# WebSockets in an isolate, as Cloudflare's runtime has them: WebSocketPair's two ends
# (`client, server = WebSocketPair.new().object_values()`), `server.accept()`, `send()`,
# `close(code, reason)`, `addEventListener("message"|"close"|"error"|"open", fn)` with
# MessageEvent/CloseEvent/ErrorEvent, and a socket on the wire once its other end leaves the
# isolate: returned in `Response(status=101, web_socket=client)` (the host relays it to the
# client), or opened by the host for the isolate (js.WebSocket.new(url), a service binding's
# or fetch()'s upgrade: pyworkerd.websocket_connect). Both ends of a pair kept in the isolate
# talk to each other directly.
# Bottom layer of the SDK (web API types): the isolate's loop sets `transport` (its channel,
# loop and flush) and hands in the WebSocket frames (on_frame). Flow control: at most
# _pyworkerd.WS_WINDOW bytes of a socket's messages are unacknowledged by the host; more wait
# here (`await ws.drained()` waits for them); each message received is acknowledged once its
# listeners ran (an async listener: once its coroutine finished), so a slow handler slows
# the client instead of filling the host. Messages for one socket reach listeners in order.
# Invariant: a socket is in `live` from the moment its id is on the wire until both closes
# were exchanged (or it vanished); the loop stays in asyncio mode while `live` is not empty.
"""WebSocket, WebSocketPair and their events, as Cloudflare Workers have them."""

from __future__ import annotations

import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from pyworkerd.log import log

transport: Any = None
"""The isolate loop (pyworkerd.loop._Server): `channel`, `loop`, `schedule_flush()`."""
live: dict[int, WebSocket] = {}
"""Sockets on the wire, by id."""
connecting: set[Any] = set()
"""Tasks opening sockets (js.WebSocket.new): they too keep the isolate's loop running."""

MAX_MESSAGE = 1024 * 1024
"""Cloudflare's limit on one message (bytes)."""
WINDOW = 256 * 1024
"""Unacknowledged bytes a socket may have on the wire (the C side's WS_WINDOW)."""
ACK_BATCH = WINDOW // 4
"""Bytes taken before they are acknowledged (wire/ws_frames.h PW_WS_ACK_BATCH)."""

CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3
_BYTES = (bytes, bytearray, memoryview)


class Event:
    """A WebSocket event: `type` and `target` (the socket)."""

    def __init__(self, type: str, target: WebSocket | None = None) -> None:
        self.type = type
        self.target = target

    def __repr__(self) -> str:
        return f"{type(self).__name__}(type={self.type!r})"


class MessageEvent(Event):
    """A message: `data` is str (text) or bytes (binary)."""

    def __init__(self, data: str | bytes, target: WebSocket | None = None) -> None:
        super().__init__("message", target)
        self.data = data


class CloseEvent(Event):
    """The socket closed: `code` (1005: none given, 1006: it vanished), `reason`,
    `wasClean` (also `was_clean`)."""

    def __init__(self, code: int, reason: str, was_clean: bool, target: WebSocket | None = None) -> None:
        super().__init__("close", target)
        self.code = code
        self.reason = reason
        self.wasClean = self.was_clean = was_clean


class ErrorEvent(Event):
    """Something failed: `message`, and `error` when an exception is behind it."""

    def __init__(self, message: str, error: BaseException | None = None, target: WebSocket | None = None) -> None:
        super().__init__("error", target)
        self.message = message
        self.error = error


def _check_close(code: int | None, reason: str | None) -> tuple[int, str]:
    if code is None:
        if reason:
            raise TypeError("If you specify a WebSocket close reason, you must also specify a code.")
        return 1005, ""
    code = int(code)
    if not (code == 1000 or 3000 <= code <= 4999 or 1001 <= code <= 1003 or 1007 <= code <= 1014):
        raise TypeError(f"Invalid WebSocket close code: {code}.")
    reason = "" if reason is None else str(reason)
    if len(reason.encode()) > 123:
        raise TypeError("The WebSocket close reason is longer than 123 bytes.")
    return code, reason


def _size(data: str | bytes) -> int:
    return len(data.encode()) if type(data) is str else len(data)


class WebSocket:
    """One end of a WebSocket (Cloudflare's `WebSocket`).

    `accept()` before use (an end of a WebSocketPair, or one fetch() returned); then
    `send(str | bytes)`, `close(code=None, reason=None)` and
    `addEventListener(type, listener)` for "message", "close", "error" and "open" (a listener
    may be sync or async; `onmessage = fn` works too). Python spellings: `add_event_listener`,
    `remove_event_listener`, `ready_state`.
    """

    CONNECTING, OPEN, CLOSING, CLOSED = CONNECTING, OPEN, CLOSING, CLOSED

    def __init__(self, url: str = "", accepted: bool = False) -> None:
        self._listeners: dict[str, list[Callable[..., Any]]] = {}
        self._state = OPEN
        self._accepted = accepted
        self._peer: WebSocket | None = None     # the other end of a pair, in this isolate
        self._wire: int | None = None           # its id on the wire
        self._inbox: list[Event | tuple[str | bytes, int]] = []    # before accept()
        self._held: deque[Any] = deque()        # events waiting for a listener that runs
        self._delivering = False
        self._unacked = 0
        self._taken = 0                         # received bytes not yet acknowledged
        self._backlog: deque[Any] = deque()     # sends waiting for the window
        self._drain_waiters: list[Any] = []
        self._close_sent = False
        self._close_received = False
        self._transferred = False               # returned in a Response: it is the client's
        self.url = url
        self.protocol = ""
        self.extensions = ""
        self.binaryType = "arraybuffer"
        self.onmessage: Callable[..., Any] | None = None
        self.onclose: Callable[..., Any] | None = None
        self.onerror: Callable[..., Any] | None = None
        self.onopen: Callable[..., Any] | None = None

    # ---- the API ----

    @property
    def readyState(self) -> int:
        """0 connecting, 1 open, 2 closing, 3 closed."""
        return self._state

    ready_state = readyState

    def accept(self) -> None:
        """Start taking this end's events (events that came before are delivered now)."""
        if self._transferred:
            raise TypeError("This WebSocket was returned in a Response: it belongs to the client now.")
        if self._accepted:
            raise TypeError("The WebSocket has already been accepted.")
        self._accepted = True
        if self._wire is not None:
            self._ack(0, True)   # the host holds a new socket's messages until then
        inbox, self._inbox = self._inbox, []
        for item in inbox:
            self._deliver_in_order((self._deliver_message, *item) if type(item) is tuple else (self._dispatch, item))

    def send(self, message: str | bytes | bytearray | memoryview) -> None:
        """Send a text (str) or binary (bytes-like) message of at most 1 MiB."""
        if not isinstance(message, str):
            if not isinstance(message, _BYTES):
                raise TypeError(f"WebSocket send() takes str or bytes, not {type(message).__name__}")
            message = bytes(message)
        if self._transferred:
            raise TypeError("This WebSocket was returned in a Response: it belongs to the client now.")
        if not self._accepted:
            raise TypeError("You must call accept() on this WebSocket before sending messages.")
        if self._close_sent or self._state == CLOSED:
            raise TypeError("Can't call WebSocket send() after close().")
        size = _size(message)
        if size > MAX_MESSAGE:
            raise ValueError(f"WebSocket message too large: {size} bytes (the limit is {MAX_MESSAGE}).")
        if self._peer is not None:
            self._peer._receive(message, size)
        elif self._wire is None or self._backlog or self._unacked >= WINDOW:
            self._backlog.append(message)
        else:
            self._wire_send(message, size)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close with `code` (1000, 1001-1003, 1007-1014 or 3000-4999; none: the peer sees
        1005) and `reason` (at most 123 bytes of UTF-8)."""
        code, reason = _check_close(code, reason)
        if self._transferred:
            raise TypeError("This WebSocket was returned in a Response: it belongs to the client now.")
        if self._close_sent:
            return
        self._close_sent = True
        self._state = CLOSED if self._close_received else CLOSING
        if self._peer is not None:
            self._peer._receive_close(code, reason)
        elif self._wire is not None and not self._backlog:
            transport.channel.ws_close(self._wire, code, reason)
            transport.schedule_flush()
            self._maybe_done()
        else:
            self._backlog.append((code, reason))

    def addEventListener(self, type: str, listener: Callable[..., Any], options: Any = None) -> None:
        """Call `listener(event)` for each event of `type`."""
        self._listeners.setdefault(type, []).append(listener)

    def removeEventListener(self, type: str, listener: Callable[..., Any], options: Any = None) -> None:
        listeners = self._listeners.get(type, [])
        if listener in listeners:
            listeners.remove(listener)

    add_event_listener = addEventListener
    remove_event_listener = removeEventListener

    async def drained(self) -> None:
        """Wait until the messages sent so far are on the wire (within its window)."""
        if not self._backlog:
            return
        future = transport.loop.create_future()
        self._drain_waiters.append(future)
        await future

    def __repr__(self) -> str:
        return f"WebSocket(readyState={self._state})"

    # ---- events ----

    def _dispatch(self, event: Event) -> list[Any]:
        """Run the listeners of event.type in order; the tasks of async ones."""
        event.target = self
        listeners = list(self._listeners.get(event.type, ()))
        handler = getattr(self, "on" + event.type, None)
        if handler is not None:
            listeners.append(handler)
        tasks = []
        for listener in listeners:
            try:
                result = listener(event)
            except Exception as exc:
                _log_failure(f"a WebSocket {event.type} listener raised", exc)
                continue
            if result is not None and hasattr(result, "__await__"):
                tasks.append(transport.loop.create_task(_run_listener(result, event.type)))
        return tasks

    def _receive(self, data: str | bytes, size: int) -> None:
        """A message for this end (from the wire or from its pair's other end)."""
        if self._close_received or self._state == CLOSED:
            self._ack(size)
            return
        if not self._accepted:
            self._inbox.append((data, size))
            return
        self._deliver_in_order((self._deliver_message, data, size))

    def _deliver_in_order(self, item: tuple) -> None:
        """This end's events run one at a time, in order: a sync listener that turns the
        loop (run_sync) while the next message arrives sees it after it returns, not inside."""
        self._held.append(item)
        if self._delivering:
            return
        self._delivering = True
        try:
            while self._held:
                deliver, *args = self._held.popleft()
                deliver(*args)
        finally:
            self._delivering = False

    def _deliver_message(self, data: str | bytes, size: int) -> None:
        tasks = self._dispatch(MessageEvent(data))
        if not tasks:
            self._ack(size)
            return
        waiting = [len(tasks)]

        def one_done(task: Any) -> None:
            waiting[0] -= 1
            if not waiting[0]:
                self._ack(size)

        for task in tasks:
            task.add_done_callback(one_done)

    def _ack(self, size: int, accepting: bool = False) -> None:
        """Tell the host `size` more bytes were taken, in batches of ACK_BATCH (the host
        stops reading a client only once WINDOW bytes are unacknowledged)."""
        if self._wire is None:
            return
        self._taken += size
        if self._taken >= ACK_BATCH or accepting:
            transport.channel.ws_taken(self._wire, self._taken)
            self._taken = 0
            transport.schedule_flush()

    def _receive_close(self, code: int, reason: str) -> None:
        """The other end closed (1006: it vanished). Unless this end closed first, it
        answers with the same close once the listeners ran (workerd's auto-reply)."""
        if self._close_received:
            return
        self._close_received = True
        self._state = CLOSED if self._close_sent else CLOSING
        event = CloseEvent(code, reason, code != 1006)
        if not self._accepted:
            self._inbox.append(event)
            return
        self._deliver_in_order((self._deliver_close, event))

    def _deliver_close(self, event: CloseEvent) -> None:
        if event.code == 1006:
            self._dispatch(ErrorEvent("the WebSocket's other end went away"))
        self._dispatch(event)
        if not self._close_sent and event.code != 1006:
            self.close(event.code if event.code != 1005 else None, event.reason if event.code != 1005 else None)
        self._state = CLOSED
        self._backlog.clear()
        self._wake_drainers()
        self._maybe_done(force=event.code == 1006)

    def _maybe_done(self, force: bool = False) -> None:
        if self._wire is not None and (force or (self._close_sent and self._close_received)):
            if live.pop(self._wire, None) is not None and not live:
                transport.schedule_flush()  # the loop may go back to the fast path

    # ---- the wire ----

    def _wire_send(self, message: str | bytes, size: int) -> None:
        transport.channel.ws_send(self._wire, message)
        self._unacked += size
        transport.schedule_flush()

    def _acked(self, size: int) -> None:
        self._unacked = max(0, self._unacked - size)
        while self._backlog and self._unacked < WINDOW:
            item = self._backlog.popleft()
            if type(item) is tuple:
                transport.channel.ws_close(self._wire, *item)
                transport.schedule_flush()
                self._maybe_done()
            else:
                self._wire_send(item, _size(item))
        if not self._backlog:
            self._wake_drainers()

    def _wake_drainers(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)

    def _go_live(self, wire_id: int) -> None:
        """This end's socket is on the wire as `wire_id` now: what waited goes out."""
        self._wire = wire_id
        live[wire_id] = self
        if self._accepted:
            self._ack(0, True)
        self._acked(0)


async def _run_listener(awaitable: Any, kind: str) -> None:
    try:
        await awaitable
    except Exception as exc:
        _log_failure(f"a WebSocket {kind} listener raised", exc)


def _log_failure(what: str, exc: BaseException) -> None:
    log(what + "\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip())


class WebSocketPair:
    """Two connected WebSockets: `client, server = WebSocketPair.new().object_values()`
    (also `pair[0]`, `pair[1]`, iteration). Return `client` in
    `Response(status=101, web_socket=client)` and use `server`."""

    def __init__(self) -> None:
        self.client = WebSocket()
        self.server = WebSocket()
        self.client._peer, self.server._peer = self.server, self.client

    @classmethod
    def new(cls) -> WebSocketPair:
        return cls()

    def object_values(self) -> tuple[WebSocket, WebSocket]:
        """(client, server), as JavaScript's Object.values(pair)."""
        return (self.client, self.server)

    def __getitem__(self, index: int) -> WebSocket:
        return (self.client, self.server)[index]

    def __iter__(self) -> Any:
        return iter((self.client, self.server))

    def __len__(self) -> int:
        return 2


def transfer(client: Any) -> WebSocket:
    """`client` is being returned in a 101 response: its pair's other end (returned) will be
    the socket on the wire, and what it sent `client` so far goes out first (_go_live)."""
    if not is_websocket(client) or client._peer is None or client._transferred:
        raise TypeError("web_socket must be the client end of a new WebSocketPair")
    server = client._peer
    client._transferred = True
    client._peer = server._peer = None
    for item in client._inbox:
        if type(item) is tuple:
            server._backlog.append(item[0])
        elif isinstance(item, CloseEvent):
            server._backlog.append((item.code, item.reason))
    client._inbox = []
    return server


def hand_over(ws: WebSocket) -> int:
    """A socket from fetch() or a service binding, returned in a 101 response: the host
    links its other end to the client directly; it leaves this isolate (its id returned)."""
    if ws._accepted or ws._transferred or ws._wire is None:
        raise TypeError("a WebSocket returned in a Response must be new (not accepted here)")
    ws._transferred = True
    live.pop(ws._wire, None)
    return ws._wire


def on_frame(wire_id: int, kind: int, data: Any, size: int = 0) -> None:
    """A WebSocket frame from the host: 0 a message (data, its size in bytes), 1 a close
    ((code, reason)), 2 an ack (bytes taken)."""
    ws = live.get(wire_id)
    if kind == 0:
        if ws is None:
            transport.channel.ws_taken(wire_id, size)   # a socket already closed here
            transport.schedule_flush()
        else:
            ws._receive(data, size)
    elif ws is None:
        return
    elif kind == 1:
        ws._receive_close(*data)
    else:
        ws._acked(data)


def close_all(code: int, reason: str) -> None:
    """The isolate retires: every socket still open is closed (1001: going away)."""
    for ws in list(live.values()):
        if not ws._close_sent and not ws._transferred:
            ws.close(code, reason)


def busy() -> bool:
    """Whether sockets are open or opening (the isolate's loop must run)."""
    return bool(live or connecting)


def is_websocket(obj: Any) -> bool:
    return type(obj) is WebSocket
