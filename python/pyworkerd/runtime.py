# The contract between the C side and a Worker's Python code. `load(spec)` runs once in
# the worker template: it tags the process's output, builds `env`, imports the main
# module (its top-level code runs there, once) and picks the fetch entry point.
# `handle(...)` runs in an isolate for every HTTP request: it builds the Request, calls
# the entry point and returns (status, headers, body), or a coroutine resolving to it
# when the handler is async (or the response is streamed: a Response's `_wire()` is that
# tuple, or for a streamed body a coroutine resolving to one whose body is an async
# iterable of bytes, which loop.py sends chunk by chunk). Invariant: handle() and its coroutine never raise an
# Exception: a failing request is logged with its traceback and answered with a 500.
# (BaseExceptions such as asyncio.CancelledError and SystemExit do propagate.)
# The isolate's driver, the SDK's top layer: what the faces share with it (env, waitUntil,
# retire hooks, exception logging) is pyworkerd.context, which it fills in.
"""Load a Worker in the template process and serve its HTTP requests in isolates."""

from __future__ import annotations

import base64
import importlib
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from types import CoroutineType, FunctionType, MethodType, ModuleType
from typing import Any

import js
import workers
from pyworkerd import bindings, bundle, context, entropy, native_guard, packages, rpc_values, timers, trace
from pyworkerd import host_socket, hyperdrive
from pyworkerd import log as _log
from pyworkerd.context import Env, ExecutionContext
from pyworkerd.context import is_awaitable as _is_awaitable
from pyworkerd.context import log_exception as _log_exception
from pyworkerd.context import pending as _pending
from pyworkerd.errors import JsException, is_unavailable
from pyworkerd.response import Response
from pyworkerd.webapi import Headers, JsHeaders, Request, WireResponse, make_request

SDK_MODULES = (js, workers)
"""Imported with the runtime so that the snapshot every isolate forks from holds them.
asyncio and inspect are not imported here but where they are used: the zygote imports them
anyway (embed.c), and a cold isolate (--no-snapshot) of a sync worker never pays for them."""

CO_VARARGS = 0x04
CO_COROUTINE = 0x80

async_handler = False
"""Whether the worker's fetch handler is an `async def`: its isolates make their asyncio loop
before the first request arrives (loop.serve), not while it waits."""

NO_GLOBAL_HANDLERS_DATE = "2025-08-14"
ERROR_RESPONSE_BODY = b"Internal Server Error"

_call: Callable[[int, Request], Any]
_label = "fetch()"
_module: ModuleType | None = None
_legacy = False
_entrypoint_callers: dict[str, Callable[[int, Request], Any]] = {}


BINDING_TYPES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "text": lambda b: str(b["value"]),
    "json": lambda b: json.loads(b["value"]),
    "data": lambda b: base64.b64decode(b["value"]),
    "env": lambda b: b.get("value"),
    "kv": lambda b: bindings.KvNamespace(b["name"]),
    "service": lambda b: bindings.Fetcher(b["name"]),
    "workflow": lambda b: _workflow_binding(b["name"]),
    "r2": lambda b: _r2_binding(b["name"]),
    "memory_cache": lambda b: _memory_cache_binding(b["name"]),
    "queue": lambda b: _queue_binding(b["name"]),
    "disk": lambda b: bindings.DiskFetcher(b["name"]),
    "durable_object": lambda b: _durable_object_binding(b),
    "d1": lambda b: _d1_binding(b["name"]),
    "hyperdrive": lambda b: hyperdrive.Hyperdrive(b["value"]),
}
"""How each binding type of the spec becomes a value of `env`; other modules add theirs."""


def _workflow_binding(name: str) -> Any:
    """A Workflow binding; pyworkerd.workflows (asyncio, inspect) is imported only by workers
    that have one (a cold isolate of any other worker starts without it)."""
    from pyworkerd import workflows

    return workflows.WorkflowBinding(name)


def _memory_cache_binding(name: str) -> Any:
    """A memoryCache binding (imported only by workers that have one)."""
    from pyworkerd import memory_cache

    return memory_cache.MemoryCache(name)
