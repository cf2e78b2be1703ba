# The Worker's event handlers other than fetch (isolate process): queue() for a batch of
# queue messages and scheduled() for a Cron Trigger, called by the host as CALLs of
# "__queue__" and "__scheduled__" (host/queues.c, host/cron_timer.c; a service binding's
# queue() and scheduled() too), and wrangler's test endpoints for scheduled()
# (`--test-scheduled`: GET /__scheduled?cron=... and /cdn-cgi/handler/scheduled). A class
# handler is called strictly, `queue(self, batch, env, ctx)` / `scheduled(self, controller,
# env, ctx)` on the entry point (the default one unless named); with top-level handlers
# allowed (old compatibility dates) `on_queue` / `on_scheduled` are called relaxed.
# The answer is workerd's event result: {"outcome": "ok"|"exception", ...}; the event
# finishes when its handler and the waitUntil() tasks it started have (as workerd waits
# for them), and any of them failing makes the outcome "exception".
# Invariant: never raises an Exception; a failing handler is logged and answered.
"""queue() and scheduled() handlers, and the scheduled test endpoints."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import workers
from pyworkerd import context, queues
from pyworkerd.context import ExecutionContext, is_awaitable, log_exception

WireResponse = tuple[int, list[tuple[str, str]], bytes]
JSON_HEADERS = [("content-type", "application/json")]
TEST_PATHS = ("/__scheduled", "/cdn-cgi/handler/scheduled", "/cdn-cgi/mf/scheduled")


class ScheduledController:
    """The first argument of scheduled(): `cron` (the schedule that fired, "" when run by
    hand), `scheduledTime` (Unix milliseconds) and `noRetry()`."""

    __slots__ = ("cron", "scheduledTime", "_no_retry")

    def __init__(self, cron: str, scheduled_time: int) -> None:
        self.cron = cron
        self.scheduledTime = scheduled_time
        self._no_retry = False

    def noRetry(self) -> None:
        """Do not run this event again if it fails."""
        self._no_retry = True

    no_retry = noRetry

    def __repr__(self) -> str:
        return f"ScheduledController(cron={self.cron!r}, scheduledTime={self.scheduledTime})"


class EventContext(ExecutionContext):
    """`ctx` of an event: its waitUntil() tasks are part of the event (awaited before the
    result is answered)."""

    __slots__ = ("waiting",)

    def __init__(self, req_id: int) -> None:
        super().__init__(req_id)
        self.waiting: list[Awaitable[Any]] = []

    def waitUntil(self, awaitable: Awaitable[Any]) -> None:
        if not is_awaitable(awaitable):
            raise TypeError(f"waitUntil() expects an awaitable, not {type(awaitable).__name__}")
        self.waiting.append(awaitable)


# ---------------------------------------------------------------- finding the handler


def _own_method(cls: type, name: str) -> bool:
    return cls is not workers.WorkerEntrypoint and callable(getattr(cls, name, None)) and \
        getattr(cls, name, None) is not getattr(workers.WorkerEntrypoint, name, None)


def _handler(module: ModuleType | None, legacy: bool, cls: type, name: str, req_id: int,
             ctx: ExecutionContext, positional_count: Callable[[Callable[..., Any]], int]
             ) -> Callable[[Any], Any] | None:
    """A one-argument caller of the entry point's `name` handler, or None."""
    env = context.env
    if _own_method(cls, name):
        return lambda event: getattr(cls(ctx, env), name)(event, env, ctx)
    top = getattr(module, "on_" + name, None) if legacy and module is not None else None
    if callable(top):
        arity = positional_count(top)
        args = lambda event: (event, env, ctx)[: 3 if arity < 0 else arity]   # noqa: E731
        return lambda event: top(*args(event))
    return None


# ---------------------------------------------------------------- running one event


def _answer(body: bytes) -> WireResponse:
    return (200, JSON_HEADERS, body)


