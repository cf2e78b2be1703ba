"""Packages through the real server: requirements declared four ways, resolved in the vendored
python_modules/ next to the config and then in Debian's dist-packages, version specifiers
checked, the import allowlist, and micropip. Runs examples/numpy and examples/fastapi-packages."""

import json
import shutil
import textwrap
from pathlib import Path

from conftest import REPO, Server, run_pyworkerd, worker_config

NUMPY_WORKER = '''
    import numpy as np
    from workers import WorkerEntrypoint, Response

    class Default(WorkerEntrypoint):
        def fetch(self, request):
            return Response(f"{np.__version__} {int(np.arange(10).sum())}")
    '''


def make_worker(directory: Path, worker: str, *, bindings="", extra_modules="",
                files: dict | None = None) -> Path:
    """worker.py and a config in `directory`, plus other files (pyproject.toml,
    python_modules/...) next to it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "worker.py").write_text(textwrap.dedent(worker))
    for name, text in (files or {}).items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    config = worker_config(["worker.py"], bindings=bindings)
    if extra_modules:
        config = config.replace('pythonModule = embed "worker.py")',
                                'pythonModule = embed "worker.py"), ' + extra_modules)
    (directory / "config.capnp").write_text(config)
    return directory / "config.capnp"


def requirements_binding(*names: str) -> str:
    return '(name = "requirements", json = %s)' % json.dumps(json.dumps(list(names)))


def vendored(name: str, version: str, modules: dict, *, requires=(), wheel_tag=None) -> dict:
    """Files of a distribution installed in python_modules/ the way pip --target lays it out."""
    info = f"python_modules/{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {f"{info}/METADATA": metadata,
             f"{info}/top_level.txt": "\n".join({m.split("/")[0] for m in modules}) + "\n"}
    if wheel_tag:
        files[f"{info}/WHEEL"] = f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {wheel_tag}\n"
    files.update({f"python_modules/{path}": text for path, text in modules.items()})
    return files


def test_requirements_binding_makes_debian_numpy_importable(serve, tmp_path):
    server = serve(make_worker(tmp_path / "w", NUMPY_WORKER, bindings=requirements_binding("numpy")))
    status, _, body = server.get("/")
    assert status == 200
    version, total = body.decode().split()
    assert version.startswith("1.") and total == "45"


SEED_REQUIREMENTS_WORKER = '''
    import numpy as np
    import requests
    from js import Response
    from workers import WorkerEntrypoint

    class Default(WorkerEntrypoint):
        def fetch(self, request):
            return Response.new(f"numpy {np.__version__} requests {requests.__version__}")
    '''


def test_seed_vendoring_binding_numpy_and_requests(serve, tmp_path):
    """The seed's "Bundle packages in your config" binding, as written."""
    binding = '(name = "requirements", json = "[\\"numpy\\", \\"requests\\"]")'
    server = serve(make_worker(tmp_path / "w", SEED_REQUIREMENTS_WORKER, bindings=binding))
    status, _, body = server.get("/")
    assert status == 200, server.log()
    assert body.decode().startswith("numpy 1.") and " requests 2." in body.decode()


def test_seed_requirements_txt_pins_are_checked(tmp_path):
    """The seed's requirements.txt pins numpy==1.24.0; Debian 12 has 1.24.2: serve names both."""
    config = make_worker(tmp_path / "w", SEED_REQUIREMENTS_WORKER,
                         files={"requirements.txt": "numpy==1.24.0\nrequests==2.31.0\n"})
    result = run_pyworkerd("serve", config)
    assert result.returncode == 1
    assert 'package "numpy==1.24.0"' in result.stderr and "found numpy 1." in result.stderr
    assert "python_modules" in result.stderr


