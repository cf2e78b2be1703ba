"""The SDK and FFI surface that workerd's own Python tests use (issue 15, item 5), on the real
binary: Blob/File/FormData (request.form_data() for multipart and urlencoded bodies from a real
client, file parts), Response.from_json/replace_body/buffer and JavaScript bodies (typed arrays,
DataView, Blob, FormData), js globals (globalThis, Date, TextEncoder/TextDecoder, timers,
process with nodejs_compat, Object, Headers.new, Request.new), pyodide (__version__, run_sync,
webloop), _cloudflare_compat_flags, import_from_javascript, @handler, the unwrapped env and a
service binding's scheduled(), and workerd's global-scope error for top-level I/O.

Most behaviours are checked inside one worker by `pyworkerd test` (one run, one entry point
per behaviour, each test here reads its own PASS line); form bodies go over real HTTP."""

import json
import subprocess
import urllib.parse

import pytest

from conftest import BIN, assert_test_passed, pyworkerd_test, write_worker

SURFACE = r'''
import asyncio, datetime, json
import js
import _cloudflare_compat_flags as flags
import pyodide
from js import globalThis, setTimeout
from pyodide.ffi import JsException, JsProxy, run_sync, to_js
from workers import (Blob, File, FormData, Request, Response, WorkerEntrypoint, handler,
                     import_from_javascript, patch_env)

# ---- top level: what workerd allows and refuses before any request
TOP = {"js_is_global": js == globalThis}
try:
    js.fetch("https://example.com/")
except JsException as e:
    TOP["fetch_error"] = str(e)
try:
    setTimeout(lambda: None, 5)
except JsException as e:
    TOP["timer_error"] = str(e)
TOP["zero_timer_ran"] = False
def _zero():
    TOP["zero_timer_ran"] = True
setTimeout(_zero, 0)
TOP["zero_timer_ran_at_once"] = TOP["zero_timer_ran"]
TOP["workers_env"] = import_from_javascript("cloudflare:workers").env.GREETING


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.split("/", 3)[3]
        if path == "form":
            try:
                form = await request.form_data()
            except TypeError as e:
                return Response(str(e), status=400)
            out = {}
            for key, value in form.items():
                if isinstance(value, File):
                    out[key] = {"name": value.name, "type": value.content_type,
                                "text": await value.text(), "size": value.size}
                else:
                    out.setdefault(key, []).append(value)
            return Response.json(out)
        if path == "make-form":
            data = FormData({"field": "value"})
            data.append("upload", Blob(b"\x00\x01binary", content_type="application/x-thing"),
                        filename="data.bin")
            return Response(data)
        if path == "sub":
            return Response("Hi there!", headers={"X-Flag": True})
        if path == "redirect":
            return Response.redirect("https://example.com/sub", status=301)
        return Response("unknown path", status=404)

    async def scheduled(self, controller, env, ctx):
        if controller.cron == "":   # ServiceBindings' second call: a handler that fails
            assert controller.scheduledTime == 1
            raise RuntimeError("scheduled() fails on purpose when run without a cron")
        assert controller.scheduledTime == 1000 and controller.cron == "*/5 * * * *"


class TopLevel(WorkerEntrypoint):
    def test(self):
        assert TOP["js_is_global"] is False            # top level: js is the patched module
        assert js == globalThis                        # in a request: the global object
        assert "Disallowed operation called within global scope" in TOP["fetch_error"]
        assert TOP["timer_error"].startswith("Error: Disallowed operation called within global scope")
        assert TOP["zero_timer_ran_at_once"] is False and TOP["zero_timer_ran"] is True
        assert TOP["workers_env"] == "hello"


class BlobAndFile(WorkerEntrypoint):
    async def test(self):
        b = Blob(["ab", b"cd", memoryview(b"ef")], content_type="Text/Plain")
        assert (b.size, b.content_type, b.js_object.type) == (6, "text/plain", "text/plain")
        assert await b.text() == "abcdef" and await b.bytes() == b"abcdef"
        assert await b.slice(1, 3).text() == "bc" and await b.slice(-2).text() == "ef"
        assert Blob(b).content_type == "text/plain"            # one Blob passes its type on
        assert Blob([b]).content_type == ""                     # a list of parts does not
        assert Blob(b, content_type="x/y").content_type == "x/y"
        assert await Blob("one part").text() == "one part"
        j = js.Blob.new(to_js(["a", "b"]), type="a/b")
        assert isinstance(j, Blob) and await j.text() == "ab" and j.type == "a/b"
        f = File("x", filename="f.txt", content_type="text/plain", last_modified=5)
        assert (f.name, f.last_modified, f.content_type) == ("f.txt", 5, "text/plain")
        assert (await b.arrayBuffer()).to_bytes() == b"abcdef"
        try:
            Blob([object()])
        except TypeError:
            pass
        else:
            raise AssertionError("Blob accepted an object")


class FormDataMapping(WorkerEntrypoint):
    async def test(self):
        d = FormData({"k": "v"})
        d.append("k", "w")
        d.append("n", 123)
        d.append("b", True)
        assert d["k"] == "v" and d.get_all("k") == ["v", "w"] and d["n"] == "123" and d["b"] == "true"
        assert list(d.keys()) == ["k", "k", "n", "b"] and len(d) == 4 and "k" in d and "x" not in d
        d["k"] = "only"
        assert d.get_all("k") == ["only"]
        d["blob"] = Blob(["data"], content_type="text/python")
        assert isinstance(d["blob"], File) and d["blob"].name == "blob"
        d.append("file", Blob(["{}"]), filename="meta.json")
        assert d["file"].name == "meta.json"
        del d["n"]
        assert "n" not in d
        j = js.FormData.new()
        j.append("x", 1)
        assert FormData(j)["x"] == "1" and j.getAll("x") == ["1"] and j.has("x")
        try:
            d["k"] = ["a", "b"]
        except TypeError:
            pass
        else:
            raise AssertionError("a list value was accepted")


class ResponseBodies(WorkerEntrypoint):
    async def test(self):
        cases = [js.Uint8Array.new(to_js([1, 2, 3, 4])), js.Int16Array.new(to_js([1, -2])),
                 js.Float64Array.new(to_js([1.5])), js.Uint8Array.new(to_js([0, 1, 2, 3])).subarray(1),
                 js.DataView.new(js.Uint8Array.new(to_js([9, 10])).buffer), js.ArrayBuffer.new(3)]
        for body in cases:
            buf = await Response(body).buffer()
            assert buf.byteLength == body.byteLength, type(body)
        assert await Response(js.Int8Array.new(to_js([-1, 2]))).bytes() == b"\xff\x02"
        r = Response(Blob(["x"], content_type="image/png"))
        assert r.headers.get("content-type") == "image/png"
        r = Response.from_json({"a": 1}, status=201)
        assert (r.status, await r.text(), r.headers.get("content-type")) == (201, '{"a": 1}', "application/json")
        assert repr(Response.json([1])) == "Response(status=200, status_text='OK', content_type='application/json')"
        r2 = Response("old", status=202, status_text="Took", headers={"x-a": "1"}).replace_body("new")
        assert (r2.status, r2.status_text, r2.headers.get("x-a"), await r2.text()) == (202, "Took", "1", "new")
        assert Response(None, status=204).body is None
        assert Response(None, status=101, web_socket=js.WebSocket.new("ws://example.com/")).status == 101
        try:
            Response(object())
        except TypeError as e:
            assert str(e) == "Unsupported type in Response: object"
        r3 = Response(FormData({"a": "b"}))
        assert (await r3.form_data())["a"] == "b"
        assert Response("x", headers={"h": False}).headers.get("h") == "false"


class RequestSurface(WorkerEntrypoint):
    async def test(self):
        req = Request("HTTPS://Example.COM", method="POST", body=FormData({"f": "1"}))
        assert req.url == "https://example.com/" and (await req.form_data())["f"] == "1"
        assert repr(Request("https://t.com")) == "Request(method='GET', url='https://t.com/')"
        h = js.Headers.new()
        h.append("Accept", "a")
        h.append("Accept", "b")
        h.append("Set-Cookie", "x=1")
        h.append("Set-Cookie", "y=2")
        r = Request("http://e.com", headers=h)
        assert r.headers.get_all("accept") == ["a, b"]
        assert r.headers.get_all("set-cookie") == ["x=1", "y=2"]
        blob = await Request("http://e.com", method="POST", body="raw",
                             headers={"content-type": "text/x"}).blob()
        assert (await blob.text(), blob.content_type) == ("raw", "text/x")
        jr = js.Request.new("http://e.com/p", method="PUT", headers=to_js({"A": "1"}))
        assert (jr.method, jr.headers.get("a")) == ("PUT", "1")
        try:
            await Request("http://e.com", method="POST", body="x",
                          headers={"content-type": "text/plain"}).form_data()
        except TypeError as e:
            assert "multipart/form-data" in str(e)
        else:
            raise AssertionError("a text/plain body parsed as a form")


class JsGlobals(WorkerEntrypoint):
    async def test(self):
        enc = js.TextEncoder.new().encode("€uro")
        assert enc.byteLength == 6
        dec = js.TextDecoder.new()
        raw = enc.to_bytes()
        assert dec.decode(raw[:2], {"stream": True}) == "" and dec.decode(raw[2:]) == "€uro"
        d = js.Date.new(0)
        assert d.getTime() == 0 and d.toISOString() == "1970-01-01T00:00:00.000Z"
        assert isinstance(d.to_py(), datetime.datetime) and js.Date.now() > 1.6e12
        o = js.Object.new()
        o.x = 1
        assert o.x == 1 and js.Object.keys(o) == ["x"]
        assert js.process.env.GREETING == "hello" and js.process.versions.node
        fired = []
        setTimeout(lambda v: fired.append(v), 1, "timer")
        cancelled = setTimeout(lambda: fired.append("cancelled"), 1)
        js.clearTimeout(cancelled)
        await asyncio.sleep(0.05)
        assert fired == ["timer"]
        assert isinstance(js.Uint8Array.new(1), JsProxy) and not isinstance(Blob(["x"]), JsProxy)


class PyodideSurface(WorkerEntrypoint):
    def test(self):
        assert pyodide.__version__ == "0.27.7"
        from pyodide.webloop import WebLoop, PyodideFuture
        assert isinstance(asyncio.get_event_loop(), WebLoop) and PyodideFuture is asyncio.Future

        async def slow_fetch():
            await asyncio.sleep(0.01)
            r = await self.env.SELF.fetch("http://x/sub")
            return await r.text()
        assert run_sync(slow_fetch()) == "Hi there!"   # sync code; a binding call inside


class RunSyncInsideAsync(WorkerEntrypoint):
    async def test(self):
        async def inner():
            await asyncio.sleep(0.01)
            return 42
        assert run_sync(inner()) == 42


class CompatFlags(WorkerEntrypoint):
    def test(self):
        assert flags.python_workflows is True                  # given
        assert flags.nodejs_compat is True                     # given
        assert flags.formdata_parser_supports_files is True    # by date (2021-11-03)
        assert flags.python_no_global_handlers is False        # off: date 2025-01-01
        assert "python_workflows" in dir(flags)
        assert getattr(flags, "no_such_flag", "absent") == "absent"


class JavaScriptModules(WorkerEntrypoint):
    async def test(self):
        workers_mod = import_from_javascript("cloudflare:workers")
        assert workers_mod.env.GREETING == "hello"
        done = []
        async def later():
            done.append(1)
        workers_mod.waitUntil(later())
        await asyncio.sleep(0)
        sockets = import_from_javascript("cloudflare:sockets")
        try:
            sockets.connect("no port here")     # TCP goes through the host: test_sockets.py
        except JsException as e:
            assert "is not a valid" in str(e)
        else:
            raise AssertionError("connect() took an address without a port")
        try:
            import_from_javascript("cloudflare:nothing")
        except ImportError as e:
            assert "Failed to import 'cloudflare:nothing'" in str(e)
        else:
            raise AssertionError("an unknown module imported")
        with patch_env(GREETING="patched"):
            assert self.env.GREETING == "patched"
        assert self.env.GREETING == "hello"


class ServiceBindings(WorkerEntrypoint):
    async def test(self):
        raw = self.env._env
        assert isinstance(raw, JsProxy) and not isinstance(self.env, JsProxy)
        result = await raw.SELF.scheduled(scheduledTime=1000, cron="*/5 * * * *")
        assert result.outcome == "ok" and result.noRetry is False
        bad = await raw.SELF.scheduled(scheduledTime=1, cron="")
        assert bad.outcome == "exception"
        r = await raw.SELF.fetch("http://x/sub", {"method": "GET"})    # JavaScript's form
        assert r.headers.get("x-flag") == "true"
        try:
            await self.env.SELF.fetch("http://x/sub", {"method": "GET"})
        except TypeError as e:
            assert str(e) == "fetch() takes 1 positional argument but 2 were given"
        else:
            raise AssertionError("the SDK's fetch took positional options")
        manual = await self.env.SELF.fetch("http://x/redirect", redirect="manual", cf={"cacheTtl": 5})
        assert manual.status == 301
        body = (await self.env.SELF.fetch("http://x/sub")).body
        reader = body.getReader()
        text, dec = "", js.TextDecoder.new()
        while True:
            chunk = await reader.read()
            if chunk.done:
                break
            text += dec.decode(chunk.value, {"stream": True})
        assert text == "Hi there!"
        passed_on = Response((await self.env.SELF.fetch("http://x/sub")).body, status=201)
        assert (passed_on.status, await passed_on.text()) == (201, "Hi there!")


@handler
def legacy_style(request, env):
    return (request.method, env.GREETING)


class HandlerDecorator(WorkerEntrypoint):
    def test(self):
        assert legacy_style(Request("http://x"), self.env) == ("GET", "hello")
        assert legacy_style.__name__ == "legacy_style"
'''

