"""The worker's `pyworkerd = (...)` extension field: its own limits and pool size, over the
command line's."""

import textwrap
import threading

from conftest import Server, run_pyworkerd, worker_config

WORKER = '''
import asyncio, os
from workers import WorkerEntrypoint, Response

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        if request.url.endswith("/slow"):
            await asyncio.sleep(5)
        await asyncio.sleep(0.3)
        return Response(str(os.getpid()))
'''


def config_with(tmp_path, options: str):
    (tmp_path / "worker.py").write_text(textwrap.dedent(WORKER))
    config = tmp_path / "config.capnp"
    config.write_text(worker_config(["worker.py"], fields=f"pyworkerd = ({options})"))
    return config


def test_worker_request_timeout_and_pool_size_come_from_its_config(tmp_path):
    server = Server(config_with(tmp_path, "requestTimeoutMs = 1000, minIsolates = 2"),
                    ["--verbose"], tmp=tmp_path)
    try:
        assert server.get("/slow", timeout=10)[0] == 504      # no --request-timeout flag given
        pids, threads = set(), []
        for _ in range(4):
            t = threading.Thread(target=lambda: pids.add(server.get("/")[2]))
            t.start()
            threads.append(t)
        for t in threads:
            t.join(10)
        assert len(pids) == 2, "minIsolates = 2 must give two serving isolates"
    finally:
        server.stop()


def test_min_isolates_above_max_isolates_is_refused(tmp_path):
    result = run_pyworkerd("serve", config_with(tmp_path, "minIsolates = 3, maxIsolates = 2"),
                           "-s", "http=127.0.0.1:1")
    assert result.returncode == 1
    assert "minIsolates (3) is larger than pyworkerd.maxIsolates (2)" in result.stderr
