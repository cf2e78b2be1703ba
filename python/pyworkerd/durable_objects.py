# Durable Object namespaces, ids and stubs: what `env.NAME` is for a durableObjectNamespace
# binding (template and isolates). Ids are made here as workerd makes them (32 bytes as 64
# hex digits: 16 random or HMAC-SHA256(key, name) bytes, then 16 bytes of HMAC-SHA256(key,
# those), key = SHA-256(uniqueKey)), so idFromName is synchronous and needs no call; the host
# checks every id it is sent (src/host/do_id.c). A stub's fetch() and RPC methods are one
# "do.call" binding call each: the host delivers it to the one isolate holding the object and
# answers with what the object answered; an exception in the object is raised here with its
# type and message.
"""Durable Object namespaces, ids and stubs (env.NAME of a durableObjectNamespace binding)."""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from pyworkerd import rpc, websocket_connect
from pyworkerd.bindings import (_parse_header_lines, _request, _rpc_error, python_from_rpc,
                                python_to_rpc)
from pyworkerd.response import fetched_response

ERROR_HEADER = "x-pyworkerd-do-exception"
"""Marks an object's answer to fetch() that is an exception, not its response."""
_HEX = frozenset("0123456789abcdefABCDEF")


def fetch_head(method: str, url: str, headers: list[tuple[str, str]]) -> bytes:
    """The head of a fetch event's payload (head "\n" body): method, url, then each header's
    name and value, NUL-separated, UTF-8. Header names and values cannot hold NUL or newline
    (webapi checks them); the URL's are percent-encoded, as a URL parser does. Cheaper than
    JSON (~1 µs against ~14 µs both ways, bench/results/durable_objects.md)."""
    if "\0" in url or "\n" in url:
        url = url.replace("\0", "%00").replace("\n", "%0A")
    return "\0".join([method, url, *[part for pair in headers for part in pair]]).encode("utf-8", "surrogatepass")


def parse_fetch_head(head: bytes) -> tuple[str, str, list[tuple[str, str]]]:
    """fetch_head's method, url and headers."""
    parts = head.decode("utf-8", "surrogatepass").split("\0")
    rest = iter(parts[2:])
    return parts[0], parts[1], list(zip(rest, rest))


class DurableObjectId:
    """An object's id: `toString()` (64 hex digits), `name` (idFromName's, else None), `equals()`."""

    __slots__ = ("_hex", "name")

    def __init__(self, hex_id: str, name: str | None = None) -> None:
        self._hex = hex_id
        self.name = name

    def toString(self) -> str:
        return self._hex

    def equals(self, other: Any) -> bool:
        return isinstance(other, DurableObjectId) and other._hex == self._hex

    @property
    def jurisdiction(self) -> None:
        """Jurisdictions have no effect on one machine."""
        return None

    def __eq__(self, other: Any) -> bool:
        return self.equals(other)

    def __hash__(self) -> int:
        return hash(self._hex)

    def __str__(self) -> str:
        return self._hex

    def __repr__(self) -> str:
        return f"DurableObjectId({self._hex!r}{', name=' + repr(self.name) if self.name is not None else ''})"


class IdFactory:
    """Makes and checks the ids of one namespace (its uniqueKey). Ids made from names and ids
    already checked are remembered (a bounded cache: an HMAC costs ~5 µs, three per
    getByName(), measured in bench/results/durable_objects.md)."""

    __slots__ = ("_key", "_names", "_checked")

    CACHE = 4096
    """Names and checked ids remembered, per namespace; the cache is emptied when full."""

    def __init__(self, unique_key: str) -> None:
        self._key = hashlib.sha256(unique_key.encode()).digest()
        self._names: dict[str, str] = {}     # name -> its hex id
        self._checked: dict[str, str] = {}   # an id as given -> its hex id (lower case)

    def _mac(self, first: bytes) -> bytes:
        return hmac.new(self._key, first, hashlib.sha256).digest()[:16]

    def _remember(self, known: dict[str, str], key: str, hex_id: str) -> str:
        if len(known) >= self.CACHE:
            known.clear()
        known[key] = hex_id
        return hex_id

    def from_name(self, name: str) -> DurableObjectId:
        hex_id = self._names.get(name)
        if hex_id is None:
            first = hmac.new(self._key, name.encode(), hashlib.sha256).digest()[:16]
            hex_id = self._remember(self._names, name, (first + self._mac(first)).hex())
        return DurableObjectId(hex_id, name)

    def unique(self) -> DurableObjectId:
        first = os.urandom(16)
        return DurableObjectId((first + self._mac(first)).hex())

    def from_string(self, text: Any, name: str | None = None) -> DurableObjectId:
        hex_id = self._checked.get(text) if type(text) is str else None
        if hex_id is None:
            if not isinstance(text, str) or len(text) != 64 or not _HEX.issuperset(text):
                raise TypeError("Invalid Durable Object ID: must be 64 hex digits")
            raw = bytes.fromhex(text)
            if not hmac.compare_digest(self._mac(raw[:16]), raw[16:]):
                raise TypeError("Durable Object ID is not valid for this namespace.")
            hex_id = self._remember(self._checked, text, text.lower())
        return DurableObjectId(hex_id, name)


