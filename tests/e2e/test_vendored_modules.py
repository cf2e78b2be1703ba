"""A config's `python_modules/…` modules (how workerd's tooling bundles vendored packages
with a worker, issue 15): importable, on sys.path after the standard library and before the
SDK, also at workerd's /session/metadata; .pth files under python_process_pth_files; a
vendored `workers` SDK replaces pyworkerd's; the bundle's distributions count as declared
requirements."""

import json

from conftest import REPO

HANDLER = """
import json, sys
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(json.dumps(report()))
"""


def _json(server, path="/"):
    status, _, body = server.get(path)
    assert status == 200, (body, server.log())
    return json.loads(body)


def test_bundled_modules_import_after_stdlib_before_sdk(serve):
    server = serve({
        "worker.py": HANDLER + """
import vend, dup

def report():
    return {"vend": vend.VALUE, "dup": dup.WHERE, "path": sys.path,
            "file": vend.__file__}
""",
        "dup.py": "WHERE = 'worker'\n",
        "python_modules/vend.py": "VALUE = 77\n",
        "python_modules/dup.py": "WHERE = 'bundle'\n",
    })
    got = _json(server)
    assert got["vend"] == 77
    assert got["dup"] == "worker", "the worker's own module wins over a vendored one"
    path = got["path"]
    bundle = "/session/metadata/python_modules"
    assert got["file"] == bundle + "/vend.py"
    assert path.index(bundle) > path.index("/usr/lib/python3.11/lib-dynload")
    assert path.index(bundle) < path.index(str(REPO / "python")), "before the SDK"
    assert not any("site-packages" in p or "dist-packages" in p for p in path)


def test_the_bundle_is_readable_at_session_metadata(serve):
    server = serve({
        "worker.py": HANDLER + """
import os

def report():
    with open("/session/metadata/python_modules/data.txt") as f:
        data = f.read()
    return {"data": data, "listing": sorted(os.listdir("/session/metadata")),
            "main": open("/session/metadata/worker.py").read().startswith("\\nimport json")}
""",
        "python_modules/data.txt": "bundled text",
    })
    got = _json(server)
    assert got["data"] == "bundled text"
    assert {"worker.py", "python_modules"} <= set(got["listing"])
    assert got["main"] is True


def test_the_session_path_is_read_only(serve):
    server = serve({"worker.py": HANDLER + """
def report():
    try:
        open("/session/metadata/worker.py", "a").write("x")
    except OSError as e:
        return {"error": type(e).__name__}
    return {"error": None}
"""})
    assert _json(server)["error"] in ("PermissionError", "OSError")


PTH_WORKER = HANDLER + """
import extra_module

def report():
    return {"value": extra_module.VALUE, "path": sys.path,
            "ran": getattr(sys, "pth_line_ran", False)}
"""

PTH_FILES = {
    "worker.py": PTH_WORKER,
    "python_modules/setup.pth": "extra_dir\nimport sys; sys.pth_line_ran = True\n",
    "python_modules/extra_dir/extra_module.py": "VALUE = 42\n",
}


def test_pth_files_are_processed_under_the_compat_flag(serve):
    server = serve(PTH_FILES, flags=("python_workers", "python_process_pth_files"))
    got = _json(server)
    assert got["value"] == 42
    assert got["ran"] is True
    assert "/session/metadata/python_modules/extra_dir" in got["path"]


def test_pth_files_are_processed_from_the_flags_date(serve):
    server = serve(PTH_FILES, date="2026-05-26")
    assert _json(server)["value"] == 42


def test_pth_files_are_ignored_without_the_flag(serve):
    server = serve(PTH_FILES, wait=False)
    log = server.wait_log("No module named 'extra_module'", timeout=20)
    assert "failed to load" in log or "extra_module" in log


def test_pth_files_off_with_the_disable_flag(serve):
    server = serve(PTH_FILES, date="2026-06-01", wait=False,
                   flags=("python_workers", "disable_python_process_pth_files"))
    server.wait_log("No module named 'extra_module'", timeout=20)


VENDORED_SDK = """
# A vendored workers SDK (as workerd's workers-runtime-sdk), self-contained.
class WorkerEntrypoint:
    def __init__(self, ctx, env):
        self.ctx = ctx
        self.env = env

def extra_function():
    return 42
"""


def test_a_vendored_workers_package_overrides_the_sdk(serve):
    server = serve({
        "worker.py": """
import workers
from workers import WorkerEntrypoint, extra_function
from js import Response

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response.new(f"{extra_function()} {workers.__file__}")

    async def test(self):
        assert extra_function() == 42
""",
        "python_modules/workers/__init__.py": VENDORED_SDK,
    })
    status, _, body = server.get("/")
    assert status == 200, server.log()
    assert body == b"42 /session/metadata/python_modules/workers/__init__.py"


def test_a_top_level_workers_module_does_not_replace_the_sdk(serve):
    """workerd's vendor_dir test: a worker module named workers.py next to the main module
    must not be what the runtime takes for the SDK."""
    server = serve({
        "worker.py": """
from js import Response

def on_fetch(request):
    return Response.new("fine")
""",
        "workers.py": "A = 77\n",
    })
    assert server.get("/")[2] == b"fine"


DIST = "vpkg-1.0.dist-info"


def test_bundled_distributions_count_as_declared_requirements(serve):
    """The bundle's vpkg requires Debian's distro: the worker may import distro, as a
    dependency of a declared requirement."""
    server = serve({
        "worker.py": HANDLER + """
import distro, vpkg

def report():
    return {"vpkg": vpkg.NAME, "distro": distro.__name__}
""",
        "python_modules/vpkg.py": "NAME = 'vpkg'\n",
        f"python_modules/{DIST}/METADATA": "Metadata-Version: 2.1\nName: vpkg\nVersion: 1.0\n"
                                            "Requires-Dist: distro\n",
        f"python_modules/{DIST}/top_level.txt": "vpkg\n",
    })
    assert _json(server) == {"vpkg": "vpkg", "distro": "distro"}


def test_without_the_distribution_an_undeclared_system_package_is_refused(serve):
    server = serve({
        "worker.py": HANDLER + """
import distro

def report():
    return {}
""",
        "python_modules/vpkg.py": "NAME = 'vpkg'\n",
    }, wait=False)
    server.wait_log("distro is installed in /usr/lib/python3/dist-packages but is not among",
                    timeout=20)


def test_without_the_sandbox_the_bundle_is_at_its_own_path(serve):
    server = serve({
        "worker.py": HANDLER + """
import vend

def report():
    return {"file": vend.__file__, "path": sys.path}
""",
        "python_modules/vend.py": "VALUE = 77\n",
    }, "--no-sandbox")
    got = _json(server)
    assert got["file"].endswith("/main/python_modules/vend.py")
    assert not got["file"].startswith("/session/")
    assert got["file"].rsplit("/", 1)[0] in got["path"]
