# WebSockets the host opens for an isolate (isolate process): `js.WebSocket.new(url)` and
# fetch() of a request with `Upgrade: websocket` ("ws.connect" binding calls, answered by
# host/binding_websocket.c once the server answered its handshake), and the socket a service
# binding's fetch() returns when the bound worker accepted an upgrade. The socket's id goes
# live inside the call's decode(), which runs as its result is read: frames for the socket
# that follow the result in the same read find it.
# Layer 2 (binding calls).
"""Outbound WebSockets: js.WebSocket.new(url), fetch() with Upgrade: websocket."""

from __future__ import annotations

from typing import Any

from pyworkerd import rpc, websocket
from pyworkerd.response import fetched_response
from pyworkerd.websocket import CLOSED, CONNECTING, OPEN, CloseEvent, ErrorEvent, Event, WebSocket


def _header_lines(pairs: Any) -> bytes:
    return "".join(f"{k}\n{v}\n" for k, v in pairs).encode()


def _parse_header_lines(raw: bytes) -> list[tuple[str, str]]:
    parts = raw.decode("latin-1").split("\n")
    return [(parts[i].lower(), parts[i + 1]) for i in range(0, len(parts) - 1, 2)]


def socket_for(fields: list[bytes], url: str, accepted: bool) -> WebSocket | None:
    """The socket of a ws.connect / service fetch answer (its last field: the id), live now."""
    if len(fields) < 4 or not fields[3]:
        return None
    ws = WebSocket(url, accepted=accepted)
    for name, value in _parse_header_lines(fields[1]):
        if name == "sec-websocket-protocol":
            ws.protocol = value
        elif name == "sec-websocket-extensions":
            ws.extensions = value
    ws._go_live(int(fields[3]))
    return ws


def connect(url: str, headers: list[tuple[str, str]]) -> Any:
    """fetch(url) with Upgrade: websocket: a Response whose `web_socket` is the socket (to
    accept()) when the server answered 101, else the server's plain answer."""

    def decode(fields: list[bytes]) -> Any:
        ws = socket_for(fields, url, False)
        body: Any = ws if ws is not None else fields[2]
        return fetched_response(int(fields[0]), _parse_header_lines(fields[1]), body, url)

    return rpc.call(decode, "ws.connect", url, _header_lines(headers))


def open_socket(url: str, protocols: str | list[str] | None = None) -> WebSocket:
    """js.WebSocket.new(url, protocols): returned at once, CONNECTING; "open" when connected,
    else "error" and "close" (1006). Messages sent meanwhile wait for the connection."""
    if not isinstance(url, str) or not url.startswith(("ws://", "wss://", "http://", "https://")):
        raise TypeError(f"WebSocket URL must start with ws:// or wss://: {url!r}")
    if isinstance(protocols, str):
        protocols = [protocols]
    headers = [("sec-websocket-protocol", ", ".join(protocols))] if protocols else []
    ws = WebSocket(url, accepted=True)
    ws._state = CONNECTING

    def decode(fields: list[bytes]) -> bool:
        status = int(fields[0])
        if status != 101 or len(fields) < 4 or not fields[3]:
            raise OSError(f"WebSocket connection to {url} failed: the server answered {status}")
        for name, value in _parse_header_lines(fields[1]):
            if name == "sec-websocket-protocol":
                ws.protocol = value
        ws._state = OPEN
        ws._go_live(int(fields[3]))
        return True

    async def run() -> None:
        try:
            await rpc.call(decode, "ws.connect", url, _header_lines(headers))
        except Exception as exc:
            ws._state = CLOSED
            ws._backlog.clear()
            ws._dispatch(ErrorEvent(str(exc), exc))
            ws._dispatch(CloseEvent(1006, "", False))
            return
        ws._dispatch(Event("open"))

    loop = websocket.transport.loop
    task = loop.create_task(run())
    websocket.connecting.add(task)     # also keeps the isolate's loop running meanwhile
    task.add_done_callback(websocket.connecting.discard)
    websocket.transport.schedule_flush()
    return ws