def test_python_requirement_modules_declare_packages(serve, tmp_path):
    modules = ('(name = "numpy", pythonRequirement = ""), '
               '(name = "pydantic", obsoletePythonRequirement = ">=1.8")')
    worker = NUMPY_WORKER.replace("import numpy as np", "import numpy as np\n    import pydantic")
    server = serve(make_worker(tmp_path / "w", worker, extra_modules=modules))
    assert server.get("/")[0] == 200


def test_pyproject_dependencies_and_their_dependencies_are_importable(serve, tmp_path):
    worker = '''
        import fastapi, pydantic, starlette, anyio
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response(" ".join(m.__name__ for m in (fastapi, pydantic, starlette, anyio)))
        '''
    pyproject = '[project]\nname = "x"\nversion = "0"\ndependencies = ["fastapi>=0.90"]\n'
    server = serve(make_worker(tmp_path / "w", worker, files={"pyproject.toml": pyproject}))
    assert server.get("/")[2] == b"fastapi pydantic starlette anyio"


def test_requirements_txt_next_to_the_config_is_read(serve, tmp_path):
    txt = "# numbers\nnumpy >= 1.20  # from Debian\n--index-url https://example.invalid/simple\n"
    server = serve(make_worker(tmp_path / "w", NUMPY_WORKER, files={"requirements.txt": txt}))
    assert server.get("/")[0] == 200


def test_missing_package_fails_serve_naming_it_and_how_to_vendor(tmp_path):
    config = make_worker(tmp_path / "w", NUMPY_WORKER,
                         bindings=requirements_binding("numpy", "surely-not-installed-pkg"))
    result = run_pyworkerd("serve", config)
    assert result.returncode == 1
    assert 'package "surely-not-installed-pkg" (declared in the "requirements" binding) is not installed' in result.stderr
    assert f"pip install --target {tmp_path}/w/python_modules 'surely-not-installed-pkg'" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_specifier_is_checked_against_installed_metadata(tmp_path):
    config = make_worker(tmp_path / "w", NUMPY_WORKER, bindings=requirements_binding("numpy>=99"))
    result = run_pyworkerd("serve", config)
    assert result.returncode == 1
    assert 'package "numpy>=99" (declared in the "requirements" binding) is not available: found numpy 1.' in result.stderr


def test_undeclared_installed_package_is_refused_with_a_hint(tmp_path):
    config = make_worker(tmp_path / "w", NUMPY_WORKER)
    result = run_pyworkerd("serve", config)
    assert result.returncode == 1
    assert ("ModuleNotFoundError: No module named 'numpy': numpy is installed in "
            "/usr/lib/python3/dist-packages but is not among the worker's requirements") in result.stderr


def test_undeclared_import_at_request_time_fails_that_request(serve, tmp_path):
    worker = '''
        from workers import WorkerEntrypoint, Response
        import json

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                import yaml
                return Response("unreachable")
        '''
    server = serve(make_worker(tmp_path / "w", worker))
    assert server.get("/")[0] == 500
    assert "No module named 'yaml': PyYAML is installed" in server.wait_log("PyYAML")


def test_vendored_python_modules_come_first_with_their_dependencies(serve, tmp_path):
    files = {
        **vendored("greeting", "1.2.0", {"greeting/__init__.py": "import sniffio\nWHO = 'vendored'\n"},
                   requires=["sniffio>=1.0"]),
        **vendored("idna", "99.0", {"idna/__init__.py": "WHERE = 'python_modules'\n"}),
    }
    worker = '''
        import greeting, idna, sniffio
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response(f"{greeting.WHO} {idna.WHERE} {sniffio.__file__}")
        '''
    config = make_worker(tmp_path / "w", worker, bindings=requirements_binding("greeting", "idna"),
                         files=files)
    server = serve(config)
    who, where, sniffio_file = server.get("/")[2].decode().split()
    assert (who, where) == ("vendored", "python_modules")
    assert sniffio_file.startswith("/usr/lib/python3/dist-packages/")


