# PYTHON_TRACE=1, Python side (template and isolate processes): the lifecycle steps that
# happen in Python (requirements resolved, each module imported while a template loads the
# worker, reseeded) written by the same C writer as the C side's steps (_pyworkerd.trace),
# as "trace <role>[<pid>] <step>: <ms> ms". Off, a step costs one test of `enabled`, and
# the import hook is never installed.
"""PYTHON_TRACE lines for lifecycle steps that run in Python."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

try:
    import _pyworkerd
except ImportError:  # the SDK imported outside pyworkerd (tests/python): never tracing
    _pyworkerd = None

enabled: bool = bool(_pyworkerd and _pyworkerd.trace_enabled())
"""Set once, in the zygote (or a cold isolate), before the SDK is imported."""

clock = time.perf_counter
"""CLOCK_MONOTONIC, as the C side's pw_trace_clock()."""


def step(name: str, start: float) -> None:
    """One line for `name`, lasting from `start` (a clock() value) until now."""
    if enabled:
        _pyworkerd.trace(name, clock() - start)


@contextmanager
def imports(requirements: dict[str, str]) -> Iterator[None]:
    """While active, one line per module imported by the worker's own modules (and the
    worker's modules themselves), and per first import of a requirement's top-level module
    at any depth; `requirements` maps top-level module names to "name version"."""
    if not enabled:
        yield
        return
    import importlib._bootstrap as bootstrap

    original = bootstrap._find_and_load
    depth = 0

    def find_and_load(name: str, import_: object) -> object:
        nonlocal depth
        start = clock()
        depth += 1
        try:
            return original(name, import_)
        finally:
            depth -= 1
            owner = requirements.get(name)
            if owner is not None:
                step(f"import {name} (requirement {owner})", start)
            elif depth <= 1:
                step(f"import {name}", start)

    bootstrap._find_and_load = find_and_load
    try:
        yield
    finally:
        bootstrap._find_and_load = original
