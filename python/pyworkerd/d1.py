# The object behind `env.DB` for a D1 binding (template and isolates): Cloudflare's D1 API
# (prepare/bind, all/run/first/raw, batch, exec, dump, withSession). Statements go to the
# host as one binding call each (pyworkerd.rpc): awaitable in async code, the value itself in
# sync code. Values are encoded here in the host's statement format (storage/d1_statements.h
# in the C tree), so that integers stay exact and bytes stay bytes; the host answers rows as
# JSON (storage/d1_backend.h), turned here into dicts with attribute access, as workers-py
# gives them. Errors are D1's: `JsException("Error", "D1_ERROR: ...")`.
"""Cloudflare D1 databases for Python Workers."""

from __future__ import annotations

import base64
import json
import math
import struct
from collections.abc import Iterable
from typing import Any

from pyworkerd import rpc
from pyworkerd.bindings import JsDict
from pyworkerd.errors import JsException

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SQL_CACHE_SIZE = 256
_sql_cache: dict[str, bytes] = {}
"""The UTF-8 of recent SQL texts: a worker prepares the same few statements again and again."""

_NULL = b"n"
_pack_int = struct.Struct("<cq").pack
_pack_real = struct.Struct("<cd").pack
_pack_len = struct.Struct("<cI").pack
_pack_header = struct.Struct("<II").pack
_pack_count = struct.Struct("<I").pack


def _type_error(value: Any) -> JsException:
    return JsException("Error", f"D1_TYPE_ERROR: Type '{type(value).__name__}' not supported for "
                                f"value '{value!r}'")


def _encode_value(value: Any) -> bytes:
    """One bound value: None, bool (0/1), int (64-bit), float, str, bytes-like, or a list of
    byte values (as D1's JS API takes BLOBs)."""
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return _pack_int(b"i", int(value))
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise _type_error(value)
        return _pack_int(b"i", value)
    if isinstance(value, float):
        return _pack_real(b"f", value) if math.isfinite(value) else _NULL   # JSON: null
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        return _pack_len(b"t", len(data)) + data
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return _pack_len(b"b", len(data)) + data
    if isinstance(value, (list, tuple)) and all(isinstance(b, int) and not isinstance(b, bool)
                                                and 0 <= b < 256 for b in value):
        data = bytes(value)
        return _pack_len(b"b", len(data)) + data
    raise _type_error(value)