ENTRYPOINTS = ["TopLevel", "BlobAndFile", "FormDataMapping", "ResponseBodies", "RequestSurface",
               "JsGlobals", "PyodideSurface", "RunSyncInsideAsync", "CompatFlags",
               "JavaScriptModules", "ServiceBindings", "HandlerDecorator"]


def surface_config(directory):
    config = write_worker(directory, {"worker.py": SURFACE}, date="2025-01-01",
                          flags=("python_workers", "python_workflows", "nodejs_compat"),
                          bindings='(name = "GREETING", text = "hello"), (name = "SELF", service = "main")')
    return config


@pytest.fixture(scope="module")
def test_run(tmp_path_factory):
    """One `pyworkerd test` run of SURFACE; its stderr."""
    return pyworkerd_test(surface_config(tmp_path_factory.mktemp("surface")))


passed = assert_test_passed


def test_every_surface_entrypoint_ran(test_run):
    for name in ENTRYPOINTS:
        assert f"[ TEST ] main:{name}" in test_run, test_run
    assert "[ FAIL ]" not in test_run, test_run


def test_top_level_io_raises_workerds_global_scope_error_and_zero_timers_run_after_load(test_run):
    passed(test_run, "TopLevel")


def test_blob_and_file_parts_types_and_slices(test_run):
    passed(test_run, "BlobAndFile")


