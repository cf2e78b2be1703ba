# The Python SDK (python/) in layers, checked from its source: every module's imports are read
# with ast (top-level and function-local ones, `import a.b`, `from a import b` where b is a
# submodule, and the parent packages each of them imports first), and a module may import only
# from its own layer or a lower one, with no import cycle anywhere. LAYERS is the table: a
# new module must be placed in it (one missing, or an entry naming no module, fails).
# Dynamic imports (importlib.import_module) are not seen. Run: /usr/bin/python3.11 -m pytest tests/python
from __future__ import annotations

import ast
from pathlib import Path

SDK = Path(__file__).resolve().parents[2] / "python"

LAYER_NAMES = ("web API types", "binding calls", "the process's context", "public faces", "the isolate's driver")

LAYERS: dict[str, int] = {
    # 1. web API types: Request/Response/Headers, errors, logging, tracing, entropy
    "pyworkerd": 1,
    "pyworkerd.webapi": 1,
    "pyworkerd.response": 1,
    "pyworkerd.errors": 1,
    "pyworkerd.log": 1,
    "pyworkerd.trace": 1,
    "pyworkerd.entropy": 1,
    "pyworkerd.jsdict": 1,
    "pyworkerd.jsobject": 1,
    "pyworkerd.buffers": 1,
    "pyworkerd.blob": 1,
    "pyworkerd.formdata": 1,
    "pyworkerd.streams": 1,
    "pyworkerd.jsdate": 1,
    "pyworkerd.websocket": 1,
    "pyworkerd.native_guard": 1,    # extension modules only from read-only places
    "pyworkerd.on_import": 1,       # a callback after a module's first import
    "pyworkerd.nested_loops": 1,    # loops the worker makes: views of the isolate's loop
    # 2. binding calls to the host, and the package resolver
    "pyworkerd.rpc": 2,
    "pyworkerd.bindings": 2,
    "pyworkerd.workflows": 2,
    "pyworkerd.packages": 2,
    "pyworkerd.r2": 2,
    "pyworkerd.r2_options": 2,
    "pyworkerd.r2_stream": 2,
    "pyworkerd.bundle": 2,
    "pyworkerd.memory_cache": 2,
    "pyworkerd.queues": 2,
    "pyworkerd.rpc_values": 2,
    "pyworkerd.durable_objects": 2,
    "pyworkerd.do_storage": 2,
    "pyworkerd.websocket_connect": 2,
    "pyworkerd.d1": 2,
    "pyworkerd.host_socket": 2,
    "pyworkerd.hyperdrive": 2,
    "pyworkerd.cf_sockets": 2,
    # 3. the process's context (env, waitUntil, retire hooks, exception logging) and what
    #    runs on it
    "pyworkerd.context": 3,
    "pyworkerd.workflow_run": 3,
    "pyworkerd.timers": 3,
    "pyworkerd.js_modules": 3,
    "pyworkerd.do_context": 3,
    "pyworkerd.do_websockets": 3,
    # 4. the public faces that workers import
    "workers": 4,
    "workers.asgi": 4,
    "workers.asgi_websocket": 4,
    "workers.wsgi": 4,
    "workers.workflows": 4,
    "js": 4,
    "asgi": 4,
    "micropip": 4,
    "cloudflare": 4,
    "cloudflare.sockets": 4,
    "pyodide": 4,
    "pyodide.ffi": 4,
    "pyodide.http": 4,
    "pyodide.webloop": 4,
    "_cloudflare_compat_flags": 4,
    # 5. the isolate's driver: what the C side calls (src/python/embed.c)
    "pyworkerd.runtime": 5,
    "pyworkerd.loop": 5,
    "pyworkerd.test_handler": 5,
    "pyworkerd.events": 5,
    "pyworkerd.do_runtime": 5,
}


def sdk_modules(root: Path) -> dict[str, Path]:
    """Module name -> file, for every .py under `root` (a package is its __init__.py)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _with_parents(name: str) -> list[str]:
    """`a.b.c` imports a, a.b and a.b.c, in that order."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _base(name: str, path: Path, node: ast.ImportFrom) -> str:
    """The module a `from ... import` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The SDK modules that module `name` imports, anywhere in its source."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.update(_with_parents(alias.name))
        elif isinstance(node, ast.ImportFrom):
            base = _base(name, path, node)
            found.update(_with_parents(base))
            found.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return {m for m in found if m in known and m != name}


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = sdk_modules(root)
    return {name: imports_of(name, path, set(modules)) for name, path in modules.items()}


def _layer(module: str) -> str:
    number = LAYERS[module]
    return f"layer {number} ({LAYER_NAMES[number - 1]})"


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import of a module from a higher layer, as a sentence naming both."""
    return [
        f"{source} [{_layer(source)}] imports {target} [{_layer(target)}]"
        for source in sorted(graph) if source in LAYERS
        for target in sorted(graph[source]) if target in LAYERS and LAYERS[target] > LAYERS[source]
    ]


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def _describe(cycle: list[str], graph: dict[str, set[str]]) -> str:
    edges = [f"{a} -> {b}" for a in cycle for b in sorted(graph[a]) if b in cycle]
    return f"{', '.join(cycle)} ({'; '.join(edges)})"


# ---------------------------------------------------------------- the SDK itself


def test_every_sdk_module_has_a_layer() -> None:
    modules = set(sdk_modules(SDK))
    assert sorted(modules - set(LAYERS)) == [], "place these modules in LAYERS"
    assert sorted(set(LAYERS) - modules) == [], "LAYERS names modules that do not exist"


def test_no_module_imports_from_a_higher_layer() -> None:
    assert upward_imports(import_graph(SDK)) == []


def test_no_import_cycle() -> None:
    graph = import_graph(SDK)
    assert [_describe(c, graph) for c in import_cycles(graph)] == []


# ---------------------------------------------------------------- the checks themselves


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_checks_see_function_local_submodule_and_relative_imports(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "pyworkerd/__init__.py": "",
        "pyworkerd/webapi.py": "def f():\n    from pyworkerd import runtime\n",
        "pyworkerd/runtime.py": "from . import webapi\nimport js\n",
        "js.py": "import pyworkerd.runtime as r\n",
    })
    graph = import_graph(root)
    assert graph["pyworkerd.webapi"] == {"pyworkerd", "pyworkerd.runtime"}
    assert graph["pyworkerd.runtime"] == {"pyworkerd", "pyworkerd.webapi", "js"}
    assert upward_imports(graph) == [
        "js [layer 4 (public faces)] imports pyworkerd.runtime [layer 5 (the isolate's driver)]",
        "pyworkerd.webapi [layer 1 (web API types)] imports pyworkerd.runtime "
        "[layer 5 (the isolate's driver)]",
    ]
    assert import_cycles(graph) == [["js", "pyworkerd.runtime", "pyworkerd.webapi"]]


def test_a_cycle_within_one_layer_is_found(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "workers/__init__.py": "def g():\n    import js\n",
        "js.py": "from workers import Response\n",
    })
    graph = import_graph(root)
    assert upward_imports(graph) == []
    assert [_describe(c, graph) for c in import_cycles(graph)] == [
        "js, workers (js -> workers; workers -> js)"]
