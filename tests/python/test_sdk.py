# Tests of the pure-Python SDK (python/): pyworkerd.runtime's load()/handle() contract,
# the workers, js and pyodide.ffi modules, and the shared Headers/Request/Response.
# They run in-process, without the C side: each test writes a Worker into a temporary
# directory, loads it with runtime.load() and serves requests with runtime.handle().
# Run: /usr/bin/python3.11 -m pytest tests/python
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import sys
import textwrap
from http import HTTPMethod
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

import js  # noqa: E402
import workers  # noqa: E402
from pyodide.ffi import create_once_callable, create_proxy, to_js  # noqa: E402
from pyworkerd import context, runtime, webapi  # noqa: E402
from pyworkerd import log as sdk_log  # noqa: E402

HELLO = """
from js import Response
from workers import WorkerEntrypoint

class Default(WorkerEntrypoint):
    def fetch(self, request):
        return Response.new("Hello from Python!")
"""

SEED_JSON = """
from workers import WorkerEntrypoint
from js import Response, Headers

class Default(WorkerEntrypoint):
    def fetch(self, request):
        # Access request properties
        method = request.method
        url = request.url
        headers = request.headers

        # Create response with headers
        response_headers = Headers.new()
        response_headers.set("Content-Type", "application/json")
        return Response.new(
            '{"message": "Hello"}',
            headers=response_headers,
            status=200
        )
"""

_ids = itertools.count(1)


