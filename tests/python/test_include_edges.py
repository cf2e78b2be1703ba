"""The C tree's floor plan (ARCHITECTURE.md, DESIGN.md §8): folders are processes, and no
#include crosses a forbidden edge. Parses every src/**/*.c and *.h; each "folder/file.h"
include is an edge from the including file's folder to that folder."""
import os
import pathlib
import re
import subprocess

import pytest

SRC = pathlib.Path(__file__).resolve().parents[2] / "src"
FOLDERS = {"base", "config", "http", "host", "storage", "wire", "isolate", "python"}

# folder -> folders it must never include
NEVER = {
    "base": FOLDERS - {"base"},
    "wire": {"host", "python", "isolate", "http", "storage", "config"},
    "http": {"host", "isolate", "python", "storage"},
    "isolate": {"http", "storage", "host", "config"},
    "python": {"host", "http", "storage", "isolate", "config"},
    "storage": {"host", "http", "isolate", "python"},
    "config": {"host", "http", "isolate", "python", "storage"},
    "host": {"python"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"', re.M)


def edges():
    for path in sorted(SRC.rglob("*.[ch]")):
        rel = path.relative_to(SRC)
        if len(rel.parts) != 2:     # main.c and isolate_main.c assemble a side: any folder
            continue
        folder = rel.parts[0]
        for target in INCLUDE.findall(path.read_text()):
            yield str(rel), folder, target


def test_every_file_is_in_a_known_folder():
    unknown = {p.relative_to(SRC).parts[0] for p in SRC.rglob("*.[ch]")
               if len(p.relative_to(SRC).parts) == 2} - FOLDERS
    assert not unknown, f"src/ folders with no rule in this test: {sorted(unknown)}"


def test_no_include_crosses_a_forbidden_edge():
    crossings = [f"{rel} includes {target}/" for rel, folder, target in edges()
                 if target in NEVER.get(folder, set())]
    assert not crossings, "forbidden includes:\n" + "\n".join(crossings)


def test_the_rules_catch_a_crossing(tmp_path):
    """The check itself: a wire file including the host is seen."""
    text = '#include "host/pool.h"\n#include "wire/frame.h"\n'
    assert [t for t in INCLUDE.findall(text) if t in NEVER["wire"]] == ["host"]


def needed_libraries(binary):
    """The shared libraries an ELF file names (its DT_NEEDED entries), from `ldd`."""
    out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


@pytest.mark.skipif(not os.environ.get("PYWORKERD_BIN"), reason="needs the built binaries (make e2e)")
def test_each_side_links_only_its_libraries():
    host = pathlib.Path(os.environ["PYWORKERD_BIN"])
    child = host.with_name("pyworkerd-isolate")
    host_libs = needed_libraries(host)
    assert host_libs and not [lib for lib in host_libs if "python" in lib], host_libs
    child_libs = needed_libraries(child)
    assert any("python" in lib for lib in child_libs), child_libs
    host_only = ("libh2o", "libuv", "libcurl", "libsqlite3", "libssl", "libpq")
    assert not [lib for lib in child_libs if lib.startswith(host_only)], child_libs
    # libcurl and libpq are loaded at their first use (base/lazy_lib.h): not at every start
    assert not [lib for lib in host_libs if lib.startswith(("libcurl", "libpq"))], host_libs
