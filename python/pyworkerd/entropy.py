# Top-level entropy, as in workerd (DESIGN.md §6, SDK.md §G). begin_template() runs in the
# worker template before the worker is imported: from then on, randomness drawn while an
# imported module seeds itself (random, numpy.random, tempfile, or any os.urandom call made by
# a module's own top level) comes from a fixed deterministic stream, so the template holds no
# secret that every isolate would share; and randomness drawn by the worker's own top-level
# code (random.random(), os.urandom, secrets.*, uuid.uuid4(), numpy.random.rand(), an
# unseeded random.Random()) raises workerd's "outside of request context" errors. Explicitly
# seeded generators (random.Random(42), numpy.random.default_rng(42)) work.
# before_first_request() runs in every isolate before its first request: it puts the real
# functions back and reseeds random and numpy.random from the kernel's entropy.
# Invariant: nothing here runs in the host; the gates only ever exist inside a template.
"""Deterministic entropy while a template runs top-level code; real entropy in isolates."""

from __future__ import annotations

import functools
import os
import random
import sys
from types import ModuleType
from typing import Any, Callable

EIO = 29
ENTROPY_MESSAGE = "Cannot get entropy outside of request context"
TEMPLATE_SEED = 0x70797764
"""Seed of the deterministic stream handed out while a template imports modules."""

NUMPY_ALLOWED = frozenset({"default_rng"})
"""numpy.random callables usable at top level besides its classes (Generator, RandomState,
SeedSequence, the bit generators): they take an explicit seed; without one they draw from
os.urandom's gate and fail there."""

_real_urandom = os.urandom
_real_seed = random.Random.seed
_in_request = True
_worker_prefix = "\0"
_stream = random.Random(TEMPLATE_SEED)
_restore: list[tuple[Any, str, Any]] = []
_forked = False
"""Set in a process forked after begin_template(): random's own at-fork hook (registered when
`random` was imported, before any patch) has already reseeded its shared instance there."""


def _note_fork() -> None:
    global _forked
    _forked = True


def _worker_top_level() -> bool:
    """Whether the innermost module-level code running is one of the worker's modules
    (its own top-level draw) rather than a module being imported (seeding itself)."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "<module>":
            return code.co_filename.startswith(_worker_prefix)
        frame = frame.f_back
    return False


def _gated_urandom(size: int) -> bytes:
    if _in_request:
        return _real_urandom(size)
    if _worker_top_level():
        raise OSError(EIO, ENTROPY_MESSAGE)
    return _stream.randbytes(size)


def _gated_seed(self: random.Random, a: Any = None, version: int = 2) -> None:
    if a is None and not _in_request:
        if _worker_top_level():
            raise OSError(EIO, ENTROPY_MESSAGE)
        a = _stream.getrandbits(128)
    _real_seed(self, a, version)


def _gate(qualname: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func`, refusing calls from the worker's top level until the first request."""
    message = f"Cannot use {qualname}() outside of request context"

    @functools.wraps(func)
    def gated(*args: Any, **kwargs: Any) -> Any:
        if not _in_request and _worker_top_level():
            raise RuntimeError(message)
        return func(*args, **kwargs)

    return gated


def _patch(owner: Any, name: str, value: Any) -> None:
    _restore.append((owner, name, getattr(owner, name)))
    setattr(owner, name, value)


def _gate_module(module: ModuleType, allowed: frozenset[str]) -> None:
    """Gate every public function of `module` (classes and `allowed` names stay usable)."""
    for name in getattr(module, "__all__", ()):
        value = getattr(module, name, None)
        if callable(value) and not isinstance(value, type) and name not in allowed:
            _patch(module, name, _gate(f"{module.__name__}.{name}", value))


def _patch_random(module: ModuleType) -> None:
    _real_seed(module._inst, TEMPLATE_SEED)  # the shared instance: no secret in the template
    _patch(module, "_urandom", _gated_urandom)  # SystemRandom, hence secrets.*
    _patch(module.Random, "seed", _gated_seed)
    _gate_module(module, frozenset())


def _patch_numpy_random(module: ModuleType) -> None:
    _gate_module(module, NUMPY_ALLOWED)


def _patch_tempfile(module: ModuleType) -> None:
    class DeterministicNames(module._RandomNameSequence):  # type: ignore[name-defined]
        """tempfile's name sequence with an explicitly seeded generator."""

        @property
        def rng(self) -> random.Random:
            if not hasattr(self, "_fixed_rng"):
                self._fixed_rng = random.Random(TEMPLATE_SEED)
            return self._fixed_rng

    _patch(module, "_RandomNameSequence", DeterministicNames)


PATCHES: dict[str, Callable[[ModuleType], None]] = {
    "numpy.random": _patch_numpy_random,
    "tempfile": _patch_tempfile,
}
"""Modules patched as soon as they are imported in a template (or at once if they were)."""


class _Loader:
    """The module's own loader, followed by its patch."""

    def __init__(self, loader: Any, patch: Callable[[ModuleType], None]) -> None:
        self.loader = loader
        self.patch = patch

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        if not _in_request:
            self.patch(module)


class ImportHook:
    """First on sys.meta_path in a template: patches the modules of PATCHES on import."""

    @staticmethod
    def find_spec(fullname: str, path: Any = None, target: Any = None) -> Any:
        patch = PATCHES.get(fullname)
        if patch is None:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find and finder is not ImportHook else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None:
            spec.loader = _Loader(spec.loader, patch)
        return spec

    @staticmethod
    def invalidate_caches() -> None:
        pass


def begin_template(worker_dir: str) -> None:
    """Gate entropy for the worker's top level (template, before the worker is imported)."""
    global _in_request, _worker_prefix
    _worker_prefix = worker_dir.rstrip("/") + "/"
    _in_request = False
    os.register_at_fork(after_in_child=_note_fork)
    _patch(os, "urandom", _gated_urandom)
    _patch_random(random)
    for name, patch in PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
    sys.meta_path.insert(0, ImportHook)


def before_first_request() -> None:
    """Real entropy from now on: restore and reseed (isolate, before its first request)."""
    global _in_request
    if _in_request:
        return
    _in_request = True
    while _restore:
        owner, name, value = _restore.pop()
        setattr(owner, name, value)
    if ImportHook in sys.meta_path:
        sys.meta_path.remove(ImportHook)
    if not _forked:     # a cold isolate: no fork since the template seeded it
        random.seed()
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None and type(tempfile._name_sequence) is not tempfile._RandomNameSequence:
        tempfile._name_sequence = None  # made in the template: next name draws real entropy
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed()
