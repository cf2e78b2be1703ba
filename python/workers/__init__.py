# The `workers` module of Cloudflare's Python Workers SDK, as pyworkerd offers it:
# WorkerEntrypoint, Request, Response, the Headers type and the lazy `workers.env`.
# Imported in the worker template (by the runtime, then by the user's modules) and used
# by every isolate forked from it. The objects themselves live in pyworkerd.webapi and
# pyworkerd.response (the one Response class, which `js.Response` constructs too); env and
# waitUntil are the process's context (pyworkerd.context); fetch() and the RPC helpers come
# from pyworkerd.bindings (calls to the host). A public face of the SDK: it imports only
# the layers below it (tests/python/test_layers.py), never the driver (pyworkerd.runtime).
# Submodules: workers.asgi and workers.wsgi (the ASGI/WSGI adapters). Blob, File and FormData
# are pyworkerd.blob's and pyworkerd.formdata's (also js.Blob, js.FormData).
"""Python Workers SDK: entry point base classes and HTTP objects (the `workers` module)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http import HTTPMethod
from typing import Any, Protocol, TypedDict

from pyworkerd import context, js_modules
from pyworkerd.bindings import fetch, python_from_rpc, python_to_rpc
from pyworkerd.blob import Blob, BlobEnding, File
from pyworkerd.formdata import FormData
from pyworkerd.response import FetchResponse, HeadersInit, Response
from pyworkerd.webapi import Request

__all__ = ["Blob", "BlobEnding", "BlobValue", "Body", "Context", "DurableObject", "FetchKwargs",
           "FetchResponse", "File", "FormData", "FormDataValue", "Headers", "JSBody", "Request",
           "RequestInitCfProperties", "Response", "WorkerEntrypoint", "WorkflowEntrypoint", "env",
           "fetch", "handler", "import_from_javascript", "patch_env", "python_from_rpc",
           "python_to_rpc", "waitUntil", "wait_until"]

Headers = HeadersInit
"""What a `headers=` argument accepts: a dict, a list of (name, value) pairs or Headers."""
JSBody = "js.Blob | JsBuffer | js.FormData | js.ReadableStream"
Body = "str | FormData | JSBody"
BlobValue = "str | bytes | js.ArrayBuffer | js.TypedArray | js.DataView | js.Blob | Blob | File"
FormDataValue = "str | js.Blob | Blob"


class RequestInitCfProperties(TypedDict, total=False):
    """The `cf=` option of fetch() (accepted; pyworkerd has no Cloudflare cache to apply it)."""

    cacheEverything: bool | None
    cacheKey: str | None
    cacheTags: list[str] | None
    cacheTtl: int
    cacheTtlByStatus: dict[str, int]
    resolveOverride: str | None


class FetchKwargs(TypedDict, total=False):
    """The keyword options of fetch() and Request()."""

    headers: Any
    body: Any
    method: HTTPMethod | str | None
    redirect: str | None
    cf: RequestInitCfProperties | None


def import_from_javascript(module_name: str) -> Any:
    """A JavaScript module: "cloudflare:workers" (env, waitUntil) and "cloudflare:sockets"
    anywhere, "cloudflare:vectorize"; ImportError for any other name."""
    return js_modules.import_module(module_name)


@contextmanager
def patch_env(d: dict[str, Any] | Sequence[tuple[str, Any]] | None = None, **kwds: Any) -> Iterator[None]:
    """Override bindings of `env` (workers.env and every handler's) inside a `with` block
    (for tests): `with patch_env(FOO="bar"): ...`; the previous values come back after."""
    values = {**dict(d or {}), **kwds}
    env = context.env
    if env is None:
        raise RuntimeError("patch_env() needs a loaded Worker")
    missing = object()
    saved = {k: env.__dict__.get(k, missing) for k in values}
    env.__dict__.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is missing:
                env.__dict__.pop(k, None)
            else:
                env.__dict__[k] = v


def handler(func: Callable[..., Any]) -> Callable[..., Any]:
    """The legacy handler decorator (`@handler def on_fetch(request, env)`): its request is
    a workers.Request and its env the Worker's bindings, which pyworkerd already gives every
    handler, so the function is called as it is."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


class Context(Protocol):
    """The execution context of a request (`self.ctx`), with JavaScript method names."""

    def waitUntil(self, awaitable: Any) -> None:
        """Keep running `awaitable` after the response has been sent."""

    def passThroughOnException(self) -> None:
        """Accepted for compatibility; pyworkerd has no origin to fall back to."""


class WorkerEntrypoint:
    """Base class of a Worker's entry point: `class Default(WorkerEntrypoint)`.

    An instance is created for each request with the request's `ctx` and the Worker's
    `env`; its `fetch(self, request)` method (sync or async) returns a Response.
    """

    def __init__(self, ctx: Context, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class DurableObject:
    """Base class of a Durable Object: `class Counter(DurableObject)`, named by a
    durableObjectNamespaces entry. One instance per id lives in one isolate, built with the
    object's `ctx` (id, storage, blockConcurrencyWhile, waitUntil, abort) and the Worker's
    `env`; its fetch(request), public methods (RPC) and alarm(alarm_info) run there.
    """

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class WorkflowEntrypoint:
    """Base class of a Workflow: `class MyWorkflow(WorkflowEntrypoint)` with
    `async def run(self, event, step)`, bound with a workflows `wrapped` binding; what run()
    returns is the instance's output (see workers.workflows)."""

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        run = cls.__dict__.get("run")
        if callable(run):  # the host calls run(event) alone; the SDK adds `step`
            from pyworkerd.workflow_run import wrap_run  # asyncio, inspect: workflows only

            cls.run = wrap_run(run)  # type: ignore[method-assign]


def wait_until(awaitable: Any) -> None:
    """Keep running `awaitable` (a coroutine or task) after the response has been sent."""
    context.wait_until(awaitable)


waitUntil = wait_until


def __getattr__(name: str) -> Any:
    if name == "env":
        if context.env is None:
            raise AttributeError("workers.env is only available once a Worker is loaded")
        return context.env
    if name in ("asgi", "wsgi"):
        import importlib

        return importlib.import_module(f"workers.{name}")
    raise AttributeError(f"module 'workers' has no attribute {name!r}")