_compat: tuple[str, list[str]] = ("", [])
"""The worker's compatibility date and flags (load() sets them before building env)."""


def _queue_binding(name: str) -> Any:
    """A Queue producer binding; pyworkerd.queues is imported only by workers that have one."""
    from pyworkerd import queues

    return queues.Queue(name, queues.json_by_default(*_compat))


def _durable_object_binding(b: dict[str, Any]) -> Any:
    """A Durable Object namespace (pyworkerd.durable_objects: imported by workers that have one)."""
    from pyworkerd import durable_objects

    return durable_objects.DurableObjectNamespace(b["name"], b["class"], b["unique_key"])


def _d1_binding(name: str) -> Any:
    """A D1 database; pyworkerd.d1 is imported only by workers that have one."""
    from pyworkerd import d1

    return d1.D1Database(name)


def make_env(bindings: list[dict[str, Any]]) -> Env:
    """Build `env` from the spec's bindings; an unknown type is a startup error."""
    values: dict[str, Any] = {}
    for binding in bindings:
        name, kind = binding["name"], binding["type"]
        convert = BINDING_TYPES.get(kind)
        if convert is None:
            raise ValueError(f'binding "{name}": not supported by pyworkerd: {kind} bindings')
        try:
            values[name] = convert(binding)
        except ValueError as exc:
            raise ValueError(f'binding "{name}": invalid {kind} value: {exc}') from None
    return Env(values)


def _is_coroutine_function(func: Any) -> bool:
    code = getattr(func, "__code__", None)
    return code is not None and bool(code.co_flags & CO_COROUTINE)


def _r2_binding(name: str) -> Any:
    """An R2 bucket; pyworkerd.r2 is imported only by workers that have one."""
    from pyworkerd import r2

    return r2.R2Bucket(name)


def __getattr__(name: str) -> Any:
    """`runtime.env` and `runtime.streams`, as they were before they moved to the context."""
    if name in ("env", "streams"):
        return getattr(context, name)
    raise AttributeError(f"module 'pyworkerd.runtime' has no attribute {name!r}")


context.hide_frames_of(__file__)  # the driver's frames that catch an exception: not logged


# ---------------------------------------------------------------- template: load()


def load(spec: dict[str, Any]) -> None:
    """Load the Worker described by `spec` into this (template) process."""
    _log.configure(spec["service"])
    context.memory_limit_mib = float(spec.get("memory_limit_mib") or 0)
    directory = spec["dir"]
    if directory in sys.path:
        sys.path.remove(directory)
    sys.path.insert(0, directory)
    start = trace.clock()
    vendored = bundle.setup(spec)
    resolved = packages.setup(spec, vendored)
    native_guard.install(packages.readable_paths())
    trace.step(f"requirements resolved ({len(resolved)})", start)
    entropy.begin_template(directory)
    global _compat
    _compat = (spec.get("compat_date", ""), list(spec.get("compat_flags", [])))
    context.compat_flags = _compat_flags(spec)
    context.env = make_env(spec.get("bindings", []))
    host_socket.install()    # socket.socket and ssl through the host, before the worker imports
    main = spec["main_module"]
    if not main.endswith(".py"):
        raise ValueError("Main module needs to end with a .py file extension")
    with trace.imports(_requirement_modules(resolved)):
        module = _import_main(main[:-3].replace("/", "."))
    timers.run_top_level()   # zero timeouts the top-level code set run after it, as in JavaScript
    flags = set(spec.get("compat_flags", []))
    _select_entrypoint(module, main, _legacy_handlers(spec.get("compat_date", ""), flags))
    if spec.get("test_scheduled"):
        _add_test_endpoints()
    if spec.get("durable_objects"):
        from pyworkerd import do_runtime  # workers with Durable Object classes only

        do_runtime.load(spec, module, _positional_count)
    _warm_up()


WARM_UP_ROUNDS = 10
"""More than CPython 3.11's 8 calls before it specialises a function's bytecode in place."""


