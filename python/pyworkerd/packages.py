# Packages of a Worker (template process; `micropip` also calls in isolates). setup(spec)
# reads what the worker declares (the `requirements` json binding, pythonRequirement modules,
# pyproject.toml `[project] dependencies` and requirements.txt next to the config), resolves
# each requirement in the vendored python_modules/ next to the config first, then in Debian's
# dist-packages, checks version specifiers against the installed metadata, and follows the
# dependencies the metadata declares (Requires-Dist, extras and markers). A finder at the end
# of sys.meta_path then imports the resolved distributions' top-level modules and anything
# vendored in python_modules/ (uploaded with the worker on Cloudflare too), and refuses any
# other system package the worker's own code imports, with a hint, as on Cloudflare.
# Invariant: the interpreter runs without `site` (embed.c), so no package directory is ever
# on sys.path: every third-party import goes through PackageFinder.
"""Requirements of a Worker: declaration, resolution and the import allowlist."""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import re
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable

from pyworkerd import bundle

if TYPE_CHECKING:
    import importlib.metadata
    from pathlib import Path

# importlib.metadata, tomllib and pathlib (~20 ms together) are imported where they are used,
# so that a cold isolate (--no-snapshot) of a worker without requirements never loads them;
# the zygote imports them once for every template (embed.c).

VENDOR_DIR = "python_modules"
"""pywrangler's layout: a site-packages copy next to the worker's config."""

SYSTEM_DIRS = ("/usr/lib/python3/dist-packages",)
"""Debian's packages (apt-get install python3-NAME), searched after python_modules/."""

PROVIDED = frozenset({"workers-py", "workers-runtime-sdk", "pyodide-py", "micropip"})
"""Distributions the runtime itself provides (the SDK modules); never looked up."""

TEST_TOOLS = ("pytest", "pytest-asyncio")
"""Under `pyworkerd test`, these count as declared when installed (as workerd's test build
vendors pytest-asyncio, with pytest, into the tests' python_modules/): a test handler may run
pytest without the worker deploying it. Never under `serve`."""

INCOMPATIBLE_TAGS = ("emscripten", "wasm32", "pyodide")
"""WHEEL tags of Pyodide builds (pywrangler syncs those): their extensions cannot load here."""


class RequirementError(ValueError):
    """A requirement that cannot be satisfied; reported without a traceback (embed.c).
    A ValueError, as micropip.install() raises for a package it cannot find."""

    show_traceback = False


# ---------------------------------------------------------------- Debian's `packaging`


_packaging: ModuleType | None = None


def _pkg() -> Any:
    """Debian's python3-packaging, loaded on first use (it costs ~70 ms to import, so only
    workers that declare requirements pay for it) without leaving it importable: the worker
    may import `packaging` only if it declares it, so the modules loaded here are taken out
    of sys.modules again (they stay alive through the reference kept here)."""
    global _packaging
    if _packaging is not None:
        return _packaging
    before = set(sys.modules)
    added_path = [d for d in SYSTEM_DIRS if d not in sys.path]
    sys.path.extend(added_path)
    try:
        import packaging.markers
        import packaging.requirements
        import packaging.specifiers
        import packaging.version

        _packaging = packaging
        return packaging
    except ImportError as exc:
        raise RequirementError(
            f"pyworkerd cannot read requirements: {exc} (install Debian's python3-packaging)"
        ) from None
    finally:
        for d in added_path:
            sys.path.remove(d)
        for name in set(sys.modules) - before:
            if name == "packaging" or name.startswith("packaging."):
                del sys.modules[name]


def canonical(name: str) -> str:
    """PEP 503 normalised name: "Typing_Extensions" -> "typing-extensions"."""
    return re.sub(r"[-_.]+", "-", name).lower()


# ---------------------------------------------------------------- what the worker declares


class Declared:
    """One requirement as the worker wrote it, and where."""

    __slots__ = ("text", "source")

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source

    def __repr__(self) -> str:
        return f"Declared({self.text!r}, {self.source!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Declared) and (self.text, self.source) == (other.text, other.source)


