# JavaScript's binary types for Python Workers: ArrayBuffer, the typed arrays (Uint8Array,
# Int16Array, Float64Array, ...), DataView, and TextEncoder/TextDecoder, as `js.*` offers
# them (`js.Uint8Array.new([1, 2, 3]).buffer`, `.subarray(1)`, `.byteLength`). A typed
# array is a view of an ArrayBuffer's bytes (a bytearray): views share them, as in
# JavaScript. Response and Request bodies, Blob parts and RPC values accept them
# (`as_bytes`). Bottom layer of the SDK; loaded in the template, used in isolates.
# Invariant: an element is written the way JavaScript converts a number for that array
# (wrapped modulo 2**bits, clamped for Uint8ClampedArray), never raising for range.
"""ArrayBuffer, typed arrays, DataView, TextEncoder and TextDecoder (JavaScript's binary types)."""

from __future__ import annotations

import codecs
import math
from collections.abc import Iterable
from typing import Any

from pyworkerd.jsobject import JsProxy, options_dict

__all__ = ["ArrayBuffer", "DataView", "JsBuffer", "TextDecoder", "TextEncoder", "TYPED_ARRAYS",
           "as_bytes"]


class JsBuffer(JsProxy):
    """A JavaScript buffer (ArrayBuffer, typed array, DataView): Pyodide's `JsBuffer`."""

    __slots__ = ()

    def _view(self) -> memoryview:
        raise NotImplementedError

    @property
    def byteLength(self) -> int:
        """The number of bytes."""
        return self._view().nbytes

    def to_bytes(self) -> bytes:
        """A copy of the bytes."""
        return self._view().tobytes()

    def to_memoryview(self) -> memoryview:
        """A memoryview of a copy of the bytes."""
        return memoryview(self.to_bytes())

    def to_py(self, **options: Any) -> memoryview:
        return self.to_memoryview()

    def __bytes__(self) -> bytes:
        return self.to_bytes()


class ArrayBuffer(JsBuffer):
    """`new ArrayBuffer(length)`: a fixed number of bytes, zero-filled."""

    __slots__ = ("_data",)
    js_name = "ArrayBuffer"

    def __init__(self, length: int | bytes | bytearray | memoryview = 0) -> None:
        if isinstance(length, (bytes, bytearray, memoryview)):
            self._data = bytearray(length)
        else:
            self._data = bytearray(_length(length))

    @classmethod
    def new(cls, length: int = 0) -> ArrayBuffer:
        return cls(length)

    def _view(self) -> memoryview:
        return memoryview(self._data)

    def slice(self, begin: int = 0, end: int | None = None) -> ArrayBuffer:
        """A new ArrayBuffer holding a copy of bytes [begin, end)."""
        start, stop = relative_span(len(self._data), begin, end)
        return ArrayBuffer(self._data[start:stop])

    def __repr__(self) -> str:
        return f"ArrayBuffer({len(self._data)})"


def _length(value: Any) -> int:
    n = int(value)
    if n < 0:
        raise ValueError("Invalid array length")  # JavaScript's RangeError
    return n


def relative_span(size: int, begin: Any, end: Any) -> tuple[int, int]:
    """JavaScript's relative start/end (negative counts from the end), clamped."""
    def pos(v: int | None, default: int) -> int:
        if v is None:
            return default
        v = int(v)
        return max(size + v, 0) if v < 0 else min(v, size)
    start, stop = pos(begin, 0), pos(end, size)
    return start, max(start, stop)


def _number(value: Any) -> float:
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return math.nan
    if value is None:
        return 0.0
    return float(value)


class ArrayBufferView(JsBuffer):
    """A window on an ArrayBuffer: its `buffer` and the `byteOffset` it starts at."""

    __slots__ = ("_buffer", "_offset", "_length")

    @property
    def buffer(self) -> ArrayBuffer:
        """The ArrayBuffer this views."""
        return self._buffer

    @property
    def byteOffset(self) -> int:
        return self._offset


