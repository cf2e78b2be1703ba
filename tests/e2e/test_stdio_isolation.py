"""Templates and isolates own nothing of the host's stdout/stderr (issue 13, item 4): their fds
1 and 2 are a pipe of their own that the host reads, tags with the process and rate-limits
(host/child_log.h). With the server logging to a file, request code and top-level code cannot
truncate, overwrite, grow or forge the host's log; a flood is dropped with a note and does not
stall other requests; a file in /tmp cannot grow past the /tmp size (RLIMIT_FSIZE), and the
isolate that tries keeps serving."""

import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

from conftest import BIN, descendants, free_port, write_worker

# The attacks, as a function that top-level code and request code both run. Each returns the
# errno name it got, or "ok" if the call went through.
ATTACKS = '''
import errno, os

def attack(where):
    tried = {}
    def attempt(name, fn):
        try:
            fn()
            tried[name] = "ok"
        except OSError as e:
            tried[name] = errno.errorcode.get(e.errno, str(e.errno))
    attempt("ftruncate", lambda: os.ftruncate(2, 0))
    attempt("lseek", lambda: os.lseek(2, 0, os.SEEK_SET))
    attempt("overwrite", lambda: os.write(2, b"OVERWRITTEN-" + where.encode() + b"\\n"))
    attempt("fallocate", lambda: os.posix_fallocate(2, 0, 15 << 20))
    attempt("pwrite", lambda: os.pwrite(2, b"x", 1 << 40))
    attempt("forge", lambda: os.write(2, (
        "2026-01-01T00:00:00.000Z main GET /forged-" + where + " 200 0 1.000ms\\n"
        "pyworkerd: service main: forged-" + where + " isolate 1 started\\n"
        "\\rpyworkerd: forged-cr-" + where + "\\n").encode()))
    attempt("stdout", lambda: os.write(1, b"stdout-" + where.encode() + b"\\n"))
    return tried
'''

WORKER = {"worker.py": ATTACKS + '''
import json
from workers import WorkerEntrypoint, Response

AT_TOP = attack("top")

class Default(WorkerEntrypoint):
    def fetch(self, request):
        if request.url.endswith("/attack"):
            return Response(json.dumps({"request": attack("request"), "top": AT_TOP}))
        return Response(str(os.getpid()))
'''}

FLOOD = {"worker.py": '''
import os
from workers import WorkerEntrypoint, Response

class Default(WorkerEntrypoint):
    def fetch(self, request):
        if request.url.endswith("/flood"):
            block = b"".join(b"flood line %d\\n" % i for i in range(1000))
            for _ in range(100):
                os.write(1, block)          # 100,000 lines
            return Response("flooded")
        return Response("fine")
'''}

BIG_FILE = {"worker.py": '''
import errno, os
from workers import WorkerEntrypoint, Response

def outcome(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

def fill():
    with open("/tmp/big", "wb") as f:
        for _ in range(40):
            f.write(b"\\0" * (1 << 20))

def far():
    fd = os.open("/tmp/far", os.O_WRONLY | os.O_CREAT)
    try:
        os.pwrite(fd, b"x", 1 << 40)
    finally:
        os.close(fd)

class Default(WorkerEntrypoint):
    def fetch(self, request):
        if request.url.endswith("/fill"):
            return Response(outcome(fill))
        if request.url.endswith("/far"):
            return Response(outcome(far))
        return Response(str(os.getpid()))
'''}


def lines_with(log: str, needle: str) -> list[str]:
    return [line for line in log.splitlines() if needle in line]


def test_request_and_top_level_code_cannot_truncate_grow_or_forge_the_host_log(serve):
    server = serve(WORKER)
    status, _, _ = server.get("/before")
    assert status == 200
    server.wait_log(" GET /before ")
    status, _, body = server.get("/attack")
    assert status == 200, body
    tried = json.loads(body)
    server.wait_log(" GET /attack ")
    server.wait_log("stdout-request")
    log_bytes = server.log_path.read_bytes()
    log = log_bytes.decode(errors="replace")
    # the earlier lines are still there, nothing was truncated, overwritten or grown
    assert " GET /before 200 " in log, log
    assert not log_bytes.startswith(b"\0") and b"\0\0\0\0" not in log_bytes, log
    assert len(log_bytes) < 64 * 1024, len(log_bytes)
    for where in ("top", "request"):
        assert tried[where]["ftruncate"] != "ok" and tried[where]["lseek"] != "ok", tried
        assert tried[where]["fallocate"] != "ok" and tried[where]["pwrite"] != "ok", tried
        assert tried[where]["forge"] == "ok", tried
    # every forged line is there, but only behind the tag of the process that wrote it
    iso = r"\[main iso \d+\] "
    for line in lines_with(log, "forged-top") + lines_with(log, "OVERWRITTEN-top") + lines_with(log, "stdout-top"):
        assert line.startswith("[main tpl] "), line
    for line in lines_with(log, "forged-request") + lines_with(log, "OVERWRITTEN-request") + lines_with(log, "stdout-request"):
        assert re.match(iso, line), line
    assert len(lines_with(log, "/forged-request")) == 1 and len(lines_with(log, "/forged-top")) == 1
    assert "[main tpl] \\x0dpyworkerd: forged-cr-top" in log, log
    assert not [line for line in log.splitlines() if line.startswith("2026-01-01T")], log
    assert not [line for line in log.splitlines() if line.startswith("pyworkerd: ") and "forged" in line]
    # the isolate that tried keeps serving
    assert server.get("/")[0] == 200


