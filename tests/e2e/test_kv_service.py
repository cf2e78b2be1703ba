"""KV namespaces served in workerd's KV HTTP protocol (a kvNamespace binding naming a worker
or `external` service): what goes over the wire, and how the service's failures reach Python.
The behaviour checks shared with the SQLite backend are in test_kv.py (parametrized)."""

import json
import signal

import pytest

from conftest import free_port
from kv_protocol_server import KvProtocolServer
from test_kv import ASYNC_WORKER, call, kv_server, q


@pytest.fixture
def start(tmp_path):
    servers = []

    def run(backend, address=None):
        s = kv_server(tmp_path, ASYNC_WORKER, backend=backend, address=address)
        servers.append(s)
        return s

    yield run
    for s in servers:
        s.stop(signal.SIGKILL)


def test_requests_follow_workerds_kv_protocol(start):
    with KvProtocolServer() as remote:
        s = start("external", remote.address)
        call(s, "/put?" + q(key="a b/é", value="v", opts=json.dumps({"expirationTtl": 120, "metadata": {"m": 1}})))
        call(s, "/get?" + q(key="a b/é"))
        call(s, "/get_ttl?" + q(key="k", ttl="300"))
        call(s, "/get_many?" + q(keys="a b/é,x"))
        call(s, "/delete?" + q(key="x"))
        call(s, "/list?" + q(opts=json.dumps({"prefix": "a b", "limit": 5, "cursor": "c&d"})))
        (put, get, get_ttl, bulk, delete, listing) = remote.requests
        assert put[0] == "PUT" and put[1] == "/a%20b%2F%C3%A9?urlencoded=true&expiration_ttl=120"
        assert put[2]["CF-KV-FLPROD-405"] == "https://fake-host" + put[1]
        assert json.loads(put[2]["CF-KV-Metadata"]) == {"m": 1}
        assert put[2]["Host"] == "fake-host"
        assert get[:2] == ("GET", "/a%20b%2F%C3%A9?urlencoded=true")
        assert get_ttl[:2] == ("GET", "/k?urlencoded=true&cache_ttl=300")
        assert bulk[:2] == ("POST", "/bulk/get")
        assert delete[:2] == ("DELETE", "/x?urlencoded=true")
        assert listing[:2] == ("GET", "/?key_count_limit=5&prefix=a%20b&cursor=c%26d")


@pytest.mark.parametrize("backend", ["worker", "external"])
def test_service_answering_500_raises_with_the_status(start, backend):
    with KvProtocolServer() as remote:
        s = start(backend, remote.address)
        err = call(s, "/get?" + q(key="fail500-a"), 400)
        assert err["message"] == "Error: KV GET failed: 500 Internal Server Error"
        err = call(s, "/put?" + q(key="fail500-b", value="x"), 400)
        assert err["message"] == "Error: KV PUT failed: 500 Internal Server Error"
        assert call(s, "/put?" + q(key="fine", value="x")) == "ok"    # the binding still works


def test_external_service_refusing_connections_raises_clearly(start):
    s = start("external", f"127.0.0.1:{free_port()}")
    err = call(s, "/get?" + q(key="k"), 400)
    assert err["message"].startswith('Error: KV GET failed: the KV service "kvext" did not answer: ')
    assert "connect" in err["message"].lower()
    err = call(s, "/put?" + q(key="k", value="v"), 400)
    assert err["message"].startswith('Error: KV PUT failed: the KV service "kvext" did not answer')
    assert s.get("/iter")[0] == 200      # the host keeps serving
