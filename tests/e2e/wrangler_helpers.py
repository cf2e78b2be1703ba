"""Helpers of the wrangler-project tests: a hello worker, and pyworkerd run to completion (the
project folder and `pyworkerd dev` itself are conftest's write_project, Dev and start_dev)."""

from conftest import assert_no_sanitizer_report, run_pyworkerd

HELLO = '''
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("hello " + self.env.GREETING)
'''


def run(*args, cwd, timeout=60):
    """Runs pyworkerd to completion; returns the CompletedProcess (text)."""
    r = run_pyworkerd(*args, cwd=cwd, timeout=timeout)
    assert_no_sanitizer_report(r.stderr)
    return r
