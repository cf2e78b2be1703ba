# A Durable Object's `ctx` (DurableObjectState), in the isolate holding the object: its id,
# its storage, blockConcurrencyWhile(), waitUntil() and abort(). The isolate's driver
# (pyworkerd.do_runtime) makes one per object when the object is built and asks it, before
# each event, whether a blockConcurrencyWhile() callback still runs (events then wait).
# WebSocket hibernation (acceptWebSocket, getWebSockets, ...) is not offered yet: those
# methods raise a clear error.
"""ctx of a Durable Object: id, storage, blockConcurrencyWhile, waitUntil, abort."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from pyworkerd import context
from pyworkerd.do_storage import DurableObjectStorage
from pyworkerd.durable_objects import DurableObjectId


class DurableObjectAbort(BaseException):
    """Raised by ctx.abort(): the object is reset and the event's caller gets the error."""


_NO_HIBERNATION = ("WebSocket hibernation (acceptWebSocket, getWebSockets, ...) is not "
                   "supported by pyworkerd yet")


class DurableObjectState:
    """`ctx` of a Durable Object: `id`, `storage`, `blockConcurrencyWhile(fn)`,
    `waitUntil(awaitable)`, `abort(reason)`."""

    def __init__(self, id: DurableObjectId, storage: DurableObjectStorage) -> None:
        self.id = id
        self.storage = storage
        self.blocker: Any = None    # the running blockConcurrencyWhile task, if any
        storage.block_while = self.blockConcurrencyWhile

    def blockConcurrencyWhile(self, fn: Callable[[], Any]) -> Any:
        """Run `await fn()`; no other event reaches the object until it has finished. Returns
        an awaitable of fn's result."""
        import asyncio

        loop = asyncio.get_event_loop()
        previous = self.blocker

        async def run() -> Any:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            result = fn()
            return await result if hasattr(result, "__await__") else result

        task = loop.create_task(run())
        self.blocker = task
        task.add_done_callback(self._unblocked)
        return task

    def _unblocked(self, task: Any) -> None:
        if self.blocker is task:
            self.blocker = None
        if not task.cancelled() and task.exception() is not None:
            context.log_exception("Durable Object blockConcurrencyWhile(): the callback failed", task.exception())

    def waitUntil(self, awaitable: Any) -> None:
        """Run `awaitable` to completion after the event's answer."""
        context.ExecutionContext(0).waitUntil(awaitable)

    def abort(self, reason: Any = None) -> None:
        """Reset the object: its instance is dropped, unsent writes are discarded, and the
        caller of the current event gets `reason` as an error."""
        self.storage._discard()
        raise DurableObjectAbort("Durable Object aborted" if reason is None else str(reason))

    def acceptWebSocket(self, ws: Any, tags: Any = None) -> None:
        raise NotImplementedError(_NO_HIBERNATION)

    def getWebSockets(self, tag: Any = None) -> list[Any]:
        return []

    def setWebSocketAutoResponse(self, pair: Any = None) -> None:
        raise NotImplementedError(_NO_HIBERNATION)

    def getTags(self, ws: Any) -> list[str]:
        raise NotImplementedError(_NO_HIBERNATION)

    def __repr__(self) -> str:
        return f"DurableObjectState({self.id!r})"


def in_loop() -> bool:
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio.events._get_running_loop() is not None
