# The one Response class of the SDK: `workers.Response` is it, and `js.Response` is the
# JavaScript constructor of it (`js.Response.new(...)`, see js.py), so a handler may return
# either and the runtime reads one type. It has the Python surface (`status_text`,
# `Response.json(data, status)`) and the JavaScript one (`statusText`, `bodyUsed`,
# `await r.arrayBuffer()`). FetchResponse adds what a fetched response has (url, redirected);
# StreamedResponse is the one whose body is still being produced (a stream, an R2 body, ASGI/WSGI).
# Bottom layer of the SDK (tests/python/test_layers.py). Imported in the worker template;
# used on every request in the isolates. Invariant: `_wire()` hands the C side the Headers'
# own list (never copied: see webapi.py), and the slots below are all a Response holds.
"""Response: the HTTP response a Python Worker returns (workers.Response, js.Response)."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from pyworkerd import jsdict
from pyworkerd.blob import Blob
from pyworkerd.buffers import JsBuffer
from pyworkerd.formdata import FormData
from pyworkerd.streams import ReadableStream
from pyworkerd.webapi import (Body, Headers, WireHeaders, WireResponse, body_bytes, checked_headers,
                              header_list, redirect_args, wrap_headers)
from pyworkerd.websocket import is_websocket

_NULL_BODY_STATUSES = frozenset((101, 204, 205, 304))
_BODY_TYPES = (str, bytes, bytearray, memoryview, Blob, FormData, JsBuffer, ReadableStream)
"""What a Response body may be (a Response given alone is copied instead)."""
_PHRASES = {s.value: s.phrase for s in HTTPStatus}


def _streaming(body: object) -> bool:
    """Whether `body` is a stream whose bytes are still being produced (sent as they come)."""
    return isinstance(body, ReadableStream) and not body.is_whole()

HeadersInit = dict[str, str] | list[tuple[str, str]] | Headers
"""What a `headers=` argument accepts: a dict, a list of (name, value) pairs or Headers."""


class JsonMethod:
    """`Cls.json(data, ...)` builds a JSON response; `await response.json()` parses a body."""

    def __init__(self, build: Callable[..., Any]) -> None:
        self._build = build

    def __get__(self, obj: Any, cls: type | None = None) -> Callable[..., Any]:
        if obj is None:
            return self._build
        return obj._json


def _from_json(
    data: Any,
    status: HTTPStatus | int = HTTPStatus.OK,
    status_text: str = "",
    headers: HeadersInit | None = None,
) -> Response:
    """A response whose body is `json.dumps(data)`, content-type application/json unless given."""
    pairs = header_list(checked_headers(headers))
    if not any(k == "content-type" for k, _ in pairs):
        pairs.append(("content-type", "application/json"))
    return Response(json.dumps(data), status, status_text, pairs)


class Response(Body):
    """The response to a request, with an API like the web `Response`.

    `Response(body=None, status=None, status_text="", headers=None, web_socket=None)`: `body`
    is str (sent as UTF-8, content-type text/plain;charset=UTF-8 unless given), bytes,
    bytearray, memoryview (copied as bytes) or None;
    `headers` a dict, a list of (name, value) pairs or Headers. Another Response may be
    passed as the body, without options, to copy it. `web_socket`, with status 101, is the
    client end of a WebSocketPair: the request's WebSocket is accepted and relayed to it.
    JavaScript code builds one with `js.Response.new(body, options)` (`webSocket=`).
    """

    __slots__ = ("_status", "_status_text", "_headers", "_body", "_body_used")

    def __new__(cls, body: object = None, *args: Any, **kwargs: Any) -> Any:
        if body is not None and type(body) is ReadableStream and cls is Response and _streaming(body):
            return object.__new__(StreamedResponse)  # its bytes are sent as the stream gives them
        return object.__new__(cls)

    def __init__(
        self,
        body: Any = None,
        status: HTTPStatus | int | None = None,
        status_text: str = "",
        headers: HeadersInit | None = None,
        web_socket: Any = None,
    ) -> None:
        """`body`: str, bytes-like, an ArrayBuffer/typed array/DataView, a Blob, a FormData
        (sent as multipart/form-data), a ReadableStream (`other.body`), or None; another
        Response, alone, is copied. `web_socket` is accepted with status 101."""
        if isinstance(body, Response):
            if status is not None or status_text or headers is not None:
                raise ValueError("Expected no options when constructing Response from a js.Response")
            self._copy_from(body)
            return
        if body is not None and not isinstance(body, _BODY_TYPES):
            if hasattr(body, "__aiter__") and type(self) is Response:   # a stream (an R2 body)
                self._init(None, status, status_text, checked_headers(headers) if headers else None)
                self._body, self.__class__ = body, StreamedResponse
                return
            raise TypeError(f"Unsupported type in Response: {type(body).__name__}")
        self._init(body, status, status_text, checked_headers(headers) if headers else None, web_socket)

    def _init(self, body: object, status: int | None, status_text: str, headers: object,
              web_socket: Any = None) -> None:
        code = 200 if status is None else int(status)
        if not (200 <= code <= 599 or (code == 101 and web_socket is not None)):
            raise ValueError(
                "Responses may only be constructed with status codes in the range 200 to 599, inclusive."
            )
        pairs = header_list(headers)
        data: Any = body._take() if _streaming(body) else body_bytes(body, pairs, "Response")
        if data is not None and code in _NULL_BODY_STATUSES:
            raise TypeError(f"Response with null body status ({code}) cannot have a body.")
        if web_socket is not None:
            if code != 101 or not is_websocket(web_socket):
                raise TypeError("webSocket must be a WebSocket (the client end of a WebSocketPair), "
                                "in a Response with status 101")
            data = web_socket   # the wire's body: runtime and loop send it as the socket
        self._status, self._status_text = code, str(status_text or _PHRASES.get(code, ""))
        self._headers = wrap_headers(pairs)
        self._body, self._body_used = data, False

    def _copy_from(self, other: Response) -> None:
        self._status, self._status_text = other._status, other._status_text
        self._headers = wrap_headers(other._headers._list.copy())
        self._body, self._body_used = other._body, other._body_used

    def _wire(self) -> WireResponse:
        body = self._body
        return (self._status, self._headers._list, b"" if body is None else body)

    json = JsonMethod(_from_json)
    from_json = staticmethod(_from_json)

    @staticmethod
    def redirect(url: str, status: HTTPStatus | int = HTTPStatus.FOUND) -> Response:
        """A redirect to `url` with `status` (301, 302, 303, 307 or 308)."""
        code, pairs = redirect_args(url, status)
        return Response(None, code, "", pairs)

    @property
    def status(self) -> int:
        """The HTTP status code."""
        return self._status

    @property
    def status_text(self) -> str:
        """The status message ("" unless one was given)."""
        return self._status_text

    @property
    def statusText(self) -> str:
        """The status message ("" unless one was given), as JavaScript spells it."""
        return self._status_text

    @property
    def ok(self) -> bool:
        """Whether the status is in the range 200-299."""
        return 200 <= self._status <= 299

    @property
    def headers(self) -> Headers:
        """The response's headers (see `Headers`)."""
        return self._headers

    @property
    def web_socket(self) -> Any:
        """The WebSocket of a 101 response (`webSocket` in JavaScript); None for others."""
        return self._body if is_websocket(self._body) else None

    webSocket = web_socket

    @property
    def bodyUsed(self) -> bool:
        """Whether the body has been read."""
        return self._body_used

    async def arrayBuffer(self) -> bytes:
        """The body as bytes."""
        return self._take()

    @property
    def url(self) -> str:
        """The URL of a fetched response; "" for a constructed one."""
        return ""

    @property
    def redirected(self) -> bool:
        """Whether a fetch followed a redirect; False for a constructed response."""
        return False

    @property
    def type(self) -> str:
        """The response type: "default" for a constructed response."""
        return "default"

    def replace_body(self, body: Any) -> Response:
        """A new Response with this one's status, status text and headers and `body`."""
        headers = [(k, v) for k, v in self._headers._list]
        return Response(body, self._status, self._status_text, headers)

    def clone(self) -> Any:
        """A copy of this response, body included; raises OSError if the body was read."""
        if self._body_used:
            raise OSError("Body already used")
        copy = type(self).__new__(type(self))
        copy._copy_from(self)
        return copy

    def __repr__(self) -> str:
        parts = [f"status={self._status}"]
        if self._status_text:
            parts.append(f"status_text={self._status_text!r}")
        content_type = self._headers.get("content-type")
        if content_type is not None:
            parts.append(f"content_type={content_type!r}")
        return f"Response({', '.join(parts)})"


