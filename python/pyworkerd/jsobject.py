# What a JavaScript value is, seen from Python, in pyworkerd: there is no JavaScript heap, so
# the objects Pyodide would hand over as proxies (the raw `env`, ArrayBuffers and typed
# arrays, a stream reader's result, a Date) are Python objects of the classes below. They
# answer what Workers code asks of a proxy: `isinstance(x, JsProxy)`, `x.constructor.name`,
# `x.to_py()`, attribute access for a plain object. Bottom layer of the SDK (imports nothing
# of it); `pyodide.ffi` re-exports JsProxy under its public name. Loaded in the template,
# used in isolates.
"""JsProxy and JsObject: JavaScript values as Python sees them (pyodide.ffi.JsProxy)."""

from __future__ import annotations

from typing import Any

__all__ = ["JsConstructor", "JsObject", "JsProxy", "jsnull", "options_dict"]

jsnull = None
"""JavaScript's null: pyworkerd gives None wherever Pyodide gives jsnull."""


class JsConstructor:
    """`value.constructor`: what workers-py checks to tell JavaScript types apart (`.name`)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<JavaScript constructor {self.name}>"


class JsProxy:
    """A JavaScript value seen from Python (Pyodide's `JsProxy`).

    pyworkerd's JavaScript-side objects (`js.Uint8Array.new(...)`, `self.env._env`, a
    stream reader's result) are instances of it; Python values (str, dict, workers.Response)
    are not.
    """

    __slots__ = ()
    js_name = "Object"
    """The name of the JavaScript constructor (`value.constructor.name`)."""

    __module__ = "pyodide.ffi"

    @property
    def constructor(self) -> JsConstructor:
        """The JavaScript constructor, whose `name` says the type ("Uint8Array", "Object")."""
        return JsConstructor(type(self).js_name)

    @property
    def typeof(self) -> str:
        """JavaScript's `typeof` of the value."""
        return "object"

    def to_py(self, **options: Any) -> Any:
        """The value converted to Python (the object itself when it has no Python form)."""
        return self


class JsObject(JsProxy):
    """A plain JavaScript object: keys read as attributes or items (`r.done`, `r["done"]`)."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, Any] | None = None, /, **kwargs: Any) -> None:
        object.__setattr__(self, "_fields", {**(fields or {}), **kwargs})

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._fields[name] = value

    def __getitem__(self, name: str) -> Any:
        return self._fields[name]

    def __contains__(self, name: object) -> bool:
        return name in self._fields

    def __iter__(self) -> Any:
        raise TypeError("'JsObject' object is not iterable: use Object.entries() or to_py()")

    def object_entries(self) -> list[tuple[str, Any]]:
        """The object's own [key, value] pairs (JavaScript's Object.entries)."""
        return list(self._fields.items())

    def to_py(self, **options: Any) -> dict[str, Any]:
        """A dict of the object's keys and values."""
        return dict(self._fields)

    def __repr__(self) -> str:
        return f"[object Object {self._fields!r}]"


def options_dict(options: Any) -> dict[str, Any]:
    """A JavaScript options argument as a dict: None, a dict, or an object with to_py()."""
    if options is None:
        return {}
    if isinstance(options, dict):
        return options
    to_py = getattr(options, "to_py", None)
    if to_py is None:
        raise TypeError("The options argument must be an object")
    return to_py()
