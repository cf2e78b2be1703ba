# FormData for Python Workers, and the two body formats it reads and writes: `workers.FormData`
# (a MutableMapping, Cloudflare's SDK API: `data["k"]`, `append(k, v, filename=)`, `get_all`,
# `items()`), which is also `js.FormData.new()` (JavaScript's methods: `get`, `getAll`, `has`,
# `set`, `entries`). `await request.form_data()` parses multipart/form-data (file parts become
# File objects, as with workerd's formdata_parser_supports_files) and
# application/x-www-form-urlencoded; a FormData body is sent as multipart/form-data. Bottom
# layer of the SDK; loaded in the template, used in isolates. Invariant: an entry's value is
# a str or a File, as in JavaScript (a Blob appended becomes a File named "blob").
"""FormData and the multipart/form-data and urlencoded body formats."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from pyworkerd.blob import Blob, File
from pyworkerd.jsobject import JsConstructor

__all__ = ["FormData", "encode_multipart", "parse_form"]

FormDataValue = Any  # str | Blob | File

_UNPARSABLE = ("Unrecognized Content-Type header value. FormData can only parse the following "
               "MIME types: multipart/form-data, application/x-www-form-urlencoded")
_BAD_MULTIPART = "Failed to parse body as FormData."


def js_string(value: Any) -> str:
    """String(value) as JavaScript writes it (true, null, 123, 1.5)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _entry_value(value: Any, filename: str | None) -> str | File:
    """A value as FormData stores it: a str, or a File (a Blob is named `filename` or "blob")."""
    if isinstance(value, Blob):
        if isinstance(value, File) and filename is None:
            return value
        name = filename if filename is not None else "blob"
        last = value._last_modified if isinstance(value, File) else None
        return File._named(value._data, name, value._type, last)
    if filename is not None:
        raise TypeError("FormData: a filename can only be given with a Blob or File value")
    return js_string(value)


class FormData(MutableMapping[str, FormDataValue]):
    """Form fields, with repeated keys: `FormData()`, `FormData({"k": "v"})`, `FormData(other)`.

    `data["k"]` is the first value of "k" (None if absent), `data["k"] = v` replaces every
    value, `append(k, v, filename=None)` adds one, `get_all(k)` lists them; `keys()`,
    `values()` and `items()` list every entry, repeats included. Values are str, or File
    for Blob and File values. JavaScript's names also work (`get`, `getAll`, `has`, `set`,
    `entries`); `js.FormData.new()` makes one.
    """

    js_name = "FormData"

    def __init__(self, form_data: Any = None) -> None:
        self._entries: list[tuple[str, str | File]] = []
        if not form_data:
            return
        if isinstance(form_data, FormData):
            self._entries = list(form_data._entries)
        elif isinstance(form_data, dict):
            for key, value in form_data.items():
                self.append(key, value)
        else:
            raise TypeError("Expected form_data to be a dict or an instance of FormData")

    @classmethod
    def new(cls, form: Any = None) -> FormData:
        """`new FormData()` (JavaScript's constructor)."""
        return cls(form)

    @property
    def constructor(self) -> JsConstructor:
        return JsConstructor("FormData")

    @property
    def js_object(self) -> FormData:
        """The JavaScript FormData: this object (pyworkerd has one FormData for both)."""
        return self

    def __getitem__(self, key: str) -> FormDataValue:
        for k, v in self._entries:
            if k == key:
                return v
        return None

    def get(self, key: str, default: Any = None) -> FormDataValue:
        """The first value of `key`, or `default` (JavaScript: null)."""
        for k, v in self._entries:
            if k == key:
                return v
        return default

    def __setitem__(self, key: str, value: FormDataValue) -> None:
        if isinstance(value, list):
            raise TypeError("Expected single item in arguments to FormData.__setitem__")
        self.set(key, value)

    def set(self, key: str, value: FormDataValue, filename: str | None = None) -> None:
        """Replace every value of `key` with `value` (in the first one's place)."""
        entry = (str(key), _entry_value(value, filename))
        out, placed = [], False
        for k, v in self._entries:
            if k == entry[0]:
                if not placed:
                    out.append(entry)
                    placed = True
            else:
                out.append((k, v))
        if not placed:
            out.append(entry)
        self._entries = out

    def append(self, key: str, value: FormDataValue, filename: str | None = None) -> None:
        """Add a value for `key`; a Blob or File value may be given a file name."""
        self._entries.append((str(key), _entry_value(value, filename)))

    def delete(self, key: str) -> None:
        """Remove every value of `key`."""
        self._entries = [(k, v) for k, v in self._entries if k != key]

    def __delitem__(self, key: str) -> None:
        self.delete(key)

    def has(self, key: str) -> bool:
        """Whether `key` has a value."""
        return any(k == key for k, _ in self._entries)

    def __contains__(self, key: object) -> bool:
        return any(k == key for k, _ in self._entries)

    def get_all(self, key: str) -> list[FormDataValue]:
        """Every value of `key`, in order."""
        return [v for k, v in self._entries if k == key]

    getAll = get_all

    def keys(self) -> Iterator[str]:  # type: ignore[override]
        """Every entry's key (repeated keys repeated)."""
        for k, _ in list(self._entries):
            yield k

    def values(self) -> Iterator[FormDataValue]:  # type: ignore[override]
        """Every entry's value."""
        for _, v in list(self._entries):
            yield v

    def items(self) -> Iterator[tuple[str, FormDataValue]]:  # type: ignore[override]
        """Every (key, value) entry."""
        yield from list(self._entries)

    def entries(self) -> Iterator[list[Any]]:
        """[key, value] pairs, as JavaScript's entries() gives them."""
        for k, v in list(self._entries):
            yield [k, v]

    def forEach(self, callback: Any) -> None:
        for k, v in list(self._entries):
            callback(v, k, self)

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FormData):
            return self._entries == other._entries
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FormData({self._entries!r})"


