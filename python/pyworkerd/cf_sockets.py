# `cloudflare:sockets`' connect() for Python Workers (isolate process): Cloudflare's Socket —
# `readable` (a ReadableStream of Uint8Array chunks), `writable` (a WritableStream:
# getWriter().write(bytes)), `opened` (-> {remoteAddress, localAddress}), `closed`, `close()`
# and `startTls()` — over a pyworkerd.host_socket HostSocket, so the connection is the host's
# and obeys the worker's globalOutbound rules like every other socket and fetch().
# secureTransport "on" asks the host for TLS at once, "starttls" allows startTls() later.
# Layer 2. Reading and writing use the asyncio loop of the request (non-blocking).
"""connect(address, options) -> Socket, as `cloudflare:sockets` exports it."""

from __future__ import annotations

import asyncio
import socket as _socket
import ssl
from typing import Any

from pyworkerd.buffers import as_bytes
from pyworkerd.errors import JsException
from pyworkerd.jsobject import JsObject, JsProxy
from pyworkerd.streams import ReadableStream

__all__ = ["Socket", "connect"]


def _option(options: Any, name: str, default: Any) -> Any:
    if options is None:
        return default
    if isinstance(options, dict):
        return options.get(name, default)
    return getattr(options, name, default)


def _split(address: Any) -> tuple[str, int]:
    """"host:port", "[v6]:port" or {hostname, port}."""
    if isinstance(address, str):
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise JsException("TypeError", f"The address \"{address}\" is not a valid "
                              "\"hostname:port\" string.")
        return host.strip("[]"), int(port)
    host, port = _option(address, "hostname", None), _option(address, "port", None)
    if not host or port is None:
        raise JsException("TypeError", "connect(): the address needs a hostname and a port")
    return str(host), int(port)


class WritableStreamDefaultWriter(JsProxy):
    """`socket.writable.getWriter()`: `await write(chunk)`, `await close()`, `releaseLock()`."""

    __slots__ = ("_socket",)
    js_name = "WritableStreamDefaultWriter"

    def __init__(self, owner: Socket) -> None:
        self._socket = owner

    async def write(self, chunk: Any) -> None:
        data = chunk.encode() if isinstance(chunk, str) else as_bytes(chunk)
        if data is None:
            raise JsException("TypeError", "This WritableStream accepts only bytes-like chunks.")
        sock = self._socket._open_socket()
        await asyncio.get_running_loop().sock_sendall(sock, data)

    async def close(self) -> None:
        sock = self._socket._sock
        if sock is not None and sock.fileno() >= 0:
            sock.shutdown(_socket.SHUT_WR)

    @property
    def ready(self) -> Any:
        return _done()

    def releaseLock(self) -> None:  # noqa: N802
        self._socket.writable._locked = False


async def _done() -> None:
    return None


class WritableStream(JsProxy):
    """The socket's writing side."""

    __slots__ = ("_socket", "_locked")
    js_name = "WritableStream"

    def __init__(self, owner: Socket) -> None:
        self._socket, self._locked = owner, False

    @property
    def locked(self) -> bool:
        return self._locked

    def getWriter(self) -> WritableStreamDefaultWriter:  # noqa: N802
        if self._locked:
            raise JsException("TypeError", "This WritableStream is currently locked to a writer.")
        self._locked = True
        return WritableStreamDefaultWriter(self._socket)


class Socket(JsProxy):
    """A TCP connection made by the host (Cloudflare's `Socket`)."""

    __slots__ = ("_sock", "_error", "_host", "_secure", "_half_open", "_closed", "readable", "writable")
    js_name = "Socket"

    def __init__(self, sock: Any, error: BaseException | None, host: str, secure: str,
                 half_open: bool) -> None:
        self._sock, self._error, self._host = sock, error, host
        self._secure, self._half_open = secure, half_open
        self._closed: asyncio.Future[Any] | None = None
        self.readable = ReadableStream(self._chunks())
        self.writable = WritableStream(self)

    def _open_socket(self) -> Any:
        if self._error is not None:
            raise self._error
        if self._sock is None or self._sock.fileno() < 0:
            raise JsException("Error", "Socket is closed.")
        return self._sock

    async def _chunks(self) -> Any:
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.sock_recv(self._open_socket(), 65536)
            if not data:
                if not self._half_open:
                    self._finish()
                return
            yield data

    @property
    def opened(self) -> Any:
        """Awaitable: {remoteAddress, localAddress} once connected (raises if it failed)."""
        return self._opened()

    async def _opened(self) -> JsObject:
        sock = self._open_socket()
        peer, local = sock.getpeername(), sock.getsockname()
        return JsObject(remoteAddress=f"{peer[0]}:{peer[1]}", localAddress=f"{local[0]}:{local[1]}")

    @property
    def closed(self) -> Any:
        """Awaitable resolved when the socket is closed."""
        return self._closed_future()

    def _closed_future(self) -> asyncio.Future[Any]:
        if self._closed is None:
            self._closed = asyncio.get_running_loop().create_future()
            if self._sock is None or self._sock.fileno() < 0:
                self._closed.set_result(None)
        return self._closed

    def _finish(self) -> None:
        if self._sock is not None:
            self._sock.close()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    async def close(self) -> None:
        """Closes both directions; resolves `closed`."""
        self._finish()

    @property
    def secureTransport(self) -> str:  # noqa: N802
        return self._secure

    def startTls(self, options: Any = None, /, **kwargs: Any) -> Socket:  # noqa: N802
        """A new Socket speaking TLS over this connection (secureTransport "starttls")."""
        if self._secure != "starttls":
            raise JsException("TypeError", "startTls() can only be called once, on a socket "
                              "opened with secureTransport: \"starttls\".")
        name = _option(options, "expectedServerHostname", kwargs.get("expectedServerHostname", self._host))
        sock, self._sock = self._open_socket(), None
        self._secure = "on"
        return _secure(sock, name, self._half_open)


def _secure(sock: Any, hostname: str, half_open: bool) -> Socket:
    try:
        tls = ssl.create_default_context().wrap_socket(sock, server_hostname=hostname)
        tls.setblocking(False)
        return Socket(tls, None, hostname, "on", half_open)
    except OSError as exc:
        return Socket(None, JsException("Error", str(exc)), hostname, "on", half_open)


def connect(address: Any, options: Any = None, /, **kwargs: Any) -> Socket:
    """Opens a TCP connection through the host: `connect("host:port", {"secureTransport": "on"})`."""
    options = {**(options.to_py() if hasattr(options, "to_py") else options or {}), **kwargs}
    host, port = _split(address)
    secure = str(_option(options, "secureTransport", "off"))
    if secure not in ("off", "on", "starttls"):
        raise JsException("TypeError", f"secureTransport must be \"off\", \"on\" or \"starttls\", "
                          f"not \"{secure}\"")
    half_open = bool(_option(options, "allowHalfOpen", False))
    sock = _socket.socket(_socket.AF_INET6 if ":" in host else _socket.AF_INET, _socket.SOCK_STREAM)
    try:
        sock.connect((host, port))
    except OSError as exc:
        sock.close()
        return Socket(None, JsException("Error", f"connect(): {exc.strerror or exc}"), host, secure,
                      half_open)
    if secure == "on":
        return _secure(sock, host, half_open)
    sock.setblocking(False)
    return Socket(sock, None, host, secure, half_open)
