# TCP sockets for Python Workers, made by the host (isolate process). The isolate's seccomp
# filter refuses socket(): `socket.socket(AF_INET|AF_INET6, SOCK_STREAM)` is replaced by
# HostSocket, whose descriptor is one end of a Unix socketpair; connect() passes the other
# end to the host with a "socket.connect" binding call, and the host (host/binding_socket.c)
# connects where the worker's globalOutbound rules allow and relays the bytes. Everything
# after connect() is the kernel's: blocking, non-blocking, timeouts, makefile(),
# select/selectors and asyncio. `ssl.SSLContext.wrap_socket` on such a socket asks the host
# for TLS ("socket.starttls"): OpenSSL in the host verifies the server as fetch() does.
# Names are resolved by the host (getaddrinfo answers with the name itself).
# UDP, listening, raw and Unix sockets stay refused, with a message saying so.
# Layer 2 (binding calls). install() runs once, in the template, before the worker's code.
"""socket.socket / create_connection / getaddrinfo / SSLContext.wrap_socket through the host."""

from __future__ import annotations

import _socket
import ipaddress
import json
import socket as _stdlib_socket
import ssl as _ssl
import sys
from typing import Any

from pyworkerd import rpc
from pyworkerd.errors import JsException

__all__ = ["HostSocket", "HostSSLSocket", "install"]

_OriginalSocket = _stdlib_socket.socket
_original_getaddrinfo = _stdlib_socket.getaddrinfo
_original_wrap_socket = _ssl.SSLContext.wrap_socket
_original_socket = _stdlib_socket.socket
_original_loop_getaddrinfo: Any = None
_INET = (_socket.AF_INET, _socket.AF_INET6)

_REFUSED = ("{what} are not available in Python Workers: only TCP client sockets "
            "(socket.socket(AF_INET or AF_INET6, SOCK_STREAM) and connect()) are, made by the "
            "host under the worker's globalOutbound network rules")


def _fields(fields: list[bytes]) -> list[bytes]:
    """The host's answer as it is (call_blocking's decode)."""
    return fields


def _refuse(what: str) -> OSError:
    return PermissionError(1, _REFUSED.format(what=what))


def _kind_name(family: int, kind: int) -> str:
    if family == _socket.AF_UNIX:
        return "Unix sockets"
    if kind & 0xF == _socket.SOCK_DGRAM:
        return "UDP sockets"
    if kind & 0xF == _socket.SOCK_RAW:
        return "raw sockets"
    return "sockets of this family or type"


def _host_error(exc: Exception, host: str, port: int) -> OSError:
    """The host's answer to a failed connect as the OSError Python code expects."""
    name, message = (exc.name, exc.message) if isinstance(exc, JsException) else ("Error", str(exc))
    kinds = {"ConnectionRefusedError": ConnectionRefusedError, "PermissionError": PermissionError,
             "socket.gaierror": _stdlib_socket.gaierror, "TimeoutError": TimeoutError}
    cls = kinds.get(name, OSError)
    if cls is _stdlib_socket.gaierror:
        return cls(_socket.EAI_NONAME, message)
    import errno
    code = {ConnectionRefusedError: errno.ECONNREFUSED, PermissionError: errno.EACCES,
            TimeoutError: errno.ETIMEDOUT}.get(cls, errno.EIO)
    return cls(code, message)