def declared_requirements(spec: dict[str, Any]) -> list[Declared]:
    """Every requirement the worker declares, in order: binding, modules, files."""
    found: list[Declared] = []
    for binding in spec.get("bindings", []):
        if binding.get("name") == "requirements" and binding.get("type") == "json":
            found += _from_binding(binding.get("value") or "null")
    for module in spec.get("modules", []):
        if module.get("type") == "requirement":
            text = module["name"] + (module.get("value") or "").strip()
            found.append(Declared(text, f'the pythonRequirement module "{module["name"]}"'))
    config_dir = spec.get("config_dir")
    if config_dir and any(os.path.isfile(os.path.join(config_dir, name))
                          for name in ("pyproject.toml", "requirements.txt")):
        from pathlib import Path

        found += _from_pyproject(Path(config_dir) / "pyproject.toml")
        found += _from_requirements_txt(Path(config_dir) / "requirements.txt")
    return found


def _from_binding(value: str) -> list[Declared]:
    items = json.loads(value)
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise RequirementError(
            'the "requirements" binding must be a JSON list of package names, '
            'e.g. json = "[\\"numpy\\", \\"fastapi\\"]"'
        )
    return [Declared(i, 'the "requirements" binding') for i in items]


def _from_pyproject(path: Path) -> list[Declared]:
    if not path.is_file():
        return []
    import tomllib

    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RequirementError(f"{path}: {exc}") from None
    deps = data.get("project", {}).get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise RequirementError(f"{path}: [project] dependencies must be a list of strings")
    return [Declared(d, str(path)) for d in deps]


def _from_requirements_txt(path: Path, seen: frozenset[Path] = frozenset()) -> list[Declared]:
    """pip's format: one requirement a line, `#` comments, `-r other.txt`; other options
    (index URLs, -e, hashes) are ignored: nothing is ever downloaded."""
    if not path.is_file() or path in seen:
        return []
    found: list[Declared] = []
    text = path.read_text().replace("\\\n", "")
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        if not line:
            continue
        include = re.match(r"(-r|--requirement)[\s=]+(\S+)", line)
        if include:
            found += _from_requirements_txt(path.parent / include.group(2), seen | {path})
        elif not line.startswith("-"):
            found.append(Declared(line.split(" --")[0].strip(), f"{path}:{number}"))
    return found


# ---------------------------------------------------------------- resolution


class Resolved:
    """A distribution chosen for the worker."""

    __slots__ = ("name", "version", "location", "top_level", "required_by", "extras",
                 "deps_queued", "dist")

    def __init__(self, name: str, version: str, location: str, top_level: tuple[str, ...],
                 required_by: str, extras: set[str] | None = None, deps_queued: bool = False,
                 dist: importlib.metadata.Distribution | None = None) -> None:
        self.name = name
        self.version = version
        self.location = location
        self.top_level = top_level
        self.required_by = required_by
        self.extras = set() if extras is None else extras
        self.deps_queued = deps_queued
        self.dist = dist

    def __repr__(self) -> str:
        return f"Resolved({self.name!r}, {self.version!r}, {self.location!r})"


def _dist_entries(directory: str) -> dict[str, list[str]]:
    """canonical name -> metadata directories (*.dist-info, *.egg-info) in `directory`."""
    entries: dict[str, list[str]] = {}
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return entries
    for entry in names:
        for suffix in (".dist-info", ".egg-info"):
            if entry.endswith(suffix):
                name = entry[: -len(suffix)].split("-")[0]
                entries.setdefault(canonical(name), []).append(os.path.join(directory, entry))
    return entries


def _is_incompatible(dist: importlib.metadata.Distribution) -> bool:
    wheel = dist.read_text("WHEEL") or ""
    tags = [line for line in wheel.splitlines() if line.startswith("Tag:")]
    return any(t in line for line in tags for t in INCOMPATIBLE_TAGS)