def test_form_data_is_a_multidict_whose_blobs_become_files(test_run):
    passed(test_run, "FormDataMapping")


def test_response_takes_typed_arrays_blobs_and_form_data_and_replace_body_keeps_options(test_run):
    passed(test_run, "ResponseBodies")


def test_request_url_is_normalised_and_repeated_headers_are_joined_except_set_cookie(test_run):
    passed(test_run, "RequestSurface")


def test_js_globals_date_text_codecs_timers_process_and_object(test_run):
    passed(test_run, "JsGlobals")


def test_pyodide_version_webloop_and_run_sync_with_a_binding_call_from_sync_code(test_run):
    passed(test_run, "PyodideSurface")


def test_run_sync_inside_a_running_task(test_run):
    passed(test_run, "RunSyncInsideAsync")


def test_cloudflare_compat_flags_module_follows_date_and_flags(test_run):
    passed(test_run, "CompatFlags")


def test_import_from_javascript_workers_and_sockets_and_patch_env(test_run):
    passed(test_run, "JavaScriptModules")


def test_unwrapped_env_scheduled_and_fetch_option_forms(test_run):
    passed(test_run, "ServiceBindings")
    # the one failing scheduled() run is the deliberate one, logged as the uncaught exception it is
    assert test_run.count("scheduled(): uncaught exception") == 1, test_run
    assert "RuntimeError: scheduled() fails on purpose when run without a cron" in test_run, test_run
    assert "AssertionError" not in test_run, test_run


