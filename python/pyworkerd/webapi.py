# Fetch-standard HTTP objects shared by the `workers` and `js` modules: one Headers
# implementation, the Request a handler receives, the body reading both Request and Response
# share, and the header and redirect checks (the Response itself is pyworkerd/response.py).
# Bottom layer of the SDK (tests/python/test_layers.py). Imported in the worker template; used
# on every request in the isolates (the hot path: keep allocations per request minimal).
# Invariant: header names are stored lower-cased as (name, value) tuples in arrival
# order with repeats kept, and every Headers method mutates that list in place, because
# a Response hands the very same list to the C side as its wire headers.
"""Headers, Request and the body and header helpers shared by the Python Workers SDK modules."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from http import HTTPMethod
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from pyworkerd.blob import Blob
from pyworkerd.buffers import ArrayBuffer, as_bytes
from pyworkerd.formdata import FormData, encode_multipart, js_string, parse_form
from pyworkerd.streams import ReadableStream

from pyworkerd import jsdict

WireHeaders = list[tuple[str, str]]
WireResponse = tuple[int, WireHeaders, bytes]

TEXT_PLAIN = ("content-type", "text/plain;charset=UTF-8")
_SET_COOKIE = "set-cookie"
_METHODS: dict[str, HTTPMethod] = {m.value: m for m in HTTPMethod}
_is_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z").match
_bad_value = re.compile(r"[\r\n\0]").search
_REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))


def _name(name: object) -> str:
    text = name if isinstance(name, str) else str(name)
    if not _is_token(text):
        raise TypeError(f"Invalid header name: {text!r}")
    return text.lower()


def _value(value: object) -> str:
    text = js_string(value).strip(" \t")
    if _bad_value(text):
        raise TypeError(f"Invalid header value: {text!r}")
    return text


_PAIRS_ERROR = "Headers must be a Headers object, a mapping, or an iterable of [name, value] pairs"


def _pair(pair: Any) -> tuple[str, str]:
    try:
        name, value = pair
    except (TypeError, ValueError):
        raise TypeError(_PAIRS_ERROR) from None
    return _name(name), _value(value)


def header_list(init: object) -> WireHeaders:
    """Validate a headers initialiser (Headers, mapping or iterable of pairs) into a list."""
    if init is None:
        return []
    if isinstance(init, Headers):
        return init._list.copy()
    if isinstance(init, Mapping):
        return [(_name(name), _value(value)) for name, value in init.items()]
    if isinstance(init, (str, bytes)) or not isinstance(init, Iterable):
        raise TypeError(_PAIRS_ERROR)
    return [_pair(pair) for pair in init]


class Headers:
    """HTTP headers: case-insensitive, repeated headers kept (Set-Cookie is never joined).

    Offers what `http.client.HTTPMessage` offers (`get`, `get_all`, `items`, `keys`,
    `values`, `in`, `[]`, iteration over names) and the JavaScript `Headers` methods
    (`get`, `has`, `set`, `append`, `delete`, `entries`, `getSetCookie`, `forEach`).
    `get(name)` joins repeated values with ", " as JavaScript does, except Set-Cookie,
    whose first value it returns; `get_all(name)`/`getSetCookie()` give every value.
    Listings (`items`, `entries`, `keys`, `values`) are sorted by name with repeats
    combined, as JavaScript iterates them, Set-Cookie values listed one by one.
    """

    __slots__ = ("_list",)

    def __init__(self, init: object = None) -> None:
        self._list: WireHeaders = header_list(init)

    @classmethod
    def _wrap(cls, pairs: WireHeaders) -> Headers:
        """Wrap an already-valid, lower-cased list without copying it."""
        return wrap_headers(pairs, cls)

    @classmethod
    def _from_wire(cls, pairs: Iterable[tuple[str, str]]) -> Headers:
        """Headers of an incoming request: parsed by the host, only lower-cased here."""
        return wrap_headers([(name.lower(), value) for name, value in pairs], cls)

    def get(self, name: str, default: Any = None) -> Any:
        """The value of header `name` (repeats joined by ", "), or `default` (None)."""
        key = name.lower()
        found = None
        for k, v in self._list:
            if k == key:
                if found is None:
                    found = v
                    if key == _SET_COOKIE:
                        break
                else:
                    found = found + ", " + v
        return default if found is None else found

    __getitem__ = get

    def get_all(self, name: str, failobj: Any = None) -> Any:
        """The values of header `name` as a list, or `failobj` if it is absent: repeats
        comma-joined into one value as JavaScript's Headers (and so Cloudflare's SDK) gives
        them, except Set-Cookie, whose values are listed one by one."""
        key = name.lower()
        values = [v for k, v in self._list if k == key]
        if not values:
            return failobj
        return values if key == _SET_COOKIE or len(values) == 1 else [", ".join(values)]

    def getSetCookie(self) -> list[str]:
        """Every Set-Cookie value, in order."""
        return [v for k, v in self._list if k == _SET_COOKIE]

    def has(self, name: str) -> bool:
        """Whether header `name` is present."""
        key = name.lower()
        for k, _ in self._list:
            if k == key:
                return True
        return False

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.has(name)

    def set(self, name: str, value: object) -> None:
        """Replace every value of header `name` with `value`."""
        key, text = _name(name), _value(value)
        pairs = self._list
        first = -1
        for i in range(len(pairs) - 1, -1, -1):
            if pairs[i][0] == key:
                if first != -1:
                    del pairs[first]
                first = i
        if first == -1:
            pairs.append((key, text))
        else:
            pairs[first] = (key, text)

    __setitem__ = set

    def append(self, name: str, value: object) -> None:
        """Add a value to header `name`, keeping the values it already has."""
        self._list.append((_name(name), _value(value)))

    add_header = append

    def delete(self, name: str) -> None:
        """Remove header `name` (no error if it is absent)."""
        key = name.lower()
        self._list[:] = [pair for pair in self._list if pair[0] != key]

    __delitem__ = delete

    def _combined(self) -> WireHeaders:
        groups: dict[str, list[str]] = {}
        for k, v in self._list:
            groups.setdefault(k, []).append(v)
        out: WireHeaders = []
        for k in sorted(groups):
            values = groups[k]
            if k == _SET_COOKIE:
                out.extend([(k, v) for v in values])
            else:
                out.append((k, ", ".join(values)))
        return out

    def items(self) -> list[tuple[str, str]]:
        """(name, value) pairs, sorted by name, repeats combined (Set-Cookie kept apart)."""
        return self._combined()

    def keys(self) -> list[str]:
        """Header names, as `items()` lists them."""
        return [k for k, _ in self._combined()]

    def values(self) -> list[str]:
        """Header values, as `items()` lists them."""
        return [v for _, v in self._combined()]

    def entries(self) -> list[list[str]]:
        """[name, value] pairs, as JavaScript's `Headers.entries()` yields them."""
        return [[k, v] for k, v in self._combined()]

    def forEach(self, callback: Callable[..., Any]) -> None:
        """Call `callback(value, name)` for each entry, as JavaScript does."""
        for k, v in self._combined():
            callback(v, k)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._combined())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._combined() == other._combined()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._combined()!r})"


