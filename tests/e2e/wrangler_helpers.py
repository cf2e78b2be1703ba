"""Helpers of the wrangler-project tests: write a project directory, run `pyworkerd dev` in it
on a free port (its log captured to a file), stop it by PID."""

import http.client
import socket
import subprocess
import textwrap
import time
from pathlib import Path

from conftest import BIN, assert_no_sanitizer_report, free_port

HELLO = '''
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("hello " + self.env.GREETING)
'''


def write_project(d: Path, files: dict) -> Path:
    """Writes {relative path: text} under d (text dedented); returns d."""
    for rel, text in files.items():
        path = d / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return d


class Dev:
    """One running `pyworkerd dev` (or another command given as `command`) in a project."""

    def __init__(self, project: Path, *args, command="dev", wait=True):
        self.port = free_port()
        self.project = project
        self.log_path = project.parent / f"dev-{self.port}.log"
        self.log_file = open(self.log_path, "wb")
        where = ["--port", str(self.port)] if command == "dev" else ["-s", f"http=127.0.0.1:{self.port}"]
        cmd = [BIN, command, *map(str, args), *where, "--threads", "1"]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=project, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"pyworkerd exited with {self.proc.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError(f"pyworkerd did not listen within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, needle: str, timeout=10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return self.log()
            time.sleep(0.02)
        raise AssertionError(f"{needle!r} not in log:\n{self.log()}")

    def request(self, method="GET", path="/", body=None, headers=None, timeout=20.0):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.headers, r.read()
        finally:
            c.close()

    def text(self, path="/", method="GET", body=None) -> str:
        status, _, data = self.request(method, path, body)
        assert status == 200, (status, data, self.log())
        return data.decode()

    def stop(self, timeout=15.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        assert_no_sanitizer_report(self.log())     # the sanitizer build reports in the log
        return self.proc.returncode


def run(*args, cwd, timeout=60):
    """Runs pyworkerd to completion; returns the CompletedProcess (text)."""
    r = subprocess.run([BIN, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    assert_no_sanitizer_report(r.stderr)
    return r
