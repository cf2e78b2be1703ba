# pyodide.ffi for Workers written for Pyodide: pyworkerd runs native CPython, so Python
# objects are passed to the runtime as they are and the conversions are identities.
# Imported on demand by user code, in the template or an isolate.
"""Pyodide's foreign function interface, reduced to what Python Workers call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["JsException", "JsProxy", "create_once_callable", "create_proxy", "to_js"]

T = TypeVar("T")


class JsProxy:
    """Type of JavaScript objects seen from Python. pyworkerd creates none."""


class JsException(Exception):
    """A JavaScript error seen from Python, with its `name` and `message`."""

    def __init__(self, name: str = "Error", message: str = "") -> None:
        super().__init__(f"{name}: {message}" if message else name)
        self.name = name
        self.message = message


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
