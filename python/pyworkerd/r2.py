# The R2 binding on the Python side (template and isolates): `env.BUCKET` (an `r2Bucket`
# binding) with Cloudflare's R2 Workers API — head, get, put, delete, list and multipart
# uploads — each an "r2.*" binding call to the host (src/host/binding_r2.c), awaitable in async
# code and returning its value in sync code. Objects read like Pyodide's JS objects
# (`obj.key` and `obj["key"]`); bodies stream in chunks (pyworkerd/r2_stream.py). R2's own
# errors come back as JsException("Error", "put: <message> (<code>)"), as in workerd.
# Imported only by workers that have an R2 binding (runtime.make_env). Layer 2.
"""Cloudflare R2 buckets for Python Workers."""

from __future__ import annotations

import datetime
import json
from typing import Any

from pyworkerd import rpc
from pyworkerd.bindings import JsDict
from pyworkerd.r2_options import (encode, get_options, list_options, merge, put_options)
from pyworkerd.r2_stream import R2Stream, drive, upload, value_source

MAX_DELETE = 1000


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return str(key)
    raise TypeError(f"R2 keys must be strings, not {type(key).__name__}")


def _date(ms: Any) -> datetime.datetime:
    """A JavaScript Date as Pyodide converts it: a naive datetime (UTC)."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).replace(tzinfo=None)


class _Item:
    """Attribute access also by item (`obj["key"]`), as Pyodide's JS objects allow."""

    __slots__ = ()

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name, default)


class R2Checksums(_Item):
    """The checksums R2 knows of an object: `md5`, `sha1`, ... as bytes (or None);
    `toJSON()` gives them as hex."""

    __slots__ = ("md5", "sha1", "sha256", "sha384", "sha512")

    def __init__(self, hexes: dict[str, str]) -> None:
        for name in self.__slots__:
            setattr(self, name, bytes.fromhex(hexes[name]) if hexes.get(name) else None)

    def toJSON(self) -> dict[str, str]:
        return {name: getattr(self, name).hex() for name in self.__slots__ if getattr(self, name)}

    def __eq__(self, other: object) -> bool:
        return self.toJSON() == (other.toJSON() if isinstance(other, R2Checksums) else other)

    def __repr__(self) -> str:
        return f"R2Checksums({self.toJSON()})"


class R2Object(_Item):
    """An object's metadata: key, version, size, etag, httpEtag, uploaded (datetime),
    httpMetadata, customMetadata, checksums, storageClass, range."""

    __slots__ = ("key", "version", "size", "etag", "httpEtag", "uploaded", "httpMetadata",
                 "customMetadata", "checksums", "storageClass", "range")

    def __init__(self, info: dict[str, Any]) -> None:
        self.key, self.version, self.size = info["key"], info["version"], int(info["size"])
        self.etag, self.httpEtag = info["etag"], info["httpEtag"]
        self.uploaded = _date(info["uploaded"])
        http = info.get("httpMetadata")
        if http is not None and http.get("cacheExpiry") is not None:
            http["cacheExpiry"] = _date(http["cacheExpiry"])
        self.httpMetadata = JsDict(http) if http is not None else None
        custom = info.get("customMetadata")
        self.customMetadata = JsDict(custom) if custom is not None else None
        self.checksums = R2Checksums(info.get("checksums") or {})
        self.storageClass = info.get("storageClass", "Standard")
        self.range = JsDict(info["range"]) if info.get("range") else None

    def writeHttpMetadata(self, headers: Any) -> None:
        """Set the object's HTTP metadata as headers (content-type, cache-control, ...,
        expires) on `headers` (Headers or a dict)."""
        if self.httpMetadata is None:
            raise TypeError(f"HTTP metadata unknown for key `{self.key}`. Did you forget to add "
                            "'httpMetadata' to `include` when listing?")
        m = self.httpMetadata
        pairs = [("content-type", m.get("contentType")), ("content-language", m.get("contentLanguage")),
                 ("content-disposition", m.get("contentDisposition")),
                 ("content-encoding", m.get("contentEncoding")), ("cache-control", m.get("cacheControl"))]
        expiry = m.get("cacheExpiry")
        if expiry is not None:
            pairs.append(("expires", expiry.replace(tzinfo=datetime.timezone.utc)
                          .strftime("%a, %d %b %Y %H:%M:%S GMT")))
        for name, value in pairs:
            if value is None:
                continue
            if hasattr(headers, "set"):
                headers.set(name, value)
            else:
                headers[name] = value

    write_http_metadata = writeHttpMetadata

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key={self.key!r}, size={self.size}, etag={self.etag!r})"


