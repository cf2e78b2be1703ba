# The values of a service-binding RPC call (`await env.SVC.method(*args)`) and of its result,
# converted as workerd converts them between Python Workers (structured clone through
# JavaScript): dict (plain dicts come back), list, str, numbers, bool, None, set, bytes and
# memoryview (memoryview comes back), ArrayBuffer/typed arrays (memoryview), datetime,
# exceptions, and workers' Request, Response, Blob/File and FormData. Python-only types that
# JavaScript cannot hold raise TypeError (tuple, bytearray, functions, awaitables); any other
# object raises JsException("DataCloneError", ...), as structured clone does. Encoded as JSON
# with "$pyworkerd:<type>" tags (a user dict whose one key looks like a tag is wrapped).
# Binding-calls layer of the SDK; runs in isolates (the caller encodes, the callee decodes,
# and the other way for the result).
"""Encoding and decoding of service-binding RPC arguments and results, as workerd converts them."""

from __future__ import annotations

import base64
import builtins
import datetime
import json
from collections.abc import Awaitable
from typing import Any

from pyworkerd.blob import Blob, File
from pyworkerd.buffers import as_bytes
from pyworkerd.errors import JsException
from pyworkerd.formdata import FormData
from pyworkerd.jsdate import Date
from pyworkerd.jsobject import JsObject
from pyworkerd.response import Response, fetched_response
from pyworkerd.webapi import Request

__all__ = ["decode_rpc", "encode_rpc"]

TAG = "$pyworkerd:"
_MAX_DEPTH = 256


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unclonable(value: Any) -> Exception:
    name = type(value).__name__
    return JsException("DataCloneError", f'Could not serialize object of type "{name}". '
                       "This type does not support serialization.")


def _python_only(value: Any) -> Exception:
    return TypeError(f"{type(value)} cannot be sent over RPC.")


def _body(owner: Response | Request) -> str:
    body = owner._body
    if body is not None and not isinstance(body, bytes):
        raise TypeError(f"a {type(owner).__name__} whose body is still streaming cannot be sent over RPC")
    return _b64(body or b"")


def _tagged(kind: str, value: Any) -> dict[str, Any]:
    return {TAG + kind: value}


def _encode_object(value: Any, depth: int) -> Any:
    """A value that JSON does not hold itself, as its tagged form."""
    if isinstance(value, (tuple, bytearray)) or isinstance(value, Awaitable):
        raise _python_only(value)
    data = as_bytes(value)
    if data is not None:
        return _tagged("bytes", _b64(data))
    if isinstance(value, (set, frozenset)):
        return _tagged("set", [_encode(v, depth) for v in value])
    if isinstance(value, datetime.datetime):
        return _tagged("date", value.isoformat())
    if isinstance(value, Date):
        return _tagged("date", value.to_py().isoformat())
    if isinstance(value, BaseException):
        return _tagged("error", {"name": type(value).__name__, "message": str(value)})
    if isinstance(value, Response):
        return _tagged("response", {"status": value._status, "statusText": value._status_text,
                                    "headers": value._headers._list, "body": _body(value)})
    if isinstance(value, Request):
        return _tagged("request", {"method": value._method, "url": value._url,
                                   "headers": value._header_pairs(), "body": _body(value)})
    if isinstance(value, Blob):
        blob = {"type": value._type, "data": _b64(value._data)}
        if isinstance(value, File):
            blob.update(name=value._name, lastModified=value._last_modified)
        return _tagged("blob", blob)
    if isinstance(value, FormData):
        return _tagged("formdata", [[k, _encode_object(v, depth) if isinstance(v, File) else v]
                                    for k, v in value._entries])
    if isinstance(value, JsObject):
        return _encode(value.to_py(), depth)
    if callable(value) and not isinstance(value, type):
        raise _python_only(value)
    raise _unclonable(value)


def _encode(value: Any, depth: int = 0) -> Any:
    if depth > _MAX_DEPTH:
        raise JsException("DataCloneError", "The value is nested too deeply to be serialized.")
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, list):
        return [_encode(v, depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise _python_only(k)
            out[k] = _encode(v, depth + 1)
        if len(out) == 1 and isinstance(next(iter(out)), str) and next(iter(out)).startswith(TAG):
            return _tagged("object", out)
        return out
    return _encode_object(value, depth + 1)


def encode_rpc(value: Any) -> bytes:
    """The wire form of an RPC argument list or result (see the top of this file)."""
    return json.dumps(_encode(value), separators=(",", ":"), ensure_ascii=False).encode()


def _error(info: dict[str, Any]) -> Exception:
    name, message = str(info.get("name", "Error")), str(info.get("message", ""))
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls(message)
    return JsException(name, message)


def _headers(pairs: list[list[str]]) -> list[tuple[str, str]]:
    return [(str(k).lower(), str(v)) for k, v in pairs]


def _request(info: dict[str, Any]) -> Request:
    body = base64.b64decode(info["body"])
    req = Request(info["url"], method=info["method"], headers=_headers(info["headers"]),
                  body=body if body else None)
    return req


def _response(info: dict[str, Any]) -> Response:
    resp = fetched_response(int(info["status"]), _headers(info["headers"]),
                            base64.b64decode(info["body"]))
    resp._status_text = str(info.get("statusText", ""))
    return resp


def _blob(info: dict[str, Any]) -> Blob:
    data = base64.b64decode(info["data"])
    if "name" in info:
        return File._named(data, info["name"], info["type"], info.get("lastModified"))
    return Blob._of(data, info["type"])


def _formdata(entries: list[list[Any]]) -> FormData:
    form = FormData()
    form._entries = [(k, _decode(v) if isinstance(v, dict) else v) for k, v in entries]
    return form


_DECODERS = {
    TAG + "bytes": lambda v: memoryview(base64.b64decode(v)),
    TAG + "set": lambda v: {_decode(x) for x in v},
    TAG + "date": datetime.datetime.fromisoformat,
    TAG + "error": _error,
    TAG + "request": _request,
    TAG + "response": _response,
    TAG + "blob": _blob,
    TAG + "formdata": _formdata,
    TAG + "object": lambda v: {k: _decode(x) for k, x in v.items()},
}


def _decode(value: Any, dict_type: type = dict) -> Any:
    if isinstance(value, list):
        return [_decode(v, dict_type) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            key = next(iter(value))
            decode = _DECODERS.get(key)
            if decode is not None:
                return decode(value[key])
        return dict_type((k, _decode(v, dict_type)) for k, v in value.items())
    return value


def decode_rpc(data: bytes, dict_type: type = dict) -> Any:
    """The Python value of what encode_rpc produced: dicts (plain, or `dict_type`),
    memoryviews, sets, and workers' Request/Response/Blob/File/FormData objects."""
    return _decode(json.loads(data), dict_type)
