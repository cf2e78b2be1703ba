# Tests of pyworkerd.packages in-process: reading declared requirements, resolving them in
# package directories built in a temporary directory (extras, markers, versions, Pyodide
# builds), and top-level module names. The import allowlist itself is tested end to end
# (tests/e2e/test_packages.py), where the interpreter runs without `site`.
# Run: /usr/bin/python3.11 -m pytest tests/python
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

from pyworkerd import packages  # noqa: E402
from pyworkerd.packages import Declared, RequirementError, Resolver  # noqa: E402


def dist(directory: Path, name: str, version: str, *, requires=(), top_level=None, record=None,
         wheel_tag=None) -> None:
    info = directory / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = [f"Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    if top_level is not None:
        (info / "top_level.txt").write_text("\n".join(top_level) + "\n")
    if record is not None:
        (info / "RECORD").write_text("".join(f"{p},,\n" for p in record))
    if wheel_tag:
        (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nTag: {wheel_tag}\n")


def texts(declared: list[Declared]) -> list[str]:
    return [d.text for d in declared]


def test_requirements_are_read_from_every_declaration(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = ["fastapi>=0.90", "pydantic"]\n')
    (tmp_path / "requirements.txt").write_text(textwrap.dedent("""\
        # comment
        numpy==1.24.2  # pinned
        --index-url https://example.invalid/simple
        -r more.txt
        httpx \\
          >=0.20
        """))
    (tmp_path / "more.txt").write_text("idna\n")
    spec = {
        "config_dir": str(tmp_path),
        "bindings": [{"name": "requirements", "type": "json", "value": '["anyio"]'},
                     {"name": "other", "type": "json", "value": '["ignored"]'}],
        "modules": [{"name": "worker.py", "type": "python"},
                    {"name": "sniffio", "type": "requirement", "value": ""},
                    {"name": "typing-extensions", "type": "requirement", "value": ">=4"}],
    }
    declared = packages.declared_requirements(spec)
    assert texts(declared) == ["anyio", "sniffio", "typing-extensions>=4", "fastapi>=0.90",
                               "pydantic", "numpy==1.24.2", "idna", "httpx   >=0.20"]
    assert declared[0].source == 'the "requirements" binding'
    assert declared[5].source == f"{tmp_path}/requirements.txt:2"


def test_requirements_binding_must_be_a_list_of_strings():
    spec = {"bindings": [{"name": "requirements", "type": "json", "value": '{"numpy": 1}'}]}
    with pytest.raises(RequirementError, match="JSON list of package names"):
        packages.declared_requirements(spec)


def test_invalid_pyproject_names_the_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(RequirementError, match="pyproject.toml"):
        packages.declared_requirements({"config_dir": str(tmp_path)})


def test_first_location_with_a_matching_version_wins(tmp_path):
    vendor, system = tmp_path / "python_modules", tmp_path / "system"
    dist(vendor, "lib", "2.0", top_level=["lib"])
    dist(system, "lib", "1.0", top_level=["lib"])
    resolver = Resolver([str(vendor), str(system)], str(vendor))
    assert resolver.resolve([Declared("lib", "test")])["lib"].location == str(vendor)
    assert resolver.resolve([Declared("lib<2", "test")])["lib"].location == str(system)
    with pytest.raises(RequirementError, match=r'"lib>=3" \(declared in test\) is not available: '
                                               r"found lib 2.0 in .*; lib 1.0 in"):
        resolver.resolve([Declared("lib>=3", "test")])


def test_dependencies_follow_extras_and_markers(tmp_path):
    d = tmp_path / "site"
    dist(d, "app", "1.0", top_level=["app"], requires=[
        "core>=1", "fast; extra == 'speed'", "old; python_version < '3.0'", "gone-dep"])
    dist(d, "core", "1.5", top_level=["core"])
    dist(d, "fast", "0.1", record=["fast/__init__.py", "fast_c.cpython-311-x86_64-linux-gnu.so",
                                   "fast-0.1.dist-info/METADATA", "../../bin/fast"])
    dist(d, "old", "1.0", top_level=["old"])
    resolver = Resolver([str(d)], "python_modules")
    assert set(resolver.resolve([Declared("app", "t")])) == {"app", "core"}
    resolved = resolver.resolve([Declared("app[speed]", "t")])
    assert set(resolved) == {"app", "core", "fast"}
    assert resolved["fast"].top_level == ("fast", "fast_c")


def test_conflicting_declarations_are_reported(tmp_path):
    dist(tmp_path, "lib", "1.0", top_level=["lib"])
    with pytest.raises(RequirementError, match="lib>=2 .* conflicts with lib 1.0"):
        Resolver([str(tmp_path)]).resolve([Declared("lib", "a"), Declared("lib>=2", "b")])


def test_missing_packages_are_all_named_with_how_to_vendor(tmp_path):
    with pytest.raises(RequirementError) as info:
        Resolver([str(tmp_path)], "/cfg/python_modules").resolve(
            [Declared("one", "a"), Declared("two==1", "b"), Declared("bad req!", "c")])
    message = str(info.value)
    assert 'package "one" (declared in a) is not installed' in message
    assert "pip install --target /cfg/python_modules 'two==1'" in message
    assert 'invalid requirement "bad req!" in c' in message


def test_pyodide_builds_are_skipped_and_runtime_packages_ignored(tmp_path):
    vendor, system = tmp_path / "python_modules", tmp_path / "system"
    dist(vendor, "numpy", "2.0.0", top_level=["numpy"], wheel_tag="cp312-cp312-pyodide_2024_0_wasm32")
    dist(system, "numpy", "1.24.2", top_level=["numpy"])
    resolved = Resolver([str(vendor), str(system)]).resolve(
        [Declared("numpy", "t"), Declared("workers-py", "t"), Declared("micropip", "t")])
    assert list(resolved) == ["numpy"] and resolved["numpy"].version == "1.24.2"
    with pytest.raises(RequirementError, match="a Pyodide .WebAssembly. build"):
        Resolver([str(vendor)]).resolve([Declared("numpy", "t")])
