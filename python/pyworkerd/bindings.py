# The objects behind `env.NAME` for bindings served by the host (template and isolates):
# KV namespaces, service bindings (Fetcher) and outbound fetch(). Each method turns its
# arguments into one binding call (pyworkerd.rpc), so it is awaitable in async code and
# returns its value directly in sync code, and decodes the host's answer. Limits are
# enforced by the host; the checks here only give earlier, clearer errors.
"""KV namespaces, service bindings and fetch() for Python Workers."""

from __future__ import annotations

import base64
import builtins
import datetime
import json
from collections.abc import Callable, Iterable
from typing import Any

from pyworkerd import rpc, webapi, websocket_connect
from pyworkerd.errors import JsException
from pyworkerd.jsdict import JsDict  # defined there (layer 1); its home for bindings' users
from pyworkerd.response import fetched_response
from pyworkerd.rpc_values import decode_rpc, encode_rpc

KV_TYPES = ("text", "json", "arrayBuffer", "bytes", "stream")


def _options(options: Any, kwargs: dict[str, Any], what: str) -> dict[str, Any]:
    if options is None:
        return dict(kwargs)
    if isinstance(options, str) and what == "get":
        return {"type": options, **kwargs}
    if not isinstance(options, dict):
        raise TypeError(f"KV {what}() options must be a dict or None, not {type(options).__name__}")
    return {**options, **kwargs}


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return str(key)
    raise TypeError(f"KV keys must be strings, not {type(key).__name__}")


def _decode_value(raw: bytes, kind: str) -> Any:
    if kind == "text":
        return raw.decode("utf-8", "replace")
    if kind == "json":
        return json.loads(raw)
    if kind == "arrayBuffer":
        return memoryview(raw)
    return raw


def _metadata(raw: bytes) -> Any:
    return json.loads(raw) if raw else None


