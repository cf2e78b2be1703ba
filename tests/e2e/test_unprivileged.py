"""pyworkerd run by an unprivileged user, as the README recommends: with the sandbox (the
guard's user namespace gives the template the rights it needs inside it) and without it (no
pid namespace: the template's pids are the host's, and naming a child's pid in
SCM_CREDENTIALS would need a capability the user does not have)."""

import os
import shutil
import signal
import stat
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import BIN, REPO, free_port

HELLO = REPO / "examples" / "hello" / "config.capnp"


def readable_by_others(path: Path) -> bool:
    for part in [path, *path.parents]:
        mode = part.stat().st_mode
        if not mode & (stat.S_IROTH if part == path else stat.S_IXOTH):
            return False
    return True


pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runuser")
    or not readable_by_others(Path(BIN).resolve()) or not readable_by_others(HELLO),
    reason="needs root (to run as nobody), runuser and a checkout others can read")


@pytest.mark.parametrize("flags", [(), ("--no-sandbox",)], ids=["sandbox", "no-sandbox"])
def test_an_unprivileged_user_serves_hello(tmp_path, flags):
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")
    proc = subprocess.Popen([shutil.which("runuser"), "-u", "nobody", "--", BIN, "serve", str(HELLO), "-s",
                             f"http=127.0.0.1:{port}", *flags],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            cwd="/", env={"PATH": "/usr/bin:/bin", "TMPDIR": "/tmp"})
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.1)
        assert body == b"Hello from Python!"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