def _top_level(dist: importlib.metadata.Distribution, name: str) -> tuple[str, ...]:
    """The importable top-level names a distribution installs."""
    text = dist.read_text("top_level.txt")
    names: list[str] = []
    if text:
        names = [line.strip().replace("/", ".").split(".")[0] for line in text.splitlines()]
    else:
        for file in dist.files or ():
            parts = file.parts
            if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith(("-info", ".pth")):
                continue
            top = parts[0] if len(parts) > 1 else parts[0].split(".")[0]
            if len(parts) == 1 and not parts[0].endswith((".py", ".so", ".pyd")):
                continue
            names.append(top)
    names = [n for n in dict.fromkeys(names) if n.isidentifier()]
    return tuple(names) or (canonical(name).replace("-", "_"),)


class Resolver:
    """Finds distributions in `locations` (directories, searched in order); `vendor_dir` is
    the python_modules/ directory that error messages tell the user to install into."""

    def __init__(self, locations: list[str], vendor_dir: str = VENDOR_DIR) -> None:
        self.locations = locations
        self.vendor_dir = vendor_dir
        self._index = [(d, _dist_entries(d)) for d in locations]

    def candidates(self, name: str) -> Iterable[tuple[str, importlib.metadata.Distribution]]:
        import importlib.metadata
        from pathlib import Path

        for directory, entries in self._index:
            for path in entries.get(name, ()):
                yield directory, importlib.metadata.PathDistribution(Path(path))

    def resolve(self, declared: list[Declared]) -> dict[str, Resolved]:
        """Declared requirements and their dependencies; RequirementError lists every
        declared requirement that cannot be met. Dependencies that are missing or whose
        version does not match are left to the import (Debian's own dependencies vouch for
        the system packages; a vendored tree is the user's own pip install)."""
        pkg = _pkg()
        resolved: dict[str, Resolved] = {}
        errors: list[str] = []
        queue: list[tuple[Any, str, bool]] = []
        for d in declared:
            try:
                queue.append((pkg.requirements.Requirement(d.text), d.source, True))
            except pkg.requirements.InvalidRequirement as exc:
                errors.append(f'invalid requirement "{d.text}" in {d.source}: {exc}')
        while queue:
            req, source, direct = queue.pop(0)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            name = canonical(req.name)
            if name in PROVIDED:
                continue
            if name in resolved:
                self._merge(resolved[name], req, source, direct, errors, queue)
                continue
            found = self._find(name, req, source, direct, errors)
            if found is not None:
                resolved[name] = found
                self._merge(found, req, source, direct, errors, queue)
        if errors:
            raise RequirementError("\n".join(errors))
        return resolved

    def _find(self, name: str, req: Any, source: str, direct: bool, errors: list[str]) -> Resolved | None:
        seen: list[str] = []
        fallback = None
        for directory, dist in self.candidates(name):
            if _is_incompatible(dist):
                seen.append(f"a Pyodide (WebAssembly) build in {directory}, which CPython cannot load")
                continue
            version = dist.version or "0"
            if fallback is None:
                fallback = (directory, dist, version)
            if _satisfies(version, req.specifier):
                return self._make(name, dist, directory, version, source)
            seen.append(f"{dist.metadata['Name'] or req.name} {version} in {directory}")
        if not direct:
            return self._make(name, fallback[1], fallback[0], fallback[2], source) if fallback else None
        errors.append(self._missing_message(req, source, seen))
        return None

    def _make(self, name: str, dist: Any, directory: str, version: str, source: str) -> Resolved:
        return Resolved(name, version, directory, _top_level(dist, name), source, dist=dist)

    def _merge(self, r: Resolved, req: Any, source: str, direct: bool, errors: list[str],
               queue: list[tuple[Any, str, bool]]) -> None:
        """Check `req` against the chosen `r` and queue the dependencies of new extras."""
        if direct and not _satisfies(r.version, req.specifier):
            errors.append(f'{req} (declared in {source}) conflicts with {r.name} {r.version} '
                          f'from {r.location}, chosen for {r.required_by}')
            return
        new = set(req.extras) - r.extras
        wanted = set(new) if r.deps_queued else new | {""}
        r.deps_queued = True
        r.extras |= new
        for line in (r.dist.requires if r.dist and wanted else None) or ():
            dep = _pkg().requirements.Requirement(line)
            if dep.marker is None:
                if "" in wanted:
                    queue.append((dep, f"{r.name} {r.version}", False))
            elif any(dep.marker.evaluate({"extra": e}) for e in wanted):
                dep.marker = None
                queue.append((dep, f"{r.name} {r.version}", False))

    def _missing_message(self, req: Any, source: str, seen: list[str]) -> str:
        vendor = f"pip install --target {self.vendor_dir} '{req}'"
        if seen:
            return (f'package "{req}" (declared in {source}) is not available: found '
                    f'{"; ".join(seen)}.\n  Vendor a matching version next to the config: {vendor}')
        where = [self.vendor_dir + " (vendored, pywrangler's layout)"]
        where += [d + " (Debian)" for d in self.locations if d != self.vendor_dir]
        return (f'package "{req.name}" (declared in {source}) is not installed: looked in '
                f'{" and ".join(where)}.\n  Vendor it next to the config: {vendor}\n'
                f"  (or install its Debian package, e.g. apt-get install python3-{canonical(req.name)})")


