# Event loops that code in an isolate makes (isolate process): the event loop policy loop.py
# installs once asyncio is imported there. In Pyodide every loop is a WebLoop on the one
# JavaScript event loop, and run_until_complete from a handler (sync or async) suspends it
# (JSPI) while the awaitable runs there; test tools rely on it (pytest-asyncio makes a loop per
# test, calls run_until_complete from the worker's `test` handler, and closes the old loop).
# Here, a loop made by the worker is a guest: a view of the isolate's loop whose
# run_until_complete is pyodide.ffi.run_sync and whose close() closes only the view, so binding
# calls, timers and other requests go on while it runs, and the isolate's loop is never closed
# by the worker.
"""Loops made inside an isolate: views (guests) of the isolate's loop."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Protocol

__all__ = ["GuestLoop", "IsolatePolicy", "make_host_loop"]


class Host(Protocol):
    """What loop.py's _Server offers: its loop (made on demand) and run_sync."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...

    def run_sync(self, awaitable: Awaitable[Any]) -> Any: ...


def make_host_loop() -> asyncio.AbstractEventLoop:
    """The isolate's own loop (never through the policy, which gives guests)."""
    return asyncio.SelectorEventLoop()


class GuestLoop(asyncio.AbstractEventLoop):
    """A loop the worker made: its tasks, callbacks and timers are the isolate loop's;
    run_until_complete runs `awaitable` there to the end. Every other AbstractEventLoop
    method is the host loop's (_delegate below)."""

    def __init__(self, host: Host) -> None:
        self._server = host
        self._closed = False

    @property
    def _host(self) -> asyncio.AbstractEventLoop:
        return self._server.loop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._host, name)    # the host's private helpers (_run_once, ...)

    def run_until_complete(self, future: Awaitable[Any]) -> Any:
        if self._closed:
            raise RuntimeError("Event loop is closed")
        return self._server.run_sync(future)

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
        """The isolate loop's async generators are not this view's to finalise."""

    async def shutdown_default_executor(self) -> None:
        """The isolate loop's executor is not this view's to shut down."""

    def __repr__(self) -> str:
        return f"<GuestLoop of the isolate's loop closed={self._closed}>"


def _delegate(name: str) -> Callable[..., Any]:
    def method(self: GuestLoop, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._host, name)(*args, **kwargs)

    method.__name__ = name
    return method


for _name, _value in vars(asyncio.AbstractEventLoop).items():
    if callable(_value) and not _name.startswith("__") and _name not in vars(GuestLoop):
        setattr(GuestLoop, _name, _delegate(_name))


class IsolatePolicy(asyncio.DefaultEventLoopPolicy):
    """new_event_loop() is a GuestLoop; get_event_loop() gives a GuestLoop in place of the
    isolate's own loop, and while code runs on it (even after asyncio.run() unset the current
    loop): what pytest-asyncio closes as "the old loop" is a view."""

    def __init__(self, host: Host) -> None:
        super().__init__()
        self._server = host

    def new_event_loop(self) -> Any:
        return GuestLoop(self._server)

    def get_event_loop(self) -> Any:
        host = getattr(self._server, "_loop", None)
        if host is not None and asyncio.events._get_running_loop() is host:
            return GuestLoop(self._server)     # code on the isolate's loop: a view of it
        loop = super().get_event_loop()
        return GuestLoop(self._server) if loop is host else loop
