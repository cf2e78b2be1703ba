"""workerd's serve flags beyond -s: --control-fd (listen events, port 0), -S (an inherited
listening socket), -d (a disk service's path), -e (an external service's address), -w and
--experimental; unknown names are refused as workerd refuses them."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time

from conftest import BIN, REPO, Server, free_port, run_pyworkerd

HELLO = REPO / "examples" / "hello" / "config.capnp"


def http_get(port, path="/"):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def start(args, pass_fds=(), log=None):
    return subprocess.Popen([BIN, "serve", *map(str, args)], pass_fds=pass_fds, stdin=subprocess.DEVNULL,
                            stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0


def test_control_fd_reports_the_port_chosen_for_port_zero(tmp_path):
    r, w = os.pipe()
    proc = start([HELLO, "-s", "http=127.0.0.1:0", "--control-fd", w, "--experimental"], pass_fds=(w,))
    os.close(w)
    try:
        with os.fdopen(r) as events:
            event = json.loads(events.readline())
        assert event["event"] == "listen" and event["socket"] == "http" and event["port"] > 0
        assert http_get(event["port"]) == (200, b"Hello from Python!")
    finally:
        stop(proc)


def test_an_inherited_listening_socket_is_served(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    proc = start([HELLO, "-S", f"http={fd}"], pass_fds=(fd,))
    listener.close()            # pyworkerd holds its own copy now
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                assert http_get(port) == (200, b"Hello from Python!")
                break
            except (ConnectionError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
    finally:
        stop(proc)


def test_a_socket_fd_that_is_not_listening_is_refused(tmp_path):
    with open(tmp_path / "f", "w") as f:
        fd = f.fileno()
        proc = subprocess.run([BIN, "serve", HELLO, "-S", f"http={fd}"], pass_fds=(fd,),
                              capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert f"socket http: file descriptor {fd} is not a listening TCP socket" in proc.stderr


def test_directory_path_moves_a_disk_service(tmp_path):
    d = tmp_path / "kv"
    shutil.copytree(REPO / "examples" / "kv", d, ignore=shutil.ignore_patterns("kv-data"))
    store = tmp_path / "elsewhere"
    store.mkdir()
    server = Server(d / "config.capnp", ["-d", f"kv={store}", "-s", f"http-async=127.0.0.1:{free_port()}"],
                    tmp=tmp_path)
    try:
        status, _, body = server.get("/")
        assert status == 200, body
    finally:
        assert server.stop() == 0
    assert any(store.iterdir()), "the namespace was not stored in the -d directory"
    assert not (d / "kv-data").exists()


def test_overrides_must_name_services_of_their_kind(tmp_path):
    result = run_pyworkerd("serve", HELLO, "-d", "main=/tmp")
    assert result.returncode == 1
    assert ('Config did not define any disk service named "main" to match the override provided '
            "on the command line.") in result.stderr
    result = run_pyworkerd("serve", HELLO, "-e", "nope=127.0.0.1:1")
    assert result.returncode == 1
    assert 'Config did not define any external service named "nope"' in result.stderr
    result = run_pyworkerd("serve", HELLO, "-S", "nope=3")
    assert result.returncode == 1
    assert 'Config did not define any socket named "nope"' in result.stderr


KV_WORKER = """
from workers import WorkerEntrypoint, Response

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        await self.env.KV.put("k", "from the external service")
        return Response(await self.env.KV.get("k"))
"""


def test_external_addr_gives_an_external_service_its_address(tmp_path):
    """A kvNamespace on an `external` service with no address: -e says where it is."""
    from kv_protocol_server import KvProtocolServer
    (tmp_path / "worker.py").write_text(KV_WORKER)
    config = tmp_path / "config.capnp"
    config.write_text(HELLO.read_text()
                      .replace('(name = "main", worker = .pythonWorker),',
                               '(name = "main", worker = .pythonWorker), (name = "api", external = (http = ())),')
                      .replace('compatibilityDate = "2024-01-01",',
                               'compatibilityDate = "2025-09-01", bindings = [(name = "KV", kvNamespace = "api")],'))
    result = run_pyworkerd("serve", config)
    assert result.returncode == 1
    assert ('External service "api" has no address in the config, so must be specified on the '
            "command line with `--external-addr`.") in result.stderr
    with KvProtocolServer() as remote:
        server = Server(config, ["-e", f"api={remote.address}"], tmp=tmp_path)
        try:
            assert server.get("/")[2] == b"from the external service"
            assert [r[0] for r in remote.requests] == ["PUT", "GET"]
        finally:
            assert server.stop() == 0
