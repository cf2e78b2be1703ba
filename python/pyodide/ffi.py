# pyodide.ffi for Workers written for Pyodide: pyworkerd runs native CPython, so Python
# objects are passed to the runtime as they are and the conversions are identities.
# JsException is pyworkerd.errors' (what binding calls raise), under its public name here.
# Imported on demand by user code, in the template or an isolate.
"""Pyodide's foreign function interface, reduced to what Python Workers call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pyworkerd.errors import JsException

__all__ = ["JsException", "JsProxy", "create_once_callable", "create_proxy", "to_js"]

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
