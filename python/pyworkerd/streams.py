# ReadableStream as Python Workers see it: `response.body` and `request.body` (None without a
# body), with JavaScript's reader (`reader = body.getReader()`, `await reader.read()` ->
# {done, value: Uint8Array}) and Python's `async for chunk in body`. A stream is over whole
# bytes (what pyworkerd holds for a received body) or over an async iterable of bytes (a body
# still being produced); a Response or Request given a stream as its body reads or passes it
# on. Bottom layer of the SDK; loaded in the template, used in isolates.
# Invariant: a stream is read once (`locked` after getReader(), `disturbed` once read).
"""ReadableStream: a body read chunk by chunk (response.body)."""

from __future__ import annotations

from typing import Any

from pyworkerd.buffers import ArrayBuffer, Uint8Array, as_bytes
from pyworkerd.jsobject import JsObject, JsProxy

__all__ = ["ReadableStream", "ReadableStreamDefaultReader"]


class ReadableStream(JsProxy):
    """A body as a stream of byte chunks, read once."""

    __slots__ = ("_source", "_locked", "disturbed")
    js_name = "ReadableStream"

    def __init__(self, source: Any) -> None:
        self._source = source     # bytes, or an async iterable of bytes-like chunks
        self._locked = False
        self.disturbed = False

    @property
    def locked(self) -> bool:
        """Whether a reader holds the stream."""
        return self._locked

    def getReader(self) -> ReadableStreamDefaultReader:
        """A reader: `await reader.read()` gives {done, value} until done is true."""
        if self._locked:
            raise TypeError("This ReadableStream is currently locked to a reader.")
        self._locked = True
        return ReadableStreamDefaultReader(self)

    def _take(self) -> Any:
        if self.disturbed:
            raise TypeError("This ReadableStream is disturbed (has already been read from), and "
                            "cannot be used as a body.")
        self.disturbed = True
        return self._source

    def is_whole(self) -> bool:
        """Whether the stream holds its whole body already (bytes)."""
        return isinstance(self._source, bytes)

    def __aiter__(self) -> Any:
        return _chunks(self._take())

    async def read_all(self) -> bytes:
        """Every remaining byte."""
        source = self._take()
        if isinstance(source, bytes):
            return source
        return b"".join([as_bytes(chunk) or b"" async for chunk in source])

    def __repr__(self) -> str:
        return "ReadableStream()"


async def _chunks(source: Any) -> Any:
    if isinstance(source, bytes):
        if source:
            yield source
        return
    async for chunk in source:
        data = as_bytes(chunk)
        if data is None:
            raise TypeError(f"a stream chunk must be bytes, not {type(chunk).__name__}")
        if data:
            yield data


class ReadableStreamDefaultReader(JsProxy):
    """`stream.getReader()`: `await read()` -> {done: bool, value: Uint8Array | None}."""

    __slots__ = ("_stream", "_chunks")
    js_name = "ReadableStreamDefaultReader"

    def __init__(self, stream: ReadableStream) -> None:
        self._stream = stream
        self._chunks: Any = None

    async def read(self) -> JsObject:
        """The next chunk, or {done: true} at the end."""
        if self._chunks is None:
            self._chunks = _chunks(self._stream._take())
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            return JsObject(done=True, value=None)
        return JsObject(done=False, value=Uint8Array(ArrayBuffer(chunk)))

    def releaseLock(self) -> None:
        self._stream._locked = False

    async def cancel(self, reason: Any = None) -> None:
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()