def _satisfies(version: str, specifier: Any) -> bool:
    if not str(specifier):
        return True
    try:
        return specifier.contains(version, prereleases=True)
    except _pkg().version.InvalidVersion:
        return True  # a version PEP 440 cannot parse: nothing to compare, accept it


# ---------------------------------------------------------------- the import allowlist


class PackageFinder:
    """Imports the allowed top-level modules from their distribution's directory and anything
    in python_modules/; refuses other system packages imported by the worker's own code (last
    on sys.meta_path, so the stdlib, the SDK and the worker's modules are found first, on
    sys.path)."""

    def __init__(self, worker_dir: str, locations: list[str], vendor_dir: str = VENDOR_DIR) -> None:
        self.worker_prefix = worker_dir.rstrip("/") + "/"
        self.not_worker: list[str] = []     # under worker_prefix, but vendored (a bundle)
        self.locations = locations
        self.vendor_dir = vendor_dir
        self.allowed: dict[str, str] = {}
        self.packages: dict[str, Resolved] = {}

    def add(self, resolved: dict[str, Resolved]) -> None:
        for name, r in resolved.items():
            self.packages.setdefault(name, r)
            for top in r.top_level:
                self.allowed.setdefault(top, r.location)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if path is not None:
            return None  # a submodule: its parent package's __path__ finds it
        directory = self.allowed.get(fullname)
        if directory is not None:
            return importlib.machinery.PathFinder.find_spec(fullname, [directory])
        spec = importlib.machinery.PathFinder.find_spec(fullname, self.locations)
        if spec is None or self._vendored(spec) or not self._imported_by_worker():
            # Not installed; vendored (python_modules/ is uploaded with the worker, so all of
            # it is importable on Cloudflare too); or imported by a package, not by the
            # worker: a dependency its metadata forgot (Debian's often do) must still load.
            return spec
        raise ModuleNotFoundError(self._refusal(fullname, spec), name=fullname)

    def _vendored(self, spec: Any) -> bool:
        origin = spec.origin or next(iter(spec.submodule_search_locations or ()), "")
        return origin.startswith(self.vendor_dir + "/")

    def invalidate_caches(self) -> None:
        pass

    def find_distributions(self, context: Any = None) -> Iterable[Any]:
        """importlib.metadata sees the allowed distributions (their entry points: pytest's
        plugins load as with site-packages on sys.path), none of the others."""
        import importlib.metadata

        name = getattr(context, "name", None)
        wanted = [r for key, r in self.packages.items()
                  if r.dist is not None and (name is None or canonical(name) == key)]
        return iter([r.dist for r in wanted])

    def _imported_by_worker(self) -> bool:
        """Whether the innermost frame outside importlib is one of the worker's modules."""
        frame = sys._getframe(2)
        while frame is not None:
            filename = frame.f_code.co_filename
            if not (filename.startswith("<frozen importlib") or filename == importlib.__file__):
                return filename.startswith(self.worker_prefix) and not filename.startswith(
                    tuple(self.not_worker))
            frame = frame.f_back
        return False

    def _refusal(self, name: str, spec: Any) -> str:
        origin = spec.origin or next(iter(spec.submodule_search_locations or ()), "")
        directory = next((d for d in self.locations if origin.startswith(d + "/")), origin)
        dist = _distribution_of(name, directory)
        return (
            f"No module named '{name}': {dist or name} is installed in {directory} but is not "
            "among the worker's requirements. Declare it (pyproject.toml [project] "
            'dependencies, requirements.txt or the "requirements" binding) so that it is '
            "importable here and on Cloudflare."
        )