class TypedArray(ArrayBufferView):
    """Base of the typed arrays: a view of `buffer` from `byteOffset`, `length` elements."""

    __slots__ = ()
    format = "B"
    bits = 8
    signed = False
    clamped = False
    floating = False

    def __init__(self, source: Any = 0, byte_offset: int = 0, length: int | None = None) -> None:
        size = self.BYTES_PER_ELEMENT
        if isinstance(source, ArrayBuffer):
            total = len(source._data)
            offset = int(byte_offset)
            if offset % size or offset > total:
                raise ValueError(f"start offset of {type(self).js_name} should be a multiple of {size}")
            if length is None:
                if (total - offset) % size:
                    raise ValueError(f"byte length of {type(self).js_name} should be a multiple of {size}")
                length = (total - offset) // size
            elif offset + int(length) * size > total:
                raise ValueError(f"Invalid typed array length: {length}")
            self._buffer, self._offset, self._length = source, offset, int(length)
            return
        if isinstance(source, (int, float)) and not isinstance(source, bool):
            values: list[Any] | None = None
            count = _length(source)
        else:
            values = list(source) if isinstance(source, (Iterable, TypedArray)) else []
            count = len(values)
        self._buffer, self._offset, self._length = ArrayBuffer(count * size), 0, count
        if values:
            view = self._elements()
            for i, v in enumerate(values):
                view[i] = self._convert(v)

    BYTES_PER_ELEMENT = 1

    @classmethod
    def new(cls, source: Any = 0, byte_offset: int = 0, length: int | None = None) -> TypedArray:
        """`new Uint8Array(length | array | buffer[, byteOffset[, length]])`."""
        return cls(source, byte_offset, length)

    @classmethod
    def of(cls, *items: Any) -> TypedArray:
        """`Uint8Array.of(1, 2, 3)`."""
        return cls(list(items))

    @classmethod
    def from_(cls, items: Iterable[Any]) -> TypedArray:
        return cls(list(items))

    def _convert(self, value: Any) -> Any:
        number = _number(value)
        if self.floating:
            return number
        if math.isnan(number) or math.isinf(number):
            return 255 if self.clamped and number > 0 else 0
        if self.clamped:
            return min(255, max(0, round(number)))
        n = int(number) % (1 << self.bits)
        if self.signed and n >= 1 << (self.bits - 1):
            n -= 1 << self.bits
        return n

    def _view(self) -> memoryview:
        start = self._offset
        return memoryview(self._buffer._data)[start:start + self._length * self.BYTES_PER_ELEMENT]

    def _elements(self) -> memoryview:
        return self._view().cast(self.format)

    @property
    def length(self) -> int:
        return self._length

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> Any:
        if not 0 <= index < self._length:
            return None  # undefined
        return self._elements()[index]

    def __setitem__(self, index: int, value: Any) -> None:
        if 0 <= index < self._length:
            self._elements()[index] = self._convert(value)

    def __iter__(self) -> Any:
        return iter(self._elements().tolist())

    def subarray(self, begin: int = 0, end: int | None = None) -> TypedArray:
        """A view of elements [begin, end) of the same buffer."""
        start, stop = relative_span(self._length, begin, end)
        return type(self)(self._buffer, self._offset + start * self.BYTES_PER_ELEMENT, stop - start)

    def slice(self, begin: int = 0, end: int | None = None) -> TypedArray:
        """A copy of elements [begin, end)."""
        start, stop = relative_span(self._length, begin, end)
        return type(self)(self._elements().tolist()[start:stop])

    def set(self, values: Iterable[Any], offset: int = 0) -> None:
        """Copy `values` in from element `offset`."""
        items = list(values)
        if offset + len(items) > self._length:
            raise ValueError("offset is out of bounds")
        for i, v in enumerate(items):
            self[offset + i] = v

    def to_py(self, **options: Any) -> memoryview:
        return memoryview(self.to_bytes()).cast(self.format)

    def __repr__(self) -> str:
        return f"{type(self).js_name}({self._elements().tolist()!r})"


def _typed(name: str, fmt: str, bits: int, *, signed: bool = False, clamped: bool = False,
           floating: bool = False) -> type[TypedArray]:
    return type(name, (TypedArray,), {
        "__slots__": (), "js_name": name, "format": fmt, "bits": bits, "signed": signed,
        "clamped": clamped, "floating": floating, "BYTES_PER_ELEMENT": bits // 8,
        "__doc__": f"JavaScript's {name}: {bits}-bit elements viewing an ArrayBuffer.",
    })


