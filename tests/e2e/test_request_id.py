"""One request id across processes (issue 14, item 7): the host gives every request an id
("req=" and 16 hex digits, http/request_id.h) and writes it on the request's access line and
its PYTHON_TRACE lines; the isolate writes it before every line the request's code logs
(print(), tracebacks, waitUntil() tasks), so that one grep finds them all. Concurrent
requests in one isolate keep their own ids; a service binding's call gets an id of its own."""

import re
import signal
import textwrap
import threading

from conftest import Server
from test_service_bindings import CONFIG   # main (front.py) binds AUTH and ADMIN to auth (auth.py)

RID = r"req=[0-9a-f]{16}"
ISO = r"\[main iso \d+\] "

FAILING = {"worker.py": '''
    from workers import WorkerEntrypoint, Response

    def fail(path):
        raise RuntimeError("boom at " + path)

    class Default(WorkerEntrypoint):
        def fetch(self, request):
            path = request.url.split("/", 3)[3]
            print("about to fail", path)
            if path.startswith("boom"):
                fail(path)
            return Response("fine")
    '''}

SLOW = {"worker.py": '''
    import asyncio, os
    from workers import WorkerEntrypoint, Response

    async def later(tag):
        await asyncio.sleep(0)
        print("later", tag)

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            tag = request.url.rsplit("/", 1)[1]
            print("start", tag)
            await asyncio.sleep(0.5)
            self.ctx.waitUntil(later(tag))
            print("end", tag)
            return Response(str(os.getpid()))
    '''}


def access_id(log: str, method_path: str) -> str:
    """The id on the access line of `method_path` ("GET /x"): its last field."""
    lines = [l for l in log.splitlines() if f" {method_path} " in l and not l.startswith("[")]
    assert len(lines) == 1, log
    rid = lines[0].split()[-1]
    assert re.fullmatch(RID, rid), lines[0]
    return rid


def lines_with(log: str, text: str) -> list[str]:
    return [l for l in log.splitlines() if text in l]


def test_the_access_line_print_and_traceback_of_a_request_share_its_id(serve):
    server = serve(FAILING)
    assert server.get("/boom-1")[0] == 500
    assert server.get("/ok")[0] == 200
    log = server.wait_log(" GET /ok ")
    rid = access_id(log, "GET /boom-1")
    assert re.search(rf"^{ISO}{rid} about to fail boom-1$", log, re.M), log
    traceback = lines_with(log, rid)
    assert any(l.endswith("Traceback (most recent call last):") for l in traceback), log
    assert any(l.endswith("RuntimeError: boom at boom-1") for l in traceback), log
    assert any("in fail" in l for l in traceback), log
    # every line of the traceback carries the id: none of it is left without
    assert not [l for l in log.splitlines() if "boom at" in l and rid not in l], log
    other = access_id(log, "GET /ok")
    assert other != rid and other[:12] == rid[:12]   # the same run: the same prefix
    assert re.search(rf"^{ISO}{other} about to fail ok$", log, re.M), log


def test_concurrent_requests_in_one_isolate_keep_their_own_ids(serve):
    server = serve(SLOW)
    pids = {}

    def get(tag):
        pids[tag] = server.get(f"/{tag}")[2]

    threads = [threading.Thread(target=get, args=(tag,)) for tag in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pids["a"] == pids["b"], pids     # one isolate served both, concurrently
    log = server.wait_log("later b")
    log = server.wait_log("later a")
    ids = {tag: access_id(log, f"GET /{tag}") for tag in ("a", "b")}
    assert ids["a"] != ids["b"]
    for tag, rid in ids.items():
        for what in ("start", "end", "later"):
            assert re.search(rf"^{ISO}{rid} {what} {tag}$", log, re.M), (tag, what, log)
    starts = [log.index(f"start {tag}") for tag in ("a", "b")]
    assert max(starts) < min(log.index(f"end {tag}") for tag in ("a", "b")), log


def test_trace_lines_about_a_request_carry_its_id(serve, monkeypatch):
    monkeypatch.setenv("PYTHON_TRACE", "1")
    server = serve(FAILING)
    assert server.get("/ok")[0] == 200
    log = server.wait_log(" GET /ok ")
    log = server.wait_log("request finished")
    rid = access_id(log, "GET /ok")
    assert re.search(rf"^trace host\[\d+\] request dispatched id=\d+ {rid} isolate=\d+: ", log, re.M), log
    assert re.search(rf"^trace host\[\d+\] request finished id=\d+ {rid} isolate=\d+ status=200: ", log,
                     re.M), log


def test_lines_outside_a_request_have_no_id(serve):
    server = serve({"worker.py": '''
        from workers import WorkerEntrypoint, Response
        print("top level")

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response("ok")
        '''})
    assert server.get("/")[0] == 200
    log = server.wait_log("top level")
    assert re.search(r"^\[main tpl\] top level$", log, re.M), log


FRONT = '''
from workers import WorkerEntrypoint, Response

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        print("front calls auth")
        return Response(str(await self.env.AUTH.add(2, 3)))
'''

AUTH = '''
from workers import WorkerEntrypoint

class Default(WorkerEntrypoint):
    def add(self, a, b):
        print("auth adds")
        return a + b

class Admin(WorkerEntrypoint):
    pass
'''


def test_a_service_binding_call_gets_an_id_of_its_own(tmp_path):
    d = tmp_path / "svc"
    d.mkdir()
    (d / "front.py").write_text(textwrap.dedent(FRONT))
    (d / "auth.py").write_text(textwrap.dedent(AUTH))
    (d / "config.capnp").write_text(CONFIG)
    server = Server(d / "config.capnp", (), tmp=tmp_path)
    try:
        assert server.get("/")[2] == b"5"
        log = server.wait_log("auth adds")
        log = server.wait_log(" GET / ")
        rid = access_id(log, "GET /")
        assert re.search(rf"^\[main iso \d+\] {rid} front calls auth$", log, re.M), log
        called = re.search(rf"^\[auth iso \d+\] ({RID}) auth adds$", log, re.M)
        assert called and called.group(1) != rid, log
    finally:
        server.stop(signal.SIGKILL)
