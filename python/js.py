# The `js` module: the JavaScript globals that Pyodide-era Python Workers import
# (`from js import Response, Headers, console, JSON, Object`), with the calling
# conventions Pyodide gives them (`Response.new(...)`, keyword arguments as the trailing
# options object). Imported in the worker template; used by isolates on every request.
# Objects are pyworkerd's own, not JS proxies: `Response` is the JavaScript constructor of
# the SDK's one Response class (pyworkerd.response, also `workers.Response`), as Pyodide's
# js.Response is a proxy of JavaScript's. fetch() is pyworkerd.bindings.fetch (a call to
# the host). The binary types, Blob/File/FormData, Date, timers and streams are the SDK's
# (pyworkerd.buffers, blob, formdata, jsdate, timers); `process` exists with nodejs_compat.
# `globalThis` is this module, seen as JavaScript's global object: equal to `js` while a
# request is served; at top level, where workerd patches `js` (its I/O raises), it is not.
# Not here yet: URL, Promise.
"""JavaScript globals for Python Workers: Response, Headers, console, JSON, Object, ..."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from pyworkerd import context, rpc
from pyworkerd import log as _log
from pyworkerd import response, webapi
from pyworkerd.bindings import fetch
from pyworkerd import websocket, websocket_connect
from pyworkerd.websocket import WebSocketPair
from pyworkerd.do_websockets import WebSocketRequestResponsePair
from pyworkerd.blob import Blob, File
from pyworkerd.buffers import (TYPED_ARRAYS, ArrayBuffer, DataView, TextDecoder, TextEncoder)
from pyworkerd.errors import JsException
from pyworkerd.formdata import FormData
from pyworkerd.jsdate import Date
from pyworkerd.jsobject import JsObject, JsProxy
from pyworkerd.streams import ReadableStream
from pyworkerd.timers import clearInterval, clearTimeout, setInterval, setTimeout

__all__ = ["JSON", "ArrayBuffer", "Blob", "DataView", "Date", "Error", "File", "FormData", "Headers",
           "Map", "Object", "ReadableStream", "Request", "Response", "Set", "TextDecoder",
           "TextEncoder", "WebSocket", "WebSocketPair", "WebSocketRequestResponsePair", "clearInterval",
           "clearTimeout", "console", "fetch", "globalThis", "setInterval", "setTimeout", "undefined", *TYPED_ARRAYS]

globals().update(TYPED_ARRAYS)  # Uint8Array, Int16Array, Float64Array, ...
undefined = None

Headers = webapi.JsHeaders
Request = webapi.Request


def _options(options: object, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Merge the options object (a dict, or a Response to copy from) with keyword options."""
    if not options:
        return kwargs
    if isinstance(options, response.Response):
        options = {"status": options._status, "statusText": options._status_text, "headers": options._headers}
    if not isinstance(options, Mapping):
        raise TypeError("The options argument must be a dict of Response init options or a Response")
    return {**options, **kwargs}


_new_response = object.__new__


def _response(body: object, init: dict[str, Any], content_type: str | None = None) -> response.Response:
    headers = init.get("headers")
    pairs = webapi.header_list(headers)
    if content_type and not any(k == "content-type" for k, _ in pairs):
        pairs.append(("content-type", content_type))
    resp = _new_response(response.Response)
    resp._init(body, init.get("status"), init.get("statusText", ""), pairs, init.get("webSocket"))
    return resp


class _ResponseConstructor:
    """The JavaScript `Response`: build one with `Response.new(body, status=, headers=)`.

    The options may also be given as a dict: `Response.new(body, {"status": 404})`.
    What it builds is the SDK's one Response class (`workers.Response`), which has the
    JavaScript properties (`status`, `statusText`, `ok`, `headers`, `bodyUsed`) and methods
    (`await r.text()`, `await r.json()`, `await r.arrayBuffer()`, which returns bytes);
    `isinstance(r, Response)` holds for every Response.
    """

    __slots__ = ()

    @staticmethod
    def new(body: object = None, options: object = None, /, **kwargs: Any) -> response.Response:
        """`new Response(body, options)`: body str, bytes or None; options status, statusText, headers.

        `options` may also be another Response, whose status and headers are copied.
        """
        return _response(body, _options(options, kwargs))

    @staticmethod
    def json(data: Any, options: object = None, /, **kwargs: Any) -> response.Response:
        """`Response.json(data, options)`: JSON.stringify(data), content-type application/json."""
        return _response(JSON.stringify(data), _options(options, kwargs), "application/json")

    @staticmethod
    def redirect(url: str, status: int = 302) -> response.Response:
        """`Response.redirect(url, status)`: status 301, 302, 303, 307 or 308."""
        code, pairs = webapi.redirect_args(url, status)
        return _response(None, {"status": code, "headers": pairs})

    def __instancecheck__(self, obj: object) -> bool:
        return isinstance(obj, response.Response)

    def __subclasscheck__(self, cls: type) -> bool:
        return issubclass(cls, response.Response)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("Response is JavaScript's constructor: build one with Response.new(...)")

    def __repr__(self) -> str:
        return "<JavaScript constructor Response>"