_new_object = object.__new__


def wrap_headers(pairs: WireHeaders, kind: type[Headers] = Headers) -> Headers:
    """A `kind` (Headers or a subclass) holding `pairs`, an already-valid, lower-cased list,
    without copying it: Headers._wrap as a plain function, cheaper on the response path."""
    headers = _new_object(kind)
    headers._list = pairs
    return headers


class JsHeaders(Headers):
    """`Headers` as JavaScript code sees it: iterating yields [name, value] pairs.

    This is `js.Headers`, and the type of `request.headers` for legacy `on_fetch` handlers.
    """

    __slots__ = ()

    @classmethod
    def new(cls, init: object = None) -> JsHeaders:
        """`new Headers(init)`: from nothing, a mapping, Headers or [name, value] pairs."""
        return cls(init)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.entries())


def _default_type(headers: WireHeaders, content_type: str) -> None:
    if content_type and not any(k == "content-type" for k, _ in headers):
        headers.append(("content-type", content_type))


def body_bytes(body: object, headers: WireHeaders, kind: str) -> bytes | None:
    """Convert a body to bytes, adding the content-type its kind implies unless one is set:
    str (text/plain;charset=UTF-8), bytes-like, ArrayBuffer/typed array/DataView, Blob (its
    type), FormData (multipart/form-data) or a ReadableStream holding a whole body."""
    if body is None:
        return None
    if isinstance(body, str):
        _default_type(headers, TEXT_PLAIN[1])
        return body.encode()
    if isinstance(body, bytes):
        return body
    data = as_bytes(body)
    if data is not None:
        return data
    if isinstance(body, Blob):
        _default_type(headers, body._type)
        return body._data
    if isinstance(body, FormData):
        data, content_type = encode_multipart(body)
        _default_type(headers, content_type)
        return data
    if isinstance(body, ReadableStream) and body.is_whole():
        return body._take()
    raise TypeError(f"Unsupported type in {kind}: {type(body).__name__}")


