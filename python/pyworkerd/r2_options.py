# The options of R2 calls as Python Workers pass them (isolates): put's httpMetadata,
# customMetadata, checksums, storageClass and onlyIf, get's range and onlyIf, list's options,
# in Cloudflare's shapes — dicts (R2's JavaScript objects) or Headers — checked as workerd
# checks them before a call leaves the worker (TypeError/RangeError in its words), then
# turned into the JSON the host's R2 binding decodes (src/host/r2_json.c). Layer 2.
"""Encoding R2 options (conditions, ranges, metadata) for the host."""

from __future__ import annotations

import datetime
import email.utils
import json
from typing import Any

from pyworkerd import webapi
from pyworkerd.errors import JsException

HTTP_FIELDS = ("contentType", "contentLanguage", "contentDisposition", "contentEncoding", "cacheControl")
HTTP_HEADERS = {"content-type": "contentType", "content-language": "contentLanguage",
                "content-disposition": "contentDisposition", "content-encoding": "contentEncoding",
                "cache-control": "cacheControl"}
HASHES = {"md5": ("MD5", 16), "sha1": ("SHA-1", 20), "sha256": ("SHA-256", 32),
          "sha384": ("SHA-384", 48), "sha512": ("SHA-512", 64)}


def merge(options: Any, kwargs: dict[str, Any], what: str) -> dict[str, Any]:
    """`options` (a dict or None) with keyword options on top."""
    if options is None:
        return dict(kwargs)
    if not isinstance(options, dict):
        raise TypeError(f"R2 {what}() options must be a dict or None, not {type(options).__name__}")
    return {**options, **kwargs}


