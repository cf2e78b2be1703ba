# Extension modules load only from read-only places (template installs it; isolates inherit
# it): the stdlib, Debian's packages, the worker's own files and its python_modules/, never a
# file the worker wrote at run time (its /tmp). In the sandbox those places are read-only
# bind mounts and /tmp is a noexec tmpfs; this gives the refusal workerd's own words
# ("Can only load shared libraries from read only file systems") instead of the dynamic
# loader's, and keeps the rule without the sandbox (--no-sandbox) too.
"""Refuse native extensions from writable file systems, as workerd does."""

from __future__ import annotations

import importlib.machinery as machinery
import os
import sys
from typing import Any

__all__ = ["MESSAGE", "install"]

MESSAGE = "Can only load shared libraries from read only file systems"

_trusted: tuple[str, ...] = ()
"""Directories the worker was loaded from (sys.path and package locations at install)."""


def loadable(path: str) -> bool:
    """Is the shared library at `path` on a read-only file system, or under a trusted
    directory?"""
    real = os.path.realpath(path)
    if any(real == d or real.startswith(d + "/") for d in _trusted):
        return True
    try:
        return bool(os.statvfs(real).f_flag & os.ST_RDONLY)
    except OSError:
        return False


class GuardedExtensionLoader(machinery.ExtensionFileLoader):
    """ExtensionFileLoader that refuses a library on a writable file system."""

    def create_module(self, spec: Any) -> Any:
        if not loadable(self.path):
            raise ImportError(f"{MESSAGE}: {self.path} is on a writable file system (vendor "
                              f"the package in python_modules/ instead)", name=spec.name,
                              path=self.path)
        return super().create_module(spec)


def _is_file_finder_hook(hook: Any) -> bool:
    return "FileFinder.path_hook" in getattr(hook, "__qualname__", "")


def install(trusted: list[str]) -> None:
    """Replace the file finder's path hook by one whose extension loader is guarded."""
    global _trusted
    _trusted = tuple(os.path.realpath(d).rstrip("/") for d in trusted if d)
    hook = machinery.FileFinder.path_hook(
        (GuardedExtensionLoader, machinery.EXTENSION_SUFFIXES),
        (machinery.SourceFileLoader, machinery.SOURCE_SUFFIXES),
        (machinery.SourcelessFileLoader, machinery.BYTECODE_SUFFIXES))
    sys.path_hooks[:] = [hook if _is_file_finder_hook(h) else h for h in sys.path_hooks]
    sys.path_importer_cache.clear()