def _distribution_of(module: str, directory: str) -> str | None:
    import importlib.metadata
    from pathlib import Path

    for name, paths in _dist_entries(directory).items():
        for path in paths:
            dist = importlib.metadata.PathDistribution(Path(path))
            if module in _top_level(dist, name):
                return dist.metadata["Name"] or name
    return None


# ---------------------------------------------------------------- entry points

_finder: PackageFinder | None = None


def vendor_dir(config_dir: str | None) -> str:
    """python_modules/ next to the config (pywrangler's layout)."""
    return os.path.join(config_dir, VENDOR_DIR) if config_dir else VENDOR_DIR


def locations(config_dir: str | None) -> list[str]:
    """Where packages are looked up, in order: python_modules/ next to the config, then
    Debian's dist-packages (the directories that exist)."""
    dirs = [vendor_dir(config_dir)] if config_dir else []
    return [d for d in dirs + list(SYSTEM_DIRS) if os.path.isdir(d)]


def setup(spec: dict[str, Any], bundle_dir: str | None = None) -> dict[str, Resolved]:
    """Resolve the worker's requirements and install the import allowlist (template).
    `bundle_dir`: the config's own python_modules/ (pyworkerd.bundle), searched first; the
    distributions in it count as declared requirements."""
    global _finder
    dirs = ([bundle_dir] if bundle_dir else []) + locations(spec.get("config_dir"))
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    _finder = PackageFinder(spec["dir"], dirs, vendor_dir(spec.get("config_dir")))
    if bundle_dir:
        _finder.not_worker.append(os.path.join(spec["dir"], bundle.BUNDLE_DIR) + "/")
    declared = declared_requirements(spec) + [
        Declared(name, f"the config's {bundle.BUNDLE_DIR}/ modules")
        for name in bundle.distributions(bundle_dir)
    ]
    resolved = Resolver(dirs, _finder.vendor_dir).resolve(declared) if declared else {}
    if spec.get("testing"):
        resolved.update(_test_tools(dirs, _finder.vendor_dir, resolved))
    _finder.add(resolved)
    sys.meta_path.append(_finder)
    importlib.invalidate_caches()
    return resolved


def _test_tools(dirs: list[str], vendor: str, resolved: dict[str, Resolved]) -> dict[str, Resolved]:
    """TEST_TOOLS that are installed (and not declared already), resolved with their
    dependencies; one that is missing is left out (its import fails as any other)."""
    found: dict[str, Resolved] = {}
    for tool in TEST_TOOLS:
        if canonical(tool) in resolved:
            continue
        try:
            found.update(Resolver(dirs, vendor).resolve([Declared(tool, "pyworkerd test")]))
        except RequirementError:
            pass
    return {k: v for k, v in found.items() if k not in resolved}


def install(requirements: list[str], source: str = "micropip.install()") -> list[Resolved]:
    """micropip: resolve more requirements at run time, in the same places; new names become
    importable. Raises RequirementError naming what cannot be found."""
    finder = _finder
    if finder is None:
        finder = PackageFinder("/nonexistent", locations(None))
    resolver = Resolver(finder.locations, finder.vendor_dir)
    resolved = resolver.resolve([Declared(r, source) for r in requirements])
    finder.add(resolved)
    importlib.invalidate_caches()
    return list(resolved.values())


def installed() -> dict[str, Resolved]:
    """The distributions the worker may import (micropip.list())."""
    return dict(_finder.packages) if _finder else {}


def readable_paths() -> list[str]:
    """Directories an isolate must be able to read for imports: sys.path (the SDK, the
    stdlib, the worker's own directory) and the package locations (micropip may import
    from any of them at run time)."""
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    if _finder is not None:
        paths += _finder.locations
    return list(dict.fromkeys(os.path.realpath(p) for p in paths))
