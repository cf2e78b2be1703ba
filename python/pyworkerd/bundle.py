# The worker's own python_modules/ bundle (template process): the modules a config names
# "python_modules/…" (how workerd's tooling, pywrangler, bundles vendored packages with a
# worker). setup(spec) puts that directory on sys.path after the standard library and before
# pyworkerd's SDK, so a vendored package, even a vendored `workers` SDK, is what the worker
# imports; processes its .pth files when the python_process_pth_files compatibility flag is
# on; and names the distributions in it, which count as declared requirements (packages.py).
# In the sandbox the worker's directory is also mounted at workerd's /session/metadata
# (isolate/sandbox.h), and the bundle is put on sys.path under that name, as on workerd.
# Invariant: the worker's own directory stays first on sys.path (its modules win over
# vendored ones of the same name).
"""The python_modules/ bundle of a worker's config: sys.path, .pth files, the SDK override."""

from __future__ import annotations

import importlib.machinery
import os
import sys
from typing import Any

BUNDLE_DIR = "python_modules"
SESSION_DIR = "/session/metadata"
"""workerd's path of a Python worker's bundle; the sandbox mounts the worker's directory there."""

PTH_FLAG, PTH_OFF_FLAG, PTH_DATE = ("python_process_pth_files", "disable_python_process_pth_files",
                                    "2026-05-26")

OVERRIDABLE = ("workers", "asgi")
"""The SDK's modules a vendored copy replaces (workerd's workers-runtime-sdk ships both);
`js` and `pyodide` stay pyworkerd's: a Pyodide build of them cannot run on CPython."""


def root(directory: str) -> str:
    """Where the worker's directory is seen: /session/metadata when the sandbox mounted it
    there, else its own path (--no-sandbox)."""
    try:
        if os.path.samefile(SESSION_DIR, directory):
            return SESSION_DIR
    except OSError:
        pass
    return directory


def path_of(spec: dict[str, Any]) -> str | None:
    """The bundle's directory as sys.path names it, or None when the config bundles none."""
    if not os.path.isdir(os.path.join(spec["dir"], BUNDLE_DIR)):
        return None
    return os.path.join(root(spec["dir"]), BUNDLE_DIR)


def process_pth_files(spec: dict[str, Any]) -> bool:
    """Whether the python_process_pth_files flag is on (by flag, or by date unless disabled)."""
    flags = set(spec.get("compat_flags", ()))
    if PTH_OFF_FLAG in flags:
        return False
    return PTH_FLAG in flags or spec.get("compat_date", "") >= PTH_DATE


def setup(spec: dict[str, Any]) -> str | None:
    """Put the bundle on sys.path (see the top of this file), the SDK's directory right after
    it; returns the bundle's directory or None."""
    bundle = path_of(spec)
    if bundle is None:
        return None
    sdk = _sdk_dir()
    for entry in (bundle, sdk):
        if entry in sys.path:
            sys.path.remove(entry)
    at = _after_stdlib()
    sys.path[at:at] = [bundle, sdk]
    if process_pth_files(spec):
        import site

        site.addsitedir(bundle)     # runs the .pth lines; appends the directories they name
    _let_vendored_sdk_win(bundle)
    return bundle


def _sdk_dir() -> str:
    """The directory of pyworkerd's SDK (js, workers, asgi, pyodide, pyworkerd)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _after_stdlib() -> int:
    """The index just past the standard library's entries (python311.zip, python3.11,
    lib-dynload), so the bundle comes before the SDK's directory."""
    stdlib = os.path.dirname(os.__file__)
    zipped = os.path.join(sys.base_prefix, "lib", "python%d%d.zip" % sys.version_info[:2])
    last = -1
    for i, entry in enumerate(sys.path):
        if entry in (stdlib, zipped) or entry.startswith(stdlib + os.sep):
            last = i
    return last + 1 if last >= 0 else len(sys.path)


def _let_vendored_sdk_win(bundle: str) -> None:
    """A vendored copy of an SDK module replaces pyworkerd's for the worker's imports: ours,
    imported by the zygote, leaves sys.modules (the runtime keeps its own references)."""
    for name in OVERRIDABLE:
        if importlib.machinery.PathFinder.find_spec(name, [bundle]) is None:
            continue
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            del sys.modules[loaded]


def with_vendored(ours: type) -> tuple[type, ...]:
    """`ours` (an SDK base class such as workers.WorkerEntrypoint) and, once the worker
    imported a vendored `workers`, the class of the same name there: entry points may
    subclass either."""
    mod = sys.modules.get("workers")
    origin = getattr(mod, "__file__", None) or ""
    theirs = getattr(mod, ours.__name__, None) if f"/{BUNDLE_DIR}/" in origin else None
    return (ours, theirs) if isinstance(theirs, type) and theirs is not ours else (ours,)


def distributions(bundle: str | None) -> list[str]:
    """Names of the distributions installed in the bundle (its *.dist-info directories)."""
    if not bundle:
        return []
    try:
        entries = sorted(os.listdir(bundle))
    except OSError:
        return []
    return [e[: -len(".dist-info")].split("-")[0] for e in entries if e.endswith(".dist-info")]
