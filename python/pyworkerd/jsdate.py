# JavaScript's Date for Python Workers (`js.Date.new()`, `js.Date.now()`): milliseconds since
# the epoch, UTC, as JavaScript keeps them; `to_py()` and RPC give a naive local datetime, as
# Cloudflare's SDK converts a Date. Bottom layer of the SDK; used in isolates.
"""Date: JavaScript's point in time (milliseconds since the epoch)."""

from __future__ import annotations

import datetime
import time
from typing import Any

from pyworkerd.jsobject import JsProxy

__all__ = ["Date"]


def _parse(text: str) -> float:
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.timestamp() * 1000


class Date(JsProxy):
    """`Date.new()` (now), `Date.new(ms)`, `Date.new("2024-01-01T00:00:00Z")`,
    `Date.new(datetime)`; `getTime()`, `toISOString()`, `Date.now()`."""

    __slots__ = ("_ms",)
    js_name = "Date"

    def __init__(self, value: Any = None) -> None:
        if value is None:
            ms = time.time() * 1000
        elif isinstance(value, datetime.datetime):
            ms = value.timestamp() * 1000
        elif isinstance(value, str):
            ms = _parse(value)
        else:
            ms = float(value)
        self._ms = float(int(ms))

    @classmethod
    def new(cls, value: Any = None) -> Date:
        return cls(value)

    @staticmethod
    def now() -> float:
        """Milliseconds since the epoch, now."""
        return float(int(time.time() * 1000))

    def getTime(self) -> float:
        return self._ms

    valueOf = getTime

    def toISOString(self) -> str:
        moment = datetime.datetime.fromtimestamp(self._ms / 1000, datetime.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(self._ms) % 1000:03d}Z"

    toJSON = toISOString

    def to_py(self, **options: Any) -> datetime.datetime:
        """A naive datetime in local time (as workers.python_from_rpc gives a Date)."""
        return datetime.datetime.fromtimestamp(self._ms / 1000)

    def __repr__(self) -> str:
        return f"Date({self.toISOString()!r})"
