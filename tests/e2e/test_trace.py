"""PYTHON_TRACE=1: one line per lifecycle step, with its duration, from every process; and
the lines prove that an isolate is a fork of the template (the worker is imported once)."""

import re
import shutil
import time

from conftest import REPO, Server

# A template's or isolate's lines come through the host, behind the tag of the process that
# wrote them ("[main iso 1234] ", host/child_log.h); the host's and the zygote's have none.
TRACE = re.compile(r"^(?:\[[\w:-]+ (?:iso \d+|tpl)\] )?trace (?P<role>[\w:-]+)\[(?P<pid>\d+)\] (?P<step>.+): (?P<ms>\d+\.\d{3}) ms$")

HELLO = {"worker.py": '''
    from workers import WorkerEntrypoint, Response
    import json

    class Default(WorkerEntrypoint):
        def fetch(self, request):
            return Response("hi")
    '''}


def trace_lines(log: str) -> list[dict]:
    return [m.groupdict() for line in log.splitlines() if (m := TRACE.match(line))]


def steps(lines: list[dict], role_prefix: str) -> list[str]:
    return [l["step"] for l in lines if l["role"].startswith(role_prefix)]


def test_trace_lines_cover_every_lifecycle_step_in_order(serve, monkeypatch):
    monkeypatch.setenv("PYTHON_TRACE", "1")
    server = serve(HELLO)
    assert server.get("/")[2] == b"hi"
    log = server.wait_log("request finished")
    lines = trace_lines(log)
    zygote, template, host = (steps(lines, r) for r in ("zygote", "tpl:main", "host"))
    assert zygote[0] == "zygote init" and zygote[1].startswith("template forked pid=")
    assert template[0] == "requirements resolved (0)"
    assert "import worker" in template
    assert template.index("import worker") < template.index("template ready")
    assert any(s.startswith("isolate forked pid=") for s in template)
    first = next(l["pid"] for l in lines if l["role"] == "iso:main")  # the spare traces concurrently
    one_isolate = [l["step"] for l in lines if l["role"] == "iso:main" and l["pid"] == first]
    assert one_isolate[:3] == ["sandbox applied", "isolate prepared (since fork)", "reseeded"]
    assert any(s.startswith("isolate started pid=") for s in host)
    assert any(s.startswith("request dispatched id=1 ") for s in host)
    assert any(s.startswith("request finished id=1 ") and s.endswith("status=200") for s in host)
    assert all(float(l["ms"]) >= 0 for l in lines)


def test_isolates_are_forked_from_the_template_not_reimported(serve, monkeypatch):
    monkeypatch.setenv("PYTHON_TRACE", "1")
    server = serve(HELLO, "--isolates", "3", "--spare-isolates", "0")
    server.get("/")
    server.wait_log("request finished")
    deadline = time.monotonic() + 10
    while True:   # each isolate writes its own lines, maybe after the first request finished
        lines = trace_lines(server.log())
        forked = [int(s.split("pid=")[1]) for s in steps(lines, "tpl:main") if s.startswith("isolate forked")]
        isolates = {int(l["pid"]) for l in lines if l["role"] == "iso:main"}
        if len(isolates) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(forked) == 3 and set(forked) == isolates
    assert steps(lines, "tpl:main").count("import worker") == 1
    assert not any(s.startswith("import ") for s in steps(lines, "iso:main"))
    assert steps(lines, "zygote").count("zygote init") == 1


def test_trace_names_each_requirement_imported(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHON_TRACE", "1")
    example = tmp_path / "numpy"
    shutil.copytree(REPO / "examples" / "numpy", example)
    server = Server(example / "config.capnp", tmp=tmp_path)
    try:
        assert server.get("/")[0] == 200
        template = steps(trace_lines(server.wait_log("request finished")), "tpl:main")
        assert "requirements resolved (1)" in template
        assert any(re.fullmatch(r"import numpy \(requirement numpy [\d.]+\)", s) for s in template)
    finally:
        server.stop()


def test_without_the_sandbox_there_is_no_sandbox_step(serve, monkeypatch):
    monkeypatch.setenv("PYTHON_TRACE", "1")
    server = serve(HELLO, "--no-sandbox")
    server.get("/")
    lines = [l for l in trace_lines(server.wait_log("request finished")) if l["role"] == "iso:main"]
    first = lines[0]["pid"]    # the serving and the spare isolate trace concurrently
    assert [l["step"] for l in lines if l["pid"] == first][:2] == ["isolate prepared (since fork)", "reseeded"]


def test_no_trace_lines_without_python_trace(serve, monkeypatch):
    monkeypatch.delenv("PYTHON_TRACE", raising=False)
    server = serve(HELLO, "--verbose")
    server.get("/")
    server.wait_log("isolate")
    assert trace_lines(server.log()) == []


def test_python_trace_0_is_off(serve, monkeypatch):
    monkeypatch.setenv("PYTHON_TRACE", "0")
    server = serve(HELLO)
    server.get("/")
    assert trace_lines(server.log()) == []