class DurableObjectNamespace:
    """A durableObjectNamespace binding: ids (idFromName, newUniqueId, idFromString) and stubs
    (get, getByName)."""

    __slots__ = ("_name", "_class", "_ids")

    def __init__(self, binding: str, class_name: str, unique_key: str) -> None:
        self._name = binding
        self._class = class_name
        self._ids = IdFactory(unique_key)

    def idFromName(self, name: str) -> DurableObjectId:
        """The id for `name`: always the same for the same name in this namespace."""
        if not isinstance(name, str):
            raise TypeError(f"idFromName() takes a string, not {type(name).__name__}")
        return self._ids.from_name(name)

    def newUniqueId(self, options: Any = None, /, **kwargs: Any) -> DurableObjectId:
        """A new random id (a `jurisdiction` option is accepted and has no effect)."""
        return self._ids.unique()

    def idFromString(self, text: str) -> DurableObjectId:
        """The id whose toString() is `text` (64 hex digits made by this namespace)."""
        return self._ids.from_string(text)

    def get(self, id: DurableObjectId, options: Any = None, /, **kwargs: Any) -> DurableObjectStub:
        """A stub for the object `id`; nothing is sent until it is called."""
        if not isinstance(id, DurableObjectId):
            raise TypeError("get() takes a DurableObjectId (from idFromName, newUniqueId or idFromString)")
        self._ids.from_string(id._hex)      # an id of another namespace is refused here
        return DurableObjectStub(self._name, id)

    def getByName(self, name: str, options: Any = None, /, **kwargs: Any) -> DurableObjectStub:
        """get(idFromName(name))."""
        return self.get(self.idFromName(name))

    def jurisdiction(self, name: str) -> DurableObjectNamespace:
        """The same namespace: there are no jurisdictions on one machine."""
        return self

    def __repr__(self) -> str:
        return f"DurableObjectNamespace({self._class!r})"


class DurableObjectStub:
    """Calls one object: `await stub.fetch(url | Request, ...)`, `await stub.method(*args)`."""

    __slots__ = ("_binding", "id", "name")

    def __init__(self, binding: str, id: DurableObjectId) -> None:
        self._binding = binding
        self.id = id
        self.name = id.name

    def _name_field(self) -> str:
        return "" if self.id.name is None else "=" + self.id.name

    def fetch(self, resource: Any, options: Any = None, /, **kwargs: Any) -> Any:
        """Send a request to the object's fetch() and return its Response."""
        req = _request(resource, options, kwargs)
        head = fetch_head(req._method, req._url, req._header_pairs())

        def decode(fields: list[bytes]) -> Any:
            headers = _parse_header_lines(fields[1])
            if any(name == ERROR_HEADER for name, _ in headers):
                raise _rpc_error(fields[2])
            ws = websocket_connect.socket_for(fields, req._url, False)  # the object's WebSocket
            return fetched_response(int(fields[0]), headers, fields[2] if ws is None else ws, req._url)

        return rpc.call(decode, "do.call", self._binding, self.id._hex, self._name_field(), "fetch",
                        head + b"\n" + (req._body or b""))

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)
        binding, hex_id, name = self._binding, self.id._hex, self._name_field()

        def remote(*args: Any) -> Any:
            def decode(fields: list[bytes]) -> Any:
                if fields[0] != b"200":
                    raise _rpc_error(fields[2])
                return python_from_rpc(fields[2])

            return rpc.call(decode, "do.call", binding, hex_id, name, method, python_to_rpc(list(args)))

        remote.__name__ = method
        return remote

    def __repr__(self) -> str:
        return f"DurableObjectStub({self.id!r})"