Response = _ResponseConstructor()


def _text(args: tuple[Any, ...]) -> str:
    return " ".join([a if isinstance(a, str) else _show(a) for a in args])


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


class _WebSocketConstructor:
    """The JavaScript `WebSocket`: `WebSocket.new(url, protocols=None)` opens one from the
    worker (through the host, under its network rules); "open" fires once connected.
    `isinstance(ws, WebSocket)` holds for every WebSocket (a WebSocketPair's ends too)."""

    CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3

    @staticmethod
    def new(url: str, protocols: str | list[str] | None = None) -> websocket.WebSocket:
        return websocket_connect.open_socket(url, protocols)

    def __instancecheck__(self, obj: object) -> bool:
        return isinstance(obj, websocket.WebSocket)

    def __repr__(self) -> str:
        return "<js.WebSocket>"


WebSocket = _WebSocketConstructor()


class console:
    """The JavaScript console: every method writes one tagged line to the Worker's log."""

    @staticmethod
    def log(*args: Any) -> None:
        """Log the arguments, separated by spaces."""
        _log.log(_text(args))

    info = debug = warn = error = log


class JSON:
    """The JavaScript JSON object."""

    @staticmethod
    def stringify(value: Any, replacer: Any = None, space: int | str | None = None) -> str:
        """Serialise `value` as JSON.stringify does (compact, non-ASCII kept)."""
        if replacer is not None:
            raise TypeError("JSON.stringify: a replacer is not supported by pyworkerd")
        if space:
            return json.dumps(value, ensure_ascii=False, indent=space, default=_json_default)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)

    @staticmethod
    def parse(text: str | bytes) -> Any:
        """Parse JSON text."""
        return json.loads(text)


def _json_default(value: Any) -> Any:
    if isinstance(value, webapi.Headers):
        return dict(value.items())
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class Object:
    """The JavaScript Object constructor's static helpers."""

    @staticmethod
    def new(fields: Mapping[str, Any] | None = None) -> JsObject:
        """`new Object()`: an empty JavaScript object (attributes and items)."""
        return JsObject(dict(fields or {}))

    @staticmethod
    def fromEntries(entries: Iterable[Any] | Mapping[str, Any]) -> dict[Any, Any]:
        """A dict from [key, value] pairs (a dict's items(), Headers, a list of pairs)."""
        if isinstance(entries, webapi.Headers):
            return dict(entries.items())
        if isinstance(entries, Mapping):
            return dict(entries)
        return {key: value for key, value in entries}

    @staticmethod
    def keys(obj: Mapping[str, Any] | JsObject) -> list[str]:
        """The keys of a dict or JavaScript object."""
        return [k for k, _ in Object.entries(obj)]

    @staticmethod
    def entries(obj: Mapping[str, Any] | JsObject) -> list[list[Any]]:
        """[key, value] pairs of a dict or JavaScript object."""
        if isinstance(obj, JsObject):
            return [[k, v] for k, v in obj.object_entries()]
        return [[k, v] for k, v in obj.items()]


class _Constructor:
    """A JavaScript constructor whose `new(...)` makes a Python value (Error, Map, Set)."""

    __slots__ = ("_name", "_make")

    def __init__(self, name: str, make: Any) -> None:
        self._name, self._make = name, make

    def new(self, *args: Any) -> Any:
        return self._make(*args)

    def __repr__(self) -> str:
        return f"<JavaScript constructor {self._name}>"


Error = _Constructor("Error", lambda message="": JsException("Error", str(message)))
Map = _Constructor("Map", lambda entries=(): {k: v for k, v in (entries or ())})
Set = _Constructor("Set", lambda items=(): set(items or ()))


class _GlobalThis(JsProxy):
    """JavaScript's global object: the globals of this module as attributes."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return getattr(sys.modules[__name__], name)
        except AttributeError:
            return None  # undefined

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        # `js` is the global object while requests are served; at top level (the template, no
        # channel yet) workerd's `js` is a patched module, not globalThis
        return other is sys.modules[__name__] and rpc._channel is not None

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = JsProxy.__hash__

    def __repr__(self) -> str:
        return "[object global]"


globalThis = _GlobalThis()
self = globalThis

NODE_VERSION = "22.14.0"
"""The Node.js version whose API workerd's nodejs_compat follows (process.versions.node)."""


def _process() -> JsObject:
    env = context.env.__dict__ if context.env is not None else {}
    strings = {k: v for k, v in env.items() if isinstance(v, str)}
    return JsObject(env=JsObject(strings), versions=JsObject(node=NODE_VERSION),
                    version="v" + NODE_VERSION, platform="linux", argv=[], cwd=lambda: "/bundle")


def __getattr__(name: str) -> Any:
    """`process`, with nodejs_compat only (as in workerd): env holds the text bindings."""
    if name == "process" and context.compat_flags.get("nodejs_compat"):
        return _process()
    raise AttributeError(f"module 'js' has no attribute {name!r}")
