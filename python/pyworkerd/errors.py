# The error a binding call raises when the host answers with a JavaScript-style error (a name
# and a message): rpc.py raises it, bindings.py builds it from a service's RPC failure, and
# workers see it as `pyodide.ffi.JsException` (the public name, re-exported there). Bottom
# layer of the SDK (imports nothing of it); loaded in the zygote, used in isolates.
"""JsException: a JavaScript error (name, message) seen from Python."""

from __future__ import annotations

__all__ = ["JsException"]


class JsException(Exception):
    """A JavaScript error seen from Python, with its `name` and `message`."""

    __module__ = "pyodide.ffi"  # its public home: tracebacks name it pyodide.ffi.JsException

    def __init__(self, name: str = "Error", message: str = "") -> None:
        super().__init__(f"{name}: {message}" if message else name)
        self.name = name
        self.message = message
