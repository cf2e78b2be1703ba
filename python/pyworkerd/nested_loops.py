# A second event loop made by code that runs on the isolate's loop (isolate process): the
# event loop policy loop.py installs when it makes the isolate's loop. In Pyodide every loop
# is a WebLoop on the one JavaScript event loop, and `run_until_complete` from a running task
# suspends it (JSPI) while the awaitable runs there; test tools rely on it (pytest-asyncio
# makes a loop per test and calls run_until_complete from inside the worker's async `test`
# handler). Here, such a loop is a guest: a view of the isolate's loop whose
# run_until_complete is pyodide.ffi.run_sync, and whose close() closes only the view, so
# binding calls, timers and other requests go on while it runs, and the isolate's own loop
# cannot be closed under it.
"""Loops made inside the isolate's loop: guests of it (Pyodide's nested run_until_complete)."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

__all__ = ["GuestLoop", "IsolatePolicy"]


class GuestLoop(asyncio.AbstractEventLoop):
    """asyncio.new_event_loop() called while the isolate's loop runs: its tasks, callbacks
    and timers are the host loop's; run_until_complete runs `awaitable` there to the end.
    Every other AbstractEventLoop method is the host's (_delegate below)."""

    def __init__(self, host: asyncio.AbstractEventLoop, run_sync: Callable[[Awaitable[Any]], Any]) -> None:
        self._host = host
        self._run_sync = run_sync
        self._closed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host, name)    # the host's private helpers (_run_once, ...)

    def run_until_complete(self, future: Awaitable[Any]) -> Any:
        self._check_open()
        return self._run_sync(future)

    def run_forever(self) -> None:
        raise RuntimeError("this event loop runs inside the isolate's loop: "
                           "use run_until_complete() or await instead of run_forever()")

    def stop(self) -> None:
        """Nothing to stop: run_until_complete returns when its awaitable is done."""

    def is_running(self) -> bool:
        return False

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close this view only; the isolate's loop goes on."""
        self._closed = True

    async def shutdown_asyncgens(self) -> None:
        """The host loop's async generators are not this view's to finalise."""

    async def shutdown_default_executor(self) -> None:
        """The host loop's executor is not this view's to shut down."""

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("Event loop is closed")

    def __repr__(self) -> str:
        return f"<GuestLoop of {self._host!r} closed={self._closed}>"


def _delegate(name: str) -> Callable[..., Any]:
    def method(self: GuestLoop, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._host, name)(*args, **kwargs)

    method.__name__ = name
    return method


for _name, _value in vars(asyncio.AbstractEventLoop).items():
    if callable(_value) and not _name.startswith("__") and _name not in vars(GuestLoop):
        setattr(GuestLoop, _name, _delegate(_name))


class IsolatePolicy(asyncio.DefaultEventLoopPolicy):
    """new_event_loop(): a GuestLoop while code runs on the isolate's loop (`host`), a new
    loop of its own otherwise; get_event_loop() then gives a GuestLoop for the host too (what
    pytest-asyncio closes as the old loop is the view, never the isolate's loop)."""

    def __init__(self, host: asyncio.AbstractEventLoop, run_sync: Callable[[Awaitable[Any]], Any]) -> None:
        super().__init__()
        self._host = host
        self._run_sync = run_sync

    def new_event_loop(self) -> Any:
        if asyncio.events._get_running_loop() is self._host:
            return GuestLoop(self._host, self._run_sync)
        return super().new_event_loop()

    def get_event_loop(self) -> Any:
        loop = super().get_event_loop()
        if loop is self._host and asyncio.events._get_running_loop() is self._host:
            return GuestLoop(self._host, self._run_sync)
        return loop