class KvNamespace:
    """A Workers KV namespace (`kvNamespace` binding), with Cloudflare's API.

    Every method is awaitable in async code and returns its result directly in sync code.
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def get(self, key: str | list[str], options: Any = None, /, **kwargs: Any) -> Any:
        """The value of `key` (str by default; type "json", "arrayBuffer" or "bytes"), or None.

        With a list of keys: a dict of key -> value (None for missing keys).
        """
        return self._get(key, _options(options, kwargs, "get"), False)

    def getWithMetadata(self, key: str | list[str], options: Any = None, /, **kwargs: Any) -> Any:
        """{"value": ..., "metadata": ...} for `key` (value None when missing)."""
        return self._get(key, _options(options, kwargs, "get"), True)

    get_with_metadata = getWithMetadata

    def _get(self, key: Any, opts: dict[str, Any], with_metadata: bool) -> Any:
        kind = opts.get("type") or "text"
        if kind not in KV_TYPES:
            raise TypeError('Unknown response type. Possible types are "text", "arrayBuffer", '
                            '"json", "bytes" and "stream".')
        if isinstance(key, (list, tuple)):
            return self._get_many([_key(k) for k in key], kind, with_metadata)

        def decode(fields: list[bytes]) -> Any:
            value = _decode_value(fields[0], kind) if fields else None
            if not with_metadata:
                return value
            meta = _metadata(fields[1]) if fields else None
            return JsDict(value=value, metadata=meta, cacheStatus=None)

        cache_ttl = _int_option(opts, "cacheTtl")    # sent to a KV service as cache_ttl
        if cache_ttl:
            return rpc.call(decode, "kv.get", self._name, _key(key), cache_ttl)
        return rpc.call(decode, "kv.get", self._name, _key(key))

    def _get_many(self, keys: list[str], kind: str, with_metadata: bool) -> Any:
        if kind not in ("text", "json"):
            raise TypeError(f'"{kind}" is not a valid type. Use "json" or "text" to get many keys.')

        def decode(fields: list[bytes]) -> Any:
            out = {}
            for i, key in enumerate(keys):
                found, value, meta = fields[3 * i: 3 * i + 3]
                v = _decode_value(value, kind) if found else None
                if with_metadata:
                    out[key] = JsDict(value=v, metadata=_metadata(meta)) if found else None
                else:
                    out[key] = v
            return out

        return rpc.call(decode, "kv.get_many", self._name, *keys)

    def put(self, key: str, value: Any, options: Any = None, /, **kwargs: Any) -> Any:
        """Store `value` (str or bytes) under `key`; options expirationTtl, expiration, metadata."""
        opts = _options(options, kwargs, "put")
        if isinstance(value, str):
            data: bytes | memoryview = value.encode()
        elif isinstance(value, (bytes, bytearray, memoryview)):
            data = value
        else:
            raise TypeError("KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and "
                            f"ReadableStreams as values (got {type(value).__name__}).")
        meta = opts.get("metadata")
        return rpc.call(
            _nothing, "kv.put", self._name, _key(key), data,
            _int_option(opts, "expiration"), _int_option(opts, "expirationTtl"),
            "" if meta is None else json.dumps(meta, separators=(",", ":")),
        )

    def delete(self, key: str) -> Any:
        """Remove `key` (no error when it is missing)."""
        return rpc.call(_nothing, "kv.delete", self._name, _key(key))

    def list(self, options: Any = None, /, **kwargs: Any) -> Any:
        """{"keys": [{"name", "expiration"?, "metadata"?}], "list_complete", "cursor"?}."""
        opts = _options(options, kwargs, "list")
        prefix, limit, cursor = opts.get("prefix"), opts.get("limit"), opts.get("cursor")

        def decode(fields: list[bytes]) -> Any:
            complete = fields[0] == b"1"
            keys = []
            for i in range(2, len(fields), 3):
                entry = JsDict(name=fields[i].decode("utf-8", "replace"))
                if fields[i + 1]:
                    entry["expiration"] = int(fields[i + 1])
                if fields[i + 2]:
                    entry["metadata"] = _metadata(fields[i + 2])
                keys.append(entry)
            result = JsDict(keys=keys, list_complete=complete, cacheStatus=None)
            if not complete:
                result["cursor"] = fields[1].decode()
            return result

        return rpc.call(decode, "kv.list", self._name, prefix or "",
                        "" if limit is None else str(int(limit)), cursor or "")

    def __iter__(self) -> Any:
        raise TypeError("'KvNamespace' object is not iterable")

    def __len__(self) -> int:
        raise TypeError("object of type 'KvNamespace' has no len()")

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"KvNamespace({self._name!r})"


def _int_option(opts: dict[str, Any], name: str) -> str:
    value = opts.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, not {type(value).__name__}")
    return str(int(value))


def _nothing(fields: list[bytes]) -> None:
    return None


# ---------------------------------------------------------------- fetch() and responses


def _header_lines(pairs: Iterable[tuple[str, str]]) -> bytes:
    return "".join(f"{k}\n{v}\n" for k, v in pairs).encode()


def _parse_header_lines(raw: bytes) -> list[tuple[str, str]]:
    parts = raw.decode("latin-1").split("\n")
    return [(parts[i].lower(), parts[i + 1]) for i in range(0, len(parts) - 1, 2)]


def _request(resource: Any, options: Any, kwargs: dict[str, Any]) -> webapi.Request:
    init = dict(options or {}, **kwargs)
    if isinstance(resource, webapi.Request) and not init:
        return resource
    allowed = {k: init[k] for k in ("method", "headers", "body", "redirect") if init.get(k) is not None}
    if "headers" in allowed and isinstance(allowed["headers"], webapi.Headers):
        allowed["headers"] = allowed["headers"]._list.copy()
    return webapi.Request(resource if isinstance(resource, webapi.Request) else str(resource), **allowed)


def fetch(resource: Any, options: Any = None, /, **kwargs: Any) -> Any:
    """Fetch a URL (or Request) through the host: awaitable in async code, the Response in sync code.

    Options (keywords or a dict): method, headers, body, redirect ("follow", "manual", "error").
    Network failures raise an exception naming the reason.
    """
    req = _request(resource, options, kwargs)
    body = req._body or b""
    if (req.headers.get("upgrade") or "").lower() == "websocket":   # a WebSocket, opened by the host
        return websocket_connect.connect(req._url, req._header_pairs())

    def decode(fields: list[bytes]) -> Any:
        return fetched_response(int(fields[0]), _parse_header_lines(fields[1]), fields[2],
                              fields[3].decode("utf-8", "replace"), fields[4] == b"1")

    return rpc.call(decode, "fetch", req._url, req._method, _header_lines(req._header_pairs()),
                    body, req._redirect or "follow")


# ---------------------------------------------------------------- service bindings


class _RpcEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, (bytes, bytearray, memoryview)):
            return {"$pyworkerd:bytes": base64.b64encode(bytes(o)).decode()}
        if isinstance(o, datetime.datetime):
            return {"$pyworkerd:date": o.isoformat()}
        if isinstance(o, JsDict):
            return dict(o)
        raise TypeError(f"Cannot pass an object of type {type(o).__name__} over RPC")


_rpc_encode = _RpcEncoder(separators=(",", ":")).encode
"""One encoder for every value (json.dumps(cls=...) would build one per call)."""


def python_to_rpc(value: Any) -> bytes:
    """Serialise an RPC argument list or result (JSON, with bytes and datetimes tagged)."""
    return _rpc_encode(value).encode()


def _from_rpc_object(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if "$pyworkerd:bytes" in obj:
            return base64.b64decode(obj["$pyworkerd:bytes"])
        if "$pyworkerd:date" in obj:
            return datetime.datetime.fromisoformat(obj["$pyworkerd:date"])
    return JsDict(obj)


_rpc_decoder = json.JSONDecoder(object_hook=_from_rpc_object)
"""One decoder for every value (json.loads(object_hook=...) would build one per call)."""


def python_from_rpc(data: bytes) -> Any:
    """Deserialise what python_to_rpc produced; objects become JsDict."""
    if not isinstance(data, str):
        data = data.decode(json.detect_encoding(data), "surrogatepass")
    return _rpc_decoder.decode(data)


def _rpc_error(body: bytes) -> Exception:
    try:
        info = json.loads(body)
        name, message = str(info.get("name", "Error")), str(info.get("message", ""))
    except (ValueError, AttributeError):
        name, message = "Error", body.decode("utf-8", "replace")
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls(message)
    return JsException(name, message)


def _fetch_payload(req: webapi.Request) -> bytes:
    """A service binding's fetch as the host takes it: the JSON head, a newline, the body."""
    head = json.dumps({"method": req._method, "url": req._url, "headers": req._header_pairs()},
                      separators=(",", ":")).encode()
    return head + b"\n" + (req._body or b"")


