# A Durable Object's storage, `ctx.storage`, in the isolate that holds the object: the async
# key-value API (get/put/delete/list/deleteAll), the synchronous one (`storage.kv`), SQL
# (`storage.sql`), transactions and alarms. The host stores it (dos.* binding calls,
# src/host/binding_do.c); this side keeps the gates Cloudflare promises:
#  - input gate: every read the cache cannot answer is a blocking call, so nothing else runs
#    in the isolate (no other event reaches the object) while it is in flight; `v = await
#    get(k); await put(k, v + 1)` is atomic without locks;
#  - write coalescing: writes go to the cache at once and into one batch, sent when the loop
#    turns (or before anything else leaves the isolate); a batch commits as one transaction,
#    so writes with no await between them commit together;
#  - output gate: a batch is sent before the event's answer and before any other binding call
#    (rpc.before_send), and the host commits it before it reads the next frame of the isolate;
#    a batch that fails makes the host discard the object's answers and reset it.
# The isolate never waits for a batch's result (see _flush).
# Values are encoded as RPC values (pyworkerd.bindings.python_to_rpc), once, at put(): the
# cache keeps the encoding, so a value read back is a fresh copy, as structured clone gives.
"""ctx.storage of a Durable Object: key-value (async and sync), SQL, transactions, alarms."""

from __future__ import annotations

import datetime
import struct
import sys
from collections.abc import Callable, Iterator
from typing import Any

from pyworkerd import rpc
from pyworkerd.bindings import JsDict, python_from_rpc, python_to_rpc

MAX_KEYS = 128
MAX_KEY = 2048
_ABSENT = object()   # in the cache: the key is known not to exist
_U32 = struct.Struct("<I")
_dirty: set[DurableObjectStorage] = set()


def _flush_all() -> None:
    """rpc.before_send: every object's pending writes leave before another binding call."""
    for storage in list(_dirty):
        storage._flush()


rpc.before_send = _flush_all


class _Ready:
    """An awaitable already holding its value (a cache hit costs no loop turn)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        return self.value
        yield  # noqa: unreachable — makes this a generator


def _in_task() -> bool:
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return False
    loop = asyncio.events._get_running_loop()
    return loop is not None and asyncio.current_task(loop) is not None


def _result(value: Any) -> Any:
    """What an async API returns: awaitable in a task (as Cloudflare's promises), else the value."""
    return _Ready(value) if _in_task() else value


def _check_key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"Durable Object storage keys must be strings, not {type(key).__name__}")
    if len(key.encode()) > MAX_KEY:
        raise RangeError(f"Keys cannot be larger than {MAX_KEY} bytes. A key of size "
                         f"{len(key.encode())} was provided.")
    return key


class RangeError(ValueError):
    """JavaScript's RangeError (a limit was exceeded)."""


def _record(op: bytes, key: bytes = b"", value: bytes = b"") -> bytes:
    return op + _U32.pack(len(key)) + key + _U32.pack(len(value)) + value


def _ok(fields: list[bytes]) -> list[bytes]:
    return fields


def _decode_pairs(blob: bytes) -> Iterator[tuple[str, bytes]]:
    off, end = 0, len(blob)
    while off < end:
        (klen,) = _U32.unpack_from(blob, off)
        key = blob[off + 4: off + 4 + klen].decode()
        off += 4 + klen
        (vlen,) = _U32.unpack_from(blob, off)
        yield key, blob[off + 4: off + 4 + vlen]
        off += 4 + vlen


def _epoch_ms(when: Any) -> int:
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        return int(when.timestamp() * 1000)
    if isinstance(when, (int, float)) and not isinstance(when, bool):
        return int(when)
    raise TypeError(f"setAlarm() takes milliseconds since the epoch or a datetime, not {type(when).__name__}")


