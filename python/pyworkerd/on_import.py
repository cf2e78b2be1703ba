# Run a function right after a module is first imported (isolate process): loop.py uses it to
# install the isolate's event loop policy when the worker imports asyncio, so that an isolate
# whose worker never does so never pays for importing it.
"""`after_import(name, fn)`: call fn(module) once `name` is imported (now, if it is)."""

from __future__ import annotations

import sys
from typing import Any, Callable

__all__ = ["after_import"]


class _Loader:
    """Wraps a module's loader: exec_module, then the callback."""

    def __init__(self, loader: Any, callback: Callable[[Any], None]) -> None:
        self._loader = loader
        self._callback = callback

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        self._callback(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _Watch:
    """First on sys.meta_path until `name` is imported."""

    def __init__(self, name: str, callback: Callable[[Any], None]) -> None:
        self.name = name
        self.callback = callback

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self.callback)
        return spec

    def invalidate_caches(self) -> None:
        pass


def after_import(name: str, callback: Callable[[Any], None]) -> None:
    module = sys.modules.get(name)
    if module is not None:
        callback(module)
    else:
        sys.meta_path.insert(0, _Watch(name, callback))
