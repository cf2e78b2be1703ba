"""The escape suite at module level: a worker's top-level code is as untrusted as its request
code. It runs once, in the template, under the template's own seccomp filter, as pid 1 of the
sandbox's pid namespace, with the guard deciding every fork (src/isolate/guard.c).

Every probe of test_sandbox_escape runs at top level twice: with the audit hook on, and again
after the hook has been switched off from pure Python (a ctypes.Union of an integer and a
pointer writes the hook's mode without any audit event — the hook is for clear messages, not
a boundary). With the hook off only the kernel's layers answer, and no probe may escape.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN, Server, assert_no_sanitizer_report, descendants, write_worker
from test_sandbox_escape import PROBE_WORKER

# The probes that must fail: nothing outside the sandbox may be read, written, reached,
# started or signalled. (Probes of what keeps working, and kill probes whose effect is
# checked instead of their answer, are not listed.)
MUST_FAIL = [
    "read_passwd", "read_relative_escape", "write_outside_tmp", "write_own_module_dir",
    "os_open_write", "mkdir_outside_tmp", "proc_1_environ", "proc_self_environ", "tcp_socket",
    "udp_socket", "unix_socket", "connect_host_port", "thread", "fork", "exec", "subprocess",
    "os_system", "ptrace", "raise_nofile", "setns", "kernel_fork_exec",
    "kernel_sqlite_write_module_dir", "kernel_sqlite_write_root", "kernel_sqlite_read_passwd",
    "pidfd_kill", "kill_victim_0", "remount_rw", "daemon", "host_socket_udp",
]

TOP_LEVEL = r'''

import ctypes, json, signal, _pyworkerd

VICTIM = {victim}
HOST_PORT = {port}
MODE_OFFSET = {mode_offset}


def audit_hook_off():
    """Writes 0 (PW_AUDIT_OFF) to the hook's mode through a ctypes.Union: no audit event."""
    class Word(ctypes.Union):
        _fields_ = [("n", ctypes.c_size_t), ("p", ctypes.POINTER(ctypes.c_size_t))]

    class Int(ctypes.Union):
        _fields_ = [("n", ctypes.c_size_t), ("p", ctypes.POINTER(ctypes.c_int))]

    word = Word()
    word.n = id(_pyworkerd) + 24            # PyModuleObject.md_def
    mode = Int()
    mode.n = word.p[0] + MODE_OFFSET
    mode.p[0] = 0


def daemon():
    """The review's daemon: fork_exec whose preexec_fn closes the error pipe and spins."""
    import _posixsubprocess
    r, w = os.pipe()

    def spin():
        os.close(w)
        while True:
            pass
    return _posixsubprocess.fork_exec(
        [b"/bin/true"], [b"/bin/true"], True, (w,), None, None, -1, -1, -1, -1, -1, -1,
        r, w, False, False, -1, None, None, None, -1, None, spin)


def remount_rw():
    rc = libc().mount(None, HERE.encode(), None, 0x20 | 0x1000, None)   # MS_REMOUNT|MS_BIND
    if rc != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return open(os.path.join(HERE, "evil.py"), "w").write("x")


PROBES["pidfd_kill"] = lambda arg: signal.pidfd_send_signal(os.pidfd_open(VICTIM), signal.SIGKILL)
PROBES["kill_victim_0"] = lambda arg: os.kill(VICTIM, 0)
PROBES["remount_rw"] = lambda arg: remount_rw()
PROBES["daemon"] = lambda arg: daemon()

ARGS = {"connect_host_port": str(HOST_PORT), "kill_host": str(VICTIM), "ptrace": str(VICTIM)}


# Not run here: signals to every process or to a process group. Past a broken fence they
# would reach every process of the machine (kill(-1) as root), test runner included; the
# victim and pidfd probes check signals instead.
SKIPPED = {"read_secret", "kill_all", "killpg", "kill_parent"}


def run_all():
    return {name: run(name, ARGS.get(name, "")) for name in PROBES if name not in SKIPPED}


TOP_HOOK_ON = run_all()
audit_hook_off()
TOP_HOOK_OFF = run_all()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/request"):
            # the isolate's own hook (set again after the fork): the same two runs
            hook_on = run_all()
            audit_hook_off()
            return Response(json.dumps({"on": hook_on, "off": run_all()}))
        return Response(json.dumps({"on": TOP_HOOK_ON, "off": TOP_HOOK_OFF}))
