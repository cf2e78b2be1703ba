"""Durable Objects across the nodes of a cluster (issue 21 item 3): a real PostgreSQL, three
nodes (each with its internal port and the shared secret) and nginx, from
examples/cluster/cluster.py's harness, running examples/cluster's Counter. One live instance
per object in the whole cluster; every acknowledged increment is in PostgreSQL before it is
acknowledged; a node killed with SIGKILL loses none, and its objects (and their alarms) answer
from another node within the lease time; the internal port refuses requests without the
secret."""

import json
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import (REPO, assert_no_sanitizer_report, cluster_harness, free_port, request_on,
                      run_pyworkerd)

harness = cluster_harness()
LEASE_S = 3


@pytest.fixture
def cluster(tmp_path, postgres):
    shutil.copytree(REPO / "examples" / "cluster", tmp_path / "example",
                    ignore=shutil.ignore_patterns("__pycache__"))
    c = harness.Cluster(tmp_path / "example" / "config.capnp", n=3, work=tmp_path,
                        node_args=["--durable-object-lease", str(LEASE_S)],
                        database=f"do_{free_port()}", pg=postgres)
    yield c
    c.stop()
    for node in c.nodes:
        assert_no_sanitizer_report(node.log())


def call(port, method, path, timeout=15):
    status, _, body = request_on(port, method, path, timeout=timeout)
    assert status == 200, (status, body)
    return json.loads(body)


def psql(c, sql):
    return c.pg.psql(sql, c.url.rsplit("/", 1)[1])


def test_counter_incremented_concurrently_through_all_three_nodes_ends_exact(cluster):
    ports = [n.port for n in cluster.nodes] + [cluster.nginx.port]

    def bump(i):
        return call(ports[i % len(ports)], "POST", "/count?name=exact")

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(bump, range(200)))
    counts = sorted(a["count"] for a in answers)
    assert counts == list(range(1, 201))            # each increment saw the one before it
    assert len({a["object_node"] for a in answers}) == 1     # one live instance
    assert len({a["node"] for a in answers}) == 3
    for port in ports:
        assert call(port, "GET", "/count?name=exact")["count"] == 200
    assert psql(cluster, "SELECT count(*) FROM pw_leases WHERE kind = 'do'") == "1"
    assert 1 <= int(psql(cluster, "SELECT version FROM pw_do_state")) <= 200   # commits coalesce


def test_stub_fetch_is_forwarded_to_the_node_holding_the_object(cluster):
    a, b, d = cluster.nodes
    first = call(a.port, "GET", "/count-fetch?name=f")
    assert first["count"] == 1 and first["object_node"] == "node1"
    for n, node in enumerate((b, d), start=2):
        answer = call(node.port, "GET", "/count-fetch?name=f")
        assert answer == {"count": n, "object_node": "node1", "node": node.name}


def test_kill_9_of_the_holding_node_loses_no_acknowledged_increment(cluster):
    holder = cluster.nodes[0]
    others = cluster.nodes[1:]
    assert call(holder.port, "POST", "/count?name=k")["object_node"] == "node1"
    acked, failures, stop = [], [], threading.Event()
    first_after_kill = []
    killed_at = []

    def load(k):
        port = others[k % 2].port
        while not stop.is_set():
            try:
                status, _, body = request_on(port, "POST", "/count?name=k", timeout=3 * LEASE_S + 10)
            except OSError as e:
                failures.append(repr(e))
                continue
            if status == 200:
                answer = json.loads(body)
                acked.append(answer["count"])
                if killed_at and answer["object_node"] != "node1" and not first_after_kill:
                    first_after_kill.append(time.monotonic() - killed_at[0])
            else:
                failures.append(status)

    threads = [threading.Thread(target=load, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    killed_at.append(time.monotonic())
    holder.kill(signal.SIGKILL)
    time.sleep(LEASE_S + 3)
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 20, (acked, failures)
    assert len(set(acked)) == len(acked), "an acknowledged increment was lost (a count repeated)"
    final = call(others[0].port, "GET", "/count?name=k")
    assert final["count"] >= max(acked)
    assert final["object_node"] in ("node2", "node3")
    # the object answered from another node within the lease time (plus a renewal's slack)
    assert first_after_kill and first_after_kill[0] < LEASE_S + 2, first_after_kill


def test_alarm_of_a_dead_node_fires_on_another(cluster):
    holder = cluster.nodes[0]
    assert call(holder.port, "POST", "/ring?name=alarmed&in=2000")["object_node"] == "node1"
    holder.kill(signal.SIGKILL)
    deadline = time.monotonic() + 2 * LEASE_S + 10
    answer = None
    while time.monotonic() < deadline:
        answer = call(cluster.nodes[1].port, "GET", "/rang?name=alarmed", timeout=3 * LEASE_S + 10)
        if answer["rang"]:
            break
        time.sleep(0.5)
    assert answer["rang"] in ("node2", "node3"), answer


def test_internal_port_refuses_requests_without_the_secret(cluster):
    port = cluster.nodes[0].cluster_port
    assert request_on(port, "POST", "/do", body=b"x")[0] == 401
    assert request_on(port, "POST", "/do", body=b"x", headers={"x-pyworkerd-secret": "wrong"})[0] == 401
    assert request_on(port, "POST", "/do", body=b"x",
                      headers={"x-pyworkerd-secret": harness.CLUSTER_SECRET[:-1]})[0] == 401
    ok = {"x-pyworkerd-secret": harness.CLUSTER_SECRET}
    assert request_on(port, "POST", "/elsewhere", body=b"", headers=ok)[0] == 404
    assert request_on(port, "POST", "/do", body=b"\x01", headers=ok)[0] == 400
    # the node still serves
    assert call(cluster.nodes[0].port, "POST", "/count?name=after")["count"] == 1


def test_cluster_address_without_a_secret_is_refused_at_start(pg_url):
    config = REPO / "examples" / "cluster" / "config.capnp"
    r = run_pyworkerd("serve", config, "--storage", pg_url, "--cluster-address",
                      f"127.0.0.1:{free_port()}", timeout=30)
    assert r.returncode != 0
    assert "--cluster-address needs the cluster's shared secret" in r.stderr