def _warm_up() -> None:
    """Run the SDK's own side of a request (no worker code) in the template, so that what it
    first-time initialises and specialises lies in the memory every isolate shares instead of
    being written, and copied, by each isolate at its first request."""
    def sdk_only(req_id: int, request: Request) -> Any:
        request.headers.get("host")
        return (workers.Response("", headers={"content-type": "text/plain"})
                if req_id % 2 else js.Response.new(""))

    for req_id in range(WARM_UP_ROUNDS):
        _serve(sdk_only, req_id, "GET", "http://localhost/", [("host", "localhost")], b"")
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:     # the async side too, on a loop of its own, closed after
        async def sdk_only_async(req_id: int, request: Request) -> Any:
            await asyncio.sleep(0)
            return sdk_only(req_id, request)

        loop = asyncio.new_event_loop()
        try:
            for req_id in range(WARM_UP_ROUNDS):
                loop.run_until_complete(_serve(sdk_only_async, req_id, "GET", "http://localhost/",
                                               [("host", "localhost")], b""))
        finally:
            loop.close()


def _compat_flags(spec: dict[str, Any]) -> dict[str, bool]:
    """Every known flag -> on/off, as the host resolved them (the flags given, if it did not)."""
    enabled = spec.get("compat_enabled")
    if isinstance(enabled, dict):
        return {str(k): bool(v) for k, v in enabled.items()}
    return {str(f): True for f in spec.get("compat_flags", [])}


def _requirement_modules(resolved: dict[str, packages.Resolved]) -> dict[str, str]:
    """Top-level module name -> "name version" of the resolved requirements (for traces)."""
    return {top: f"{r.name} {r.version}" for r in resolved.values() for top in r.top_level}


def _legacy_handlers(compat_date: str, flags: set[str]) -> bool:
    """Whether top-level handlers (on_fetch) are accepted: python_no_global_handlers off."""
    no_globals = "python_no_global_handlers" in flags or compat_date >= NO_GLOBAL_HANDLERS_DATE
    return not no_globals or "disable_python_no_global_handlers" in flags