def test_handler_decorator_passes_arguments_through(test_run):
    passed(test_run, "HandlerDecorator")


# ---------------------------------------------------------------- form bodies over HTTP


@pytest.fixture
def server(serve):
    return serve({"worker.py": SURFACE}, date="2025-01-01",
                 flags=("python_workers", "python_workflows", "nodejs_compat"),
                 bindings='(name = "GREETING", text = "hello"), (name = "SELF", service = "main")')


def multipart(boundary, parts):
    out = b""
    for head, data in parts:
        out += b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + data + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def test_form_data_parses_a_clients_multipart_body_with_a_file_part(server):
    body = multipart(b"XyZ", [
        (b'Content-Disposition: form-data; name="title"', b"Hello, world"),
        (b'Content-Disposition: form-data; name="title"', b"again"),
        (b'Content-Disposition: form-data; name="doc"; filename="notes.txt"\r\nContent-Type: text/plain',
         "caf\u00e9\r\nline 2".encode()),
    ])
    status, _, got = server.request("POST", "/form", body=body,
                                    headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert status == 200, got
    assert json.loads(got) == {
        "title": ["Hello, world", "again"],
        "doc": {"name": "notes.txt", "type": "text/plain", "text": "caf\u00e9\r\nline 2", "size": 13},
    }


def test_form_data_parses_a_urlencoded_body(server):
    body = urllib.parse.urlencode([("a", "1"), ("a", "two words"), ("empty", "")])
    status, _, got = server.request("POST", "/form", body=body,
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and json.loads(got) == {"a": ["1", "two words"], "empty": [""]}


def test_form_data_of_another_content_type_is_workerds_type_error(server):
    status, _, got = server.request("POST", "/form", body=b"{}", headers={"Content-Type": "application/json"})
    assert status == 400 and b"FormData can only parse the following MIME types" in got
    status, _, got = server.request("POST", "/form", body=b"--B\r\nbroken",
                                    headers={"Content-Type": "multipart/form-data; boundary=B"})
    assert status == 400 and got == b"Failed to parse body as FormData."


def test_a_form_data_response_is_multipart_a_client_can_parse(server):
    import email.parser
    import email.policy

    status, headers, got = server.get("/make-form")
    assert status == 200
    content_type = headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + got)
    parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
    assert parts["field"].get_content() == "value"
    upload = parts["upload"]
    assert upload.get_filename() == "data.bin" and upload.get_content_type() == "application/x-thing"
    assert upload.get_payload(decode=True) == b"\x00\x01binary"


RUN_SYNC_THEN_ASYNC = '''
from pyodide.ffi import run_sync
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/nested"):   # a request the running loop's reader dispatched
            async def leaf():
                return await (await self.env.SELF.fetch("http://x/leaf")).text()
            return Response("nested " + run_sync(leaf()))
        return Response("Hi there!")

class A(WorkerEntrypoint):
    def test(self):
        async def call():
            return await (await self.env.SELF.fetch("http://x/")).text()
        assert run_sync(call()) == "Hi there!"

class B(WorkerEntrypoint):
    async def test(self):
        assert await (await self.env.SELF.fetch("http://x/")).text() == "Hi there!"

class C(WorkerEntrypoint):
    async def test(self):
        assert await (await self.env.SELF.fetch("http://x/nested")).text() == "nested Hi there!"
'''


def test_run_sync_leaves_the_loop_serving_and_works_in_a_request_the_reader_dispatched(tmp_path):
    # Bugs: the isolate loop's own stop() (asked while run_sync turned it, from a sync
    # handler) stayed pending, so the next async request's binding call never completed (B);
    # run_sync in a request the running loop's socket reader had dispatched re-entered that
    # reader's Handle ("cannot enter context ... already entered") and the isolate hung (C).
    config = write_worker(tmp_path / "w", {"worker.py": RUN_SYNC_THEN_ASYNC}, date="2025-01-01",
                          bindings='(name = "SELF", service = "main")')
    result = subprocess.run([BIN, "test", str(config)], capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL, cwd=config.parent)
    assert result.returncode == 0, result.stderr
    for name in "ABC":
        assert f"[ PASS ] main:{name} (" in result.stderr, result.stderr


def test_forms_example_describes_uploaded_files_over_rpc(tmp_path):
    import shutil
    from conftest import REPO, Server

    shutil.copytree(REPO / "examples" / "forms", tmp_path / "forms")
    server = Server(tmp_path / "forms" / "config.capnp", tmp=tmp_path)
    try:
        body = multipart(b"b0und", [
            (b'Content-Disposition: form-data; name="title"', b"report"),
            (b'Content-Disposition: form-data; name="doc"; filename="a.csv"\r\nContent-Type: text/csv',
             b"x,y\n1,2\n"),
        ])
        status, _, got = server.request("POST", "/upload", body=body,
                                        headers={"Content-Type": "multipart/form-data; boundary=b0und"})
        assert status == 200, got
        import hashlib
        assert json.loads(got) == {"fields": {"title": ["report"]}, "files": [{
            "name": "a.csv", "type": "text/csv", "size": 8,
            "sha256": hashlib.sha256(b"x,y\n1,2\n").hexdigest()}]}
        status, _, got = server.request("POST", "/upload", body=b"{}",
                                        headers={"Content-Type": "application/json"})
        assert status == 400 and "multipart/form-data" in json.loads(got)["error"]
        status, headers, got = server.get("/sample")
        assert status == 200 and headers["Content-Type"].startswith("multipart/form-data; boundary=")
        assert b'filename="data.csv"' in got and b"a,b\r\n1,2\r\n" not in got and b"a,b\n1,2\n" in got
    finally:
        server.stop()
