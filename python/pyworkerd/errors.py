# The error a binding call raises when the host answers with a JavaScript-style error (a name
# and a message): rpc.py raises it, bindings.py builds it from a service's RPC failure, and
# workers see it as `pyodide.ffi.JsException` (the public name, re-exported there). Bottom
# layer of the SDK (imports nothing of it); loaded in the zygote, used in isolates.
"""JsException: a JavaScript error (name, message) seen from Python."""

from __future__ import annotations

__all__ = ["GLOBAL_SCOPE_MESSAGE", "JsException", "StorageUnavailable", "global_scope_error",
           "is_unavailable"]

GLOBAL_SCOPE_MESSAGE = (
    "Disallowed operation called within global scope. Asynchronous I/O (ex: fetch() or "
    "connect()), setting a timeout, and generating random values are not allowed within global "
    "scope. To fix this error, perform this operation within a handler. "
    "https://developers.cloudflare.com/workers/runtime-apis/handlers/"
)
"""workerd's words for I/O (a fetch, a binding call, a timer) tried by a Worker's top-level code."""


class JsException(Exception):
    """A JavaScript error seen from Python, with its `name` and `message`."""

    __module__ = "pyodide.ffi"  # its public home: tracebacks name it pyodide.ffi.JsException

    def __init__(self, name: str = "Error", message: str = "") -> None:
        super().__init__(f"{name}: {message}" if message else name)
        self.name = name
        self.message = message


def global_scope_error() -> JsException:
    """The JavaScript Error workerd throws for I/O at top level (str: "Error: Disallowed ...")."""
    return JsException("Error", GLOBAL_SCOPE_MESSAGE)


class StorageUnavailable(JsException):
    """A binding call that needs state the host cannot reach now (its PostgreSQL is down).
    Workers see an Error like any other; a request that fails with it is answered 503, not
    500: the host is up, its state is not, and a retry later can succeed."""

    __module__ = "pyodide.ffi"

    def __init__(self, message: str = "") -> None:
        super().__init__("Error", message)


def is_unavailable(exc: BaseException | None) -> bool:
    """`exc`, or an exception it was raised from or while handling, is StorageUnavailable."""
    seen = 0
    while exc is not None and seen < 32:
        if isinstance(exc, StorageUnavailable):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