class HostSocket(_OriginalSocket):
    """A TCP client socket whose connection the host makes and relays."""

    __slots__ = ("_pw_id", "_pw_peer", "_pw_local", "_pw_peer_end")

    def __init__(self, family: int = -1, type: int = -1, proto: int = -1, fileno: Any = None) -> None:
        if fileno is not None:      # socketpair(), fromfd(), accept(): an existing descriptor
            _OriginalSocket.__init__(self, family, type, proto, fileno)
            self._pw_id = self._pw_peer = self._pw_local = self._pw_peer_end = None
            return
        family = _socket.AF_INET if family == -1 else family
        type = _socket.SOCK_STREAM if type == -1 else type
        if family not in _INET or type & 0xF != _socket.SOCK_STREAM:
            raise _refuse(_kind_name(family, type))
        mine, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        flags = type & ~0xF
        _OriginalSocket.__init__(self, family, _socket.SOCK_STREAM | flags, 0 if proto == -1 else proto,
                                 mine.detach())
        self._pw_peer_end = theirs
        self._pw_id = None
        self._pw_peer = self._pw_local = None

    # -- connecting: the host's part --

    def connect(self, address: Any) -> None:
        if self._pw_peer_end is None:
            if self._pw_id is not None:
                raise OSError(106, "Transport endpoint is already connected")
            return _OriginalSocket.connect(self, address)
        host, port = address[0], int(address[1])
        theirs, self._pw_peer_end = self._pw_peer_end, None
        try:
            fields = rpc.call_blocking(_fields, "socket.connect", str(host), str(port),
                                       "6" if self.family == _socket.AF_INET6 else "4",
                                       self._pw_timeout_ms(), fd=theirs.fileno())
        except (JsException, TypeError) as exc:
            raise _host_error(exc, host, port) from None
        finally:
            theirs.close()
        peer_ip, peer_port, local_ip, local_port, sock_id = (f.decode() for f in fields)
        self._pw_id = sock_id
        self._pw_peer = (peer_ip, int(peer_port))
        self._pw_local = (local_ip, int(local_port))

    def connect_ex(self, address: Any) -> int:
        try:
            self.connect(address)
        except OSError as exc:
            return exc.errno or 5
        return 0

    def getpeername(self) -> Any:
        if self._pw_peer is None:
            raise OSError(107, "Transport endpoint is not connected")
        return self._pw_peer

    def getsockname(self) -> Any:
        return self._pw_local or ("0.0.0.0", 0)

    def bind(self, address: Any) -> None:
        raise _refuse("binding sockets to local addresses")

    def listen(self, backlog: int = 0) -> None:
        raise _refuse("listening sockets")

    def setsockopt(self, level: int, option: int, value: Any, *rest: Any) -> None:
        if level in (_socket.IPPROTO_TCP, _socket.IPPROTO_IP, _socket.IPPROTO_IPV6) or (
                level == _socket.SOL_SOCKET and option in (_socket.SO_KEEPALIVE, _socket.SO_REUSEADDR)):
            return None         # the host's TCP connection: it sets TCP_NODELAY itself
        return _OriginalSocket.setsockopt(self, level, option, value, *rest)

    def getsockopt(self, level: int, option: int, *rest: Any) -> Any:
        if level in (_socket.IPPROTO_TCP, _socket.IPPROTO_IP, _socket.IPPROTO_IPV6):
            return 0 if not rest else bytes(rest[0])
        return _OriginalSocket.getsockopt(self, level, option, *rest)

    def close(self) -> None:
        if getattr(self, "_pw_peer_end", None) is not None:
            self._pw_peer_end.close()
            self._pw_peer_end = None
        _OriginalSocket.close(self)

    def detach(self) -> int:
        return _OriginalSocket.detach(self)

    def _pw_timeout_ms(self) -> str:
        """The socket's timeout for the host's part (connect, handshake); "": the host's longest.
        A non-blocking socket connects as a blocking one would (asyncio's sock_connect)."""
        timeout = self.gettimeout()
        return "" if not timeout else str(max(1, int(timeout * 1000)))

    # -- TLS: the host's part --

    def _pw_start_tls(self, server_hostname: str | None, verify: bool, check_host: bool) -> list[bytes]:
        if self._pw_id is None:
            raise OSError(107, "Transport endpoint is not connected")
        try:
            return rpc.call_blocking(_fields, "socket.starttls", self._pw_id, server_hostname or "",
                                     "1" if verify else "", "1" if check_host else "",
                                     self._pw_timeout_ms())
        except JsException as exc:
            if exc.name == "TimeoutError":
                raise TimeoutError(exc.message) from None
            if exc.name == "ssl.SSLCertVerificationError" and "certificate verify failed" in exc.message:
                raise _ssl.SSLCertVerificationError(1, exc.message) from None
            raise _ssl.SSLError(1, exc.message) from None


class HostSSLSocket(HostSocket):
    """A HostSocket after the host's TLS handshake: the descriptor carries plaintext."""

    __slots__ = ("context", "server_hostname", "server_side", "_pw_tls")

    def version(self) -> str | None:
        return self._pw_tls[0]

    def cipher(self) -> tuple[str, str, int] | None:
        return (self._pw_tls[1], self._pw_tls[0], self._pw_tls[2])

    def getpeercert(self, binary_form: bool = False) -> Any:
        if binary_form:
            return None
        cert = self._pw_tls[3]
        return {k: (tuple(tuple(tuple(p) for p in rdn) for rdn in v) if k in ("subject", "issuer")
                    else tuple(tuple(p) for p in v) if k == "subjectAltName" else v)
                for k, v in cert.items()}

    def selected_alpn_protocol(self) -> None:
        return None

    def selected_npn_protocol(self) -> None:
        return None

    def compression(self) -> None:
        return None

    def pending(self) -> int:
        return 0

    def do_handshake(self, block: bool = False) -> None:
        return None

    def shared_ciphers(self) -> None:
        return None

    def unwrap(self) -> Any:
        raise _ssl.SSLError(1, "unwrap() is not supported: the host holds the TLS session")


