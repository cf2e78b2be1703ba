# The worker's log: every line a worker prints (print(), console.log, tracebacks of
# failed requests) goes to fd 2, a pipe of this process's own that the host reads and
# tags with the process ("[<service> iso <pid>] <line>", host/child_log.h): the tag is
# the host's, so nothing here can forge it. Configured once in the worker template by
# runtime.load(); isolates inherit it.
# A line written while a request runs starts with that request's id as the host logs it
# ("req=" and 16 hex digits, base/log.h PW_LOG_REQUEST_ID), so that one grep finds the
# request's access line, its print() lines and its traceback. The id is a context variable
# (set by the isolate loop, loop.py): each asyncio task of a request keeps its own.
# Invariant: only whole lines are written, each os.write() carrying complete lines.
"""Line logging for one worker process (template or isolate)."""

from __future__ import annotations

import io
import os
import sys
from contextvars import ContextVar

request_id: ContextVar[int] = ContextVar("pyworkerd_request_id", default=0)
"""The host's id of the request the running code serves; 0 outside a request."""


def configure(service: str) -> None:
    """Route this process's stdout/stderr through line-buffered writers (the host tags
    each line with `service` and the process)."""
    sys.stdout = TaggedWriter()
    sys.stderr = TaggedWriter()


def log(text: str) -> None:
    """Write `text` (one or more lines) to the log in a single write."""
    _emit(text.rstrip("\n").split("\n"))


def _emit(lines: list[str]) -> None:
    rid = request_id.get()
    if rid:
        tag = f"req={rid:016x} "
        lines = [tag + line for line in lines]
    data = "".join([line + "\n" for line in lines]).encode("utf-8", "backslashreplace")
    try:
        while data:
            data = data[os.write(2, data):]
    except OSError:
        pass  # A full or closed log must never fail the request that logs.


class TaggedWriter(io.TextIOBase):
    """A text stream that turns what is written to it into whole log lines.

    A partial line is kept until its newline arrives (print() writes the text and
    the newline separately); close() writes what is left.
    """

    encoding = "utf-8"
    errors = "backslashreplace"
    line_buffering = True

    def __init__(self) -> None:
        self._partial = ""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        if "\n" not in s:
            self._partial += s
            return len(s)
        lines = (self._partial + s).split("\n")
        self._partial = lines.pop()
        _emit(lines)
        return len(s)

    def close(self) -> None:
        if self._partial:
            _emit([self._partial])
            self._partial = ""
        super().close()