def test_a_flood_is_rate_limited_with_a_note_and_does_not_stall_other_requests(serve):
    server = serve(FLOOD, "--min-isolates=2")
    assert server.get("/")[0] == 200
    flood_result = {}

    def flood():
        flood_result["status"] = server.get("/flood", timeout=30)[0]

    thread = threading.Thread(target=flood)
    thread.start()
    slowest = 0.0
    while thread.is_alive():
        start = time.monotonic()
        status, _, body = server.get("/", timeout=10)
        slowest = max(slowest, time.monotonic() - start)
        assert (status, body) == (200, b"fine")
    thread.join()
    assert flood_result["status"] == 200
    for _ in range(20):
        start = time.monotonic()
        assert server.get("/")[0] == 200
        slowest = max(slowest, time.monotonic() - start)
    assert slowest < 2.0, slowest
    log = server.wait_log("lines of output dropped", timeout=5)
    flood_lines = lines_with(log, "flood line ")
    assert 0 < len(flood_lines) <= 3000, len(flood_lines)
    assert all(re.match(r"\[main iso \d+\] flood line \d+$", line) for line in flood_lines)
    note = lines_with(log, "lines of output dropped")[0]
    assert re.match(r"pyworkerd: service main: isolate \d+: \d+ lines of output dropped", note), note
    dropped = sum(int(re.search(r": (\d+) lines of output dropped", n).group(1))
                  for n in lines_with(log, "lines of output dropped"))
    assert len(flood_lines) + dropped == 100_000, (len(flood_lines), dropped)


def test_a_file_in_tmp_cannot_grow_past_its_size_and_the_isolate_keeps_serving(serve):
    server = serve(BIG_FILE)
    status, _, pid = server.get("/")
    assert status == 200
    status, _, body = server.get("/far")
    assert (status, body) == (200, b"EFBIG")
    status, _, body = server.get("/fill")
    assert status == 200 and body in (b"EFBIG", b"ENOSPC"), body
    status, _, same = server.get("/")
    assert (status, same) == (200, pid)  # the same isolate, still serving


def test_cold_isolates_have_their_own_pipe_too(serve):
    server = serve(WORKER, "--no-snapshot")
    status, _, body = server.get("/attack")
    assert status == 200, body
    log = server.wait_log("stdout-request")
    lines = lines_with(log, "stdout-request")
    assert lines and all(re.match(r"\[main iso \d+\] stdout-request$", line) for line in lines), log


def zygote_descendants(host_pid: int) -> list[int]:
    found = descendants(host_pid)
    return [p for p in found if Path(f"/proc/{p}/comm").read_text().startswith(("pw-tpl", "pw-iso"))]


def test_no_worker_process_holds_the_hosts_log_or_inherited_descriptors(tmp_path):
    config = write_worker(tmp_path / "w", WORKER)
    log_path = tmp_path / "host.log"
    port = free_port()
    with open(log_path, "wb") as log, open(tmp_path / "inherited", "wb") as extra:
        proc = subprocess.Popen([BIN, "serve", str(config), "-s", f"http=127.0.0.1:{port}",
                                 "--min-isolates=2"],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=config.parent, pass_fds=(extra.fileno(),))
    try:
        deadline = time.monotonic() + 20
        while "isolate" not in log_path.read_text() or len(zygote_descendants(proc.pid)) < 3:
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        time.sleep(0.2)
        forbidden = {str(log_path), str(tmp_path / "inherited")}
        for pid in zygote_descendants(proc.pid):
            fds = {}
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    fds[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    pass
            assert not forbidden & set(fds.values()), (pid, fds)
            assert not [t for t in fds.values() if t.startswith(("/dev/pts", "/dev/tty"))], fds
            assert fds[1].startswith("pipe:") and fds[1] == fds[2], (pid, fds)
            assert fds[0] == "/dev/null", (pid, fds)
        # each process has a pipe of its own
        pipes = [os.readlink(f"/proc/{pid}/fd/1") for pid in zygote_descendants(proc.pid)]
        assert len(set(pipes)) == len(pipes), pipes
    finally:
        proc.kill()
        proc.wait()


def test_top_level_code_that_floods_its_pipe_does_not_hold_up_the_start(serve):
    server = serve({"worker.py": '''
        import os
        from workers import WorkerEntrypoint, Response
        block = b"".join(b"loading line %d\\n" % i for i in range(1000))
        for _ in range(200):
            os.write(2, block)      # 200,000 lines: far more than a pipe holds
        print("top level done")

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response("up")
        '''})
    assert server.get("/")[2] == b"up"
    log = server.wait_log("lines of output dropped")
    assert re.search(r"^pyworkerd: service main: worker template: \d+ lines of output dropped", log, re.M), log
    assert all(line.startswith("[main tpl] loading line ") for line in lines_with(log, "loading line "))


def test_top_level_code_that_closes_its_fds_1_and_2_still_gets_working_isolates(serve):
    # the template then receives each isolate's socket and pipe as fds 1 and 2
    server = serve({"worker.py": '''
        import os
        from workers import WorkerEntrypoint, Response
        os.close(1)
        os.close(2)

        class Default(WorkerEntrypoint):
            def fetch(self, request):
                print("isolate speaks")
                return Response("up")
        '''})
    assert server.get("/")[0:3:2] == (200, b"up")
    log = server.wait_log("isolate speaks")
    assert re.search(r"^\[main iso \d+\] req=[0-9a-f]{16} isolate speaks$", log, re.M), log
    assert "stopped" not in log, log
