# The JavaScript modules a Python Worker may import with `workers.import_from_javascript(name)`:
# "cloudflare:workers" (`env`, `withEnv`, `waitUntil`) and "cloudflare:sockets" (`connect`) anywhere, top
# level included, as in workerd; "cloudflare:vectorize" (its enums). Any other name is an
# ImportError naming it. pyworkerd has no JavaScript modules: these are Python objects with
# the same names. The process's-context layer (env, waitUntil); used in the template and in
# isolates.
"""The objects behind import_from_javascript("cloudflare:workers" | "cloudflare:sockets" | ...)."""

from __future__ import annotations

import contextvars
import inspect
from types import SimpleNamespace
from typing import Any

from pyworkerd import context
from pyworkerd.errors import JsException

__all__ = ["import_module"]


_ENV_OVERRIDE: contextvars.ContextVar[Any] = contextvars.ContextVar("cloudflare_workers_env")
"""withEnv's env, for the code (and the tasks it starts) that withEnv runs."""


class _WorkersModule:
    """`cloudflare:workers`: `env` (the Worker's bindings, or withEnv's), `withEnv` and
    `waitUntil`."""

    __slots__ = ()

    @property
    def env(self) -> Any:
        return _ENV_OVERRIDE.get(context.env)

    @staticmethod
    def withEnv(new_env: Any, fn: Any) -> Any:
        """Call `fn()` with `env` replaced by `new_env` (a dict's keys become attributes),
        as workerd's AsyncLocalStorage does: a coroutine it returns runs with it too."""
        if isinstance(new_env, dict):
            new_env = context.Env(new_env)
        token = _ENV_OVERRIDE.set(new_env)
        try:
            result = fn()
        finally:
            _ENV_OVERRIDE.reset(token)
        if inspect.isawaitable(result):
            return _awaited_with(new_env, result)
        return result

    @staticmethod
    def waitUntil(awaitable: Any) -> None:
        context.wait_until(awaitable)

    def __repr__(self) -> str:
        return "<JavaScript module cloudflare:workers>"


async def _awaited_with(new_env: Any, awaitable: Any) -> Any:
    token = _ENV_OVERRIDE.set(new_env)
    try:
        return await awaitable
    finally:
        _ENV_OVERRIDE.reset(token)


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
