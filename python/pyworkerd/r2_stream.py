# R2 bodies in chunks (isolates): an object's body (R2ObjectBody.body) is read from the host a
# chunk per binding call ("r2.read"), and a put's or part's value is sent a chunk per call
# ("r2.put"/"r2.mpu.part" with the first, "r2.write" with the rest), so an object of any size
# (up to R2's 5 GiB) never lies whole in the isolate or the host. Each exchange is a
# generator of binding calls, driven blocking in sync code and awaited in async code
# (drive()). A stream left unread or a failed upload is closed with a call nobody waits for.
# Layer 2.
"""Streaming R2 object bodies to and from the host."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyworkerd import rpc

CHUNK = 1024 * 1024 - 64 * 1024
"""Bytes of a body per binding call (src/host/r2_stream.h's PW_R2_CHUNK)."""

_READ = object()
"""What an upload yields to ask its driver for the value's next piece (None at its end)."""


def _fields(fields: list[bytes]) -> list[bytes]:
    return fields


def drive(steps: Generator[Any, Any, Any], source: Any = None) -> Any:
    """Run `steps` (yielding binding calls as tuples, or _READ): the result now in sync code,
    a coroutine in async code."""
    if rpc.in_task():
        return _drive_async(steps, source)
    return _drive_sync(steps, source)


_DONE = object()
"""What _resume() gives as the step once the steps have returned."""


def _resume(steps: Generator[Any, Any, Any], reply: Any, error: BaseException | None) -> tuple[Any, Any]:
    """(the next step, None) after handing the steps the last reply (or throwing them its
    error), or (_DONE, their result) once they have returned."""
    try:
        return (steps.throw(error) if error is not None else steps.send(reply)), None
    except StopIteration as stop:
        return _DONE, stop.value


def _drive_sync(steps: Generator[Any, Any, Any], source: Any) -> Any:
    pieces = iter(_sync_pieces(source))
    reply, error = None, None
    while True:
        step, result = _resume(steps, reply, error)
        if step is _DONE:
            return result
        try:
            reply, error = (next(pieces, None) if step is _READ else rpc.call(_fields, *step)), None
        except BaseException as exc:  # handed to the steps, which close their stream
            reply, error = None, exc


async def _drive_async(steps: Generator[Any, Any, Any], source: Any) -> Any:
    pieces = _async_pieces(source)
    reply, error = None, None
    while True:
        step, result = _resume(steps, reply, error)
        if step is _DONE:
            return result
        try:
            reply, error = (await (pieces.__anext__() if step is _READ else rpc.call(_fields, *step))), None
        except StopAsyncIteration:
            reply, error = None, None
        except BaseException as exc:
            reply, error = None, exc


# ---------------------------------------------------------------- values to send


def value_source(value: Any) -> Any:
    """A put's value as bytes (a memoryview) or an iterable of pieces; TypeError otherwise."""
    if value is None:
        return memoryview(b"")
    if isinstance(value, str):
        return memoryview(value.encode())
    if isinstance(value, (bytes, bytearray, memoryview)):
        return memoryview(value).cast("B")
    body = getattr(value, "_body", None)        # a workers Request or Response
    if hasattr(value, "_take") and isinstance(body, (bytes, bytearray, memoryview)):
        return memoryview(value._take())
    if body is not None and hasattr(body, "__aiter__"):
        value._body_used = True
        return body
    if hasattr(value, "__aiter__") or hasattr(value, "__iter__"):
        return value
    raise TypeError("Failed to execute 'put' on 'R2Bucket': parameter 2 is not of type "
                    "'ReadableStream or ArrayBuffer or ArrayBufferView or string or Blob'.")


def _slices(view: memoryview) -> Any:
    for start in range(0, len(view), CHUNK):
        yield view[start:start + CHUNK]


def _sync_pieces(source: Any) -> Any:
    if source is None:
        return ()
    if isinstance(source, memoryview):
        return _slices(source)
    if hasattr(source, "__iter__"):
        return source
    raise TypeError("an async iterable can only be sent from async code")


async def _async_pieces(source: Any) -> Any:
    if source is None:
        return
    if isinstance(source, memoryview):
        for piece in _slices(source):
            yield piece
    elif hasattr(source, "__aiter__"):
        async for piece in source:
            yield piece
    else:
        for piece in source:
            yield piece


def upload(bucket: str, first_op: str, first_args: tuple, close_on_error: bool = True) -> Any:
    """Steps sending a value: the first call `first_op(bucket, *first_args, chunk, more)`,
    then "r2.write" calls; returns the last call's result fields."""
    sid = None
    try:
        buf = bytearray()
        ended = False
        while True:
            while not ended and len(buf) < CHUNK:
                piece = yield _READ
                if piece is None:
                    ended = True
                elif isinstance(piece, str):
                    buf += piece.encode()
                elif isinstance(piece, (bytes, bytearray, memoryview)):
                    buf += piece
                else:
                    raise TypeError(f"an R2 value's stream yielded {type(piece).__name__}, expected bytes")
            chunk = bytes(buf[:CHUNK])
            del buf[:CHUNK]
            more = "1" if not ended or buf else ""
            if sid is None:
                fields = yield (first_op, bucket, *first_args, chunk, more)
                if not more:
                    return fields
                sid = fields[0].decode()
            else:
                fields = yield ("r2.write", bucket, sid, chunk, more)
                if not more:
                    sid = None
                    return fields
    except BaseException:
        if sid is not None:
            rpc.send("r2.close", bucket, sid)
        raise


# ---------------------------------------------------------------- bodies read


class R2Stream:
    """An R2 object's body, read from the host as it is consumed: `async for chunk in body`
    (or `for` in sync code); `await body.cancel()` drops the rest. One reader only."""

    __slots__ = ("_bucket", "_first", "_sid", "_used", "__weakref__")

    def __init__(self, bucket: str, first: bytes, sid: str) -> None:
        self._bucket = bucket
        self._first: bytes | None = first
        self._sid = sid or None
        self._used = False

    @property
    def locked(self) -> bool:
        """Whether reading has begun (a body is read once)."""
        return self._used

    def _begin(self) -> None:
        if self._used:
            raise TypeError("Body has already been used. It can only be used once. Use tee() first "
                            "if you need to read it twice.")
        self._used = True

    def _read_steps(self, sink: list) -> Generator[Any, Any, None]:
        """Steps reading the rest of the body into `sink`, a chunk per "r2.read" call."""
        first, self._first = self._first, None
        if first:
            sink.append(first)
        while self._sid is not None:
            fields = yield ("r2.read", self._bucket, self._sid)
            if fields[1] != b"1":
                self._sid = None
            sink.append(fields[0])

    def read_all(self) -> Any:
        """The whole rest of the body: bytes now in sync code, a coroutine in async code."""
        self._begin()
        sink: list[bytes] = []

        def steps() -> Generator[Any, Any, bytes]:
            yield from self._read_steps(sink)
            return b"".join(sink)

        return drive(steps())

    def __iter__(self) -> Any:
        if rpc.in_task():
            raise TypeError("in async code, read an R2 body with `async for`")
        self._begin()
        if self._first:
            yield self._first
        self._first = None
        while self._sid is not None:
            fields = rpc.call(_fields, "r2.read", self._bucket, self._sid)
            if fields[1] != b"1":
                self._sid = None
            yield fields[0]

    def __aiter__(self) -> Any:
        self._begin()
        return self._chunks()

    async def _chunks(self) -> Any:
        try:
            first, self._first = self._first, None
            if first:
                yield first
            while self._sid is not None:
                fields = await rpc.call(_fields, "r2.read", self._bucket, self._sid)
                if fields[1] != b"1":
                    self._sid = None
                yield fields[0]
        finally:
            self.close()

    async def aclose(self) -> None:
        self.close()

    async def cancel(self, reason: Any = None) -> None:
        """Stop reading: the rest of the body is dropped."""
        self.close()

    def close(self) -> None:
        sid, self._sid = self._sid, None
        self._first = None
        if sid is not None:
            rpc.send("r2.close", self._bucket, sid)

    def __del__(self) -> None:
        if self._sid is not None:
            try:
                self.close()
            except Exception:
                pass

    def __repr__(self) -> str:
        return f"R2Stream(bucket={self._bucket!r}, open={self._sid is not None})"
