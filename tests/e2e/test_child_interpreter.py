"""The runtime zygote, its templates and isolates run in Debian's /usr/bin/python3.11 with
pyworkerd's extension module (build/pyext/_pyworkerd.so) when it was built; the sanitizer
build has none and runs build/pyworkerd-isolate instead. Either way a worker sees the same
interpreter state as an embedded one: sys.argv [""], SIGINT raising KeyboardInterrupt, no site;
and SIGXFSZ ignored either way, as Python's own start leaves it, so that a write past the file
size limit fails with EFBIG instead of killing the isolate (test_stdio_isolation.py)."""

import json
import os
from pathlib import Path

from conftest import BIN, children

WORKER = {"worker.py": '''
    import json, signal, sys
    from workers import WorkerEntrypoint, Response

    class Default(WorkerEntrypoint):
        def fetch(self, request):
            return Response(json.dumps({
                "argv": sys.argv,
                "executable": sys.executable,
                "sigint": signal.getsignal(signal.SIGINT) is signal.default_int_handler,
                "sigxfsz_ignored": signal.getsignal(signal.SIGXFSZ) is signal.SIG_IGN,
                "site_imported": "site" in sys.modules,
                "pyext_on_path": any(p.endswith("/pyext") for p in sys.path),
            }))
    '''}

EXTENSION = Path(BIN).parent / "pyext" / "_pyworkerd.so"


def test_zygote_runs_in_debians_interpreter_when_the_module_is_built(serve):
    server = serve(WORKER)
    zygotes = [p for p in children(server.proc.pid) if Path(f"/proc/{p}/comm").read_text().strip() == "pw-zygote"]
    assert len(zygotes) == 1, children(server.proc.pid)
    exe = os.path.realpath(f"/proc/{zygotes[0]}/exe")
    if EXTENSION.exists():
        assert exe == os.path.realpath("/usr/bin/python3.11")
    else:
        assert exe == os.path.realpath(Path(BIN).parent / "pyworkerd-isolate")


def test_worker_sees_an_embedded_interpreters_state(serve):
    server = serve(WORKER)
    status, _, body = server.get("/")
    assert status == 200, body
    seen = json.loads(body)
    assert seen == {"argv": [""], "executable": "/usr/bin/python3.11", "sigint": True,
                    "sigxfsz_ignored": True, "site_imported": False, "pyext_on_path": False}


def test_cold_isolates_start_the_same_way(serve):
    server = serve(WORKER, "--no-snapshot")
    status, _, body = server.get("/")
    assert status == 200, body
    assert json.loads(body)["argv"] == [""]