def test_everything_vendored_is_importable_even_undeclared(serve, tmp_path):
    files = vendored("helper", "0.1", {"helper.py": "NAME = 'helper'\n"})
    worker = """
        import helper
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response(helper.NAME)
        """
    assert serve(make_worker(tmp_path / "w", worker, files=files)).get("/")[2] == b"helper"


def test_system_package_is_used_when_the_vendored_version_does_not_match(serve, tmp_path):
    files = vendored("idna", "99.0", {"idna/__init__.py": "WHERE = 'python_modules'\n"})
    worker = '''
        import idna
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response(idna.__file__)
        '''
    server = serve(make_worker(tmp_path / "w", worker, bindings=requirements_binding("idna<50"),
                               files=files))
    assert server.get("/")[2].startswith(b"/usr/lib/python3/dist-packages/idna/")


def test_pyodide_builds_in_python_modules_are_skipped(serve, tmp_path):
    files = vendored("numpy", "2.0.0", {"numpy/__init__.py": "raise ImportError('wasm')\n"},
                     wheel_tag="cp312-cp312-pyodide_2024_0_wasm32")
    server = serve(make_worker(tmp_path / "w", NUMPY_WORKER, bindings=requirements_binding("numpy"),
                               files=files))
    assert server.get("/")[2].startswith(b"1.")


def test_micropip_installs_from_the_same_places_without_network(serve, tmp_path):
    worker = '''
        import micropip
        from workers import WorkerEntrypoint, Response

        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                if request.url.endswith("/unknown"):
                    try:
                        await micropip.install("surely-not-installed-pkg")
                    except ValueError as exc:
                        return Response(str(exc), status=404)
                await micropip.install(["PyYAML"])
                import yaml
                return Response(yaml.safe_dump({"ok": True}).strip() + " " + ",".join(micropip.list()))
        '''
    server = serve(make_worker(tmp_path / "w", worker))
    status, _, body = server.get("/")
    assert (status, body) == (200, b"ok: true pyyaml")
    status, _, body = server.get("/unknown")
    assert status == 404
    assert b"surely-not-installed-pkg" in body and b"pip install --target" in body
    assert b"never downloads" in body


def run_example(tmp_path: Path, name: str) -> Server:
    example = tmp_path / name
    shutil.copytree(REPO / "examples" / name, example)
    return Server(example / "config.capnp", tmp=tmp_path)


def test_numpy_example_computes_with_debian_numpy(tmp_path):
    server = run_example(tmp_path, "numpy")
    try:
        status, _, body = server.get("/stats?values=1,2,3,4,10")
        assert status == 200
        stats = json.loads(body)
        assert (stats["count"], stats["mean"], stats["percentiles"]["p50"]) == (5, 4.0, 3.0)
        solved = json.loads(server.get("/solve")[2])
        assert solved["check"] is True
        assert len(json.loads(server.get("/random?n=4")[2])["values"]) == 4
        assert server.get("/stats?values=x")[0] == 400
    finally:
        assert server.stop() == 0


def test_fastapi_packages_example_validates_with_pydantic(tmp_path):
    server = run_example(tmp_path, "fastapi-packages")
    try:
        info = json.loads(server.get("/")[2])
        assert info["fastapi"].startswith("0.") and "POST /items" in info["routes"]
        status, _, body = server.request("POST", "/items", body=b'{"name": "pen", "price": 1.5, "quantity": 4}')
        assert status == 201
        assert json.loads(body) == {"name": "pen", "price": 1.5, "quantity": 4, "tags": [], "id": 1, "total": 6.0}
        status, _, body = server.request("POST", "/items", body=b'{"name": "", "price": -1}')
        assert status == 422
        assert {tuple(e["loc"]) for e in json.loads(body)} == {("name",), ("price",)}
        assert json.loads(server.get("/items/1")[2])["name"] == "pen"
        assert server.get("/items/9")[0] == 404
    finally:
        assert server.stop() == 0
