"""Top-level entropy through the real server, as in workerd: a worker's own draws at top level
fail `serve` with workerd's messages, imports that seed themselves and explicitly seeded
generators work, and every isolate reseeds from real entropy before its first request."""

import os
import signal

import pytest

from conftest import Server, run_pyworkerd, write_worker

REQUIREMENTS = '(name = "requirements", json = "[\\"numpy\\", \\"fastapi\\"]")'

DRAWS = '''
    import os, random, secrets, uuid
    import numpy as np
    from workers import WorkerEntrypoint, Response

    class Default(WorkerEntrypoint):
        def fetch(self, request):
            draws = [random.random(), np.random.rand(), os.urandom(8).hex(), secrets.token_hex(8),
                     str(uuid.uuid4())]
            return Response(" ".join(map(str, [os.getpid(), *draws])))
    '''


def first_draws(server) -> tuple[int, list[str]]:
    pid, *draws = server.get("/")[2].decode().split()
    return int(pid), draws


@pytest.mark.parametrize("draw, message", [
    ("random.random()", "RuntimeError: Cannot use random.random() outside of request context"),
    ("random.seed(1)", "RuntimeError: Cannot use random.seed() outside of request context"),
    ("os.urandom(16)", "OSError: [Errno 29] Cannot get entropy outside of request context"),
    ("secrets.token_hex(8)", "OSError: [Errno 29] Cannot get entropy outside of request context"),
    ("uuid.uuid4()", "OSError: [Errno 29] Cannot get entropy outside of request context"),
    ("random.Random()", "OSError: [Errno 29] Cannot get entropy outside of request context"),
    ("np.random.rand()", "RuntimeError: Cannot use numpy.random.rand() outside of request context"),
    ("np.random.default_rng()", "OSError: [Errno 29] Cannot get entropy outside of request context"),
])
def test_top_level_draw_fails_serve_with_workerds_message(tmp_path, draw, message):
    config = write_worker(tmp_path / "w", {"worker.py": f'''
        import os, random, secrets, uuid
        import numpy as np
        from workers import WorkerEntrypoint, Response
        value = {draw}
        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response("unreachable")
        '''}, bindings=REQUIREMENTS)
    result = run_pyworkerd("serve", config)
    assert result.returncode == 1
    assert message in result.stderr
    assert "worker.py\", line 5, in <module>" in result.stderr


def test_a_function_bound_at_top_level_is_refused_there_and_works_in_requests(serve):
    server = serve({"worker.py": '''
        from random import randint
        from workers import WorkerEntrypoint, Response
        try:
            randint(1, 6)
            refused = "no"
        except RuntimeError as exc:
            refused = str(exc)
        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response(f"{refused}|{randint(1, 6)}")
        '''})
    refused, value = server.get("/")[2].decode().split("|")
    assert refused == "Cannot use random.randint() outside of request context"
    assert 1 <= int(value) <= 6


def test_imports_and_seeded_generators_work_at_top_level(serve):
    server = serve({"worker.py": '''
        import os, random, secrets, tempfile, uuid, hashlib, asyncio, json, email, http.client
        import numpy as np
        import fastapi, pydantic, starlette
        from workers import WorkerEntrypoint, Response

        seeded = random.Random(42).random()
        rng = np.random.default_rng(42).random()
        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response(f"{seeded} {rng}")
        '''}, bindings=REQUIREMENTS)
    import numpy as np
    import random
    expected = f"{random.Random(42).random()} {np.random.default_rng(42).random()}"
    assert server.get("/")[2].decode() == expected


def test_two_isolates_forked_from_one_template_draw_different_values(serve):
    server = serve({"worker.py": DRAWS}, bindings=REQUIREMENTS)
    pid, first = first_draws(server)
    host_pid = server.host_pid(pid)
    os.kill(host_pid, signal.SIGKILL)
    server.wait_log(f"isolate {host_pid} stopped")
    new_pid, second = first_draws(server)
    assert new_pid != pid
    for a, b in zip(first, second):
        assert a != b, (first, second)


def test_two_runs_of_the_server_draw_different_first_values(tmp_path):
    config = write_worker(tmp_path / "w", {"worker.py": DRAWS}, bindings=REQUIREMENTS)
    values = []
    for _ in range(2):
        server = Server(config, tmp=tmp_path)
        try:
            values.append(first_draws(server)[1])
        finally:
            server.stop()
    for a, b in zip(*values):
        assert a != b, values


def test_tempfile_names_at_top_level_are_deterministic_and_random_in_requests(serve):
    server = serve({"worker.py": '''
        import tempfile
        from workers import WorkerEntrypoint, Response
        at_top_level = next(tempfile._get_candidate_names())
        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response(f"{at_top_level} {next(tempfile._get_candidate_names())}")
        '''})
    top, request_time = server.get("/")[2].decode().split()
    assert len(top) == len(request_time) == 8
    assert top != request_time
