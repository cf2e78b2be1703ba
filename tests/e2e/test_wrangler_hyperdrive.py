"""`[[hyperdrive]]` in a wrangler file: localConnectionString, or wrangler's environment variable
CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_<BINDING>, becomes env.DB's connection details
and the one address the worker's sockets may reach for it (a TCP echo server stands in for
the database)."""

import socketserver
import threading

import pytest

from conftest import write_project
from wrangler_helpers import run

WORKER = '''
import socket
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        db = self.env.DB
        with socket.create_connection((db.host, db.port), timeout=5) as s:
            s.sendall(b"ping")
            echo = s.recv(16).decode()
        return Response(f"{db.connectionString} {db.user} {db.database} {echo}")
'''


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echo_port():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def project(tmp_path, local: str):
    line = f'localConnectionString = "{local}"' if local else ""
    return write_project(tmp_path / "p", {
        "src/entry.py": WORKER,
        "wrangler.toml": f'''
            name = "hd"
            main = "src/entry.py"
            compatibility_date = "2025-09-01"
            compatibility_flags = ["python_workers"]

            [[hyperdrive]]
            binding = "DB"
            id = "0123456789abcdef"
            {line}
            ''',
    })


def test_local_connection_string_is_the_binding_and_its_socket_target(tmp_path, echo_port, start_dev):
    p = project(tmp_path, f"postgres://app:s%40cret@127.0.0.1:{echo_port}/shop")
    dev = start_dev(p)
    assert dev.text("/") == (f"postgresql://app:s%40cret@127.0.0.1:{echo_port}/shop "
                             f"app shop ping")
    assert "\"hyperdrive\" bindings are not supported" not in dev.log()
    assert "Hyperdrive Config" in dev.log()      # the banner lists it


def test_wranglers_environment_variable_wins_over_the_file(tmp_path, echo_port, monkeypatch, start_dev):
    p = project(tmp_path, "postgres://nobody@127.0.0.1:1/unused")
    monkeypatch.setenv("CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_DB",
                       f"postgresql://env@127.0.0.1:{echo_port}/fromenv")
    dev = start_dev(p)
    assert dev.text("/") == f"postgresql://env@127.0.0.1:{echo_port}/fromenv env fromenv ping"


def test_without_a_local_connection_string_dev_says_what_to_set(tmp_path):
    p = project(tmp_path, "")
    r = run("config", cwd=p)
    assert r.returncode != 0
    assert "wrangler.toml:" in r.stderr
    assert "CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_DB" in r.stderr
    bad = project(tmp_path / "bad", "redis://127.0.0.1:6379")
    r = run("config", cwd=bad)
    assert r.returncode != 0 and "postgres:// or mysql://" in r.stderr