def encode(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def _millis(value: Any, what: str) -> int:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return int(value.timestamp() * 1000)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    raise TypeError(f"{what} must be a datetime, not {type(value).__name__}")


def _is_headers(value: Any) -> bool:
    return isinstance(value, webapi.Headers)


# ---------------------------------------------------------------- onlyIf


def _parse_etag_header(text: str) -> list[dict[str, str]]:
    """An If-Match / If-None-Match value: quoted tags, W/ weak ones, or `*`."""
    tags: list[dict[str, str]] = []
    i, n, need_comma = 0, len(text), False
    while i < n:
        c = text[i]
        if c in " \t":
            i += 1
        elif c == ",":
            need_comma, i = False, i + 1
        elif need_comma:
            raise JsException("Error", "Comma was expected to separate etags.")
        elif c == "*":
            return [{"type": "wildcard"}]
        elif c == '"' or text.startswith('W/"', i):
            weak = c == "W"
            start = i + (3 if weak else 1)
            end = text.find('"', start)
            if end < 0:
                raise JsException("Error", "Unclosed double quote for Etag")
            tags.append({"type": "weak" if weak else "strong", "value": text[start:end]})
            i, need_comma = end + 1, True
        elif c == "W":
            raise JsException("Error", "Weak etags must start with W/ and their value must be quoted")
        else:
            raise JsException("Error", "Invalid conditional header")
    return tags


def _header_date(value: str) -> int:
    try:
        return _millis(email.utils.parsedate_to_datetime(value), "a date")
    except (TypeError, ValueError):
        raise JsException("Error", f"Invalid date in conditional header: {value}") from None


def _from_headers(headers: webapi.Headers) -> dict[str, Any]:
    cond: dict[str, Any] = {"secondsGranularity": True}
    for header, field in (("if-match", "etagMatches"), ("if-none-match", "etagDoesNotMatch")):
        value = headers.get(header)
        if value is not None:
            cond[field] = _parse_etag_header(value)
    for header, field in (("if-modified-since", "uploadedAfter"), ("if-unmodified-since", "uploadedBefore")):
        value = headers.get(header)
        if value is not None:
            cond[field] = _header_date(value)
    return cond


def _single_etag(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, str):
        raise TypeError(f"onlyIf etags must be strings, not {type(value).__name__}")
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        raise TypeError(f"Conditional ETag should not be wrapped in quotes ({value}).")
    return [{"type": "wildcard"}] if value == "*" else [{"type": "strong", "value": value}]


def only_if(value: Any) -> dict[str, Any]:
    """R2Conditional (a dict) or Headers -> the host's condition."""
    if _is_headers(value):
        return _from_headers(value)
    if not isinstance(value, dict):
        raise TypeError(f"onlyIf must be a dict or Headers, not {type(value).__name__}")
    cond: dict[str, Any] = {}
    for field in ("etagMatches", "etagDoesNotMatch"):
        if value.get(field) is not None:
            cond[field] = _single_etag(value[field])
    for field in ("uploadedBefore", "uploadedAfter"):
        if value.get(field) is not None:
            cond[field] = _millis(value[field], f"onlyIf.{field}")
    if value.get("secondsGranularity"):
        cond["secondsGranularity"] = True
    return cond


# ---------------------------------------------------------------- put


def http_metadata(value: Any) -> dict[str, Any]:
    """R2HTTPMetadata (a dict) or Headers -> the host's fields (cacheExpiry in ms)."""
    out: dict[str, Any] = {}
    if _is_headers(value):
        for header, field in HTTP_HEADERS.items():
            if value.get(header) is not None:
                out[field] = value.get(header)
        if value.get("expires") is not None:
            out["cacheExpiry"] = _header_date(value.get("expires"))
        return out
    if not isinstance(value, dict):
        raise TypeError(f"httpMetadata must be a dict or Headers, not {type(value).__name__}")
    for field in HTTP_FIELDS:
        if value.get(field) is not None:
            out[field] = str(value[field])
    if value.get("cacheExpiry") is not None:
        out["cacheExpiry"] = _millis(value["cacheExpiry"], "httpMetadata.cacheExpiry")
    return out


def custom_metadata(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise TypeError(f"customMetadata must be a dict of strings, not {type(value).__name__}")
    return {str(k): str(v) for k, v in value.items()}


def _checksum(name: str, value: Any) -> str:
    label, size = HASHES[name]
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        if len(raw) != size:
            raise TypeError(f"{label} is {size} bytes, not {len(raw)}")
        return raw.hex()
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a hex string or bytes, not {type(value).__name__}")
    if len(value) != 2 * size:
        raise TypeError(f"{label} is {2 * size} hex characters, not {len(value)}")
    try:
        bytes.fromhex(value)
    except ValueError:
        raise TypeError(f"Provided {label} wasn't a valid hex string") from None
    return value.lower()


def put_options(opts: dict[str, Any]) -> dict[str, Any]:
    """R2PutOptions / R2MultipartOptions -> the host's JSON object."""
    out: dict[str, Any] = {}
    if opts.get("httpMetadata") is not None:
        out["httpMetadata"] = http_metadata(opts["httpMetadata"])
    if opts.get("customMetadata") is not None:
        out["customMetadata"] = custom_metadata(opts["customMetadata"])
    if opts.get("storageClass") is not None:
        out["storageClass"] = opts["storageClass"]
    if opts.get("onlyIf") is not None:
        out["onlyIf"] = only_if(opts["onlyIf"])
    given = [name for name in HASHES if opts.get(name) is not None]
    if len(given) > 1:
        raise TypeError("You cannot specify multiple hashing algorithms.")
    for name in given:
        out[name] = _checksum(name, opts[name])
    return out


# ---------------------------------------------------------------- get


def _whole(value: Any, what: str, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"range.{what} must be a number, not {type(value).__name__}")
    if value < 0:
        raise JsException("RangeError", f"Invalid range. {label} ({value}) must be greater than or equal to 0.")
    if value != int(value):
        raise JsException("RangeError", f"Invalid range. {label} ({value}) must be an integer, not floating point.")
    return int(value)


def _range_header(value: str | None) -> dict[str, int]:
    """bytes=a-b, bytes=a-, bytes=-n; anything else (several ranges too): the whole object."""
    if not value or not value.strip().lower().startswith("bytes=") or "," in value:
        return {}
    first, _, last = value.strip()[6:].partition("-")
    try:
        if not first:
            return {"suffix": int(last)} if last else {}
        start = int(first)
        return {"offset": start, "length": int(last) - start + 1} if last else {"offset": start}
    except ValueError:
        return {}


def get_range(value: Any) -> dict[str, int]:
    """R2Range (a dict) or Headers (its Range header) -> the host's range."""
    if _is_headers(value):
        return _range_header(value.get("range"))
    if not isinstance(value, dict):
        raise TypeError(f"range must be a dict or Headers, not {type(value).__name__}")
    out = {}
    for what, label in (("offset", "Starting offset"), ("length", "Length"), ("suffix", "Suffix")):
        if value.get(what) is not None:
            out[what] = _whole(value[what], what, label)
    if "suffix" in out and "offset" in out:
        raise TypeError("Suffix is incompatible with offset.")
    if "suffix" in out and "length" in out:
        raise TypeError("Suffix is incompatible with length.")
    return out


def get_options(opts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if opts.get("range") is not None:
        out["range"] = get_range(opts["range"])
    if opts.get("onlyIf") is not None:
        out["onlyIf"] = only_if(opts["onlyIf"])
    return out


# ---------------------------------------------------------------- list


def list_options(opts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("prefix", "delimiter", "cursor", "startAfter"):
        if opts.get(name) is not None:
            if not isinstance(opts[name], str):
                raise TypeError(f"list(): {name} must be a string, not {type(opts[name]).__name__}")
            out[name] = opts[name]
    limit = opts.get("limit")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, (int, float)):
            raise TypeError(f"list(): limit must be a number, not {type(limit).__name__}")
        out["limit"] = limit
    include = opts.get("include")
    if include is not None:
        for name in include:
            if name not in ("httpMetadata", "customMetadata"):
                raise JsException("RangeError", f"Unsupported include value {name}")
        out["include"] = list(include)
    return out