def _import_main(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == "src" or (exc.name or "").startswith("src."):
            exc.add_note(
                "If your main module is inside the 'src' directory then your import "
                "statement shouldn't include a 'src.' prefix"
            )
        raise


def _exported(module: ModuleType, name: str) -> Any:
    names = getattr(module, "__all__", None)
    if names is not None and name not in names:
        return None
    return getattr(module, name, None)


def _select_entrypoint(module: ModuleType, main: str, legacy: bool) -> None:
    global _call, _label, _module, _legacy
    _module, _legacy = module, legacy
    default = _exported(module, "Default")
    bases = bundle.with_vendored(workers.WorkerEntrypoint)
    is_class = isinstance(default, type) and issubclass(default, bases) and default not in bases
    on_fetch = getattr(module, "on_fetch", None)  # as workerd: __all__ only filters classes
    on_fetch = on_fetch if callable(on_fetch) else None
    if is_class and legacy and on_fetch is not None:
        raise TypeError("Cannot define multiple default entrypoints")
    global async_handler
    if is_class:
        _call, _label = _class_caller(default, legacy)
        Request.headers_type = Headers
        async_handler = _is_coroutine_function(getattr(default, "fetch", None))
    elif legacy and on_fetch is not None:
        _call, _label = _function_caller(on_fetch), "on_fetch()"
        Request.headers_type = JsHeaders
        async_handler = _is_coroutine_function(on_fetch)
    else:
        # As workerd: a worker without a fetch handler loads (it may have only tests, RPC
        # methods, a workflow or named entrypoints); calling its fetch is the error.
        def call_missing(req_id: int, request: Request) -> Any:
            raise _missing_handler(main, legacy, default, on_fetch)

        _call, _label = call_missing, "fetch"
        async_handler = False


def _missing_handler(main: str, legacy: bool, default: Any, on_fetch: Any) -> Exception:
    if legacy:
        exc = LookupError(f'Python entrypoint "{main}" does not export a handler named "on_fetch"')
        exc.add_note(
            "Define `class Default(WorkerEntrypoint)` with a `fetch(self, request)` method "
            "(from workers import WorkerEntrypoint), or a top-level `on_fetch(request, env, ctx)`."
        )
    else:
        exc = LookupError(
            f'Python entrypoint "{main}" does not export a default entrypoint: define '
            "`class Default(WorkerEntrypoint)` with a `fetch(self, request)` method "
            "(from workers import WorkerEntrypoint)"
        )
        if on_fetch is not None:
            exc.add_note(
                "Top-level handlers such as on_fetch are not used from compatibility date "
                f"{NO_GLOBAL_HANDLERS_DATE} on (python_no_global_handlers); move it into "
                "Default.fetch, or add the compatibility flag disable_python_no_global_handlers."
            )
    if default is not None and not (
        isinstance(default, type) and issubclass(default, bundle.with_vendored(workers.WorkerEntrypoint))
    ):
        exc.add_note("`Default` is defined but is not a subclass of workers.WorkerEntrypoint.")
    return exc


def _positional_count(func: Callable[..., Any]) -> int:
    """How many positional arguments `func` takes (its relaxed-call arity); -1 = any."""
    if type(func) is FunctionType and not hasattr(func, "__wrapped__"):
        code = func.__code__     # a plain function: its code says it (no inspect import)
        return -1 if code.co_flags & CO_VARARGS else code.co_argcount
    inner = getattr(func, "__func__", None)
    if type(func) is MethodType and type(inner) is FunctionType and not hasattr(inner, "__wrapped__"):
        code = inner.__code__    # a bound method (an object's fetch, every event): less self
        return -1 if code.co_flags & CO_VARARGS else max(code.co_argcount - 1, 0)
    import inspect

    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return -1
    count = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return -1
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def _static_attr(cls: type, name: str, default: Any = None) -> Any:
    """inspect.getattr_static(cls, name, default) for a class: the attribute as stored in the
    first class of the MRO that defines it (no descriptor or metaclass __getattr__ runs)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return default


def _class_caller(cls: type, legacy: bool) -> tuple[Callable[[int, Request], Any], str]:
    """Per request: `cls(ctx, env).fetch(request)` (`on_fetch` also accepted in legacy mode)."""
    name = "fetch" if hasattr(cls, "fetch") else "on_fetch" if legacy and hasattr(cls, "on_fetch") else None
    label = f"{cls.__name__}.{name or 'fetch'}()"
    if name is None:

        def call_missing(req_id: int, request: Request) -> Any:
            raise TypeError("Method fetch does not exist")

        return call_missing, label
    static = isinstance(_static_attr(cls, name), (staticmethod, classmethod))
    arity = _positional_count(getattr(cls, name))
    with_request = arity == -1 or arity > (0 if static else 1)

    def call(req_id: int, request: Request) -> Any:
        method = getattr(cls(ExecutionContext(req_id), context.env), name)
        return method(request) if with_request else method()

    return call, label


def _function_caller(func: Callable[..., Any]) -> Callable[[int, Request], Any]:
    """A relaxed call of a top-level handler: (request), (request, env) or (request, env, ctx)."""
    arity = _positional_count(func)
    if arity == 0:
        return lambda req_id, request: func()
    if arity == 1:
        return lambda req_id, request: func(request)
    if arity == 2:
        return lambda req_id, request: func(request, context.env)
    return lambda req_id, request: func(request, context.env, ExecutionContext(req_id))


# ---------------------------------------------------------------- isolate: handle()


def before_first_request() -> None:
    """Prepare a freshly forked isolate: real entropy, reseeded random generators."""
    start = trace.clock()
    entropy.before_first_request()
    trace.step("reseeded", start)


def handle(
    req_id: int, method: str, url: str, headers: list[tuple[str, str]], body: bytes,
    client: tuple[str, int] | None = None, server: tuple[str, int] | None = None,
) -> WireResponse | Coroutine[Any, Any, WireResponse]:
    """Serve one HTTP request: the response tuple, or a coroutine resolving to it.

    `client` and `server` are the (ip, port) of the connection's two ends, when it came in
    on one (ASGI's scope["client"] and scope["server"]).

    The tuple is (status, [(name, value), ...], body): names lower-case, repeats kept
    (one pair per Set-Cookie). Its header list may be the Response object's own list:
    read it, never modify it. Never raises an Exception (see the top of this file).
    """
    if method is None:  # a CALL frame: url = entrypoint, headers = method name, body = payload
        return _handle_call(req_id, url, headers, body)  # type: ignore[arg-type]
    return _serve(_call, req_id, method, url, headers, body, client, server)


def _serve(
    call: Callable[[int, Request], Any], req_id: int, method: str, url: str,
    headers: list[tuple[str, str]], body: bytes,
    client: tuple[str, int] | None = None, server: tuple[str, int] | None = None,
) -> WireResponse | Coroutine[Any, Any, WireResponse]:
    try:
        result = call(req_id, make_request(method, url, headers, body, client, server))
    except Exception as exc:
        wire = _failed(req_id, method, url, exc)
    else:
        if isinstance(result, Response):
            wire = result._wire()
        elif type(result) is CoroutineType or _is_awaitable(result):  # an async def's: no call
            return _finish(req_id, method, url, result)
        else:
            wire = _convert(req_id, method, url, result)
    if _pending:
        return _start_pending(wire)
    return wire


# ---------------------------------------------------------------- isolate: service bindings


def _handle_call(req_id: int, entrypoint: str, name: str, payload: bytes) -> Any:
    """A service binding's call of `entrypoint` (a WorkerEntrypoint class; "" = the default):
    `fetch` with a request, or an RPC method with JSON arguments answered as JSON. An entry
    point "$do:..." is an event of a Durable Object (pyworkerd.do_runtime)."""
    if entrypoint.startswith("$do:"):
        from pyworkerd import do_runtime

        return do_runtime.handle(req_id, entrypoint, name, payload)
    try:
        cls = _entrypoint_class(entrypoint)
        if name == "fetch":
            head, _, body = payload.partition(b"\n")
            info = json.loads(head)
            caller = _call if not entrypoint else _entrypoint_caller(entrypoint, cls)
            return _serve(caller, req_id, info["method"], info["url"],
                          [tuple(h) for h in info["headers"]], body)
        if name in ("__tests__", "__test__"):  # `pyworkerd test` (the host's own calls)
            return _handle_test_call(req_id, entrypoint, name)
        if name in ("__queue__", "__scheduled__"):  # queue batches, Cron Triggers
            return _handle_event(req_id, cls, name, payload)
        args = rpc_values.decode_rpc(payload) if payload else []
        method = _rpc_method(cls, name, entrypoint)
        result = method(cls(ExecutionContext(req_id), context.env))(*args)
    except Exception as exc:
        return _rpc_failed(req_id, entrypoint, name, exc)
    if _is_awaitable(result):
        return _finish_call(req_id, entrypoint, name, result)
    return _rpc_answer(req_id, entrypoint, name, result)


def _handle_test_call(req_id: int, entrypoint: str, name: str) -> Any:
    """`__tests__`: the entry points that have a test handler; `__test__`: run one."""
    from pyworkerd import test_handler  # only `pyworkerd test` needs it

    if name == "__tests__":
        return _rpc_answer(req_id, entrypoint, name, test_handler.entrypoints_with_tests(_module, _legacy))
    result = test_handler.run_test(_module, _legacy, entrypoint, ExecutionContext(req_id), context.env,
                                   _positional_count)
    if _is_awaitable(result):
        return _finish_call(req_id, entrypoint, "test", _awaited_to_none(result))
    return _rpc_answer(req_id, entrypoint, "test", None)


def _handle_event(req_id: int, cls: type, name: str, payload: bytes) -> Any:
    """A queue batch or a scheduled event for `cls`'s handler (pyworkerd.events)."""
    from pyworkerd import events  # only workers that get events need it

    run = events.run_queue if name == "__queue__" else events.run_scheduled
    return run(_module, _legacy, cls, req_id, payload, _positional_count)


def _add_test_endpoints() -> None:
    """`--test-scheduled`: the fetch entry point also answers wrangler's scheduled test paths."""
    from pyworkerd import events

    global _call
    default = _entrypoint_class("")
    _call = events.with_test_endpoints(
        _call, lambda req_id, payload: _handle_event(req_id, default, "__scheduled__", payload))


async def _awaited_to_none(awaitable: Awaitable[Any]) -> None:
    await awaitable  # a test's result is not sent back: only whether it raised


def _entrypoint_class(entrypoint: str) -> type:
    name = entrypoint or "Default"
    cls = getattr(_module, name, None) if _module is not None else None
    bases = bundle.with_vendored(workers.WorkerEntrypoint) + bundle.with_vendored(workers.WorkflowEntrypoint)
    if not (isinstance(cls, type) and issubclass(cls, bases)):
        if not entrypoint:
            return workers.WorkerEntrypoint  # legacy on_fetch worker: fetch only
        raise TypeError(f'The worker has no WorkerEntrypoint class named "{name}".')
    return cls


def _entrypoint_caller(entrypoint: str, cls: type) -> Callable[[int, Request], Any]:
    caller = _entrypoint_callers.get(entrypoint)
    if caller is None:
        caller = _entrypoint_callers[entrypoint] = _class_caller(cls, _legacy)[0]
    return caller


def _rpc_method(cls: type, name: str, entrypoint: str) -> Callable[[Any], Any]:
    public = not name.startswith("_") and name not in ("fetch", "constructor")
    attr = _static_attr(cls, name) if public else None
    if attr is None or not callable(attr) or hasattr(workers.WorkerEntrypoint, name):
        raise TypeError(f'The RPC receiver "{entrypoint or "Default"}" does not implement the '
                        f'method "{name}".')
    return lambda instance: getattr(instance, name)


async def _finish_call(req_id: int, entrypoint: str, name: str, awaitable: Awaitable[Any]) -> WireResponse:
    try:
        result = await awaitable
    except Exception as exc:
        return _rpc_failed(req_id, entrypoint, name, exc)
    return _rpc_answer(req_id, entrypoint, name, result)


def _rpc_answer(req_id: int, entrypoint: str, name: str, result: Any) -> WireResponse:
    try:
        body = rpc_values.encode_rpc(result)
    except (TypeError, ValueError, JsException) as exc:
        return _rpc_failed(req_id, entrypoint, name, exc)
    return (200, [("content-type", "application/json")], body)


def _rpc_failed(req_id: int, entrypoint: str, name: str, exc: Exception) -> WireResponse:
    _log_exception(f"request {req_id} RPC {entrypoint or 'Default'}.{name}(): uncaught exception", exc)
    if isinstance(exc, JsException):  # e.g. DataCloneError: the caller gets its name back
        info = {"name": exc.name, "message": exc.message}
    else:
        info = {"name": type(exc).__name__, "message": str(exc)}
    return (500, [("content-type", "application/json")], json.dumps(info).encode())


async def _finish(req_id: int, method: str, url: str, awaitable: Awaitable[Any]) -> WireResponse:
    if _pending:
        context.schedule_pending()
    try:
        result = await awaitable
    except Exception as exc:
        return _failed(req_id, method, url, exc)
    if isinstance(result, Response):
        wire = result._wire()
    else:
        wire = _convert(req_id, method, url, result)
    return wire if type(wire) is tuple else await wire


async def _start_pending(wire: Any) -> WireResponse:
    """Answer `wire` once the loop runs what a sync handler passed to waitUntil()."""
    context.schedule_pending()
    return wire if type(wire) is tuple else await wire


def _convert(req_id: int, method: str, url: str, result: Any) -> WireResponse:
    """A response given as an object holding one (`js_object`/`js_response`), or a 500."""
    for attr in ("js_object", "js_response"):
        inner = getattr(result, attr, None)
        if isinstance(inner, Response):
            return inner._wire()
    what = "None" if result is None else f"an object of type {type(result).__name__}"
    _log.log(f"request {req_id} {method} {url}: {_label} returned {what}, expected a Response")
    return _error_response()


def _failed(req_id: int, method: str, url: str, exc: BaseException) -> WireResponse:
    _log_exception(f"request {req_id} {method} {url}: uncaught exception", exc)
    if is_unavailable(exc):
        return (503, [("content-type", "text/plain; charset=utf-8"), ("retry-after", "1")],
                b"Service Unavailable: the state storage cannot be reached; try again.\n")
    return _error_response()


def _error_response() -> WireResponse:
    return (500, [("content-type", "text/plain; charset=utf-8")], ERROR_RESPONSE_BODY)