# ---------------------------------------------------------------- multipart/form-data


def _quote(text: str) -> str:
    """A name or file name in a Content-Disposition header, as browsers escape it."""
    return text.replace("\n", "%0A").replace("\r", "%0D").replace('"', "%22")


def _parts(form: FormData) -> list[tuple[bytes, bytes]]:
    out = []
    for key, value in form._entries:
        if isinstance(value, File):
            head = (f'Content-Disposition: form-data; name="{_quote(key)}"; '
                    f'filename="{_quote(value._name)}"\r\n'
                    f"Content-Type: {value._type or 'application/octet-stream'}\r\n\r\n")
            out.append((head.encode(), value._data))
        else:
            head = f'Content-Disposition: form-data; name="{_quote(key)}"\r\n\r\n'
            out.append((head.encode(), value.replace("\r\n", "\n").replace("\n", "\r\n").encode()))
    return out


def encode_multipart(form: FormData) -> tuple[bytes, str]:
    """The multipart/form-data body of `form` and its Content-Type. The boundary is derived
    from the content (no randomness: a body may be built where entropy is not allowed) and
    checked not to occur in it."""
    parts = _parts(form)
    digest = hashlib.sha256()
    for head, data in parts:
        digest.update(head)
        digest.update(data)
    seed = digest.hexdigest()
    for round_ in range(64):
        boundary = f"----pyworkerdFormBoundary{seed[round_:round_ + 24]}"
        marker = ("--" + boundary).encode()
        if not any(marker in head or marker in data for head, data in parts):
            break
    body = b"".join(b"%s\r\n%s%s\r\n" % (marker, head, data) for head, data in parts)
    return body + marker + b"--\r\n", f"multipart/form-data; boundary={boundary}"


_PARAM = re.compile(r';\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _params(value: str) -> tuple[str, dict[str, str]]:
    """A header value's main part (lower-cased) and its parameters."""
    main = value.split(";", 1)[0].strip().lower()
    params = {}
    for name, raw in _PARAM.findall(value):
        raw = raw.strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[name.lower()] = raw
    return main, params


def _unquote(text: str) -> str:
    return text.replace("%0A", "\n").replace("%0D", "\r").replace("%22", '"')


def _part(chunk: bytes) -> tuple[str, str | File]:
    head, sep, data = chunk.partition(b"\r\n\r\n")
    if not sep:
        raise TypeError(_BAD_MULTIPART)
    headers = {}
    for line in head.decode("utf-8", "replace").split("\r\n"):
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    kind, params = _params(headers.get("content-disposition", ""))
    if kind != "form-data" or "name" not in params:
        raise TypeError(_BAD_MULTIPART)
    name = _unquote(params["name"])
    if "filename" in params:
        content_type = headers.get("content-type", "text/plain")
        return name, File._named(data, _unquote(params["filename"]), content_type.lower())
    return name, data.decode("utf-8", "replace")


def _parse_multipart(body: bytes, boundary: str) -> FormData:
    marker = b"--" + boundary.encode("latin-1")
    form = FormData()
    pieces = body.split(marker)
    if len(pieces) < 2 or not pieces[-1].startswith(b"--"):
        raise TypeError(_BAD_MULTIPART)
    for chunk in pieces[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise TypeError(_BAD_MULTIPART)
        form._entries.append(_part(chunk[2:-2]))
    return form


def parse_form(body: bytes, content_type: str | None) -> FormData:
    """The FormData of a body, by its Content-Type (multipart/form-data or urlencoded);
    TypeError with workerd's message for any other type or a malformed body."""
    kind, params = _params(content_type or "")
    if kind == "multipart/form-data":
        boundary = params.get("boundary")
        if not boundary:
            raise TypeError(_BAD_MULTIPART)
        return _parse_multipart(body, boundary)
    if kind == "application/x-www-form-urlencoded":
        form = FormData()
        text = body.decode("utf-8", "replace")
        form._entries = [(k, v) for k, v in parse_qsl(text, keep_blank_values=True)]
        return form
    raise TypeError(_UNPARSABLE)