def _encode(statements: Iterable[D1PreparedStatement]) -> bytes:
    parts = []
    for stmt in statements:
        if not isinstance(stmt, D1PreparedStatement):
            raise TypeError("D1 batch() takes a list of prepared statements "
                            f"(got {type(stmt).__name__})")
        parts += (_pack_header(len(stmt._sql), stmt._count), stmt._sql, stmt._params)
    return _pack_count(len(parts) // 3) + b"".join(parts)


def _unblob(value: Any) -> Any:
    return base64.b64decode(value["$blob"]) if isinstance(value, dict) else value


def _results(raw: bytes) -> list[dict[str, Any]]:
    """The host's rows: per statement {"columns", "rows"[, "blobs"]}."""
    out = json.loads(raw)
    for r in out:
        if r.pop("blobs", False):
            r["rows"] = [[_unblob(v) for v in row] for row in r["rows"]]
    return out


def _d1_results(fields: list[bytes]) -> list[JsDict]:
    """{success, meta, results} per statement: rows as dicts keyed by column (the last of
    equal names wins). fields: the rows, then the metas (parsed only here: first() and raw()
    return none)."""
    return [JsDict(success=True, meta=JsDict(meta),
                   results=[JsDict(zip(r["columns"], row)) for row in r["rows"]])
            for r, meta in zip(_results(fields[0]), json.loads(fields[1]))]


def _d1_result(fields: list[bytes]) -> JsDict:
    return _d1_results(fields)[0]


def _raw_options(options: Any, kwargs: dict[str, Any]) -> bool:
    if options is None:
        options = {}
    elif not isinstance(options, dict):
        raise TypeError(f"D1 raw() options must be a dict or None, not {type(options).__name__}")
    return bool({**options, **kwargs}.get("columnNames", False))


class D1PreparedStatement:
    """A statement and its bound values; running it is awaitable in async code."""

    __slots__ = ("_db", "_sql", "_params", "_count")

    def __init__(self, db: D1Database, sql: bytes, params: bytes = b"", count: int = 0) -> None:
        self._db, self._sql, self._params, self._count = db, sql, params, count

    def bind(self, *values: Any) -> D1PreparedStatement:
        """A new statement with these values for its `?` / `?NNN` parameters."""
        return D1PreparedStatement(self._db, self._sql, b"".join(map(_encode_value, values)),
                                   len(values))

    def _query(self, decode: Any, mode: str = "all") -> Any:
        return self._db._call(decode, "d1.query", mode, _encode((self,)))

    def _rows(self, decode: Any, mode: str = "all") -> Any:
        """Runs it for its rows only: decode({"columns", "rows"})."""
        return self._query(lambda f: decode(_results(f[0])[0]), mode)

    def all(self) -> Any:
        """{"success": True, "meta": {...}, "results": [row dicts]}."""
        return self._query(_d1_result)

    def run(self) -> Any:
        """The same as all() (D1's run() returns the rows too)."""
        return self._query(_d1_result)

    def first(self, colName: str | None = None) -> Any:
        """The first row (a dict), or that column's value; None when there is no row."""
        def decode(r: dict[str, Any]) -> Any:
            if not r["rows"]:
                return None
            row = JsDict(zip(r["columns"], r["rows"][0]))
            if colName is None:
                return row
            if colName not in row:
                raise JsException("Error", f"D1_COLUMN_NOTFOUND: Column not found ({colName})")
            return row[colName]

        return self._rows(decode, "first")

    def raw(self, options: Any = None, /, **kwargs: Any) -> Any:
        """The rows as lists; with columnNames=True the column names come first."""
        names = _raw_options(options, kwargs)
        return self._rows(lambda r: ([r["columns"]] if names else []) + r["rows"])

    def __repr__(self) -> str:
        return f"D1PreparedStatement({self._sql.decode('utf-8', 'replace')!r})"


class D1Database:
    """A D1 database (a `wrapped` binding of cloudflare-internal:d1-api)."""

    __slots__ = ("_name", "_session")

    def __init__(self, name: str, session: D1DatabaseSession | None = None) -> None:
        self._name = name
        self._session = session

    def _call(self, decode: Any, op: str, *args: str | bytes) -> Any:
        session = self._session

        def answer(fields: list[bytes]) -> Any:     # rows, metas, bookmark
            if session is not None and len(fields) > 2:
                session._bookmark = fields[2].decode()
            return decode(fields)

        return rpc.call(answer, op, self._name, *args)

    def prepare(self, query: str) -> D1PreparedStatement:
        """A statement of `query`, to bind() values to and run."""
        if not isinstance(query, str):
            raise TypeError(f"D1 prepare() takes a string of SQL, not {type(query).__name__}")
        sql = _sql_cache.get(query)
        if sql is None:
            if len(_sql_cache) >= SQL_CACHE_SIZE:
                _sql_cache.clear()
            sql = _sql_cache[query] = query.encode("utf-8", "surrogatepass")
        return D1PreparedStatement(self, sql)

    def batch(self, statements: list[D1PreparedStatement]) -> Any:
        """Runs the statements in one transaction (all or nothing); a result per statement."""
        payload = _encode(statements)
        return self._call(_d1_results, "d1.batch", payload)

    def exec(self, query: str) -> Any:
        """Runs every statement of `query` (no bound values): {"count", "duration"}."""
        if not isinstance(query, str):
            raise TypeError(f"D1 exec() takes a string of SQL, not {type(query).__name__}")
        return rpc.call(lambda f: JsDict(count=int(f[0]), duration=float(f[1])), "d1.exec",
                        self._name, query.encode("utf-8", "surrogatepass"))

    def dump(self) -> Any:
        """The database as an SQLite file's bytes (deprecated on Cloudflare, kept for old code)."""
        return rpc.call(lambda f: bytes(f[0]), "d1.dump", self._name)

    def withSession(self, constraintOrBookmark: str | None = None) -> D1DatabaseSession:
        """A session (sequential consistency across its queries; one database here, so every
        read already sees every earlier write). Takes "first-primary", "first-unconstrained"
        or a bookmark from getBookmark()."""
        if constraintOrBookmark is not None and not isinstance(constraintOrBookmark, str):
            raise TypeError("withSession() takes a constraint or a bookmark string")
        return D1DatabaseSession(self._name)

    with_session = withSession

    def __repr__(self) -> str:
        return f"D1Database({self._name!r})"


class D1DatabaseSession(D1Database):
    """What withSession() returns: prepare() and batch(), and the latest bookmark."""

    __slots__ = ("_bookmark",)

    def __init__(self, name: str) -> None:
        super().__init__(name, self)
        self._bookmark: str | None = None

    def getBookmark(self) -> str | None:
        """The bookmark of the database's state after this session's last query (None before)."""
        return self._bookmark

    get_bookmark = getBookmark

    def __repr__(self) -> str:
        return f"D1DatabaseSession({self._name!r})"
