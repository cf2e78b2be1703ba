# The scheduled (cron) event as a service binding delivers it: `await env.SVC.scheduled(
# scheduledTime=ms, cron="* * * * *")` (workerd's service_binding_extra_handlers) runs the bound
# worker's `scheduled(self, controller, env, ctx)` (or a legacy top-level `on_scheduled`), and
# answers {"outcome": "ok" | "exception", "noRetry": bool} as workerd's ScheduledResult.
# The isolate's driver (top layer): runtime.py routes a "scheduled" call here; runs in isolates.
"""The scheduled handler run for a service binding's scheduled() call."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from pyworkerd.context import is_awaitable, log_exception


class ScheduledController:
    """The first argument of a scheduled handler: `scheduledTime` (ms since the epoch),
    `cron` (the pattern, "" when none), `noRetry()`."""

    def __init__(self, scheduled_time: float, cron: str) -> None:
        self.scheduledTime = scheduled_time
        self.cron = cron
        self._no_retry = False

    def noRetry(self) -> None:
        """Ask that a failed run is not retried."""
        self._no_retry = True

    def __repr__(self) -> str:
        return f"ScheduledController(scheduledTime={self.scheduledTime!r}, cron={self.cron!r})"


def controller(args: list[Any]) -> ScheduledController:
    """The controller of a call's options ({scheduledTime, cron}; both optional)."""
    opts = args[0] if args and isinstance(args[0], dict) else {}
    when = opts.get("scheduledTime")
    return ScheduledController(time.time() * 1000 if when is None else when, str(opts.get("cron") or ""))


def handler_of(cls: type | None, instance: Any, module: ModuleType | None) -> Callable[..., Any] | None:
    """The worker's scheduled handler: the entry point class's method, else a top-level one."""
    if cls is not None and callable(getattr(cls, "scheduled", None)):
        return getattr(instance, "scheduled")
    top = getattr(module, "on_scheduled", None) if module is not None else None
    return top if callable(top) else None


async def outcome(req_id: int, ctrl: ScheduledController, result: Any) -> dict[str, Any]:
    """{"outcome", "noRetry"} once the handler's result (maybe awaitable) has settled."""
    try:
        if is_awaitable(result):
            await result
    except Exception as exc:
        log_exception(f"request {req_id} scheduled(): uncaught exception", exc)
        return {"outcome": "exception", "noRetry": ctrl._no_retry}
    return {"outcome": "ok", "noRetry": ctrl._no_retry}
