"""Several services in one config: each socket routes to its own worker, each worker has its
own template and isolates."""

import http.client
import signal
import subprocess
import textwrap
import time

from conftest import BIN, free_port, Server


def test_each_socket_routes_to_its_own_worker(tmp_path):
    (tmp_path / "a.py").write_text(textwrap.dedent('''
        from workers import WorkerEntrypoint, Response
        class Default(WorkerEntrypoint):
            def fetch(self, request):
                return Response("from a: " + self.env.WHO)
        '''))
    (tmp_path / "b.py").write_text(textwrap.dedent('''
        from js import Response
        def on_fetch(request, env):
            return Response.new("from b: " + env.WHO)
        '''))
    config = tmp_path / "config.capnp"
    config.write_text(textwrap.dedent('''
        using Workerd = import "/workerd/workerd.capnp";
        const config :Workerd.Config = (
          services = [
            (name = "alpha", worker = (modules = [(name = "a.py", pythonModule = embed "a.py")],
                                       compatibilityDate = "2024-01-01",
                                       compatibilityFlags = ["python_workers"],
                                       bindings = [(name = "WHO", text = "alpha")])),
            (name = "beta", worker = (modules = [(name = "b.py", pythonModule = embed "b.py")],
                                      compatibilityDate = "2024-01-01",
                                      compatibilityFlags = ["python_workers"],
                                      bindings = [(name = "WHO", text = "beta")])),
          ],
          sockets = [
            (name = "http", address = "127.0.0.1:1", http = (), service = "alpha"),
            (name = "other", address = "127.0.0.1:1", http = (), service = "beta"),
          ],
        );
        '''))
    other_port = free_port()
    server = Server(config, ["-s", f"other=127.0.0.1:{other_port}"], tmp=tmp_path)
    try:
        assert server.get("/")[2] == b"from a: alpha"
        c = http.client.HTTPConnection("127.0.0.1", other_port, timeout=10)
        c.request("GET", "/")
        assert c.getresponse().read() == b"from b: beta"
        c.close()
        # access-log lines are written once per loop turn, possibly after the response
        server.wait_log(" alpha GET / 200 ")
        server.wait_log(" beta GET / 200 ")
    finally:
        assert server.stop() == 0