Uint8Array = _typed("Uint8Array", "B", 8)
Uint8ClampedArray = _typed("Uint8ClampedArray", "B", 8, clamped=True)
Int8Array = _typed("Int8Array", "b", 8, signed=True)
Uint16Array = _typed("Uint16Array", "H", 16)
Int16Array = _typed("Int16Array", "h", 16, signed=True)
Uint32Array = _typed("Uint32Array", "I", 32)
Int32Array = _typed("Int32Array", "i", 32, signed=True)
Float32Array = _typed("Float32Array", "f", 32, floating=True)
Float64Array = _typed("Float64Array", "d", 64, floating=True)
BigInt64Array = _typed("BigInt64Array", "q", 64, signed=True)
BigUint64Array = _typed("BigUint64Array", "Q", 64)

TYPED_ARRAYS: dict[str, type[TypedArray]] = {cls.js_name: cls for cls in (
    Uint8Array, Uint8ClampedArray, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array,
    Float32Array, Float64Array, BigInt64Array, BigUint64Array)}


class DataView(ArrayBufferView):
    """`new DataView(buffer[, byteOffset[, byteLength]])`: a window on an ArrayBuffer."""

    __slots__ = ()
    js_name = "DataView"

    def __init__(self, buffer: ArrayBuffer, byte_offset: int = 0, byte_length: int | None = None) -> None:
        if not isinstance(buffer, ArrayBuffer):
            raise TypeError("First argument to DataView constructor must be an ArrayBuffer")
        total = len(buffer._data)
        offset = int(byte_offset)
        length = total - offset if byte_length is None else int(byte_length)
        if offset < 0 or length < 0 or offset + length > total:
            raise ValueError(f"Invalid DataView length {length}")
        self._buffer, self._offset, self._length = buffer, offset, length

    @classmethod
    def new(cls, buffer: ArrayBuffer, byte_offset: int = 0, byte_length: int | None = None) -> DataView:
        return cls(buffer, byte_offset, byte_length)

    def _view(self) -> memoryview:
        return memoryview(self._buffer._data)[self._offset:self._offset + self._length]

    def getUint8(self, offset: int) -> int:
        return self._view()[offset]

    def setUint8(self, offset: int, value: Any) -> None:
        self._view()[offset] = int(_number(value)) % 256

    def __repr__(self) -> str:
        return f"DataView({self._length})"


def as_bytes(value: Any) -> bytes | None:
    """The bytes of a bytes-like object or a JavaScript buffer; None for anything else."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, JsBuffer):
        return value.to_bytes()
    return None


class TextEncoder(JsProxy):
    """`new TextEncoder()`: `encode(text)` gives the UTF-8 bytes as a Uint8Array."""

    __slots__ = ()
    js_name = "TextEncoder"
    encoding = "utf-8"

    @classmethod
    def new(cls) -> TextEncoder:
        return cls()

    def encode(self, text: str = "") -> TypedArray:
        return Uint8Array(ArrayBuffer(str(text).encode("utf-8", "surrogatepass")))


class TextDecoder(JsProxy):
    """`new TextDecoder(label = "utf-8", {fatal})`: `decode(bytes, {stream})` gives text;
    with `stream` true, a multi-byte character split across calls is kept for the next."""

    __slots__ = ("_encoding", "_fatal", "_decoder")
    js_name = "TextDecoder"

    def __init__(self, label: str = "utf-8", options: Any = None, **kwargs: Any) -> None:
        opts = {**options_dict(options), **kwargs}
        try:
            self._encoding = codecs.lookup(label).name
        except LookupError:
            raise ValueError(f'The "{label}" encoding is not supported') from None
        self._fatal = bool(opts.get("fatal"))
        self._decoder = codecs.getincrementaldecoder(self._encoding)("strict" if self._fatal else "replace")

    @classmethod
    def new(cls, label: str = "utf-8", options: Any = None, **kwargs: Any) -> TextDecoder:
        return cls(label, options, **kwargs)

    @property
    def encoding(self) -> str:
        return "utf-8" if self._encoding == "utf-8" else self._encoding

    @property
    def fatal(self) -> bool:
        return self._fatal

    def decode(self, data: Any = None, options: Any = None, **kwargs: Any) -> str:
        stream = bool({**options_dict(options), **kwargs}.get("stream"))
        raw = b"" if data is None else as_bytes(data)
        if raw is None:
            raise TypeError("TextDecoder.decode() expects an ArrayBuffer or a typed array")
        try:
            return self._decoder.decode(raw, final=not stream)
        except UnicodeDecodeError:
            self._decoder.reset()
            raise TypeError("The encoded data was not valid for encoding " + self.encoding) from None


