# JsDict: the dict the SDK gives where workerd gives a JavaScript object (template and
# isolates): binding results, RPC values, and the JSON of request and response bodies. Its
# keys are also attributes, so code written against Pyodide's JS proxies (`data.cmd`, as in
# workerd's repl-server-python sample) and code using dict syntax (`data["cmd"]`) both work.
# Bottom layer of the SDK (imports nothing of it).
"""JsDict, and json.loads giving JsDicts for JSON objects."""

from __future__ import annotations

import json
from typing import Any


class JsDict(dict):
    """A dict whose keys are also attributes (`r["keys"]` == `r.keys_`), as Pyodide's JS objects."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def loads(text: str, **kwargs: Any) -> Any:
    """json.loads(text, **kwargs), JSON objects as JsDict unless the caller gives a hook."""
    if "object_hook" not in kwargs and "object_pairs_hook" not in kwargs:
        kwargs["object_hook"] = JsDict
    return json.loads(text, **kwargs)
