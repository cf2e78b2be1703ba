# What runs inside a Workflow instance (isolate): the event, `step.do` (a step's result is
# saved by the host and, when the instance runs again after a sleep or a restart, returned
# without running the step), `step.sleep`/`sleep_until` and `step.wait_for_event` (the host
# suspends the instance: the run ends and is called again when the sleep is over or an event
# came) and retries. The host's engine is src/host/workflows.c; ops are "wf.*" binding calls.
# The binding (`env.MY_WORKFLOW`) is pyworkerd/workflows.py. Above the process's context
# (run() failures are logged with its log_exception); imported only by workers that define a
# workflow (workers.WorkflowEntrypoint) or import workers.workflows.
# Invariant: a suspension is a BaseException (_Suspended), so user code's `except Exception`
# cannot swallow it; run_instance() turns it into the "suspended" outcome.
"""Cloudflare Workflows for Python Workers: a run's event, its steps and their retries."""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import functools
import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pyworkerd import context, rpc
from pyworkerd.bindings import JsDict, python_from_rpc, python_to_rpc


class NonRetryableError(Exception):
    """Raised by a step to fail at once: the step is not retried."""


class _Suspended(BaseException):
    """The host suspended this run (a sleep, a pause or a termination): unwind to the host."""


DEFAULT_RETRIES = {"limit": 5, "delay": 10000, "backoff": "exponential"}
_UNITS_MS = {"millisecond": 1, "second": 1000, "minute": 60_000, "hour": 3_600_000,
             "day": 86_400_000, "week": 604_800_000, "month": 2_592_000_000,
             "year": 31_536_000_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$")


def duration_ms(value: Any) -> int:
    """A Workflows duration in milliseconds: a number of milliseconds (as in Cloudflare's
    WorkflowDuration), a timedelta, or text such as "10 seconds", "1 minute", "2 hours"."""
    if isinstance(value, datetime.timedelta):
        return int(value.total_seconds() * 1000)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        m = _DURATION.match(value.lower())
        if m and m.group(2) in _UNITS_MS:
            return int(float(m.group(1)) * _UNITS_MS[m.group(2)])
    raise TypeError(f"Invalid duration {value!r}: give milliseconds, a timedelta or text "
                    'such as "10 seconds"')


def _state(fields: list[bytes]) -> tuple[str, bytes | None]:
    return fields[0].decode(), (fields[1] if len(fields) > 1 else None)


class WorkflowEvent(JsDict):
    """The event of a run: `payload`, `timestamp` (datetime), `instanceId`, `workflowName`;
    keys and attributes both work (`event.payload` == `event["payload"]`)."""


class WorkflowStep:
    """The `step` argument of run(): `do`, `sleep`, `sleep_until`, `wait_for_event`."""

    def __init__(self, workflow: str, instance_id: str) -> None:
        self._workflow = workflow
        self._id = instance_id
        self._names: dict[str, int] = {}
        self._steps: dict[str, Callable[[], Awaitable[Any]]] = {}

    def _key(self, name: str) -> str:
        """Step names are keys; the same name used again gets its count ("name#2")."""
        count = self._names[name] = self._names.get(name, 0) + 1
        return name if count == 1 else f"{name}#{count}"

    def do(self, name: Any = None, depends: Any = None, concurrent: bool = False,
           config: dict[str, Any] | None = None) -> Any:
        """`@step.do("name")` over a function: it becomes an awaitable 0-argument callable
        that runs the function once and saves its result. `config`: {"retries": {"limit",
        "delay", "backoff": "constant"|"linear"|"exponential"}, "timeout"} (per attempt)."""
        if callable(name):  # bare @step.do
            return self.do()(name)

        def decorate(func: Callable[..., Any]) -> Callable[[], Awaitable[Any]]:
            step_name = name if isinstance(name, str) and name else func.__name__
            key = self._key(step_name)
            task: list[asyncio.Future[Any]] = []

            @functools.wraps(func)
            def run_once() -> Awaitable[Any]:
                if not task:
                    task.append(asyncio.ensure_future(
                        self._run(key, step_name, func, config or {}, depends, concurrent)))
                return task[0]

            self._steps[step_name] = run_once
            return run_once

        return decorate

    async def _run(self, key: str, name: str, func: Callable[..., Any], config: dict[str, Any],
                   depends: Any, concurrent: bool) -> Any:
        state, saved = _state(await rpc.call(list, "wf.step.get", self._workflow, self._id, key))
        if state == "stop":
            raise _Suspended
        if state == "found" and saved is not None:
            return python_from_rpc(saved)
        value = await self._attempts(name, func, config, depends, concurrent)
        data = python_to_rpc(value)
        state, _ = _state(await rpc.call(list, "wf.step.put", self._workflow, self._id, key, data))
        if state == "stop":
            raise _Suspended
        return python_from_rpc(data)

    async def _attempts(self, name: str, func: Callable[..., Any], config: dict[str, Any],
                        depends: Any, concurrent: bool) -> Any:
        retries = {**DEFAULT_RETRIES, **(config.get("retries") or {})}
        limit, delay = int(retries["limit"]), duration_ms(retries["delay"])
        timeout = duration_ms(config["timeout"]) / 1000 if config.get("timeout") else None
        attempt = 1
        args = await self._arguments(name, func, config, attempt, depends, concurrent)
        while True:
            for a in args:  # the `ctx` argument says which attempt this is
                if type(a) is JsDict and "attempt" in a and "step" in a:
                    a["attempt"] = attempt
            try:
                value = func(*args)
                if inspect.isawaitable(value):  # an attempt longer than `timeout` fails
                    value = await asyncio.wait_for(value, timeout)
                return value
            except NonRetryableError:
                raise
            except Exception:
                if attempt > limit:
                    raise
            factor = {"constant": 1, "linear": attempt}.get(retries.get("backoff"), 2 ** (attempt - 1))
            await asyncio.sleep(delay * factor / 1000)
            attempt += 1

    async def _arguments(self, name: str, func: Callable[..., Any], config: dict[str, Any],
                         attempt: int, depends: Any, concurrent: bool) -> list[Any]:
        """Implicit dependencies: each parameter names an earlier step (its result is passed)
        or is `ctx`. With `depends=[...]` (the legacy form), the parameters other than `ctx`
        get those steps' results, in order (as Cloudflare's SDK passes them)."""
        params = list(inspect.signature(func).parameters)
        if depends is not None:
            return await self._legacy_arguments(name, params, config, attempt, list(depends), concurrent)
        args: list[Any] = []
        for p in params:
            if p == "ctx":
                args.append(self._ctx(name, config, attempt))
            elif p in self._steps:
                args.append(self._steps[p]())
            else:
                raise TypeError(f"Received unexpected parameter {p}")
        if concurrent:
            return list(await asyncio.gather(*[a if inspect.isawaitable(a) else _value(a) for a in args]))
        return [await a if inspect.isawaitable(a) else a for a in args]

    def _ctx(self, name: str, config: dict[str, Any], attempt: int) -> JsDict:
        """The `ctx` argument of a step: its name and count, the attempt, its config."""
        return JsDict(step=JsDict(name=name, count=self._names.get(name, 1)), attempt=attempt,
                      config=config)

    async def _legacy_arguments(self, name: str, params: list[str], config: dict[str, Any],
                                attempt: int, depends: list[Any], concurrent: bool) -> list[Any]:
        """`step.do(name, depends=[a, b])`: parameter i (ctx aside) gets step i's result."""
        others = [p for p in params if p != "ctx"]
        if len(depends) != len(others):
            if not depends:
                raise TypeError(f"Step has {len(others)} non-ctx parameter(s) but no 'depends' list provided")
            raise TypeError(f"Step declares {len(others)} non-ctx parameter(s) but 'depends' has "
                            f"{len(depends)} item(s)")
        if concurrent:
            results = list(await asyncio.gather(*[d() for d in depends]))
        else:
            results = [await d() for d in depends]
        return [self._ctx(name, config, attempt) if p == "ctx" else results.pop(0) for p in params]

    async def sleep(self, name: str, duration: Any) -> None:
        """Sleep durably for `duration` (milliseconds, a timedelta, or "10 seconds")."""
        await self._sleep(name, "for", duration_ms(duration))

    async def sleep_until(self, name: str, timestamp: Any) -> None:
        """Sleep durably until `timestamp` (a datetime, ISO text, or epoch milliseconds)."""
        if isinstance(timestamp, str):
            timestamp = datetime.datetime.fromisoformat(timestamp)
        if isinstance(timestamp, datetime.datetime):
            if timestamp.tzinfo is None:
                timestamp = timestamp.replace(tzinfo=datetime.timezone.utc)
            timestamp = timestamp.timestamp() * 1000
        await self._sleep(name, "until", int(timestamp))

    async def _sleep(self, name: str, kind: str, ms: int) -> None:
        key = self._key("sleep:" + name)
        state, _ = _state(await rpc.call(list, "wf.sleep", self._workflow, self._id, key, kind, str(ms)))
        if state != "done":
            raise _Suspended

    async def wait_for_event(self, name: str, type: str, /, timeout: Any = "24 hours") -> Any:
        """Wait durably for an event of `type` sent with the instance's send_event(): returns
        {"payload", "timestamp", "type"}; TimeoutError when none came within `timeout`."""
        if not isinstance(type, str) or not type:
            raise TypeError("wait_for_event() needs the event type as non-empty text")
        key = self._key("event:" + name)
        ms = duration_ms(timeout)
        state, event = _state(await rpc.call(list, "wf.wait", self._workflow, self._id, key, type,
                                             str(ms)))
        if state == "found" and event is not None:
            return python_from_rpc(event)
        if state == "timeout":
            raise TimeoutError(f'step.wait_for_event("{name}") timed out: no "{type}" event')
        raise _Suspended

    waitForEvent = wait_for_event
    sleepUntil = sleep_until


async def _value(v: Any) -> Any:
    return v


async def run_instance(run: Callable[..., Any], entrypoint: Any, raw: dict[str, Any]) -> dict[str, Any]:
    """The host's call of run(): the outcome {"outcome": "complete", "output"} or
    {"outcome": "suspended"} or {"outcome": "errored", "error": {"name", "message"}}."""
    event = WorkflowEvent(raw)
    step = WorkflowStep(str(raw["workflowName"]), str(raw["instanceId"]))
    _current_step.set(step)  # this run's task only: for @step methods (step_method)
    try:
        result = run(entrypoint, event, step)
        if inspect.isawaitable(result):
            result = await result
        python_to_rpc(result)  # an output that cannot be saved is the run's error
    except _Suspended:
        return {"outcome": "suspended"}
    except Exception as exc:
        context.log_exception(f"workflow {raw['workflowName']} instance {raw['instanceId']}: "
                               "run() failed", exc)
        return {"outcome": "errored", "error": {"name": type(exc).__name__, "message": str(exc)}}
    return {"outcome": "complete", "output": result}


_current_step: contextvars.ContextVar[WorkflowStep] = contextvars.ContextVar("workflow_step")
"""The `step` of the instance whose run() this task is running."""


def step_method(method: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`@step` over a method of a workflow class (the seed's form): each call runs as
    `step.do(<method name>)` of the running instance, so its result is saved and a resumed
    instance gets it back without running the method again. Arguments are the caller's (they
    are not part of the step's name: the same method called twice is two steps, "name" and
    "name#2", as with step.do)."""
    if not callable(method):
        raise TypeError("@step decorates a method of a workflow class")

    @functools.wraps(method)
    async def durable(self: Any, *args: Any, **kwargs: Any) -> Any:
        current = _current_step.get(None)
        if current is None:
            raise RuntimeError(f"{method.__name__}() is a workflow step: call it inside the "
                               "workflow's run(), while an instance runs")

        async def body() -> Any:
            result = method(self, *args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return await current.do(method.__name__)(body)()

    durable.__workflow_step__ = True  # type: ignore[attr-defined]
    return durable


def wrap_run(run: Callable[..., Any]) -> Callable[..., Any]:
    """A WorkflowEntrypoint's run, callable by the host with the raw event alone."""

    @functools.wraps(run)
    def run_from_host(self: Any, event: Any, step: Any = None) -> Any:
        if step is None and isinstance(event, dict) and "instanceId" in event:
            return run_instance(run, self, event)
        return run(self, event, step)

    return run_from_host
