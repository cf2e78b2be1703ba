# `env.NAME` for a memoryCache binding (template and isolates): workerd's in-memory cache,
# which the host keeps for every isolate of the worker (host/binding_memory_cache.c).
# read(key, fallback) returns the cached value, or calls fallback(key) for it: the fallback
# returns {"value": ..., "expiration": ms since the epoch (optional)}, its value is stored
# (serialized as RPC values are) and returned. The host makes one reader of a key the
# producer at a time; the others wait for its value (async code) — a sync handler never
# waits: it runs its own fallback. Invariant: a producer always ends with mcache.put or
# mcache.fail, also when its fallback raises or its task is cancelled.
"""workerd's memoryCache binding: read(key, fallback) and delete(key)."""

from __future__ import annotations

import math
from typing import Any, Callable

from pyworkerd import rpc
from pyworkerd.bindings import python_from_rpc, python_to_rpc


def _fields(fields: list[bytes]) -> list[bytes]:
    return fields


def _nothing(fields: list[bytes]) -> None:
    return None


def _hit_or_none(fields: list[bytes]) -> Any:
    return python_from_rpc(fields[1]) if fields and fields[0] == b"hit" else None


def _key(key: Any, method: str = "read") -> str:
    if not isinstance(key, str):
        raise TypeError(f"Failed to execute '{method}' on 'MemoryCache': parameter 1 is not of "
                        "type 'string'.")
    return key


def _serialize(value: Any) -> bytes:
    """The value as the cache stores it; TypeError as workerd's DataCloneError words it."""
    try:
        return python_to_rpc(value)
    except (TypeError, ValueError):
        kind = "function" if callable(value) else type(value).__name__
        raise TypeError(f"failed to serialize {kind}") from None


def _produced(result: Any) -> tuple[Any, str]:
    """(value, expiration field) of what a fallback returned: {"value", "expiration"?}."""
    if isinstance(result, dict):
        value, expiration = result.get("value"), result.get("expiration")
    elif hasattr(result, "value"):
        value, expiration = result.value, getattr(result, "expiration", None)
    else:
        raise TypeError("The fallback must return an object with a \"value\" (and optionally an "
                        "\"expiration\", in milliseconds since the epoch), e.g. "
                        "{\"value\": 123, \"expiration\": time.time() * 1000 + 60_000}.")
    if expiration is None:
        return value, ""
    if isinstance(expiration, bool) or not isinstance(expiration, (int, float)):
        raise TypeError("Expiration time must be a number.")
    if math.isnan(expiration):
        raise TypeError("Expiration time must not be NaN.")
    return value, repr(float(expiration))


class MemoryCache:
    """A memoryCache binding (workerd's in-memory cache, shared by the worker's isolates)."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def read(self, key: str, fallback: Callable[[str], Any] | None = None) -> Any:
        """The cached value of `key`; on a miss, fallback(key)'s value (stored), or None
        without a fallback. Awaitable in async code (the fallback may be async there)."""
        key = _key(key)
        if fallback is None:
            return rpc.call(_hit_or_none, "mcache.get", self._name, key)
        if rpc.in_task():
            return self._read_async(key, fallback)
        return self._read_sync(key, fallback)

    async def _read_async(self, key: str, fallback: Callable[[str], Any]) -> Any:
        got = await rpc.call(_fields, "mcache.read", self._name, key, "1")
        if got[0] == b"hit":
            return python_from_rpc(got[1])
        ticket = got[1]
        try:
            result = fallback(key)
            if hasattr(result, "__await__"):
                result = await result
            value, expiration = _produced(result)
            data = _serialize(value)
        except BaseException:
            rpc.notify("mcache.fail", self._name, key, ticket)
            raise
        await rpc.call(_nothing, "mcache.put", self._name, key, data, expiration, ticket)
        return value

    def _read_sync(self, key: str, fallback: Callable[[str], Any]) -> Any:
        got = rpc.call(_fields, "mcache.read", self._name, key, "0")
        if got[0] == b"hit":
            return python_from_rpc(got[1])
        result = fallback(key)
        if hasattr(result, "__await__"):
            if hasattr(result, "close"):
                result.close()
            raise TypeError("memoryCache read() in a sync handler needs a sync fallback; make "
                            "the handler `async def` to use an async one.")
        value, expiration = _produced(result)
        rpc.call(_nothing, "mcache.put", self._name, key, _serialize(value), expiration, "0")
        return value

    def delete(self, key: str) -> Any:
        """Remove `key` from the cache (no error when it is absent)."""
        return rpc.call(_nothing, "mcache.delete", self._name, _key(key, "delete"))

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"MemoryCache({self._name!r})"
