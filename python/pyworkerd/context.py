# The process's context, as the SDK's public faces (workers, workers.asgi, workers.wsgi) and
# the driver (runtime, loop) share it: the loaded Worker's `env`, each request's `ctx`
# (waitUntil and its tasks), the isolate loop's early-streaming handle, the retire hooks, and
# the logging of an uncaught exception. The driver sets what it owns here (env at load, the
# loop as `streams`); the faces read it, so they never import the driver. Set in the worker
# template (env), used in the isolates forked from it. Invariant: `pending` and `tasks` are
# mutated in place, never rebound (runtime holds them by name on the request path).
"""The process's context: env, waitUntil, early streaming, retire hooks, exception logging."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Awaitable, Callable
from functools import partial
from types import CoroutineType, GeneratorType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

from pyworkerd import log as _log
from pyworkerd import rpc
from pyworkerd.bindings import Fetcher, JsFetcher
from pyworkerd.jsobject import JsProxy

CO_ITERABLE_COROUTINE = 0x100
RETIRE_TIMEOUT = 5.0
MEMORY_PROBE_SHARE = 8
"""After a MemoryError the isolate asks the host to replace it unless it can still allocate
this share (1/8) of its memory limit: a leak keeps it full, one failed allocation does not."""

env: Env | None = None
"""The loaded Worker's bindings (also `workers.env`); None until runtime.load() has run."""
memory_limit_mib = 0.0
"""The isolate's memory limit (runtime.load sets it from the spec); 0 = none given."""
compat_flags: dict[str, bool] = {}
"""Every compatibility flag workerd knows (by its enable name) -> whether it is on for this
Worker, by its date and flags (runtime.load sets it; `_cloudflare_compat_flags` reads it)."""

pending: list[tuple[int, Awaitable[Any]]] = []
"""waitUntil() awaitables of a sync handler that ran without a loop: runtime schedules them."""
tasks: set[asyncio.Future[Any]] = set()
"""waitUntil() tasks still running."""
_retire_hooks: list[Callable[[], Awaitable[Any]]] = []
retirement_waiters: set[asyncio.Task[Any]] = set()
"""Tasks that wait only for the isolate's retirement (see waits_for_retirement)."""
_hidden_files = {__file__}
"""Files whose frames lead a logged traceback without being shown (see hide_frames_of)."""


class Env:
    """A Worker's bindings: `env.NAME` or `env["NAME"]`.

    json bindings are parsed values, text bindings str, data bindings bytes,
    fromEnvironment bindings str or None.
    """

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"env has no binding named {name!r}")

    def __getitem__(self, name: str) -> Any:
        try:
            return self.__dict__[name]
        except KeyError:
            raise KeyError(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self.__dict__

    @property
    def _env(self) -> JsEnv:
        """The env as JavaScript code sees it (Cloudflare's SDK: `self.env._env`, the
        unwrapped JsProxy): service bindings take fetch options positionally too."""
        return JsEnv(self)

    def __repr__(self) -> str:
        return f"Env({', '.join(self.__dict__)})"


class JsEnv(JsProxy):
    """The unwrapped env (a JsProxy): the same bindings, service bindings as JsFetcher."""

    __slots__ = ("_wrapped",)

    def __init__(self, wrapped: Env) -> None:
        self._wrapped = wrapped

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._wrapped, name)
        if type(value) is Fetcher:
            return JsFetcher(value._name)
        return value

    def __repr__(self) -> str:
        return f"[object Env {', '.join(self._wrapped.__dict__)}]"


# ---------------------------------------------------------------- ctx: waitUntil


class ExecutionContext:
    """`ctx` of a request: `waitUntil(awaitable)` and `passThroughOnException()`."""

    __slots__ = ("_req_id",)

    def __init__(self, req_id: int) -> None:
        self._req_id = req_id

    def waitUntil(self, awaitable: Awaitable[Any]) -> None:
        """Run `awaitable` to completion even after the response has been sent."""
        if not is_awaitable(awaitable):
            raise TypeError(f"waitUntil() expects an awaitable, not {type(awaitable).__name__}")
        asyncio = sys.modules.get("asyncio")
        if asyncio is None or asyncio.events._get_running_loop() is None:
            pending.append((self._req_id, awaitable))  # scheduled by handle()'s coroutine
            return
        _schedule(self._req_id, awaitable)

    def passThroughOnException(self) -> None:
        """Accepted for compatibility; there is no origin to pass through to."""


def wait_until(awaitable: Awaitable[Any]) -> None:
    """`workers.wait_until`: keep running `awaitable` after the response has been sent."""
    ExecutionContext(0).waitUntil(awaitable)


def is_awaitable(value: Any) -> bool:
    """inspect.isawaitable(value), without importing inspect on the request path."""
    return (
        type(value) is CoroutineType
        or (isinstance(value, GeneratorType) and bool(value.gi_code.co_flags & CO_ITERABLE_COROUTINE))
        or isinstance(value, Awaitable)
    )


def schedule_pending() -> None:
    """Start the waitUntil() awaitables that waited for a loop (one runs now)."""
    while pending:
        _schedule(*pending.pop(0))


