# A Durable Object's `ctx` (DurableObjectState), in the isolate holding the object: its id,
# its storage, blockConcurrencyWhile(), waitUntil() and abort(). The isolate's driver
# (pyworkerd.do_runtime) makes one per object when the object is built and asks it, before
# each event, whether a blockConcurrencyWhile() callback still runs (events then wait).
# WebSocket hibernation (acceptWebSocket, getWebSockets, ...) is pyworkerd.do_websockets'.
"""ctx of a Durable Object: id, storage, blockConcurrencyWhile, waitUntil, abort, WebSockets."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from pyworkerd import context
from pyworkerd.do_storage import DurableObjectStorage
from pyworkerd.do_websockets import Sockets, WebSocketRequestResponsePair
from pyworkerd.durable_objects import DurableObjectId


class DurableObjectAbort(BaseException):
    """Raised by ctx.abort(): the object is reset and the event's caller gets the error."""


class DurableObjectState:
    """`ctx` of a Durable Object: `id`, `storage`, `blockConcurrencyWhile(fn)`,
    `waitUntil(awaitable)`, `abort(reason)`, and hibernatable WebSockets:
    `acceptWebSocket(ws, tags)`, `getWebSockets(tag)`, `getTags(ws)`,
    `setWebSocketAutoResponse(pair)`, `getWebSocketAutoResponse()`,
    `getWebSocketAutoResponseTimestamp(ws)`."""

    def __init__(self, id: DurableObjectId, storage: DurableObjectStorage) -> None:
        self.id = id
        self.storage = storage
        self.blocker: Any = None    # the running blockConcurrencyWhile task, if any
        self.websockets = Sockets(storage._cls, id.toString())
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
        """Take `ws` (the server end of a WebSocketPair whose client end this fetch returns
        in a 101 Response): the runtime holds it while the object sleeps; its messages,
        close and errors call the object's webSocketMessage(ws, message),
        webSocketClose(ws, code, reason, wasClean) and webSocketError(ws, error). At most
        10 tags of at most 256 characters each."""
        self.websockets.accept(ws, tags)

    def getWebSockets(self, tag: str | None = None) -> list[Any]:
        """The accepted sockets still open (those with `tag`, when given)."""
        return self.websockets.get(tag)

    def getTags(self, ws: Any) -> list[str]:
        """The tags `ws` was accepted with."""
        return self.websockets.tags(ws)

    def setWebSocketAutoResponse(self, pair: WebSocketRequestResponsePair | None = None) -> None:
        """Answer a text message equal to `pair.request` with `pair.response` without waking
        the object (None: no auto-response)."""
        self.websockets.set_auto_response(pair)

    def getWebSocketAutoResponse(self) -> WebSocketRequestResponsePair | None:
        return self.websockets.get_auto_response()

    def getWebSocketAutoResponseTimestamp(self, ws: Any) -> Any:
        """When `ws` was last answered by the auto-response (a datetime, UTC), or None."""
        return self.websockets.auto_response_timestamp(ws)

    def setHibernatableWebSocketEventTimeout(self, timeout_ms: int | None = None) -> None:
        """Accepted for compatibility: pyworkerd does not time handlers out."""
        self.websockets.timeout_ms = timeout_ms

    def getHibernatableWebSocketEventTimeout(self) -> int | None:
        return self.websockets.timeout_ms

    def __repr__(self) -> str:
        return f"DurableObjectState({self.id!r})"


def in_loop() -> bool:
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and asyncio.events._get_running_loop() is not None