def _run(req_id: int, label: str, handler: Callable[[Any], Any] | None, event: Any,
         ctx: EventContext, finish: Callable[[str], bytes]) -> WireResponse | Awaitable[WireResponse]:
    """Calls handler(event); the answer (or a coroutine of it) is finish(outcome)."""
    if handler is None:
        from pyworkerd import log

        log.log(f"request {req_id}: Handler does not export a {label} function.")
        return _answer(finish("exception"))
    try:
        result = handler(event)
    except Exception as exc:
        log_exception(f"request {req_id} {label}: uncaught exception", exc)
        return _answer(finish("exception"))
    if is_awaitable(result) or ctx.waiting:
        return _finish(req_id, label, result, ctx, finish)
    return _answer(finish("ok"))


async def _finish(req_id: int, label: str, result: Any, ctx: EventContext,
                  finish: Callable[[str], bytes]) -> WireResponse:
    outcome = "ok"
    try:
        if is_awaitable(result):
            await result
    except Exception as exc:
        log_exception(f"request {req_id} {label}: uncaught exception", exc)
        outcome = "exception"
    while ctx.waiting:      # a task may start more
        task = ctx.waiting.pop(0)
        try:
            await task
        except Exception as exc:
            log_exception(f"request {req_id} {label} waitUntil(): uncaught exception", exc)
            outcome = "exception"
    return _answer(finish(outcome))


def run_queue(module: ModuleType | None, legacy: bool, cls: type, req_id: int, payload: bytes,
              positional_count: Callable[[Callable[..., Any]], int]) -> Any:
    """A delivered batch (the "__queue__" CALL): the handler's acks and retries, as JSON."""
    batch, result = queues.decode_batch(payload)
    ctx = EventContext(req_id)
    handler = _handler(module, legacy, cls, "queue", req_id, ctx, positional_count)
    return _run(req_id, "queue()", handler, batch, ctx, result.to_json)


def _scheduled_event(payload: bytes) -> ScheduledController:
    info = json.loads(payload) if payload else {}
    when = info.get("scheduledTime")
    return ScheduledController(str(info.get("cron") or ""),
                               int(when) if isinstance(when, (int, float)) else int(time.time() * 1000))


def run_scheduled(module: ModuleType | None, legacy: bool, cls: type, req_id: int, payload: bytes,
                  positional_count: Callable[[Callable[..., Any]], int]) -> Any:
    """A Cron Trigger (the "__scheduled__" CALL): {"outcome", "noRetry"}."""
    controller = _scheduled_event(payload)
    ctx = EventContext(req_id)
    handler = _handler(module, legacy, cls, "scheduled", req_id, ctx, positional_count)

    def finish(outcome: str) -> bytes:
        return json.dumps({"outcome": outcome, "noRetry": controller._no_retry}).encode()

    return _run(req_id, "scheduled()", handler, controller, ctx, finish)


# ---------------------------------------------------------------- --test-scheduled


def with_test_endpoints(call: Callable[[int, Any], Any],
                        scheduled: Callable[[int, bytes], Any]) -> Callable[[int, Any], Any]:
    """`call` (the fetch entry point) answering wrangler's scheduled test paths itself:
    /__scheduled?cron=... ("Ran scheduled event") and /cdn-cgi/handler/scheduled?cron=...&time=...
    (the outcome, 200 or 500). `scheduled(req_id, payload)` runs the event."""

    def serve(req_id: int, request: Any) -> Any:
        url = urlsplit(request.url)
        if url.path not in TEST_PATHS:
            return call(req_id, request)
        params = parse_qs(url.query)
        event: dict[str, Any] = {"cron": params.get("cron", [""])[0]}
        if params.get("time", [""])[0].isdigit():
            event["scheduledTime"] = int(params["time"][0])
        answer = scheduled(req_id, json.dumps(event).encode())
        if is_awaitable(answer):
            return _respond_later(url.path, answer)
        return _respond(url.path, answer)

    return serve


def _respond(path: str, answer: WireResponse) -> workers.Response:
    outcome = json.loads(answer[2])["outcome"]
    if path == "/__scheduled":
        return workers.Response("Ran scheduled event", headers={"content-type": "text/plain"})
    return workers.Response(outcome, status=200 if outcome == "ok" else 500,
                            headers={"content-type": "text/plain"})


async def _respond_later(path: str, answer: Awaitable[WireResponse]) -> workers.Response:
    return _respond(path, await answer)