def _schedule(req_id: int, awaitable: Awaitable[Any]) -> None:
    import asyncio  # a loop runs, so it is imported: this only looks it up

    task = asyncio.ensure_future(awaitable)
    tasks.add(task)
    task.add_done_callback(partial(_task_done, req_id))


def _task_done(req_id: int, task: asyncio.Future[Any]) -> None:
    tasks.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log_exception(f"request {req_id} waitUntil(): uncaught exception", task.exception())


def pending_tasks() -> bool:
    """Whether waitUntil() tasks are still running (a retiring isolate lets them finish)."""
    return bool(tasks or pending)


# ---------------------------------------------------------------- the isolate loop's handle


class _NoEarlyStreams:
    """What the isolate loop installs as `streams` (see loop.py); outside it, nothing."""

    @staticmethod
    def early_stream_id() -> int | None:
        return None

    @staticmethod
    def stream_early(request_id: int, response: Any) -> None:
        raise RuntimeError("no request is being served here")

    @staticmethod
    def run_sync(awaitable: Awaitable[Any]) -> Any:
        """Top-level code (the template): a loop of its own, closed after."""
        import asyncio

        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(awaitable)
        finally:
            loop.close()


streams: Any = _NoEarlyStreams
"""The isolate loop's server (loop.serve sets it), for early streaming."""


def early_stream_id() -> int | None:
    """The id of the request the running task serves, if its streamed response may start
    before its handler returns (an adapter then runs the app inline; see workers/asgi.py)."""
    return streams.early_stream_id()


def stream_early(request_id: int, response: Any) -> None:
    """Send the head of `response` (a streamed Response) for request `request_id` now and
    stream its body while the handler goes on; its handler's return value is not sent."""
    streams.stream_early(request_id, response)


def run_sync(awaitable: Awaitable[Any]) -> Any:
    """Run `awaitable` to completion from synchronous code and return its result
    (pyodide.ffi.run_sync): the isolate's loop runs meanwhile, other requests included."""
    return streams.run_sync(awaitable)


# ---------------------------------------------------------------- retirement


def on_retire(hook: Callable[[], Awaitable[Any]]) -> None:
    """Run `await hook()` when this isolate is retired (its socket closed), e.g. ASGI
    lifespan shutdown; each hook gets at most RETIRE_TIMEOUT seconds."""
    _retire_hooks.append(hook)


def waits_for_retirement(task: asyncio.Task[Any], waiting: bool) -> None:
    """Whether `task` now waits for nothing but this isolate's retirement (an ASGI app's
    lifespan task once started): the isolate's loop may then return to its fast path, where
    no loop runs, while the task waits; a retire hook wakes it."""
    if waiting:
        retirement_waiters.add(task)
    else:
        retirement_waiters.discard(task)


def has_retire_hooks() -> bool:
    return bool(_retire_hooks)


async def retire() -> None:
    """Run the retire hooks, newest first, logging their failures."""
    import asyncio  # a loop runs this: already imported

    while _retire_hooks:
        hook = _retire_hooks.pop()
        try:
            await asyncio.wait_for(hook(), RETIRE_TIMEOUT)
        except Exception as exc:
            log_exception("isolate shutdown: a shutdown hook failed", exc)


# ---------------------------------------------------------------- uncaught exceptions


def hide_frames_of(filename: str) -> None:
    """Leave the leading frames of `filename` (the driver that caught the exception) out of
    the tracebacks log_exception writes."""
    _hidden_files.add(filename)


def log_exception(headline: str, exc: BaseException) -> None:
    """Log `headline` and the traceback of `exc`, without the leading frames of the SDK's
    own catching code (this file, runtime.py); after a MemoryError, see _after_memory_error."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename in _hidden_files:
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb)
    _log.log(headline + "\n" + "".join(lines))
    del tb, lines
    if isinstance(exc, MemoryError):
        _after_memory_error(exc)


def _after_memory_error(exc: BaseException) -> None:
    """A request (or a task) ran out of memory and was logged: once what its frames held is
    released (their tracebacks dropped), an isolate that still cannot allocate
    1/MEMORY_PROBE_SHARE of its limit is leaking towards it and asks the host to retire it
    after this request (the host starts a new one), instead of failing every later request."""
    channel = rpc._channel
    if channel is None:
        return  # top-level code: the template fails to load instead
    seen: BaseException | None = exc
    for _ in range(64):  # the chain of causes, bounded (a chain made by hand may loop)
        if seen is None:
            break
        seen.__traceback__ = None
        seen = seen.__cause__ or seen.__context__
    size = int(memory_limit_mib * (1 << 20)) // MEMORY_PROBE_SHARE or 16 << 20
    try:
        probe = bytes(size)  # calloc: address space only, no page is touched
    except MemoryError:
        channel.rpc_send("isolate.retire", "MemoryError")
        asyncio = sys.modules.get("asyncio")
        if asyncio is not None and asyncio.events._get_running_loop() is not None and rpc._server:
            rpc._server.schedule_flush()
        return
    del probe
