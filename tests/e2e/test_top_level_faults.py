"""The fault suite at module level: what test_faults.py does in a request, done by a worker's
top-level code while its template loads. Each must fail `serve` promptly, with exit code 1 and
a message that says what happened — never hang it, take the machine's memory, or leave a
process behind. (Endless loops: test_startup_limits.py.)"""

import time

import pytest

from conftest import write_worker, run_pyworkerd
from test_faults import UNDER_ASAN, asan_without_segv_handler

NO_ADDRESS_SPACE_LIMIT = {"memory_bomb", "growing_memory"}

FAULTS = {
    "memory_bomb": ("blob = bytearray(64 << 30)\n", "MemoryError"),
    "growing_memory": ("chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))\n",
                       "MemoryError"),
    "recursion": ("def f(n):\n    return f(n + 1)\nf(0)\n", "RecursionError"),
    "segfault": ("import ctypes\nctypes.string_at(0)\n",
                 "the worker template exited while loading the worker"),
    "os_exit": ("import os\nos._exit(3)\n", "the worker template exited while loading the worker"),
    "abort": ("import os\nos.abort()\n", "the worker template exited while loading the worker"),
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_a_fault_at_top_level_fails_serve_with_a_clear_message(tmp_path, name):
    if UNDER_ASAN and name in NO_ADDRESS_SPACE_LIMIT:
        pytest.skip("no RLIMIT_AS under AddressSanitizer")
    source, expected = FAULTS[name]
    config = write_worker(tmp_path / "w", {"worker.py": source})
    started = time.monotonic()
    with asan_without_segv_handler():
        result = run_pyworkerd("serve", config, "-s", "http=127.0.0.1:0", timeout=60)
    assert result.returncode == 1, result.stderr
    assert "service main: the worker failed to load:" in result.stderr, result.stderr
    assert expected in result.stderr, result.stderr
    assert time.monotonic() - started < 30


@pytest.mark.skipif(UNDER_ASAN, reason="no RLIMIT_AS under AddressSanitizer")
def test_top_level_code_may_use_more_memory_than_a_request(tmp_path, serve):
    """Imports need room: top-level code gets 8 × --memory-limit (at least 1 GiB)."""
    server = serve({"worker.py": """
        blob = bytearray(300 << 20)     # more than the 128 MiB an isolate may add
        del blob
        from workers import WorkerEntrypoint, Response
        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response("loaded")
        """})
    assert server.get("/")[2] == b"loaded"
