"""Service-binding RPC values as workerd converts them between Python Workers (issue 15,
item 6), on the real binary: plain dicts, lists, sets, bytes and memoryview (memoryview back),
JavaScript buffers, datetimes and Dates, exceptions, and workers' Request/Response/Blob/File/
FormData round-trip; tuple, bytearray and functions are TypeError; other objects are
workerd's DataCloneError (a JsException) on the caller; keyword arguments are one trailing
options object. Also the legacy workflow form step.do(name, depends=[...]), whose steps'
results are passed positionally.

The round trips run inside one worker under `pyworkerd test` (each behaviour an entry point)."""

import json
import time
from urllib.parse import urlencode

import pytest

from conftest import Server, assert_test_passed, pyworkerd_test, worker_config, write_worker

WORKER = r'''
import datetime, js
from pyodide.ffi import JsException, to_js
from workers import Blob, File, FormData, Request, Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("default")


class Tester(WorkerEntrypoint):
    async def identity(self, x):
        return x

    def sync_identity(self, x):
        return x

    async def kinds(self, *args):
        return [type(a).__name__ for a in args]

    async def returns_tuple(self):
        return (1, 2)

    async def returns_object(self):
        return object()

    async def raises(self):
        raise ValueError("bad value")

    async def echo_response(self, response):
        assert isinstance(response, Response)
        return Response("echo: " + await response.text(), status=response.status,
                        headers={"x-seen": "1"})

    async def echo_request(self, request):
        assert isinstance(request, Request)
        return request


class PlainValues(WorkerEntrypoint):
    async def test(self):
        rpc = self.env.RPC
        for value in ["s", [1, 2, 3], {"key": 42, "nested": {"a": [None, True]}}, 42, 1.25, False, None]:
            got = await rpc.identity(value)
            assert got == value and type(got) is type(value), (value, got)
        got = await rpc.identity({"key": {"inner": 1}})
        assert type(got["key"]) is dict                      # plain dicts all the way down
        assert await rpc.sync_identity("sync") == "sync"
        tagged = {"$pyworkerd:bytes": "not bytes"}           # a dict that looks like a tag
        assert await rpc.identity(tagged) == tagged


class SetsBytesDates(WorkerEntrypoint):
    async def test(self):
        rpc = self.env.RPC
        s = await rpc.identity({1, 2, 3})
        assert isinstance(s, set) and s == {1, 2, 3}
        for value in (b"binary", memoryview(b"abc")):
            got = await rpc.identity(value)
            assert isinstance(got, memoryview) and bytes(got) == bytes(value)
        for value in (js.ArrayBuffer.new(8), js.Int16Array.of("10", "24"),
                      js.DataView.new(js.ArrayBuffer.new(4))):
            got = await rpc.identity(value)
            assert isinstance(got, memoryview) and got.nbytes == value.byteLength
        now = datetime.datetime.now()
        got = await rpc.identity(now)
        assert isinstance(got, datetime.datetime) and abs((got - now).total_seconds()) < 1
        dates = await rpc.identity([js.Date.new(), datetime.datetime.now()])
        assert all(isinstance(d, datetime.datetime) for d in dates)
        err = await rpc.identity(ValueError("message"))
        assert isinstance(err, ValueError) and str(err) == "message"
        assert await rpc.kinds(1, "a", [1], {"a": 1}) == ["int", "str", "list", "dict"]


class WebObjects(WorkerEntrypoint):
    async def test(self):
        rpc = self.env.RPC
        r = await rpc.echo_response(Response("hi", status=201))
        assert isinstance(r, Response) and r.status == 201 and await r.text() == "echo: hi"
        assert r.headers.get("x-seen") == "1"
        r = await rpc.echo_response(js.Response.new("from js"))
        assert await r.text() == "echo: from js"
        req = await rpc.echo_request(Request("https://test.com", method="POST", body="payload",
                                             headers={"x-a": "b"}))
        assert isinstance(req, Request) and req.method == "POST" and req.url == "https://test.com/"
        assert req.headers.get("x-a") == "b" and await req.text() == "payload"
        blob = await rpc.identity(Blob("print(42)", content_type="text/python"))
        assert isinstance(blob, Blob) and blob.content_type == "text/python"
        assert await blob.text() == "print(42)"
        f = await rpc.identity(File(["x"], "a.txt", last_modified=7))
        assert isinstance(f, File) and (f.name, f.last_modified) == ("a.txt", 7)
        form = await rpc.identity(FormData({"k": "v", "f": File(["data"], "f.bin")}))
        assert form["k"] == "v" and form["f"].name == "f.bin" and await form["f"].text() == "data"


class CustomType:
    def __init__(self):
        self.x = 42


class Unclonable(WorkerEntrypoint):
    async def test(self):
        rpc = self.env.RPC
        for value in [(1, 2, 3), bytearray(b"ab"), [(1, 2)], {"t": (1,)}, lambda x: x, len]:
            try:
                await rpc.identity(value)
            except TypeError:
                pass
            else:
                raise AssertionError(f"{value!r} was sent")
        for value in [CustomType(), complex(1.23), range(0, 30, 5)]:
            try:
                await rpc.identity(value)
            except JsException as e:
                assert str(e).startswith("DataCloneError"), str(e)
            else:
                raise AssertionError(f"{value!r} was sent")
        try:
            await rpc.returns_tuple()
        except TypeError as e:
            assert "cannot be sent over RPC" in str(e)
        else:
            raise AssertionError("a tuple result was sent")
        try:
            await rpc.returns_object()
        except JsException as e:
            assert e.name == "DataCloneError"
        else:
            raise AssertionError("an object result was sent")
        try:
            await rpc.raises()
        except ValueError as e:
            assert str(e) == "bad value"


class KeywordArguments(WorkerEntrypoint):
    async def test(self):
        got = await self.env.RPC.identity(a=1, b="two")
        assert got == {"a": 1, "b": "two"} and type(got) is dict
        raw = await self.env._env.RPC.identity({"a": {"b": 1}})
        assert raw.a.b == 1                    # the unwrapped env's results: attribute access
'''