class R2ObjectBody(R2Object):
    """An object with its body: `body` (a stream), `bodyUsed`, and `text()`, `bytes()`,
    `arrayBuffer()`, `json()` — awaitable in async code, values in sync code."""

    __slots__ = ("body",)

    def __init__(self, info: dict[str, Any], body: R2Stream) -> None:
        super().__init__(info)
        self.body = body

    @property
    def bodyUsed(self) -> bool:
        return self.body.locked

    body_used = bodyUsed

    def bytes(self) -> Any:
        return self.body.read_all()

    arrayBuffer = bytes
    array_buffer = bytes

    def text(self) -> Any:
        return _then(self.body.read_all(), lambda raw: raw.decode("utf-8", "replace"))

    def json(self) -> Any:
        return _then(self.body.read_all(), lambda raw: json.loads(raw.decode("utf-8", "replace")))


def _then(result: Any, convert: Any) -> Any:
    """convert(result): now for a value, later for a coroutine."""
    if not hasattr(result, "__await__"):
        return convert(result)

    async def later() -> Any:
        return convert(await result)

    return later()


def _object(fields: list[bytes]) -> R2Object | None:
    return R2Object(json.loads(fields[0])) if fields else None


class R2MultipartUpload(_Item):
    """A multipart upload: `key`, `uploadId`; `uploadPart(partNumber, value)`,
    `complete(parts)`, `abort()`."""

    __slots__ = ("_bucket", "key", "uploadId")

    def __init__(self, bucket: str, key: str, upload_id: str) -> None:
        self._bucket, self.key, self.uploadId = bucket, key, upload_id

    def uploadPart(self, partNumber: int, value: Any, options: Any = None, /, **kwargs: Any) -> Any:
        """Upload part `partNumber` (1..10000): {"partNumber", "etag"}."""
        if isinstance(partNumber, bool) or not isinstance(partNumber, int) or not 1 <= partNumber <= 10000:
            raise TypeError("Part number must be between 1 and 10000 (inclusive). Actual value was: "
                            f"{partNumber}")
        source = value_source(value)

        def steps() -> Any:
            fields = yield from upload(self._bucket, "r2.mpu.part", (self.key, self.uploadId, str(partNumber)))
            return JsDict(partNumber=partNumber, etag=fields[0].decode())

        return drive(steps(), source)

    upload_part = uploadPart

    def complete(self, uploadedParts: Any) -> Any:
        """Make the object of the parts (each {"partNumber", "etag"}): its R2Object."""
        parts = []
        for part in uploadedParts:
            number, etag = part["partNumber"], part["etag"]
            if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 10000:
                raise TypeError("Part number must be between 1 and 10000 (inclusive). Actual value "
                                f"was: {number}")
            parts.append({"partNumber": number, "etag": str(etag)})
        return rpc.call(_object, "r2.mpu.complete", self._bucket, self.key, self.uploadId, encode(parts))

    def abort(self) -> Any:
        """Drop the upload and its parts."""
        return rpc.call(lambda fields: None, "r2.mpu.abort", self._bucket, self.key, self.uploadId)

    def __repr__(self) -> str:
        return f"R2MultipartUpload(key={self.key!r}, uploadId={self.uploadId!r})"