def wrap_socket(context: _ssl.SSLContext, sock: Any, server_side: bool = False,
                do_handshake_on_connect: bool = True, suppress_ragged_eofs: bool = True,
                server_hostname: str | None = None, session: Any = None) -> Any:
    """SSLContext.wrap_socket: the host's TLS for a HostSocket, the stdlib's otherwise."""
    if not isinstance(sock, HostSocket) or sock._pw_id is None:
        return _original_wrap_socket(context, sock, server_side, do_handshake_on_connect,
                                     suppress_ragged_eofs, server_hostname, session)
    if server_side:
        raise _refuse("server-side TLS sockets")
    if context.check_hostname and not server_hostname:
        raise ValueError("check_hostname requires server_hostname")
    verify = context.verify_mode != _ssl.CERT_NONE
    version, cipher, bits, cert = sock._pw_start_tls(server_hostname, verify, context.check_hostname)
    timeout = sock.gettimeout()
    tls = HostSSLSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    tls.settimeout(timeout)
    tls._pw_id, tls._pw_peer, tls._pw_local = sock._pw_id, sock._pw_peer, sock._pw_local
    tls.context, tls.server_hostname, tls.server_side = context, server_hostname, False
    tls._pw_tls = (version.decode(), cipher.decode(), int(bits or 0), json.loads(cert or b"{}"))
    return tls


def getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0,
                flags: int = 0) -> list:
    """Names are the host's to resolve: a name comes back as itself, an address as itself."""
    if host is None or type & 0xF not in (0, _socket.SOCK_STREAM):
        return _original_getaddrinfo(host, port, family, type, proto, flags)
    name = host.decode() if isinstance(host, bytes) else str(host)
    try:
        literal = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        literal = None
    if isinstance(port, str):
        port = int(port) if port.isdigit() else _socket.getservbyname(port, "tcp")
    if literal is not None:
        fam = _socket.AF_INET6 if literal.version == 6 else _socket.AF_INET
        if family not in (0, fam):
            raise _stdlib_socket.gaierror(_socket.EAI_ADDRFAMILY, "Address family for hostname not supported")
    else:
        fam = _socket.AF_INET6 if family == _socket.AF_INET6 else _socket.AF_INET
    addr = (name, int(port or 0)) if fam == _socket.AF_INET else (name, int(port or 0), 0, 0)
    return [(_stdlib_socket.AddressFamily(fam), _stdlib_socket.SocketKind.SOCK_STREAM, 6, "", addr)]


async def _loop_getaddrinfo(self: Any, host: Any, port: Any, *, family: int = 0, type: int = 0,
                            proto: int = 0, flags: int = 0) -> list:
    """asyncio's loop.getaddrinfo without its thread (an isolate starts none)."""
    return getaddrinfo(host, port, family, type, proto, flags)


_C_DRIVER_HINT = ("pyworkerd: {name} is a C driver: libpq opens its socket in C, which the "
                  "worker's sandbox refuses (only Python's socket module goes through the host). "
                  "Use pg8000, a pure-Python PostgreSQL driver with the same DB-API "
                  "(pg8000.connect(user=, password=, host=, port=, database=)).")


class _CDriverHint:
    """Import hook: psycopg2/psycopg's connect() failing to open its socket says what to use."""

    names = ("psycopg2", "psycopg")

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name not in self.names:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = _HintLoader(spec.loader, name)
                return spec
            if spec is not None:
                return spec
        return None


class _HintLoader:
    def __init__(self, loader: Any, name: str) -> None:
        self.loader, self.name = loader, name

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self.loader.exec_module(module)
        connect, error = getattr(module, "connect", None), getattr(module, "OperationalError", None)
        if connect is None or error is None:
            return
        name = self.name

        def hinted_connect(*args: Any, **kwargs: Any) -> Any:
            try:
                return connect(*args, **kwargs)
            except error as exc:
                raise error(f"{exc}\n{_C_DRIVER_HINT.format(name=name)}") from None

        hinted_connect.__doc__ = connect.__doc__
        module.connect = hinted_connect


def install() -> None:
    """Replace the stdlib's socket class, getaddrinfo and SSLContext.wrap_socket (once)."""
    if _stdlib_socket.socket is HostSocket:
        return
    import asyncio.base_events
    global _original_loop_getaddrinfo
    _original_loop_getaddrinfo = asyncio.base_events.BaseEventLoop.getaddrinfo
    asyncio.base_events.BaseEventLoop.getaddrinfo = _loop_getaddrinfo  # type: ignore[method-assign]
    _stdlib_socket.socket = HostSocket  # type: ignore[misc]
    _stdlib_socket.SocketType = HostSocket  # type: ignore[misc]
    _stdlib_socket.getaddrinfo = getaddrinfo
    _ssl.SSLContext.wrap_socket = wrap_socket  # type: ignore[method-assign]
    sys.meta_path.insert(0, _CDriverHint())


def uninstall() -> None:
    """Put the stdlib's socket, getaddrinfo and wrap_socket back: for a process that loaded the
    runtime without being an isolate (tests/python loads workers in pytest's own process)."""
    if _stdlib_socket.socket is not HostSocket:
        return
    import asyncio.base_events
    asyncio.base_events.BaseEventLoop.getaddrinfo = _original_loop_getaddrinfo  # type: ignore
    _stdlib_socket.socket = _original_socket  # type: ignore[misc]
    _stdlib_socket.SocketType = _original_socket  # type: ignore[misc]
    _stdlib_socket.getaddrinfo = _original_getaddrinfo
    _ssl.SSLContext.wrap_socket = _original_wrap_socket  # type: ignore[method-assign]
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _CDriverHint)]