def _fetched(url: str) -> Callable[[list[bytes]], Any]:
    def decode(fields: list[bytes]) -> Any:
        ws = websocket_connect.socket_for(fields, url, False)  # the bound worker's WebSocket
        return fetched_response(int(fields[0]), _parse_header_lines(fields[1]),
                                fields[2] if ws is None else ws, url)

    return decode


class Fetcher:
    """A service binding: `await env.SVC.fetch(url_or_request, **options)` and
    `await env.SVC.method(*args)` (workers RPC: arguments and results converted as workerd
    converts them, see pyworkerd.rpc_values); `await env.SVC.scheduled(scheduledTime=,
    cron=)` runs the bound worker's scheduled handler."""

    __slots__ = ("_name",)
    _dict_type: type = dict

    def __init__(self, name: str) -> None:
        self._name = name

    def fetch(self, resource: Any, *args: Any, **kwargs: Any) -> Any:
        """Send a request to the bound worker (in this runtime) and return its Response.

        Options are keywords (`method=`, `headers=`, `body=`, `redirect=`), as in Cloudflare's
        SDK: an options dict given positionally (JavaScript's form) is a TypeError.
        """
        if args:
            raise TypeError(f"fetch() takes 1 positional argument but {len(args) + 1} were given")
        return self._fetch(resource, None, kwargs)

    def _fetch(self, resource: Any, options: Any, kwargs: dict[str, Any]) -> Any:
        req = _request(resource, options, kwargs)
        return rpc.call(_fetched(req._url), "svc.call", self._name, "fetch", _fetch_payload(req))

    def queue(self, queue_name: str, messages: Iterable[dict[str, Any]]) -> Any:
        """Deliver `messages` ({"id", "timestamp", "body", "attempts"}) to the bound worker's
        queue() handler as a batch of queue `queue_name` (workerd's Fetcher.queue, for tests);
        returns its result: {"outcome", "ackAll", "retryBatch", "explicitAcks", "retryMessages"}."""
        return self._event("__queue__", _queue_delivery(str(queue_name), messages))

    def scheduled(self, options: Any = None, /, **kwargs: Any) -> Any:
        """Run the bound worker's scheduled() handler (workerd's Fetcher.scheduled, for tests):
        options scheduledTime (datetime or ms) and cron; returns {"outcome", "noRetry"}."""
        opts = dict(options or {}, **kwargs)
        when = opts.get("scheduledTime")
        if isinstance(when, datetime.datetime):
            when = _ms_of(when)
        event = {"cron": str(opts.get("cron") or ""), "scheduledTime": when}
        return self._event("__scheduled__", json.dumps(event, separators=(",", ":")).encode())

    def _event(self, method: str, payload: bytes) -> Any:
        def decode(fields: list[bytes]) -> Any:
            if fields[0] != b"200":
                raise _rpc_error(fields[2])
            return python_from_rpc(fields[2])

        return rpc.call(decode, "svc.call", self._name, method, payload)

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)
        name = self._name

        dict_type = self._dict_type

        def remote(*args: Any, **kwargs: Any) -> Any:
            """Keyword arguments are one trailing options object, as Pyodide passes them."""
            def decode(fields: list[bytes]) -> Any:
                if fields[0] != b"200":
                    raise _rpc_error(fields[2])
                return decode_rpc(fields[2], dict_type)

            values = [*args, kwargs] if kwargs else list(args)
            return rpc.call(decode, "svc.call", name, method, encode_rpc(values))

        remote.__name__ = method
        return remote

    def __repr__(self) -> str:
        return f"Fetcher({self._name!r})"