'''


def mode_offset() -> int:
    """The audit hook's `mode` relative to the module's PyModuleDef, in the binary the zygote
    runs (the extension module, or pyworkerd-isolate in the sanitizer build)."""
    build = Path(BIN).resolve().parent
    binary = build / "pyext" / "_pyworkerd.so"
    if not binary.exists():
        binary = build / "pyworkerd-isolate"
    symbols = {}
    for line in subprocess.run(["nm", str(binary)], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in ("mode", "pyext_def"):
            symbols[parts[2]] = int(parts[0], 16)
    return symbols["mode"] - symbols["pyext_def"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("toplevel")
    victim = subprocess.Popen(["sleep", "120"])
    top_level = (TOP_LEVEL.replace("{victim}", str(victim.pid)).replace("{port}", "1")
                 .replace("{mode_offset}", str(mode_offset())))
    config = write_worker(tmp / "w", {"worker.py": PROBE_WORKER + top_level})
    server = Server(config, ("--isolates", "1"), tmp=tmp)
    try:
        status, _, body = server.get("/")
        assert status == 200, (body, server.log())
        time.sleep(0.3)
        status, _, request_body = server.get("/request")
        assert status == 200, (request_body, server.log())
        yield {"server": server, "victim": victim, "request": json.loads(request_body),
               **json.loads(body)}
    finally:
        server.stop(signal.SIGKILL)
        victim.kill()
        victim.wait()
        assert_no_sanitizer_report(server.log())


def test_the_audit_hook_can_be_switched_off_from_python(results):
    # the premise of the hook-off run: the same probe the hook refused now reaches the kernel
    on, off = results["on"]["fork"], results["off"]["fork"]
    assert on.startswith("PermissionError: [Errno 13]"), on
    assert off.startswith("PermissionError: [Errno 1] Operation not permitted"), off


@pytest.mark.parametrize("hook", ["on", "off"])
@pytest.mark.parametrize("name", MUST_FAIL)
def test_top_level_code_cannot_escape(results, hook, name):
    answer = results[hook][name]
    # libc calls answer -1; os.system 127 << 8 when its shell could not be started
    refused = not answer.startswith("OK") or answer in ("OK: -1", "OK: 32512")
    assert refused, f"{name} at top level, audit hook {hook}: {answer}"


@pytest.mark.parametrize("hook", ["on", "off"])
@pytest.mark.parametrize("name", MUST_FAIL)
def test_request_code_cannot_escape_with_the_audit_hook_off_either(results, hook, name):
    answer = results["request"][hook][name]
    refused = not answer.startswith("OK") or answer in ("OK: -1", "OK: 32512")
    assert refused, f"{name} in a request, audit hook {hook}: {answer}"


@pytest.mark.parametrize("hook", ["on", "off"])
def test_top_level_code_cannot_signal_processes_outside_its_namespace(results, hook):
    assert results[hook]["pidfd_kill"].startswith(("ProcessLookupError", "PermissionError")), \
        results[hook]["pidfd_kill"]
    assert results["victim"].poll() is None, "the victim process was killed"
    assert results["server"].proc.poll() is None, "the server was killed"


def test_top_level_code_leaves_no_process_behind(results):
    """Server, zygote, guard, template and the isolates (serving and spare): nothing else,
    though top-level code and a request both tried to start processes."""
    server = results["server"]
    expected = sorted(["pw-zygote", "pw-guard:main", "pw-tpl:main", "pw-iso:main", "pw-iso:main"])
    deadline = time.monotonic() + 15     # a new pool forks its first spare 1 s after it starts
    while True:
        names = sorted(Path(f"/proc/{pid}/comm").read_text().strip()
                       for pid in descendants(server.proc.pid))
        if names == expected or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert names == expected, names
    assert server.get("/")[0] == 200


def test_every_worker_process_dies_with_the_server(tmp_path):
    directory = tmp_path / "w"
    config = write_worker(directory, {"worker.py": '''
        from workers import WorkerEntrypoint, Response
        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response("ok")
        '''})
    server = Server(config, (), tmp=tmp_path)
    assert server.get("/")[0] == 200
    pids = descendants(server.proc.pid)
    assert len(pids) >= 4, pids
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.05)
    left = [p for p in pids if Path(f"/proc/{p}").exists()
            and Path(f"/proc/{p}/stat").read_text().split()[2] != "Z"]
    assert not left, left