def normalize_url(url: str) -> str:
    """An absolute http(s) URL as the URL standard writes it (scheme and host lower-case,
    "/" for an empty path); any other text is returned as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https", "ws", "wss") or not parts.netloc:
        return url
    netloc = parts.netloc
    if "@" not in netloc:
        netloc = netloc.lower()
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, parts.fragment))


class Body:
    """Reading a request's or response's body once, as the Fetch standard does."""

    __slots__ = ()
    _body: bytes | None
    _body_used: bool

    @property
    def body_used(self) -> bool:
        """Whether the body has been read."""
        return self._body_used

    def _take(self) -> bytes:
        if self._body_used:
            raise OSError("Body already used")
        body = self._body
        if body is None:
            return b""
        self._body_used = True
        return body

    async def text(self) -> str:
        """The body decoded as UTF-8."""
        return self._take().decode("utf-8", "replace")

    async def bytes(self) -> bytes:
        """The body as bytes."""
        return self._take()

    async def _json(self, **kwargs: Any) -> Any:
        return jsdict.loads(self._take().decode("utf-8", "replace"), **kwargs)

    def _content_type(self) -> str | None:
        return self.headers.get("content-type")  # type: ignore[attr-defined]

    async def form_data(self) -> FormData:
        """The body parsed as multipart/form-data or application/x-www-form-urlencoded
        (by its Content-Type); file parts are File objects."""
        return parse_form(await self.bytes(), self._content_type())

    formData = form_data

    async def blob(self) -> Blob:
        """The body as a Blob of the body's Content-Type."""
        kind = self._content_type() or ""
        return Blob._of(await self.bytes(), kind.lower() if kind.isascii() else "")

    async def buffer(self) -> ArrayBuffer:
        """The body as a JavaScript ArrayBuffer (`.byteLength`, `.to_bytes()`)."""
        return ArrayBuffer(await self.bytes())

    @property
    def body(self) -> ReadableStream | None:
        """The body as a ReadableStream (`getReader()`, `async for`), None without one."""
        if self._body is None:
            return None
        return ReadableStream(self._body)