def _ms_of(when: datetime.datetime) -> int:
    aware = when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)
    return int(aware.timestamp() * 1000)


def _queue_delivery(queue: str, messages: Iterable[dict[str, Any]]) -> bytes:
    """A batch in the host's delivery format (host/queues.c): one line of JSON describing the
    messages column by column, then their bodies (structured clones: "v8")."""
    head: dict[str, Any] = {"queue": queue, "ids": [], "timestamps": [], "attempts": [],
                            "types": "", "sizes": []}
    bodies = []
    for m in messages:
        stamp = m.get("timestamp")
        data = python_to_rpc(m.get("body"))
        head["ids"].append(str(m.get("id", "")))
        head["timestamps"].append(_ms_of(stamp) if isinstance(stamp, datetime.datetime) else int(stamp or 0))
        head["attempts"].append(int(m.get("attempts", 1)))
        head["types"] += "v"
        head["sizes"].append(len(data))
        bodies.append(data)
    return json.dumps(head, separators=(",", ":")).encode() + b"\n" + b"".join(bodies)


class JsFetcher(Fetcher):
    """A service binding as JavaScript code sees it (`self.env._env.SVC`): `fetch(url,
    options)` takes the options object positionally too, and RPC results' objects have
    attribute access (`result.outcome`)."""

    __slots__ = ()
    _dict_type = JsDict

    def fetch(self, resource: Any, options: Any = None, /, **kwargs: Any) -> Any:
        """Send a request to the bound worker; options as a dict or as keywords."""
        if options is not None and not isinstance(options, dict):
            to_py = getattr(options, "to_py", None)
            options = to_py() if to_py is not None else options
        return self._fetch(resource, options, kwargs)


class DiskFetcher(Fetcher):
    """A service binding to a disk service (static files: `env.ASSETS.fetch(request)`), answered
    by the host from the directory without any worker. A disk service has only fetch()."""

    __slots__ = ()

    def fetch(self, resource: Any, options: Any = None, /, **kwargs: Any) -> Any:
        """GET/HEAD a file (Range, If-None-Match, If-Modified-Since honoured), PUT/DELETE one."""
        req = _request(resource, options, kwargs)
        return rpc.call(_fetched(req._url), "disk.fetch", self._name, _fetch_payload(req))

    def __getattr__(self, method: str) -> Any:
        if method.startswith("_"):
            raise AttributeError(method)

        def remote(*args: Any) -> Any:
            raise TypeError(f'The RPC receiver does not implement the method "{method}".')

        remote.__name__ = method
        return remote

    def __repr__(self) -> str:
        return f"DiskFetcher({self._name!r})"