class Worker:
    """Loads Workers from a temporary directory and serves requests to them."""

    def __init__(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        self.dir = tmp_path / "worker"
        self.dir.mkdir()
        self.capfd = capfd

    def load(
        self,
        files: dict[str, str] | str,
        *,
        main: str = "worker.py",
        bindings: list[dict[str, Any]] | None = None,
        compat_date: str = "2024-01-01",
        flags: tuple[str, ...] = ("python_workers",),
    ) -> None:
        if isinstance(files, str):
            files = {main: files}
        for name, text in files.items():
            path = self.dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        runtime.load(
            {
                "service": "main",
                "dir": str(self.dir),
                "main_module": main,
                "compat_date": compat_date,
                "compat_flags": list(flags),
                "modules": [{"name": n, "type": "python"} for n in files],
                "bindings": bindings or [],
            }
        )
        runtime.before_first_request()

    def request(
        self,
        method: str = "GET",
        url: str = "http://localhost:8080/",
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        result = runtime.handle(next(_ids), method, url, headers or [], body)
        if not isinstance(result, tuple):
            result = asyncio.run(result)
        status, wire_headers, wire_body = result
        assert isinstance(status, int) and isinstance(wire_body, bytes)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in wire_headers)
        return result

    def log(self) -> str:
        return self.capfd.readouterr().err


@pytest.fixture
def worker(tmp_path: Path, capfd: pytest.CaptureFixture[str]):
    saved_streams = sys.stdout, sys.stderr
    saved_path = list(sys.path)
    saved_modules = set(sys.modules)
    try:
        yield Worker(tmp_path, capfd)
    finally:
        sys.stdout, sys.stderr = saved_streams
        sys.path[:] = saved_path
        for name in set(sys.modules) - saved_modules:
            del sys.modules[name]
        context.env = None
        webapi.Request.headers_type = webapi.Headers


def header(headers: list[tuple[str, str]], name: str) -> list[str]:
    return [v for k, v in headers if k.lower() == name]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ------------------------------------------------------------------- seed examples


def test_seed_hello_worker_returns_text(worker: Worker) -> None:
    worker.load(HELLO)
    status, headers, body = worker.request()
    assert (status, body) == (200, b"Hello from Python!")
    assert header(headers, "content-type") == ["text/plain;charset=UTF-8"]


def test_seed_hello_worker_sync_fetch_is_answered_without_a_coroutine(worker: Worker) -> None:
    worker.load(HELLO)
    assert isinstance(runtime.handle(1, "GET", "http://x/", [], b""), tuple)


def test_seed_json_example_returns_json_with_its_content_type(worker: Worker) -> None:
    worker.load(SEED_JSON)
    status, headers, body = worker.request(headers=[("accept", "*/*")])
    assert status == 200
    assert header(headers, "content-type") == ["application/json"]
    assert json.loads(body) == {"message": "Hello"}


def test_async_fetch_returns_coroutine_resolving_to_response(worker: Worker) -> None:
    worker.load(
        """
        import asyncio
        from workers import Response, WorkerEntrypoint

        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                await asyncio.sleep(0)
                return Response("async ok")
        """
    )
    result = runtime.handle(1, "GET", "http://x/", [], b"")
    assert asyncio.iscoroutine(result)
    assert asyncio.run(result)[2] == b"async ok"


# ------------------------------------------------------------------- workers.Response


def test_workers_response_variants() -> None:
    r = workers.Response("héllo")
    # the status's standard phrase unless one is given, as workerd's Response (issue 15)
    assert (r.status, r.status_text, r.ok) == (200, "OK", True)
    assert r.headers.get("Content-Type") == "text/plain;charset=UTF-8"
    assert r._wire() == (200, [("content-type", "text/plain;charset=UTF-8")], "héllo".encode())
    assert workers.Response(b"\x00\x01")._wire() == (200, [], b"\x00\x01")
    assert workers.Response()._wire() == (200, [], b"")
    r = workers.Response("gone", status=404, status_text="Not Here", headers={"X-A": "1"})
    assert (r.status, r.status_text, r.ok, r.headers["x-a"]) == (404, "Not Here", False, "1")
    r = workers.Response("x", headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
    assert header(r._wire()[1], "set-cookie") == ["a=1", "b=2"]
    r = workers.Response("x", headers=js.Headers.new({"content-type": "text/html"}))
    assert r._wire()[1] == [("content-type", "text/html")]


def test_workers_response_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="^Received unexpected type for headers argument$"):
        workers.Response("x", headers=("a", "b"))
    with pytest.raises(TypeError, match="^Unsupported type in Response: dict$"):
        workers.Response({"a": 1})
    with pytest.raises(ValueError, match="range 200 to 599"):
        workers.Response("x", status=99)
    with pytest.raises(TypeError, match="null body status"):
        workers.Response("x", status=204)


def test_workers_response_body_is_read_once() -> None:
    r = workers.Response('{"a": [1, 2]}')
    assert not r.body_used
    assert run(r.json()) == {"a": [1, 2]}
    assert r.body_used
    with pytest.raises(OSError, match="Body already used"):
        run(r.text())
    assert run(workers.Response(b"ab").bytes()) == b"ab"
    assert run(workers.Response("ab").clone().text()) == "ab"


def test_response_json_and_from_json() -> None:
    r = workers.Response.json({"a": 1})
    assert r.status == 200 and r.headers.get("content-type") == "application/json"
    assert r._wire()[2] == b'{"a": 1}'
    r = workers.Response.from_json([1], status=201, headers={"Content-Type": "application/vnd+json"})
    assert r.status == 201 and r.headers.get_all("content-type") == ["application/vnd+json"]


def test_response_redirect() -> None:
    r = workers.Response.redirect("https://example.com/next")
    assert r._wire() == (302, [("location", "https://example.com/next")], b"")
    assert workers.Response.redirect("/x", 301).status == 301
    with pytest.raises(ValueError):
        workers.Response.redirect("/x", 200)
    assert js.Response.redirect("/y", 307)._wire() == (307, [("location", "/y")], b"")


def test_js_response_new_forms() -> None:
    r = js.Response.new("x", status=404, headers=js.Headers.new({"a": "b"}.items()))
    assert (r.status, r.statusText, r.ok, r.headers.get("a")) == (404, "Not Found", False, "b")
    r = js.Response.new("x", {"status": 201, "statusText": "Made", "headers": {"a": "c"}})
    assert (r.status, r.statusText, r.headers.get("A")) == (201, "Made", "c")
    r = js.Response.new(b"raw", headers=[["x-b", "1"]])
    assert r._wire() == (200, [("x-b", "1")], b"raw")
    r = js.Response.json({"k": "ü"}, status=202)
    assert r._wire() == (202, [("content-type", "application/json")], '{"k":"ü"}'.encode())
    assert not r.bodyUsed and run(r.json()) == {"k": "ü"} and r.bodyUsed
    assert run(js.Response.new("ab").arrayBuffer()) == b"ab"
    copied = js.Response.new("new body", js.Response.new("old", status=404, headers={"x-k": "v"}))
    assert copied._wire() == (404, [("x-k", "v"), ("content-type", "text/plain;charset=UTF-8")], b"new body")


def test_workers_response_wraps_js_response() -> None:
    r = workers.Response(js.Response.new("inner", status=203))
    assert r._wire()[0::2] == (203, b"inner")
    with pytest.raises(ValueError):
        workers.Response(js.Response.new("inner"), status=200)


# ------------------------------------------------------------------- Headers


def test_headers_are_case_insensitive_and_keep_repeats() -> None:
    h = webapi.Headers([("Accept", "a"), ("accept", "b"), ("Set-Cookie", "x=1"), ("set-cookie", "y=2")])
    assert h.get("ACCEPT") == "a, b" and h["accept"] == "a, b"
    assert h.get("set-cookie") == "x=1"
    assert h.get_all("Set-Cookie") == ["x=1", "y=2"] == h.getSetCookie()
    assert h.get("missing") is None and h["missing"] is None
    assert h.get("missing", "d") == "d" and h.get_all("missing") is None
    assert "ACCEPT" in h and h.has("set-cookie") and "nope" not in h and 3 not in h
    assert h.items() == [("accept", "a, b"), ("set-cookie", "x=1"), ("set-cookie", "y=2")]
    assert list(h) == h.keys() == ["accept", "set-cookie", "set-cookie"]
    assert h.values() == ["a, b", "x=1", "y=2"]
    assert dict(h) == {"accept": "a, b", "set-cookie": "x=1"}


def test_headers_mutation() -> None:
    h = js.Headers.new()
    h.set("X-One", "1")
    h.append("x-one", "2")
    h.append("X-Two", 2)
    assert h.get("x-one") == "1, 2" and h.get("x-two") == "2"
    h.set("x-ONE", " 3 ")
    assert h.get_all("x-one") == ["3"]
    h.delete("X-Two")
    h["x-three"] = "3"
    del h["x-one"]
    assert h.entries() == [["x-three", "3"]]
    assert list(h) == [["x-three", "3"]]  # js.Headers iterates [name, value] like JavaScript
    with pytest.raises(TypeError):
        h.set("x", "bad\r\nvalue")
    with pytest.raises(TypeError):
        h.set("bad name", "v")


def test_headers_constructors_and_object_helpers() -> None:
    d = {"a": "1", "B": "2"}
    for init in (d, d.items(), list(d.items()), [["a", "1"], ["B", "2"]], webapi.Headers(d)):
        h = js.Headers.new(init)
        assert h.items() == [("a", "1"), ("b", "2")]
    assert js.Object.fromEntries(js.Headers.new(d)) == {"a": "1", "b": "2"}
    assert js.Object.fromEntries([["k", 1]]) == {"k": 1}
    with pytest.raises(TypeError):
        js.Headers.new(5)


# ------------------------------------------------------------------- Request

ECHO = """
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        data = await request.json()
        try:
            await request.text()
        except OSError as exc:
            second = str(exc)
        return Response.json({
            "method": request.method, "is_enum": request.method is HTTPMethod.POST,
            "url": request.url, "ua": request.headers.get("user-agent"),
            "cookies": request.headers.get_all("cookie"), "data": data, "second": second,
            "used": request.body_used,
        })

from http import HTTPMethod
"""


def test_request_properties_and_body(worker: Worker) -> None:
    worker.load(ECHO)
    status, _, body = worker.request(
        "POST",
        "http://localhost:8080/p?q=1",
        [("User-Agent", "t"), ("Cookie", "a=1"), ("Cookie", "b=2")],
        b'{"x": 1}',
    )
    assert status == 200
    assert json.loads(body) == {
        "method": "POST", "is_enum": True, "url": "http://localhost:8080/p?q=1", "ua": "t",
        # repeats comma-joined, as Cloudflare's SDK lists JavaScript's Headers (issue 15)
        "cookies": ["a=1, b=2"], "data": {"x": 1}, "second": "Body already used", "used": True,
    }


def test_request_bytes_text_clone_and_constructor() -> None:
    req = webapi.make_request("PUT", "http://x/", [("A", "1")], b"data")
    copy = req.clone()
    assert run(req.bytes()) == b"data" and run(copy.text()) == "data"
    with pytest.raises(OSError, match="Body already used"):
        req.clone()
    empty = webapi.make_request("GET", "http://x/", [], b"")
    assert run(empty.text()) == "" and run(empty.text()) == "" and not empty.body_used
    odd = webapi.make_request("PROPFIND", "http://x/", [], b"")
    assert odd.method == "PROPFIND"
    made = workers.Request("http://x/a", method="post", headers={"X": "y"}, body="hi")
    assert made.method is HTTPMethod.POST and made.headers.get("x") == "y"
    assert made.headers.get("content-type") == "text/plain;charset=UTF-8"
    assert run(workers.Request(made).text()) == "hi"
    with pytest.raises(TypeError, match="Received unexpected type for headers argument"):
        workers.Request("http://x/", headers=5)
    with pytest.raises(TypeError):
        workers.Request("http://x/", body="no body on GET")


# ------------------------------------------------------------------- env, modules, entry points


def test_env_bindings(worker: Worker) -> None:
    worker.load(
        """
        from workers import Response, WorkerEntrypoint
        import workers
        AT_IMPORT = workers.env.GREETING

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                e = self.env
                try:
                    e.MISSING
                except AttributeError:
                    missing = True
                return Response.json({
                    "greeting": e.GREETING, "item": e["GREETING"], "cfg": e.CFG,
                    "blob": e.BLOB.decode(), "home": e.HOME_X, "none": e.UNSET,
                    "import": AT_IMPORT, "missing": missing, "in": "CFG" in e,
                })
        """,
        bindings=[
            {"name": "GREETING", "type": "text", "value": "hi"},
            {"name": "CFG", "type": "json", "value": '{"a": 1}'},
            {"name": "BLOB", "type": "data", "value": base64.b64encode(b"bytes!").decode()},
            {"name": "HOME_X", "type": "env", "value": "/home/x"},
            {"name": "UNSET", "type": "env", "value": None},
        ],
    )
    assert json.loads(worker.request()[2]) == {
        "greeting": "hi", "item": "hi", "cfg": {"a": 1}, "blob": "bytes!", "home": "/home/x",
        "none": None, "import": "hi", "missing": True, "in": True,
    }
    assert workers.env is runtime.env


def test_unknown_binding_type_fails_startup(worker: Worker) -> None:
    with pytest.raises(ValueError, match='binding "Q": not supported by pyworkerd: hyperdrive bindings'):
        worker.load(HELLO, bindings=[{"name": "Q", "type": "hyperdrive"}])


def test_main_module_imports_sibling_modules(worker: Worker) -> None:
    worker.load(
        {
            "worker.py": """
                from helpers import greet
                from lib.util import shout
                from workers import Response, WorkerEntrypoint

                class Default(WorkerEntrypoint):
                    def fetch(self, request):
                        return Response(shout(greet("py")))
            """,
            "helpers.py": "def greet(name):\n    return f'hello {name}'\n",
            "lib/util.py": "def shout(s):\n    return s.upper()\n",
        }
    )
    assert worker.request()[2] == b"HELLO PY"


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize(
    "params, expected",
    [("request", "1"), ("request, env", "2 v"), ("request, env, ctx", "3 v ctx"), ("*args", "3 v ctx")],
)
def test_legacy_on_fetch_relaxed_call(worker: Worker, params: str, expected: str, is_async: bool) -> None:
    worker.load(
        f"""
        from js import Response

        {"async " if is_async else ""}def on_fetch({params}):
            args = [{params.replace("*", "")}] if "{params}" != "*args" else list(args)
            parts = [str(len(args))]
            if len(args) > 1:
                parts.append(args[1].V)
            if len(args) > 2 and hasattr(args[2], "waitUntil"):
                parts.append("ctx")
            return Response.new(" ".join(parts))
        """,
        bindings=[{"name": "V", "type": "text", "value": "v"}],
    )
    assert worker.request()[2] == expected.encode()


def test_legacy_on_fetch_gets_js_style_headers(worker: Worker) -> None:
    worker.load(
        """
        from js import Response, Object
        async def on_fetch(request):
            pairs = [list(p) for p in request.headers]
            return Response.new(str(pairs) + " " + request.headers.get("x-a"))
        """
    )
    assert worker.request(headers=[("X-A", "1")])[2] == b"[['x-a', '1']] 1"


def test_class_only_mode_ignores_on_fetch(worker: Worker) -> None:
    """The worker loads (workerd's behaviour); its fetch answers 500 saying why."""
    source = "from js import Response\ndef on_fetch(request):\n    return Response.new('x')\n"
    worker.load(source, compat_date="2025-08-14")
    assert worker.request()[0] == 500
    log = worker.log()
    assert 'LookupError: Python entrypoint "worker.py" does not export a default entrypoint' in log
    assert "class Default(WorkerEntrypoint)" in log
    assert "disable_python_no_global_handlers" in log


def test_no_global_handlers_flag_and_its_opt_out(worker: Worker) -> None:
    source = "from js import Response\ndef on_fetch(request):\n    return Response.new('legacy')\n"
    worker.load(source, flags=("python_workers", "python_no_global_handlers"))
    assert worker.request()[0] == 500
    worker.load(source, compat_date="2026-01-01", flags=("disable_python_no_global_handlers",))
    assert worker.request()[2] == b"legacy"


def test_missing_handler_is_an_error_when_called_with_workerd_message(worker: Worker) -> None:
    worker.load("X = 1\n")     # loads: a worker may have only tests, RPC methods or a workflow
    assert worker.request()[0] == 500
    assert 'LookupError: Python entrypoint "worker.py" does not export a handler named "on_fetch"' in worker.log()


def test_default_and_on_fetch_together_are_rejected(worker: Worker) -> None:
    with pytest.raises(TypeError, match="^Cannot define multiple default entrypoints$"):
        worker.load(HELLO + "\ndef on_fetch(request):\n    pass\n")


def test_main_module_must_be_python(worker: Worker) -> None:
    with pytest.raises(ValueError, match="Main module needs to end with a .py file extension"):
        worker.load({"worker.txt": "x"}, main="worker.txt")


def test_default_without_fetch_answers_500(worker: Worker) -> None:
    worker.load("from workers import WorkerEntrypoint\nclass Default(WorkerEntrypoint):\n    pass\n")
    assert worker.request()[0] == 500
    assert "TypeError: Method fetch does not exist" in worker.log()


# ------------------------------------------------------------------- errors, logging, ctx

FAILING = """
from workers import Response, WorkerEntrypoint

def inner(path):
    raise RuntimeError("boom at " + path)

class Default(WorkerEntrypoint):
    {kw}def fetch(self, request):
        if request.url.endswith("/ok"):
            return Response("fine")
        inner(request.url)
"""


@pytest.mark.parametrize("kw", ["", "async "])
def test_uncaught_exception_is_500_with_traceback_and_isolate_survives(worker: Worker, kw: str) -> None:
    worker.load(FAILING.format(kw=kw))
    worker.log()
    status, headers, body = worker.request("GET", "http://h/fail")
    assert (status, headers, body) == (
        500, [("content-type", "text/plain; charset=utf-8")], b"Internal Server Error"
    )
    lines = worker.log().splitlines()
    # whole lines, untagged: the host tags each with the process (host/child_log.h)
    assert lines[0].startswith("request ") and lines[0].endswith(" GET http://h/fail: uncaught exception")
    text = "\n".join(lines)
    assert "Traceback (most recent call last):" in text and "in inner" in text
    assert "RuntimeError: boom at http://h/fail" in text
    assert "runtime.py" not in text
    assert worker.request("GET", "http://h/ok")[2] == b"fine"


@pytest.mark.parametrize("value, what", [("None", "None"), ("{'a': 1}", "an object of type dict")])
def test_non_response_return_is_500_with_clear_log(worker: Worker, value: str, what: str) -> None:
    worker.load(
        f"from workers import WorkerEntrypoint\nclass Default(WorkerEntrypoint):\n"
        f"    def fetch(self, request):\n        return {value}\n"
    )
    assert worker.request()[0] == 500
    assert f"Default.fetch() returned {what}, expected a Response" in worker.log()


def test_print_and_console_are_whole_lines(worker: Worker) -> None:
    worker.load(
        """
        import sys
        from js import Response, console
        print("loading")

        def on_fetch(request):
            print("two", "words")
            print("partial", end="")
            print(" line\\nnext")
            console.log("from console", 1, None, True)
            print("to stderr", file=sys.stderr)
            return Response.new("ok")
        """
    )
    worker.request()
    assert worker.log().splitlines() == [
        "loading", "two words", "partial line", "next",
        "from console 1 null true", "to stderr",
    ]


def test_lines_written_for_a_request_carry_its_id_and_others_do_not(worker: Worker) -> None:
    worker.load(
        """
        from js import Response, console
        print("loading")

        def on_fetch(request):
            print("serving")
            console.log("from console")
            return Response.new("ok")
        """
    )
    token = sdk_log.request_id.set(0x1C442B4B00000007)  # as the isolate loop sets it
    try:
        worker.request()
    finally:
        sdk_log.request_id.reset(token)
    worker.request()
    assert worker.log().splitlines() == [
        "loading", "req=1c442b4b00000007 serving", "req=1c442b4b00000007 from console",
        "serving", "from console",
    ]


def test_wait_until_runs_after_async_response_and_logs_failures(worker: Worker) -> None:
    worker.load(
        """
        import asyncio
        from workers import Response, WorkerEntrypoint
        DONE = []

        async def later(tag):
            await asyncio.sleep(0)
            if tag == "bad":
                raise ValueError("background failed")
            DONE.append(tag)

        class Default(WorkerEntrypoint):
            async def fetch(self, request):
                self.ctx.waitUntil(later("good"))
                self.ctx.waitUntil(later("bad"))
                self.ctx.passThroughOnException()
                return Response("sent")
        """
    )
    module = sys.modules["worker"]

    async def serve_and_drain():
        result = await runtime.handle(7, "GET", "http://x/", [], b"")
        assert module.DONE == []
        while context.tasks:
            await asyncio.sleep(0)
        return result

    assert asyncio.run(serve_and_drain())[2] == b"sent"
    assert module.DONE == ["good"]
    log = worker.log()
    assert "request 7 waitUntil(): uncaught exception" in log
    assert "ValueError: background failed" in log


def test_wait_until_from_sync_handler_outside_a_loop(worker: Worker) -> None:
    worker.load(
        """
        from js import Response
        DONE = []

        async def later():
            DONE.append(1)

        def on_fetch(request, env, ctx):
            ctx.waitUntil(later())
            return Response.new("sync")
        """
    )
    result = runtime.handle(1, "GET", "http://x/", [], b"")
    assert asyncio.iscoroutine(result)

    async def serve_and_drain():
        wire = await result
        while context.tasks:
            await asyncio.sleep(0)
        return wire

    assert asyncio.run(serve_and_drain())[2] == b"sync"
    assert sys.modules["worker"].DONE == [1]


def test_both_response_kinds_accepted_from_both_handler_styles(worker: Worker) -> None:
    worker.load(
        """
        import workers, js
        def on_fetch(request):
            if request.url.endswith("/js"):
                return js.Response.new("js")
            return workers.Response("py", headers={"set-cookie": "a=1"})
        """
    )
    assert worker.request(url="http://x/js")[2] == b"js"
    assert header(worker.request(url="http://x/py")[1], "set-cookie") == ["a=1"]


def test_repeated_set_cookie_reaches_the_wire(worker: Worker) -> None:
    worker.load(
        """
        from js import Response, Headers
        def on_fetch(request):
            h = Headers.new()
            h.append("Set-Cookie", "a=1; Path=/")
            h.append("Set-Cookie", "b=2")
            return Response.new("c", headers=h)
        """
    )
    assert header(worker.request()[1], "set-cookie") == ["a=1; Path=/", "b=2"]


# ------------------------------------------------------------------- js, pyodide.ffi


def test_json_and_ffi_helpers() -> None:
    assert js.JSON.stringify({"a": [1, None]}) == '{"a":[1,null]}'
    assert js.JSON.parse('{"a": 1}') == {"a": 1}
    assert to_js({"a": 1}, dict_converter=js.Object.fromEntries) == {"a": 1}
    assert to_js([1]) == [1]
    f = lambda: 1  # noqa: E731
    assert create_proxy(f) is f and create_once_callable(f) is f


@pytest.mark.parametrize("make", [bytearray, memoryview])
def test_response_accepts_bytearray_and_memoryview_bodies(make: Any) -> None:
    """Issue 13 (low): Response(bytearray) / Response(memoryview) raised TypeError; both are
    taken as bytes (a copy: changing the buffer later does not change the response)."""
    data = bytearray(b"\x00binary\xff")
    for response in (workers.Response(make(data)), js.Response.new(make(data)),
                     js.Response.new(make(data), status=201)):
        status, _, body = response._wire()
        assert body == b"\x00binary\xff" and type(body) is bytes
        assert status in (200, 201)
    data[0] = 1
    assert workers.Response(memoryview(b"ab")).status == 200