class FetchResponse(Response):
    """The Response of fetch() or of a service binding: a Response with the URL it came from."""

    __slots__ = ("_url", "_redirected")

    @property
    def url(self) -> str:
        """The final URL (after redirects)."""
        return self._url

    @property
    def redirected(self) -> bool:
        """Whether redirects were followed."""
        return self._redirected

    @property
    def type(self) -> str:
        """"basic", as for any fetched response."""
        return "basic"

    def raise_for_status(self) -> None:
        """Raise OSError for a 4xx or 5xx status."""
        if self._status >= 400:
            raise OSError(f"{self._status} error for url: {self._url}")

    def __repr__(self) -> str:
        return f"FetchResponse(status={self._status}, url={self._url!r})"


def fetched_response(status: int, headers: WireHeaders, body: Any, url: str = "",
                     redirected: bool = False) -> FetchResponse:
    """A FetchResponse from the host's answer (already-valid, lower-cased headers)."""
    resp = FetchResponse.__new__(FetchResponse)
    resp._status, resp._status_text = status, ""
    resp._headers = Headers._wrap(headers)
    resp._body, resp._body_used = body, False
    resp._url, resp._redirected = url, redirected
    return resp


class StreamedResponse(Response):
    """A Response whose body is still being produced, sent as it comes: a ReadableStream
    (another response's `body` passed on), an async iterable such as an R2 object's body
    (`Response(r2_object.body)`), or what an ASGI/WSGI app is still sending.

    `_wire()` returns a coroutine resolving to the wire tuple with the iterable as its
    body (runtime.handle passes it on; the isolate's loop streams it chunk by chunk), so the
    plain `Response._wire()` stays as fast as it is. Reading the body in Python
    (`await response.bytes()`) consumes the stream.
    """

    __slots__ = ()

    def _wire(self) -> Any:
        return self._streamed_wire()

    async def _streamed_wire(self) -> tuple[int, WireHeaders, Any]:
        self._body_used = True
        return (self._status, self._headers._list, self._body)

    async def bytes(self) -> bytes:
        """The whole body, read from the stream."""
        if self._body_used:
            raise OSError("Body already used")
        self._body_used = True
        return b"".join([bytes(chunk) async for chunk in self._body])

    async def text(self) -> str:
        """The whole body, read from the stream, decoded as UTF-8."""
        return (await self.bytes()).decode("utf-8", "replace")

    async def _json(self, **kwargs: Any) -> Any:
        return jsdict.loads(await self.text(), **kwargs)
