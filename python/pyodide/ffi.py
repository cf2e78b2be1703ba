# pyodide.ffi for Workers written for Pyodide: pyworkerd runs native CPython, so Python
# objects are passed to the runtime as they are and the conversions are identities.
# JsException is pyworkerd.errors' (what binding calls raise), under its public name here.
# Imported on demand by user code, in the template or an isolate.
"""Pyodide's foreign function interface, reduced to what Python Workers call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pyworkerd.errors import JsException

__all__ = ["JsException", "JsProxy", "create_once_callable", "create_proxy", "run_sync", "to_js"]

T = TypeVar("T")


class JsProxy:
    """Type of JavaScript objects seen from Python. pyworkerd creates none."""


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


def run_sync(awaitable: Any) -> Any:
    """Run `awaitable` to its end from synchronous code and return its result (Pyodide does
    it with JSPI). It runs on an event loop of its own, so it may sleep and compute but not
    make binding calls (those need the isolate's loop)."""
    import asyncio

    outer = asyncio.events._get_running_loop()
    loop = asyncio.new_event_loop()
    asyncio.events._set_running_loop(None)
    try:
        return loop.run_until_complete(awaitable)
    finally:
        loop.close()
        asyncio.events._set_running_loop(outer)