class DurableObjectStorage:
    """`ctx.storage`: awaitable methods in async code (the value directly in sync code)."""

    def __init__(self, class_name: str, id_hex: str, sql_enabled: bool) -> None:
        self._cls = class_name
        self._id = id_hex
        self._cache: dict[str, Any] = {}     # key -> encoded value, or _ABSENT
        self._complete = False               # after deleteAll: every key not cached is absent
        self._batch: list[bytes] = []
        self._flush_scheduled = False
        self._sql_enabled = sql_enabled
        self._txn_depth = 0
        self.kv = SyncKvStorage(self)
        self._sql: SqlStorage | None = None
        self.failed: BaseException | None = None    # a write batch failed: the object resets
        self.block_while: Callable[[Callable[[], Any]], Any] | None = None
        """The object's blockConcurrencyWhile (pyworkerd.do_context sets it): transaction()
        keeps other events out while its function runs."""

    # -------------------------------------------------------------- reads

    def _lookup(self, keys: list[str]) -> list[bytes | None]:
        """Encoded values (None: absent), reading what the cache lacks in one blocking call."""
        missing = [k for k in keys if k not in self._cache]
        if missing and not self._complete:
            self._flush()
            fields = rpc.call_blocking(_ok, "dos.get", self._cls, self._id, *missing)
            for i, key in enumerate(missing):
                self._cache[key] = fields[2 * i + 1] if fields[2 * i] else _ABSENT
        out = []
        for key in keys:
            raw = self._cache.get(key, _ABSENT)
            out.append(None if raw is _ABSENT else raw)
        return out

    def get(self, key: str | list[str], options: Any = None, /, **kwargs: Any) -> Any:
        """The value of `key` (None when absent), or for a list of keys a dict of the found ones."""
        if isinstance(key, (list, tuple)):
            keys = [_check_key(k) for k in key]
            if len(keys) > MAX_KEYS:
                raise RangeError(f"Maximum number of keys is {MAX_KEYS}. {len(keys)} keys were provided.")
            found = {k: python_from_rpc(v) for k, v in zip(keys, self._lookup(keys)) if v is not None}
            return _result(found)
        raw = self._cache.get(key)
        if raw is None or raw is _ABSENT:
            raw = self._lookup([_check_key(key)])[0]
        return _result(None if raw is None else python_from_rpc(raw))

    def list(self, options: Any = None, /, **kwargs: Any) -> Any:
        """An ordered dict of key -> value: start, startAfter, end, prefix, reverse, limit."""
        opts = dict(options or {}, **kwargs)
        return _result(dict(self._list(opts)))

    def _list(self, opts: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        limit = opts.get("limit")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
            raise TypeError("list() limit must be a positive integer")
        reverse = bool(opts.get("reverse"))
        bounds = {name: opts.get(name) for name in ("start", "startAfter", "end", "prefix")}
        for name, value in bounds.items():
            if value is not None:
                _check_key(value)
        self._flush()
        entries: list[tuple[str, Any]] = []
        while True:
            fields = rpc.call_blocking(
                _ok, "dos.list", self._cls, self._id,
                *("" if bounds[n] is None else "=" + bounds[n] for n in ("start", "startAfter", "end", "prefix")),
                "1" if reverse else "", "" if limit is None else str(limit - len(entries)))
            page = list(_decode_pairs(fields[1]))
            for key, raw in page:
                self._cache[key] = raw
                entries.append((key, python_from_rpc(raw)))
            if fields[0] != b"1" or not page or (limit is not None and len(entries) >= limit):
                return entries
            last = page[-1][0]
            if reverse:
                bounds["end"] = last
            else:
                bounds["start"], bounds["startAfter"] = None, last

    def getAlarm(self, options: Any = None, /, **kwargs: Any) -> Any:
        """The alarm's time in ms since the epoch, or None."""
        self._flush()
        fields = rpc.call_blocking(_ok, "dos.alarm", self._cls, self._id)
        return _result(int(fields[0]) if fields[0] else None)

    # -------------------------------------------------------------- writes

    def _write(self, record: bytes) -> None:
        if self.failed is not None:
            raise self.failed
        self._batch.append(record)
        if self._flush_scheduled:
            return
        _dirty.add(self)
        asyncio = sys.modules.get("asyncio")
        loop = asyncio.events._get_running_loop() if asyncio is not None else None
        if loop is not None:
            self._flush_scheduled = True
            loop.call_soon(self._flush)

    def put(self, key: str | dict[str, Any], value: Any = None, options: Any = None, /, **kwargs: Any) -> Any:
        """Store `value` under `key`, or every pair of a dict (at most 128)."""
        if isinstance(key, dict):
            if len(key) > MAX_KEYS:
                raise RangeError(f"Maximum number of pairs is {MAX_KEYS}. {len(key)} pairs were provided.")
            encoded = [(_check_key(k), python_to_rpc(v)) for k, v in key.items()]
        else:
            encoded = [(_check_key(key), python_to_rpc(value))]
        for k, raw in encoded:
            self._cache[k] = raw
            self._write(_record(b"p", k.encode(), raw))
        return _result(None)

    def delete(self, key: str | list[str], options: Any = None, /, **kwargs: Any) -> Any:
        """Remove `key` (True when it existed), or a list of keys (how many existed)."""
        keys = [_check_key(k) for k in key] if isinstance(key, (list, tuple)) else [_check_key(key)]
        if len(keys) > MAX_KEYS:
            raise RangeError(f"Maximum number of keys is {MAX_KEYS}. {len(keys)} keys were provided.")
        existed = sum(raw is not None for raw in self._lookup(keys))
        for k in keys:
            self._cache[k] = _ABSENT
            self._write(_record(b"d", k.encode()))
        return _result(existed if isinstance(key, (list, tuple)) else bool(existed))

    def deleteAll(self, options: Any = None, /, **kwargs: Any) -> Any:
        """Remove every key (the alarm stays)."""
        self._cache.clear()
        self._complete = True
        self._write(_record(b"D"))
        return _result(None)

    def setAlarm(self, when: Any, options: Any = None, /, **kwargs: Any) -> Any:
        """Run the object's alarm() at `when` (ms since the epoch, or a datetime)."""
        self._write(_record(b"a", b"", str(_epoch_ms(when)).encode()))
        return _result(None)

    def deleteAlarm(self, options: Any = None, /, **kwargs: Any) -> Any:
        self._write(_record(b"A"))
        return _result(None)

    def sync(self) -> Any:
        """Resolves once every write so far is durable (they are, once sent: see the top)."""
        self._flush()
        return _result(None)

    def _flush(self, now: bool = True) -> None:
        """Send the pending writes as one batch (one transaction on the host); `now`: write it
        out at once (else it leaves with what the caller sends next, an answer). Nobody waits
        for its result: the host commits it before it reads the isolate's next frame, and when
        it fails the host turns the object's answers into errors and resets it."""
        self._flush_scheduled = False
        _dirty.discard(self)
        if not self._batch:
            return
        data = b"".join(self._batch)
        self._batch.clear()
        try:
            rpc.post("dos.write", self._cls, self._id, data, flush=now)
        except Exception as exc:
            self._failed(exc)
            raise

    def _failed(self, exc: BaseException) -> None:
        """A batch failed: the cache may hold what never became durable; the host resets the
        object (its answers in flight become errors)."""
        self.failed = exc
        self._cache.clear()
        self._complete = False

    def _discard(self) -> None:
        """ctx.abort(): the writes not sent yet never happen."""
        self._batch.clear()
        self._flush_scheduled = False
        _dirty.discard(self)

    # -------------------------------------------------------------- SQL and transactions

    @property
    def sql(self) -> SqlStorage:
        if not self._sql_enabled:
            raise RuntimeError("SQL is not enabled for this Durable Object class. Set enableSql = true "
                               "in its durableObjectNamespaces entry.")
        if self._sql is None:
            self._sql = SqlStorage(self)
        return self._sql

    def _txn(self, op: str) -> None:
        self._flush()
        rpc.call_blocking(_ok, "dos.txn", self._cls, self._id, op)

    def _rollback(self) -> None:
        self._batch.clear()
        self._txn("rollback")
        self._cache.clear()
        self._complete = False

    def transactionSync(self, fn: Callable[[], Any]) -> Any:
        """Run fn() in a transaction: committed when it returns, rolled back when it raises."""
        self._txn("begin")
        try:
            result = fn()
        except BaseException:
            self._rollback()
            raise
        self._txn("commit")
        return result

    def transaction(self, fn: Callable[[Any], Any]) -> Any:
        """Run `await fn(txn)` in a transaction (txn: this storage's API plus rollback()); no
        other event reaches the object meanwhile."""
        if self.block_while is not None:
            return self.block_while(lambda: _transaction(self, fn))
        return _transaction(self, fn)

    def __repr__(self) -> str:
        return f"DurableObjectStorage({self._cls}, {self._id})"


async def _transaction(storage: DurableObjectStorage, fn: Callable[[Any], Any]) -> Any:
    txn = DurableObjectTransaction(storage)
    storage._txn("begin")
    try:
        result = fn(txn)
        if hasattr(result, "__await__"):
            result = await result
    except BaseException:
        storage._rollback()
        raise
    if txn._rolled_back:
        storage._rollback()
    else:
        storage._txn("commit")
    return result


class DurableObjectTransaction:
    """What transaction() passes its function: the storage API and rollback()."""

    def __init__(self, storage: DurableObjectStorage) -> None:
        self._storage = storage
        self._rolled_back = False

    def rollback(self) -> None:
        """Undo the transaction's writes when it ends."""
        self._rolled_back = True

    def __getattr__(self, name: str) -> Any:
        if name in ("get", "put", "delete", "list", "getAlarm", "setAlarm", "deleteAlarm", "deleteAll"):
            return getattr(self._storage, name)
        raise AttributeError(name)


class SyncKvStorage:
    """`ctx.storage.kv`: the key-value API without awaits."""

    def __init__(self, storage: DurableObjectStorage) -> None:
        self._s = storage

    def get(self, key: str) -> Any:
        raw = self._s._lookup([_check_key(key)])[0]
        return None if raw is None else python_from_rpc(raw)

    def put(self, key: str, value: Any) -> None:
        raw = python_to_rpc(value)
        self._s._cache[_check_key(key)] = raw
        self._s._write(_record(b"p", key.encode(), raw))

    def delete(self, key: str) -> bool:
        existed = self._s._lookup([_check_key(key)])[0] is not None
        self._s._cache[key] = _ABSENT
        self._s._write(_record(b"d", key.encode()))
        return existed

    def list(self, options: Any = None, /, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """(key, value) pairs in key order: start, startAfter, end, prefix, reverse, limit."""
        return iter(self._s._list(dict(options or {}, **kwargs)))


# ------------------------------------------------------------------ SQL


def _cells(blob: bytes) -> Iterator[Any]:
    off, end = 0, len(blob)
    while off < end:
        kind = blob[off:off + 1]
        (length,) = _U32.unpack_from(blob, off + 1)
        data = blob[off + 5: off + 5 + length]
        off += 5 + length
        if kind == b"i":
            yield int(data)
        elif kind == b"f":
            yield float(data)
        elif kind == b"t":
            yield data.decode()
        elif kind == b"b":
            yield bytes(data)
        else:
            yield None


def _binding(value: Any) -> bytes:
    if value is None:
        return b"n" + _U32.pack(0)
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        data, kind = str(value).encode(), b"i"
    elif isinstance(value, float):
        data, kind = repr(value).encode(), b"f"
    elif isinstance(value, str):
        data, kind = value.encode(), b"t"
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data, kind = bytes(value), b"b"
    else:
        raise TypeError(f"Cannot bind a value of type {type(value).__name__} to a SQL parameter")
    return kind + _U32.pack(len(data)) + data


class SqlStorage:
    """`ctx.storage.sql`: exec(query, *bindings) -> SqlCursor; databaseSize."""

    def __init__(self, storage: DurableObjectStorage) -> None:
        self._s = storage

    def exec(self, query: str, *bindings: Any) -> SqlCursor:
        if not isinstance(query, str):
            raise TypeError("exec() takes the SQL text first")
        s = self._s
        s._flush()
        fields = rpc.call_blocking(_ok, "dos.sql", s._cls, s._id, query, b"".join(_binding(b) for b in bindings))
        return SqlCursor(fields)

    @property
    def databaseSize(self) -> int:
        s = self._s
        s._flush()
        return int(rpc.call_blocking(_ok, "dos.size", s._cls, s._id)[0])


class SqlCursor:
    """Rows of the last statement: iterate (dicts), toArray(), one(), raw(), columnNames,
    rowsRead, rowsWritten."""

    def __init__(self, fields: list[bytes]) -> None:
        columns = fields[0]
        (n,) = _U32.unpack_from(columns, 0)
        names, off = [], 4
        for _ in range(n):
            (length,) = _U32.unpack_from(columns, off)
            names.append(columns[off + 4: off + 4 + length].decode())
            off += 4 + length
        self.columnNames = names
        cells = list(_cells(fields[1]))
        self._rows = [cells[i:i + n] for i in range(0, len(cells), n)] if n else []
        self.rowsRead = int(fields[2])
        self.rowsWritten = int(fields[3])
        self._next = 0

    def _dicts(self) -> Iterator[JsDict]:
        while self._next < len(self._rows):
            row = self._rows[self._next]
            self._next += 1
            yield JsDict(zip(self.columnNames, row))

    def __iter__(self) -> Iterator[JsDict]:
        return self._dicts()

    def next(self) -> JsDict:
        """{"done": bool, "value": row} as a JavaScript iterator's next()."""
        for row in self._dicts():
            return JsDict(done=False, value=row)
        return JsDict(done=True, value=None)

    def toArray(self) -> list[JsDict]:
        return list(self._dicts())

    def one(self) -> JsDict:
        rows = self.toArray()
        if len(rows) != 1:
            raise RuntimeError("Expected exactly one result from SQL query, but got "
                               + ("no results." if not rows else f"{len(rows)} results."))
        return rows[0]

    def raw(self) -> Iterator[list[Any]]:
        while self._next < len(self._rows):
            self._next += 1
            yield list(self._rows[self._next - 1])
