# pyodide.http for Workers written for Pyodide: `await pyfetch(url, **options)` fetches through
# the host (pyworkerd.bindings.fetch) and gives a FetchResponse (`status`, `ok`, `headers`,
# `await text()/json()/bytes()/buffer()`, `raise_for_status()`); a failed fetch is OSError,
# as in Pyodide. Imported on demand by user code and Cloudflare's SDK, in the template or an
# isolate.
"""pyfetch and FetchResponse (Pyodide's HTTP helpers)."""

from __future__ import annotations

from typing import Any

from pyworkerd.bindings import fetch
from pyworkerd.errors import JsException
from pyworkerd.response import FetchResponse

__all__ = ["FetchResponse", "pyfetch"]


async def pyfetch(url: Any, **kwargs: Any) -> FetchResponse:
    """Fetch `url` (str or Request) with fetch options as keywords; OSError when it fails."""
    kwargs.pop("fetcher", None)
    try:
        return await fetch(url, **kwargs)
    except JsException as exc:
        raise OSError(exc.message) from None
