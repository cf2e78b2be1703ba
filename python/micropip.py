# micropip for Python Workers on pyworkerd (isolate process): `await micropip.install("numpy")`
# makes a package importable by resolving it exactly as the worker's declared requirements are
# (pyworkerd/packages.py: python_modules/ next to the config, then Debian's dist-packages).
# Nothing is ever downloaded: a package that is not installed is a ValueError saying how to
# vendor it.
"""Install packages at run time from the vendored and system packages (no network)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyworkerd import packages

__all__ = ["install", "list"]


@dataclass(frozen=True)
class PackageMetadata:
    """One importable distribution, as micropip.list() reports it."""

    name: str
    version: str
    source: str


async def install(
    requirements: str | list[str],
    keep_going: bool = False,
    deps: bool = True,
    credentials: str | None = None,
    pre: bool = False,
    index_urls: list[str] | str | None = None,
    *,
    verbose: bool | int = False,
    **kwargs: Any,
) -> None:
    """Make `requirements` (names with optional version specifiers) and their dependencies
    importable. Index, credential and dependency options are accepted and have no effect:
    packages come from python_modules/ and the system, never from an index."""
    names = [requirements] if isinstance(requirements, str) else [*requirements]
    try:
        packages.install(names)
    except packages.RequirementError as exc:
        raise ValueError(f"micropip.install(): {exc}\n  pyworkerd never downloads packages.") from None


def list() -> dict[str, PackageMetadata]:  # noqa: A001 - micropip's own name
    """The packages the worker may import: its requirements, their dependencies and what
    install() added."""
    return {
        r.name: PackageMetadata(r.name, r.version, r.location)
        for r in packages.installed().values()
    }
