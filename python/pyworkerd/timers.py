# setTimeout/clearTimeout (and setInterval/clearInterval) for Python Workers (`from js import
# setTimeout`): in an isolate a timer is a call_later on the isolate's asyncio loop (a callback
# that returns a coroutine has it run as a task); in top-level code, as workerd allows, only a
# zero timeout, run once the main module has loaded (any other is workerd's "Disallowed
# operation called within global scope" error). The process's-context layer of the SDK (it
# needs the isolate's loop); used in the template (top level) and isolates.
# Limitation: a timer set by a sync handler that runs with no loop fires when the isolate's
# loop next runs (the next async request or waitUntil task), not on its own.
"""JavaScript timers on the isolate's asyncio loop."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from typing import Any

from pyworkerd import rpc
from pyworkerd.context import is_awaitable, log_exception
from pyworkerd.errors import global_scope_error

__all__ = ["clearTimeout", "run_top_level", "setInterval", "setTimeout"]

_ids = itertools.count(1)
_handles: dict[int, Any] = {}
_top_level: list[tuple[int, Callable[..., Any], tuple[Any, ...]]] = []


def _loop() -> Any:
    import asyncio  # an isolate serving requests: asyncio is imported (the zygote imports it)

    loop = asyncio.events._get_running_loop()
    if loop is None and rpc._server is not None:
        loop = rpc._server.loop
    return loop


def _fire(timer_id: int, callback: Callable[..., Any], args: tuple[Any, ...], repeat: float | None) -> None:
    if repeat is None:
        _handles.pop(timer_id, None)
    else:
        _handles[timer_id] = _loop().call_later(repeat, _fire, timer_id, callback, args, repeat)
    try:
        result = callback(*args)
        if is_awaitable(result):
            import asyncio

            asyncio.ensure_future(result)
    except Exception as exc:
        log_exception(f"timer {timer_id}: uncaught exception", exc)


def _start(callback: Callable[..., Any], delay: Any, args: tuple[Any, ...], repeat: bool) -> int:
    if not callable(callback):
        raise TypeError("The callback passed to setTimeout() must be a function")
    seconds = max(float(delay or 0), 0.0) / 1000
    timer_id = next(_ids)
    if rpc._channel is None:     # top-level code
        if seconds or repeat:
            raise global_scope_error()
        _top_level.append((timer_id, callback, args))
        return timer_id
    _handles[timer_id] = _loop().call_later(seconds, _fire, timer_id, callback, args,
                                            seconds if repeat else None)
    return timer_id


def setTimeout(callback: Callable[..., Any], delay: Any = 0, *args: Any) -> int:
    """Call `callback(*args)` after `delay` milliseconds; returns the timer's id."""
    return _start(callback, delay, args, False)


def setInterval(callback: Callable[..., Any], delay: Any = 0, *args: Any) -> int:
    """Call `callback(*args)` every `delay` milliseconds until clearInterval(id)."""
    return _start(callback, delay, args, True)


def clearTimeout(timer_id: Any = None) -> None:
    """Cancel a timer (no error for an unknown or finished one)."""
    handle = _handles.pop(timer_id, None) if isinstance(timer_id, int) else None
    if handle is not None:
        handle.cancel()
    _top_level[:] = [t for t in _top_level if t[0] != timer_id]


clearInterval = clearTimeout


def run_top_level() -> None:
    """Run the zero timeouts the main module's top-level code set (after it has loaded)."""
    while _top_level:
        timer_id, callback, args = _top_level.pop(0)
        result = callback(*args)
        if is_awaitable(result):
            close = getattr(result, "close", None)
            if close is not None:
                close()
            print(f"timer {timer_id}: a coroutine set at top level is not run", file=sys.stderr)