class R2Bucket:
    """An R2 bucket (`r2Bucket` binding) with Cloudflare's API. Every method is awaitable in
    async code and returns its result directly in sync code."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def head(self, key: str) -> Any:
        """The object's metadata (R2Object), or None."""
        return rpc.call(_object, "r2.head", self._name, _key(key))

    def get(self, key: str, options: Any = None, /, **kwargs: Any) -> Any:
        """The object with its body (R2ObjectBody), or None; options range (dict or Headers)
        and onlyIf (dict or Headers): when onlyIf fails, the R2Object without a body."""
        opts = encode(get_options(merge(options, kwargs, "get")))
        name = self._name

        def decode(fields: list[bytes]) -> Any:
            if not fields:
                return None
            info = json.loads(fields[0])
            if fields[1] == b"412":
                return R2Object(info)
            return R2ObjectBody(info, R2Stream(name, fields[2], fields[3].decode()))

        return rpc.call(decode, "r2.get", name, _key(key), opts)

    def put(self, key: str, value: Any, options: Any = None, /, **kwargs: Any) -> Any:
        """Store `value` (str, bytes, None, or a stream: an async or sync iterable of bytes, an
        R2 body) under `key`: its R2Object, or None when onlyIf fails. Options httpMetadata,
        customMetadata, md5/sha1/sha256/sha384/sha512, storageClass, onlyIf."""
        opts = encode(put_options(merge(options, kwargs, "put")))
        source = value_source(value)

        def steps() -> Any:
            fields = yield from upload(self._name, "r2.put", (_key(key), opts))
            return _object(fields)

        return drive(steps(), source)

    def delete(self, keys: str | list[str]) -> Any:
        """Delete one key or a list of up to 1000."""
        names = [_key(k) for k in keys] if isinstance(keys, (list, tuple)) else [_key(keys)]
        if not names:
            return rpc.ready(None)
        if len(names) > MAX_DELETE:
            raise TypeError(f"delete() takes at most {MAX_DELETE} keys (got {len(names)})")
        return rpc.call(lambda fields: None, "r2.delete", self._name, encode(names))

    def list(self, options: Any = None, /, **kwargs: Any) -> Any:
        """{"objects", "delimitedPrefixes", "truncated", "cursor"?}; options prefix, delimiter,
        cursor, startAfter, limit (1..1000), include (["httpMetadata", "customMetadata"])."""
        opts = encode(list_options(merge(options, kwargs, "list")))

        def decode(fields: list[bytes]) -> Any:
            info = json.loads(fields[0])
            result = JsDict(objects=[R2Object(o) for o in info["objects"]],
                            delimitedPrefixes=info["delimitedPrefixes"], truncated=info["truncated"])
            if info.get("cursor"):
                result["cursor"] = info["cursor"]
            return result

        return rpc.call(decode, "r2.list", self._name, opts)

    def createMultipartUpload(self, key: str, options: Any = None, /, **kwargs: Any) -> Any:
        """Begin a multipart upload (options httpMetadata, customMetadata, storageClass)."""
        opts = encode(put_options(merge(options, kwargs, "createMultipartUpload")))
        name, k = self._name, _key(key)
        return rpc.call(lambda fields: R2MultipartUpload(name, k, fields[0].decode()),
                        "r2.mpu.create", name, k, opts)

    def resumeMultipartUpload(self, key: str, uploadId: str) -> R2MultipartUpload:
        """The upload `uploadId` of `key` (no call: errors come with its first use)."""
        return R2MultipartUpload(self._name, _key(key), str(uploadId))

    create_multipart_upload = createMultipartUpload
    resume_multipart_upload = resumeMultipartUpload

    def __iter__(self) -> Any:
        raise TypeError("'R2Bucket' object is not iterable")

    def __len__(self) -> int:
        raise TypeError("object of type 'R2Bucket' has no len()")

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"R2Bucket({self._name!r})"
