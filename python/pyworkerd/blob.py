# Blob and File for Python Workers: `workers.Blob(parts, content_type=)` and `workers.File(parts,
# filename, ...)` as Cloudflare's SDK defines them, which are also what `js.Blob.new(...)` /
# `js.File.new(...)` build (one class, both surfaces, as for Response: `content_type` and
# JavaScript's `type`, `size`, `await text()`, `await bytes()`, `await arrayBuffer()`,
# `slice()`; `js_object` is the object itself). A Blob's bytes are immutable. Bottom layer
# of the SDK; loaded in the template, used in isolates by FormData, bodies and RPC.
"""Blob and File (workers.Blob, workers.File, js.Blob, js.File)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from pyworkerd.buffers import ArrayBuffer, as_bytes, relative_span
from pyworkerd.jsobject import JsConstructor, options_dict

__all__ = ["Blob", "BlobEnding", "File"]


class BlobEnding(StrEnum):
    """How line endings in str parts are written: kept ("transparent") or made native."""

    TRANSPARENT = "transparent"
    NATIVE = "native"


def _single(parts: Any) -> bool:
    """Whether `parts` is one part rather than a list of them (str and bytes are one part)."""
    if isinstance(parts, (str, bytes, bytearray, memoryview, Blob)) or as_bytes(parts) is not None:
        return True
    return not isinstance(parts, Iterable)


def _part_bytes(part: Any, endings: str | None) -> bytes:
    if isinstance(part, str):
        if endings == "native":
            part = part.replace("\r\n", "\n").replace("\r", "\n")
        return part.encode("utf-8", "surrogatepass")
    if isinstance(part, Blob):
        return part._data
    data = as_bytes(part)
    if data is None:
        raise TypeError(f"Don't know how to handle {type(part)} for Blob()")
    return data


def _check_endings(endings: Any) -> str | None:
    if endings is None or endings == "":
        return None
    value = str(endings)
    if value not in ("transparent", "native"):
        raise TypeError(f"Blob endings must be 'transparent' or 'native', not {value!r}")
    return value


def _from_parts(parts: Any, content_type: str | None, endings: Any) -> tuple[bytes, str]:
    """The bytes and content type of a Blob made of `parts` (one part, or a list of them):
    a single Blob part passes its content type on unless one is given."""
    end = _check_endings(endings)
    if _single(parts):
        if not content_type and isinstance(parts, Blob):
            content_type = parts._type
        parts = [parts]
    data = b"".join([_part_bytes(p, end) for p in parts])
    kind = content_type or ""
    return data, kind.lower() if kind.isascii() else ""


class Blob:
    """Immutable bytes with a content type: `Blob(parts, content_type=None, endings=None)`.

    `parts` is one part or a list of parts: str (UTF-8), bytes, memoryview, an ArrayBuffer
    or typed array, or another Blob. One Blob given alone passes on its content type.
    """

    __slots__ = ("_data", "_type")
    js_name = "Blob"

    def __init__(self, blob_parts: Any = (), content_type: str | None = None,
                 endings: BlobEnding | str | None = None, *, type: str | None = None) -> None:
        self._data, self._type = _from_parts(blob_parts, content_type or type, endings)

    @classmethod
    def new(cls, parts: Any = (), options: Any = None, /, **kwargs: Any) -> Blob:
        """`new Blob(parts, {type, endings})` (JavaScript's constructor)."""
        opts = {**options_dict(options), **kwargs}
        blob = cls.__new__(cls)
        blob._data, blob._type = _from_parts(parts, opts.get("type"), opts.get("endings"))
        return blob

    @classmethod
    def _of(cls, data: bytes, content_type: str = "") -> Blob:
        blob = cls.__new__(cls)
        blob._data, blob._type = data, content_type
        return blob

    @property
    def constructor(self) -> JsConstructor:
        """The JavaScript constructor (`.name` is "Blob" or "File"), as on a JavaScript Blob."""
        return JsConstructor(type(self).js_name)

    @property
    def size(self) -> int:
        """The number of bytes."""
        return len(self._data)

    @property
    def content_type(self) -> str:
        """The MIME type ("" when none was given)."""
        return self._type

    @property
    def type(self) -> str:
        """The MIME type, as JavaScript names it."""
        return self._type

    @property
    def js_object(self) -> Blob:
        """The JavaScript Blob: this object (pyworkerd has one Blob for both)."""
        return self

    async def text(self) -> str:
        """The bytes decoded as UTF-8."""
        return self._data.decode("utf-8", "replace")

    async def bytes(self) -> bytes:
        """The bytes."""
        return self._data

    async def arrayBuffer(self) -> ArrayBuffer:
        """The bytes as a JavaScript ArrayBuffer."""
        return ArrayBuffer(self._data)

    def stream(self) -> Any:
        """A ReadableStream of the bytes."""
        from pyworkerd.streams import ReadableStream

        return ReadableStream(self._data)

    def slice(self, start: int | None = None, end: int | None = None,
              content_type: str | None = None) -> Blob:
        """A Blob of bytes [start, end) (negative: from the end), of type `content_type` ("")."""
        a, b = relative_span(len(self._data), start, end)
        return Blob._of(self._data[a:b], (content_type or "").lower())

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={len(self._data)}, content_type={self._type!r})"


class File(Blob):
    """A Blob with a file name and a modification time (milliseconds since the epoch):
    `File(parts, filename, content_type=None, endings=None, last_modified=None)`."""

    __slots__ = ("_name", "_last_modified")
    js_name = "File"

    def __init__(self, blob_parts: Any, filename: str, content_type: str | None = None,
                 endings: BlobEnding | str | None = None, last_modified: int | None = None) -> None:
        super().__init__(blob_parts, content_type, endings)
        if last_modified is None and isinstance(blob_parts, File):
            last_modified = blob_parts._last_modified
        self._name = str(filename)
        self._last_modified = int(last_modified) if last_modified is not None else _now_ms()

    @classmethod
    def new(cls, parts: Any = (), filename: str = "", options: Any = None, /, **kwargs: Any) -> File:
        """`new File(parts, name, {type, endings, lastModified})`."""
        opts = {**options_dict(options), **kwargs}
        return cls(parts, filename, opts.get("type"),
                   opts.get("endings"), opts.get("lastModified"))

    @classmethod
    def _named(cls, data: bytes, filename: str, content_type: str = "",
               last_modified: int | None = None) -> File:
        f = cls.__new__(cls)
        f._data, f._type, f._name = data, content_type, filename
        f._last_modified = _now_ms() if last_modified is None else last_modified
        return f

    @property
    def name(self) -> str:
        """The file name."""
        return self._name

    @property
    def last_modified(self) -> int:
        """The modification time, in milliseconds since the epoch."""
        return self._last_modified

    lastModified = last_modified

    def __repr__(self) -> str:
        return f"File(name={self._name!r}, size={len(self._data)}, content_type={self._type!r})"


def _now_ms() -> int:
    return int(time.time() * 1000)

