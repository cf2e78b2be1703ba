# Binding calls from an isolate to the host (isolate process): the Python end of the RPC
# frames of DESIGN.md §2. call() sends one; in async code (inside an asyncio task) it
# returns a Future resolved when the RPC_RESULT arrives through the loop (resolve()); in sync
# code (a sync handler, with or without a running loop) it blocks on the socket until the
# result arrives, other frames staying buffered for the loop, and returns the value itself —
# so the seed's `value = kv.get("key")` works in a sync `def fetch`.
# Invariant: every Future created here is resolved or dropped with its call id.
"""Binding calls to the host: awaitable in async code, blocking in sync code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

from pyworkerd.errors import JsException, StorageUnavailable, global_scope_error

_channel: Any = None
_server: Any = None
_futures: dict[int, tuple[asyncio.Future[Any], Callable[[list[bytes]], Any]]] = {}
before_send: Callable[[], None] | None = None
"""Runs before a binding call leaves through call() (Durable Objects send their coalesced
writes first: nothing leaves an object before its writes, pyworkerd.do_storage)."""


def attach(server: Any) -> None:
    """Use `server` (pyworkerd.loop._Server) and its channel for binding calls."""
    global _channel, _server
    _channel, _server = server.channel, server


def call(decode: Callable[[list[bytes]], Any], op: str, *args: str | bytes) -> Any:
    """Binding call `op(*args)`: decode(result fields) — awaitable in a task, else the value."""
    channel = _channel
    if channel is None:
        raise global_scope_error()  # top-level code (the template): no I/O, as in workerd
    if before_send is not None:
        before_send()
    loop, in_a_task = _loop_and_task()
    if in_a_task:
        future = loop.create_future()
        _futures[channel.rpc_send(op, *args)] = (future, decode)
        _server.schedule_flush()
        return future
    fields = channel.rpc_call(op, *args)
    if loop is not None:
        _server.after_blocking_call()
    return decode(_fields(fields))


def _loop_and_task() -> tuple[Any, bool]:
    """The running loop (or None), and whether this runs inside one of its tasks: call()
    then returns a Future, else it blocks."""
    asyncio = sys.modules.get("asyncio")  # not imported: no loop, so a blocking call
    loop = asyncio.events._get_running_loop() if asyncio is not None else None
    return loop, loop is not None and asyncio.current_task(loop) is not None


def in_task() -> bool:
    """Whether call() returns a Future here (async code) rather than the value."""
    return _loop_and_task()[1]


def ready(value: Any) -> Any:
    """`value` as call() would give it: a done Future in async code, else the value itself."""
    loop, in_a_task = _loop_and_task()
    if not in_a_task:
        return value
    future = loop.create_future()
    future.set_result(value)
    return future


def send(op: str, *args: str | bytes) -> None:
    """Queue binding call `op(*args)` whose answer nobody waits for (closing something)."""
    if _channel is not None:
        _channel.rpc_send(op, *args)
        if _server is not None:
            _server.schedule_flush()


def notify(op: str, *args: str | bytes) -> None:
    """Binding call `op(*args)` whose answer nobody waits for (it is dropped when it comes):
    for a task being cancelled, which can await nothing more."""
    if _channel is not None:
        _channel.rpc_send(op, *args)
        _server.schedule_flush()


def resolve(call_id: int, fields: list[bytes]) -> None:
    """An RPC_RESULT arrived: settle the Future waiting for it (if any still does)."""
    entry = _futures.pop(call_id, None)
    if entry is None:
        return
    future, decode = entry
    if future.cancelled():
        return
    try:
        future.set_result(decode(_fields(fields)))
    except Exception as exc:
        future.set_exception(exc)


def _fields(fields: list[bytes]) -> list[bytes]:
    """The result's values, or the host's error raised as a Python exception."""
    if fields and not fields[0]:
        return fields[1:]
    name = fields[0].decode() if fields else "Error"
    message = fields[1].decode("utf-8", "replace") if len(fields) > 1 else ""
    if name == "TypeError":
        raise TypeError(message)
    if name == "StorageUnavailable":   # wire/rpc.h PW_RPC_UNAVAILABLE
        raise StorageUnavailable(message)
    raise JsException(name, message)


def call_blocking(decode: Callable[[list[bytes]], Any], op: str, *args: str | bytes,
                  fd: int | None = None) -> Any:
    """Binding call `op(*args)` answered before it returns, also inside a task: the isolate
    does nothing else meanwhile (a Durable Object's storage read: its input gate; a socket's
    connect, which Python code expects to return when connected). `fd` is passed to the host
    beside it."""
    channel = _channel
    if channel is None:
        raise RuntimeError("bindings can only be used while the worker serves a request")
    if fd is not None:
        channel.pass_fd(fd)
    fields = channel.rpc_call(op, *args)
    if _server is not None and _server.has_loop:
        _server.after_blocking_call()
    return decode(_fields(fields))



def post(op: str, *args: str | bytes, flush: bool = True) -> None:
    """Binding call `op(*args)` whose answer nobody waits for (a Durable Object's write batch:
    the host checks it and resets the object when it fails). The frame leaves with the
    isolate's next write: at once when `flush` and a loop runs, else with what follows it."""
    channel = _channel
    if channel is None:
        raise RuntimeError("bindings can only be used while the worker serves a request")
    channel.rpc_send(op, *args)
    if not flush:
        return
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None and asyncio.events._get_running_loop() is not None:
        _server.schedule_flush()
