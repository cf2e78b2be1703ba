# The isolate's side of Durable Objects (the driver, in the isolate): the objects this isolate
# holds, and the events the host pins to it (CALL frames whose entry point is
# "$do:<class>:<id>[:<name>]", src/host/do_objects.c). An object is built on its first event
# (`cls(ctx, env)`) and stays in memory until the host evicts it ("__evict__") or the
# isolate ends. Each event waits while a blockConcurrencyWhile() callback runs; then the
# object's fetch(request), RPC method(*args) or alarm(alarm_info) runs; its pending writes are
# sent before its answer (the output gate, pyworkerd.do_storage). An exception is answered to
# the caller with its type and message (and logged); ctx.abort() also drops the instance.
# `load(spec)` (in the template) checks that the module exports every class the config names.
"""Durable Objects in the isolate: building objects and running their events."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import workers
from pyworkerd import bindings, context
from pyworkerd.context import is_awaitable
from pyworkerd.do_context import DurableObjectAbort, DurableObjectState
from pyworkerd.do_storage import DurableObjectStorage
from pyworkerd.durable_objects import ERROR_HEADER, DurableObjectId, parse_fetch_head
from pyworkerd.response import Response
from pyworkerd.webapi import make_request
from pyworkerd.websocket import is_websocket

PREFIX = "$do:"
WS_EVENTS = frozenset(("__ws_message__", "__ws_close__", "__ws_error__"))
RESERVED = frozenset(("fetch", "alarm", "constructor", "webSocketMessage", "webSocketClose",
                      "webSocketError"))
_JSON = [("content-type", "application/json")]

_classes: dict[str, tuple[type, bool]] = {}     # class name -> (class, enable_sql)
_objects: dict[tuple[str, str], _Object] = {}
_positional_count: Callable[[Any], int] = lambda f: -1


def load(spec: dict[str, Any], module: ModuleType, positional_count: Callable[[Any], int]) -> None:
    """In the template: the Durable Object classes of the config, each exported by the module."""
    global _positional_count
    _positional_count = positional_count
    for entry in spec.get("durable_objects", []):
        name = entry["class"]
        names = getattr(module, "__all__", None)
        cls = getattr(module, name, None) if names is None or name in names else None
        if not (isinstance(cls, type) and issubclass(cls, workers.DurableObject)):
            where = entry.get("where", "")
            problem = ("is not exported by the main module" if cls is None
                       else "is not a subclass of workers.DurableObject")
            raise TypeError(f"{where}Durable Object class \"{name}\" (durableObjectNamespaces) {problem} "
                            f"\"{spec['main_module']}\": define `class {name}(DurableObject)` there "
                            "(from workers import DurableObject).")
        _classes[name] = (cls, bool(entry.get("enable_sql")))


def is_event(entrypoint: str) -> bool:
    return entrypoint.startswith(PREFIX)


def handle(req_id: int, entrypoint: str, method: str, payload: bytes) -> Any:
    """One event of an object: the answer tuple, or a coroutine resolving to it."""
    class_name, _, rest = entrypoint[len(PREFIX):].partition(":")
    id_hex, has_name, name = rest.partition(":")
    key = (class_name, id_hex)
    if method == "__evict__":
        obj = _objects.pop(key, None)
        if obj is not None:
            obj.storage._flush()
        return (200, [], b"")
    obj = _objects.get(key)
    if obj is None:
        try:
            obj = _objects[key] = _Object(class_name, DurableObjectId(id_hex, name if has_name else None))
        except BaseException as exc:
            return _failed(req_id, class_name, method, exc)
    return obj.run(req_id, method, payload)


def _failed(req_id: int, class_name: str, method: str, exc: BaseException) -> Any:
    """The caller's error: (500, json {name, message}); fetch's marked as an exception."""
    if not isinstance(exc, DurableObjectAbort):
        context.log_exception(f"request {req_id} Durable Object {class_name}.{method}(): uncaught exception", exc)
    name = "Error" if isinstance(exc, DurableObjectAbort) else type(exc).__name__
    body = json.dumps({"name": name, "message": str(exc)}).encode()
    headers = _JSON + [(ERROR_HEADER, "1")] if method == "fetch" else _JSON
    return (500, headers, body)


class _AlarmInfo(bindings.JsDict):
    """alarm(alarm_info): retryCount, isRetry."""


class _Object:
    """One object in memory: its instance, ctx and storage."""

    def __init__(self, class_name: str, id: DurableObjectId) -> None:
        cls, sql = _classes.get(class_name, (None, False))
        if cls is None:
            raise TypeError(f'this worker has no Durable Object class named "{class_name}"')
        self.class_name = class_name
        self.storage = DurableObjectStorage(class_name, id.toString(), sql)
        self.ctx = DurableObjectState(id, self.storage)
        self.instance = cls(self.ctx, context.env)

    def run(self, req_id: int, method: str, payload: bytes) -> Any:
        if self.ctx.blocker is not None or self.storage.failed is not None:
            return self._after_block(req_id, method, payload)
        try:
            result = self._call(req_id, method, payload)
            if is_awaitable(result):
                return self._finish(req_id, method, result)
            return self._answer(req_id, method, result)
        except BaseException as exc:
            return self._error(req_id, method, exc)

    async def _after_block(self, req_id: int, method: str, payload: bytes) -> Any:
        import asyncio

        while self.ctx.blocker is not None:
            await asyncio.wait([self.ctx.blocker])
        try:
            if self.storage.failed is not None:
                raise RuntimeError("Durable Object storage write failed; the object is being reset")
            result = self._call(req_id, method, payload)
            if is_awaitable(result):
                result = await result
            answer = self._answer(req_id, method, result)
            return answer if type(answer) is tuple else await answer
        except BaseException as exc:
            return self._error(req_id, method, exc)

    async def _finish(self, req_id: int, method: str, awaitable: Any) -> Any:
        try:
            answer = self._answer(req_id, method, await awaitable)
            return answer if type(answer) is tuple else await answer
        except BaseException as exc:
            return self._error(req_id, method, exc)

    def _error(self, req_id: int, method: str, exc: BaseException) -> Any:
        if method == "fetch":
            self.ctx.websockets.settle()
        if isinstance(exc, DurableObjectAbort):
            _objects.pop((self.class_name, self.ctx.id.toString()), None)
        elif not isinstance(exc, Exception):
            raise exc   # CancelledError, SystemExit: the isolate's to handle
        return _failed(req_id, self.class_name, method, exc)

    def _call(self, req_id: int, method: str, payload: bytes) -> Any:
        instance = self.instance
        if method == "fetch":
            head, _, body = payload.partition(b"\n")
            method_name, url, headers = parse_fetch_head(head)
            request = make_request(method_name, url, headers, body)
            handler = getattr(instance, "fetch", None)
            if handler is None:
                raise TypeError("Method fetch does not exist")
            return handler(request) if _positional_count(handler) != 0 else handler()
        if method in WS_EVENTS:
            return self._websocket_event(method, payload)
        if method == "__alarm__":
            handler = getattr(instance, "alarm", None)
            if handler is None:
                raise TypeError("Method alarm does not exist")
            info = _AlarmInfo(json.loads(payload))
            return handler(info) if _positional_count(handler) != 0 else handler()
        handler = getattr(instance, method, None) if method not in RESERVED else None
        if handler is None or not callable(handler) or hasattr(workers.DurableObject, method):
            raise TypeError(f'The RPC receiver "{self.class_name}" does not implement the method "{method}".')
        return handler(*(bindings.python_from_rpc(payload) if payload else []))

    def _websocket_event(self, method: str, payload: bytes) -> Any:
        """webSocketMessage(ws, message), webSocketClose(ws, code, reason, wasClean) or
        webSocketError(ws, error) of a hibernatable socket (pyworkerd.do_websockets)."""
        head, _, data = payload.partition(b"\n")
        info = json.loads(head)
        sockets = self.ctx.websockets
        ws = sockets.from_event(info)
        if method == "__ws_message__":
            handler = getattr(self.instance, "webSocketMessage", None)
            message: Any = data if info.get("binary") else data.decode("utf-8", "replace")
            return None if handler is None else handler(ws, message)
        sockets.closed(ws)
        if method == "__ws_close__":
            handler = getattr(self.instance, "webSocketClose", None)
            return None if handler is None else handler(ws, info["code"], info["reason"], info["clean"])
        handler = getattr(self.instance, "webSocketError", None)
        return None if handler is None else handler(ws, Exception(info.get("message", "WebSocket error")))

    def _answer(self, req_id: int, method: str, result: Any) -> Any:
        """The event's answer; the object's pending writes leave first (the output gate)."""
        self.storage._flush(now=False)     # the answer follows it on the wire
        if method == "fetch":
            for inner in (result, getattr(result, "js_object", None), getattr(result, "js_response", None)):
                if isinstance(inner, Response):
                    wire = inner._wire()
                    if type(wire) is tuple and is_websocket(wire[2]):   # a 101
                        wire = self.ctx.websockets.answer(wire[2], wire[1]) or wire
                    self.ctx.websockets.settle()
                    return wire
            what = "None" if result is None else f"an object of type {type(result).__name__}"
            raise TypeError(f"{self.class_name}.fetch() returned {what}, expected a Response")
        if method == "__alarm__" or method in WS_EVENTS:
            return (200, [], b"")
        return (200, _JSON, bindings.python_to_rpc(result))