class Request(Body):
    """An HTTP request: the object a handler receives, also constructible by user code.

    `Request(input, method=, headers=, body=, redirect=)`: `input` is a URL or a Request
    to copy; `headers` a dict, a list of pairs or Headers; `body` str, bytes or None.
    """

    __slots__ = ("_method", "_url", "_raw", "_headers", "_body", "_body_used", "_redirect",
                 "_client", "_server")
    headers_type: ClassVar[type[Headers]] = Headers

    def __init__(
        self,
        input: str | Request,
        *,
        method: HTTPMethod | str | None = None,
        headers: object = None,
        body: Any = None,
        redirect: str | None = None,
        cf: object = None,
        **other: Any,
    ) -> None:
        if isinstance(input, Request):
            if input._body_used and body is None:
                raise TypeError(
                    "Cannot construct a Request with a Request object that has already been used."
                )
            url, meth, pairs = input._url, input._method, input._header_pairs()
            data, redir = input._body, input._redirect
        elif isinstance(input, str):
            url, meth, pairs, data, redir = normalize_url(input), "GET", [], None, "follow"
        else:
            raise TypeError(f"Request input must be a URL string or a Request, not {type(input).__name__}")
        if method is not None:
            meth = str(method.value if isinstance(method, HTTPMethod) else method)
            meth = meth.upper() if meth.upper() in _METHODS else meth
        if headers is not None:
            pairs = header_list(checked_headers(headers))
        if body is not None:
            data = body_bytes(body, pairs, "Request")
        if data is not None and meth in ("GET", "HEAD"):
            raise TypeError("Request with a GET or HEAD method cannot have a body.")
        self._method, self._url, self._raw, self._headers = meth, url, pairs, None
        self._body, self._body_used = data, False
        self._redirect = redirect or redir
        self._client = self._server = None  # a Request made in Python came in on no connection

    @classmethod
    def new(cls, input: str | Request, options: Any = None, /, **kwargs: Any) -> Request:
        """`new Request(input, {method, headers, body, redirect})` (JavaScript's constructor)."""
        if options is not None and not isinstance(options, Mapping):
            to_py = getattr(options, "to_py", None)
            options = to_py() if to_py is not None else None
        init = {**(options or {}), **kwargs}
        return cls(input, **{k: v for k, v in init.items() if v is not None})

    def _header_pairs(self) -> WireHeaders:
        return self._headers._list.copy() if self._headers is not None else [
            (k.lower(), v) for k, v in self._raw
        ]

    @property
    def url(self) -> str:
        """The request's absolute URL."""
        return self._url

    @property
    def method(self) -> HTTPMethod | str:
        """The method as `http.HTTPMethod` (a str), or a plain str for non-standard ones."""
        return _METHODS.get(self._method, self._method)

    @property
    def headers(self) -> Headers:
        """The request's headers (see `Headers`)."""
        h = self._headers
        if h is None:
            h = self._headers = self.headers_type._from_wire(self._raw)
        return h

    @property
    def redirect(self) -> str:
        """The redirect mode: "follow" or "manual"."""
        return self._redirect

    async def json(self, **kwargs: Any) -> Any:
        """The body parsed as JSON (`kwargs` go to `json.loads`)."""
        return await self._json(**kwargs)

    def clone(self) -> Request:
        """A copy of this request, body included; raises OSError if the body was read."""
        if self._body_used:
            raise OSError("Body already used")
        return Request(self)

    def __repr__(self) -> str:
        return f"Request(method={self._method!r}, url={self._url!r})"


def make_request(method: str, url: str, headers: list[tuple[str, str]], body: bytes,
                 client: tuple[str, int] | None = None, server: tuple[str, int] | None = None) -> Request:
    """The Request for an incoming HTTP request (host-parsed, so not re-validated);
    client/server: the (ip, port) of its connection's two ends, if it came in on one."""
    req = Request.__new__(Request)
    req._client = client
    req._server = server
    req._method = method
    req._url = url
    req._raw = headers
    req._headers = None
    req._body = body if body else None
    req._body_used = False
    req._redirect = "follow"
    return req


def checked_headers(headers: object) -> object:
    """The SDK's `headers=` check: a dict, a list of pairs, Headers or None."""
    if headers is None or isinstance(headers, (dict, list, Headers)):
        return headers
    raise TypeError("Received unexpected type for headers argument")


def redirect_args(url: str, status: int) -> tuple[int, WireHeaders]:
    """Validate a redirect and return its status and Location header."""
    code = int(status)
    if code not in _REDIRECT_STATUSES:
        raise ValueError(f"Invalid redirect status code {code}: use 301, 302, 303, 307 or 308.")
    return code, [("location", _value(url))]
