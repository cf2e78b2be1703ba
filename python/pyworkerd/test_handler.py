# test_handler.py — the `test` handlers that `pyworkerd test` runs (isolate process), as
# `workerd test` runs them: `async def test(self, ctrl)` on the default and named
# WorkerEntrypoint classes, and (while top-level handlers are allowed) a top-level
# `test(ctrl, env, ctx)`. Calls are relaxed: a handler takes as many of (ctrl, env, ctx) as
# its signature has. The host asks which entry points have one, then runs each.
from __future__ import annotations

import inspect
from types import ModuleType
from typing import Any, Awaitable, Callable

import workers
from pyworkerd import bundle


class TestController:
    """The first argument of a test handler (workerd's TestController has no API of its own)."""

    __test__ = False  # not a pytest test class

    def __repr__(self) -> str:
        return "TestController()"


def _own_test(cls: type) -> Callable[..., Any] | None:
    handler = getattr(cls, "test", None)
    inherited = [getattr(base, "test", None) for base in bundle.with_vendored(workers.WorkerEntrypoint)]
    return handler if callable(handler) and handler not in inherited else None


def _entrypoint_classes(module: ModuleType) -> dict[str, type]:
    """Exported WorkerEntrypoint subclasses by entry point name ("" for Default)."""
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    out = {}
    for name in names:
        cls = getattr(module, name, None)
        bases = bundle.with_vendored(workers.WorkerEntrypoint)
        if inspect.isclass(cls) and issubclass(cls, bases) and cls not in bases:
            out["" if name == "Default" else name] = cls
    return out


def entrypoints_with_tests(module: ModuleType, legacy: bool) -> list[str]:
    """Entry point names whose test handler exists, default ("") first."""
    classes = _entrypoint_classes(module)
    names = [name for name, cls in classes.items() if _own_test(cls) is not None]
    top = getattr(module, "test", None)
    if legacy and "" not in classes and callable(top) and not inspect.isclass(top):
        names.append("")
    return sorted(names)


def _relaxed(handler: Callable[..., Any], args: tuple[Any, ...], arity: int) -> Any:
    return handler(*(args if arity < 0 else args[:arity]))


def run_test(module: ModuleType, legacy: bool, entrypoint: str, ctx: Any, env: Any,
             positional_count: Callable[[Callable[..., Any]], int]) -> Any | Awaitable[Any]:
    """Calls the entry point's test handler; returns its result (maybe awaitable)."""
    controller = TestController()
    cls = _entrypoint_classes(module).get(entrypoint)
    if cls is not None and _own_test(cls) is not None:
        method = getattr(cls(ctx, env), "test")
        return _relaxed(method, (controller, env, ctx), positional_count(method))
    top = getattr(module, "test", None)
    if not entrypoint and legacy and callable(top):
        return _relaxed(top, (controller, env, ctx), positional_count(top))
    raise TypeError(f'The entry point "{entrypoint or "Default"}" has no test handler.')