ENTRYPOINTS = ["PlainValues", "SetsBytesDates", "WebObjects", "Unclonable", "KeywordArguments"]


@pytest.fixture(scope="module")
def test_run(tmp_path_factory):
    config = write_worker(tmp_path_factory.mktemp("rpc") / "w", {"worker.py": WORKER},
                          date="2025-01-01",
                          bindings='(name = "RPC", service = (name = "main", entrypoint = "Tester"))')
    return pyworkerd_test(config)


passed = assert_test_passed


def test_every_rpc_entrypoint_ran_and_none_failed(test_run):
    for name in ENTRYPOINTS:
        assert f"[ TEST ] main:{name}" in test_run, test_run
    assert "[ FAIL ]" not in test_run, test_run


def test_plain_values_come_back_as_the_same_python_types(test_run):
    passed(test_run, "PlainValues")


def test_sets_bytes_buffers_dates_and_exceptions_round_trip(test_run):
    passed(test_run, "SetsBytesDates")


def test_request_response_blob_file_and_form_data_round_trip(test_run):
    passed(test_run, "WebObjects")


def test_tuples_and_functions_are_type_errors_other_objects_data_clone_errors(test_run):
    passed(test_run, "Unclonable")


def test_keyword_arguments_are_one_trailing_options_object(test_run):
    passed(test_run, "KeywordArguments")


# ---------------------------------------------------------------- legacy workflow steps

FLOW_CONFIG = worker_config(["worker.py"], date="2025-11-15", bindings="""
    (name = "FLOW", wrapped = (moduleName = "cloudflare-internal:workflows-api",
        innerBindings = [(name = "fetcher", service = (name = "main", entrypoint = "Flow"))]))""")

FLOW_WORKER = '''
import json
from urllib.parse import urlparse, parse_qs
from workers import Response, WorkerEntrypoint, WorkflowEntrypoint

class Flow(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("first")
        async def first():
            return 1

        @step.do("second")
        async def second():
            return "two"

        @step.do("combined", depends=[first, second])
        async def combined(a, ctx, b):
            return [a, b, ctx["step"]["name"]]

        @step.do("mismatch", depends=[first])
        async def mismatch(a, b):
            return "not reached"

        try:
            await mismatch()
        except TypeError as e:
            error = str(e)
        return {"combined": await combined(), "error": error}

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        q = parse_qs(urlparse(request.url).query)
        if request.url.endswith("/create"):
            return Response.json({"id": (await self.env.FLOW.create()).id})
        inst = await self.env.FLOW.get(q["id"][0])
        return Response.json(await inst.status())
'''


def test_legacy_step_do_depends_passes_results_positionally(tmp_path):
    (tmp_path / "worker.py").write_text(FLOW_WORKER)
    config = tmp_path / "config.capnp"
    config.write_text(FLOW_CONFIG)
    server = Server(config, tmp=tmp_path)
    try:
        status, _, body = server.get("/create")
        assert status == 200, body
        iid = json.loads(body)["id"]
        deadline = time.monotonic() + 10
        while True:
            status, _, body = server.get("/status?" + urlencode({"id": iid}))
            info = json.loads(body)
            if info["status"] in ("complete", "errored") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert info["status"] == "complete", (info, server.log())
        assert info["output"] == {
            "combined": [1, "two", "combined"],
            "error": "Step declares 2 non-ctx parameter(s) but 'depends' has 1 item(s)",
        }
    finally:
        server.stop()
