# pyodide.ffi for Workers written for Pyodide: pyworkerd runs native CPython, so Python
# objects are passed to the runtime as they are and the conversions are identities; the
# JavaScript-side objects pyworkerd has (typed arrays, the raw env, Dates) are JsProxy
# instances (pyworkerd.jsobject). JsException is pyworkerd.errors' (what binding calls and
# top-level I/O raise). run_sync runs a coroutine to completion from sync code on the
# isolate's loop (pyworkerd.context.run_sync), as JSPI lets Pyodide do.
# Imported on demand by user code, in the template or an isolate.
"""Pyodide's foreign function interface, reduced to what Python Workers call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pyworkerd import context
from pyworkerd.buffers import JsBuffer
from pyworkerd.errors import JsException
from pyworkerd.jsobject import JsProxy, jsnull

__all__ = ["JsBuffer", "JsException", "JsProxy", "create_once_callable", "create_proxy",
           "destroy_proxies", "jsnull", "run_sync", "to_js"]

T = TypeVar("T")


def to_js(obj: Any, *, dict_converter: Callable[[Any], Any] | None = None, **options: Any) -> Any:
    """Return `obj` itself; a dict goes through `dict_converter(obj.items())` when given."""
    if dict_converter is not None and isinstance(obj, dict):
        return dict_converter(obj.items())
    return obj


def create_proxy(obj: T, **options: Any) -> T:
    """Return `obj` (a proxy is not needed to hand it to the runtime)."""
    return obj


def create_once_callable(obj: T, **options: Any) -> T:
    """Return `obj` (a proxy is not needed to hand it to the runtime)."""
    return obj


def destroy_proxies(proxies: Any) -> None:
    """Nothing to destroy: pyworkerd makes no proxies."""


def run_sync(awaitable: Awaitable[T]) -> T:
    """Run `awaitable` to completion and return its result, from synchronous code (a sync
    handler, or code called from an async one): the isolate's loop keeps running meanwhile,
    so binding calls and timers inside it complete."""
    return context.run_sync(awaitable)
