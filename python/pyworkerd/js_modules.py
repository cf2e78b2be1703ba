# The JavaScript modules a Python Worker may import with `workers.import_from_javascript(name)`:
# "cloudflare:workers" (`env`, `waitUntil`) and "cloudflare:sockets" (`connect`) anywhere, top
# level included, as in workerd; "cloudflare:vectorize" (its enums). Any other name is an
# ImportError naming it. pyworkerd has no JavaScript modules: these are Python objects with
# the same names. The process's-context layer (env, waitUntil); used in the template and in
# isolates.
"""The objects behind import_from_javascript("cloudflare:workers" | "cloudflare:sockets" | ...)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pyworkerd import context
from pyworkerd.errors import JsException

__all__ = ["import_module"]


class _WorkersModule:
    """`cloudflare:workers`: `env` (the Worker's bindings) and `waitUntil`."""

    __slots__ = ()

    @property
    def env(self) -> Any:
        return context.env

    @staticmethod
    def waitUntil(awaitable: Any) -> None:
        context.wait_until(awaitable)

    def __repr__(self) -> str:
        return "<JavaScript module cloudflare:workers>"


def _connect(address: Any, options: Any = None, /, **kwargs: Any) -> Any:
    raise JsException("Error", "cloudflare:sockets connect() is not supported by pyworkerd yet: "
                      "use Python's socket module for outbound TCP once sockets are supported")


_VECTORIZE = SimpleNamespace(
    DistanceMetric=SimpleNamespace(EUCLIDEAN="euclidean", COSINE="cosine", DOT_PRODUCT="dot-product"),
    KnownModel=SimpleNamespace(**{"OpenAI/text-embedding-ada-002": "openai/text-embedding-ada-002",
                                  "cohere/embed-multilingual-v2.0": "cohere/embed-multilingual-v2.0",
                                  "@cf/baai/bge-small-en-v1.5": "@cf/baai/bge-small-en-v1.5",
                                  "@cf/baai/bge-base-en-v1.5": "@cf/baai/bge-base-en-v1.5",
                                  "@cf/baai/bge-large-en-v1.5": "@cf/baai/bge-large-en-v1.5"}),
    MetadataRetrievalLevel=SimpleNamespace(ALL="all", INDEXED="indexed", NONE="none"),
)

_MODULES: dict[str, Any] = {
    "cloudflare:workers": _WorkersModule(),
    "cloudflare:sockets": SimpleNamespace(connect=_connect),
    "cloudflare:vectorize": _VECTORIZE,
}


def import_module(name: str) -> Any:
    """The module `name`, or ImportError("Failed to import 'name': ...")."""
    module = _MODULES.get(name)
    if module is None:
        raise ImportError(f"Failed to import '{name}': No such module \"{name}\" in pyworkerd "
                          f"(available: {', '.join(sorted(_MODULES))}).")
    return module
