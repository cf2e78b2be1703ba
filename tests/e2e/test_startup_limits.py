"""A worker's top-level code runs under the worker's CPU limit: an endless loop at module level
fails `serve` with a message naming the limit instead of hanging it (the template's RLIMIT_CPU;
a wall-clock bound of twice the limit, at least 60 s, catches code that waits)."""

import time

from conftest import write_worker, run_pyworkerd

LOOP = "x = 0\nwhile True:\n    x += 1\n"


def test_endless_top_level_loop_fails_serve_with_the_cpu_limit(tmp_path):
    config = write_worker(tmp_path / "w", {"worker.py": LOOP})
    started = time.monotonic()
    result = run_pyworkerd("serve", config, "--cpu-limit-ms", "1000", timeout=60)
    assert result.returncode == 1
    assert "service main: the worker failed to load:" in result.stderr
    assert "top-level code used more than 1 s of CPU time while loading" in result.stderr
    assert time.monotonic() - started < 30


def test_the_workers_own_cpu_limit_applies_to_its_top_level(tmp_path):
    config = write_worker(tmp_path / "w", {"worker.py": LOOP})
    config.write_text(config.read_text().replace(
        "bindings = [],", "bindings = [], pyworkerd = (cpuLimitMs = 1500),"))
    result = run_pyworkerd("serve", config, timeout=60)
    assert result.returncode == 1
    assert "top-level code used more than 2 s of CPU time while loading" in result.stderr


def test_slow_but_finite_top_level_code_loads(serve):
    server = serve({"worker.py": """
        import time
        deadline = time.process_time() + 0.3
        while time.process_time() < deadline:
            pass
        from workers import WorkerEntrypoint, Response
        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response("loaded")
        """}, "--cpu-limit-ms", "1000")
    assert server.get("/")[2] == b"loaded"


def test_top_level_code_that_disarms_its_alarm_is_stopped_by_the_guard(tmp_path):
    """The template's own wall-clock alarm is in reach of its code; the guard's bound is not."""
    config = write_worker(tmp_path / "w", {"worker.py": (
        "import signal, time\n"
        "signal.alarm(0)\n"
        "signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "time.sleep(3600)\n")})
    started = time.monotonic()
    result = run_pyworkerd("serve", config, "--cpu-limit-ms", "1000", timeout=120)
    assert result.returncode == 1
    assert "did not finish loading within 65 s; the template was stopped from outside" \
        in result.stderr, result.stderr
    assert time.monotonic() - started < 90
