#!/usr/bin/python3.11
"""A pyworkerd cluster on one machine, without docker: a throwaway PostgreSQL cluster
(initdb, then postgres on a loopback port with its socket in a temporary directory),
N pyworkerd nodes serving the same config with `--storage postgresql://...`, and Debian's
nginx balancing requests over them. Every process is started here and stopped by its PID.

    python3.11 examples/cluster/cluster.py            # start, show it working, stop
    python3.11 examples/cluster/cluster.py --serve    # ... and keep serving until Ctrl-C

The e2e tests (tests/e2e/test_cluster.py) and bench/cluster use the same classes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PG_BIN = Path("/usr/lib/postgresql/15/bin")
NGINX = "/usr/sbin/nginx"
BIN = os.environ.get("PYWORKERD_BIN", str(REPO / "build" / "pyworkerd"))
# The nodes' shared secret for their internal ports (--cluster-secret); one per run here.
CLUSTER_SECRET = os.environ.get("PYWORKERD_CLUSTER_SECRET") or secrets.token_hex(16)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str, log=None, timeout=30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = Path(log).read_text(errors="replace") if log else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}\n{text}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")


def stop_pid(proc: subprocess.Popen, sig=signal.SIGTERM, timeout=15.0) -> None:
    """Stops one process we started, by its PID: `sig`, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Postgres:
    """A PostgreSQL cluster in a temporary directory, on 127.0.0.1:port only. initdb and the
    server refuse to run as root: as root they run as the `postgres` user."""

    def __init__(self, base: Path | None = None, fast=True):
        self.dir = Path(tempfile.mkdtemp(prefix="pyworkerd-pg-", dir=base))
        self.data = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self.port = free_port()
        self.fast = fast                # fsync off: a throwaway test cluster
        self.proc = None
        self.user = "postgres" if os.getuid() == 0 else None
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run(PG_BIN / "initdb", "-D", self.data, "-U", "pyworkerd", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--no-instructions")

    def _run(self, *cmd):
        subprocess.run([str(c) for c in cmd], check=True, capture_output=True, timeout=120,
                       user=self.user, cwd=self.dir)

    def start(self) -> "Postgres":
        opts = ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.dir}",
                "-c", "max_connections=200", "-c", "shared_buffers=64MB"]
        if self.fast:
            opts += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(PG_BIN / "postgres"), "-D", str(self.data),
                                      "-p", str(self.port), *opts],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     user=self.user, cwd=self.dir)
        log.close()
        wait_port(self.port, self.proc, "postgres", self.log_path)
        self.wait_accepting()
        return self

    def wait_accepting(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = subprocess.run([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                               capture_output=True)
            if r.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError("postgres does not accept connections")

    def stop(self, sig=signal.SIGINT):
        """SIGINT: PostgreSQL's fast shutdown (disconnects clients)."""
        if self.proc:
            stop_pid(self.proc, sig, 30)
        self.proc = None

    def url(self, db="postgres") -> str:
        return f"postgresql://pyworkerd@127.0.0.1:{self.port}/{db}"

    def psql(self, sql: str, db="postgres") -> str:
        r = subprocess.run([str(PG_BIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                            self.url(db), "-c", sql], capture_output=True, text=True, timeout=60)
        if r.returncode:
            raise RuntimeError(f"psql: {r.stderr}")
        return r.stdout.strip()

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def remove(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Node:
    """One `pyworkerd serve` of the cluster, its log in a file."""

    def __init__(self, config: Path, storage: str, name: str, log_dir: Path, args=()):
        self.name = name
        self.port = free_port()
        self.cluster_port = free_port()     # the internal port: Durable Object calls between nodes
        self.log_path = log_dir / f"{name}.log"
        self.config = config
        self.storage = storage
        self.args = list(args)
        self.proc = None

    def start(self, wait=True) -> "Node":
        log = open(self.log_path, "ab")
        env = dict(os.environ, PYWORKERD_NODE=self.name, PYWORKERD_CLUSTER_SECRET=CLUSTER_SECRET)
        threads = [] if any(a.startswith("--threads") for a in self.args) else ["--threads", "1"]
        self.proc = subprocess.Popen([BIN, "serve", str(self.config), "-s", f"http=127.0.0.1:{self.port}",
                                      "--storage", self.storage,
                                      "--cluster-address", f"127.0.0.1:{self.cluster_port}",
                                      *threads, *self.args],
                                     stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                     cwd=self.config.parent)
        log.close()
        if wait:
            wait_port(self.port, self.proc, f"node {self.name}", self.log_path)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig=signal.SIGKILL):
        stop_pid(self.proc, sig)

    def stop(self):
        stop_pid(self.proc, signal.SIGTERM)


class Nginx:
    """Debian's nginx as the load balancer: round robin over the nodes, a node that refuses
    connections skipped (the next one is tried)."""

    def __init__(self, node_ports, d: Path):
        self.port = free_port()
        self.dir = d
        d.mkdir(parents=True, exist_ok=True)
        temp = " ".join(f"{n}_temp_path {d}/{n};" for n in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        servers = "\n".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in node_ports)
        (d / "nginx.conf").write_text(textwrap.dedent(f"""\
            daemon off;
            master_process off;
            pid {d}/nginx.pid;
            error_log {d}/error.log warn;
            events {{ worker_connections 1024; }}
            http {{
                access_log off;
                {temp}
                upstream nodes {{
                    {servers}
                    keepalive 32;
                }}
                server {{
                    listen 127.0.0.1:{self.port};
                    client_max_body_size 32m;
                    location / {{
                        proxy_pass http://nodes;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_next_upstream error timeout;
                    }}
                }}
            }}
            """))
        self.proc = None

    def start(self) -> "Nginx":
        self.proc = subprocess.Popen([NGINX, "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir),
                                      "-e", str(self.dir / "error.log")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "nginx")
        return self

    def stop(self):
        if self.proc:
            stop_pid(self.proc, signal.SIGQUIT)


class Cluster:
    """PostgreSQL, n nodes serving `config` and nginx in front; a context manager that stops
    all of them by PID (nodes, nginx, then PostgreSQL) and removes the database files."""

    def __init__(self, config: Path, n=3, node_args=(), work: Path | None = None, database="pyworkerd",
                 pg: Postgres | None = None):
        self.own_work = work is None    # logs and nginx's files; removed when it stops
        self.work = Path(work or tempfile.mkdtemp(prefix="pyworkerd-cluster-"))
        self.config = config
        self.own_pg = pg is None        # else a running one, left running
        self.pg = pg or Postgres()
        self.nodes: list[Node] = []
        self.nginx = None
        try:
            if self.own_pg:
                self.pg.start()
            self.url = self.pg.create_database(database)
            self.nodes = [Node(config, self.url, f"node{i + 1}", self.work, node_args) for i in range(n)]
            for node in self.nodes:
                node.start(wait=False)
            for node in self.nodes:
                wait_port(node.port, node.proc, f"node {node.name}", node.log_path)
            self.nginx = Nginx([node.port for node in self.nodes], self.work / "nginx").start()
        except BaseException:
            self.stop()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        for node in self.nodes:
            node.stop()
        if self.nginx:
            self.nginx.stop()
        if self.own_pg:
            self.pg.remove()
        if self.own_work:
            shutil.rmtree(self.work, ignore_errors=True)


def request(port, method="GET", path="/", body=None, timeout=10.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def demo(cluster: Cluster) -> None:
    """A write through each node, read back through the others and through nginx."""
    for node in cluster.nodes:
        status, body = request(node.port, "POST", f"/sign?name=guest-of-{node.name}")
        print(f"POST /sign through {node.name}: {status} {body.decode()}")
    for node in cluster.nodes:
        status, body = request(node.port, "GET", "/")
        print(f"GET / through {node.name}: {status} {body.decode()}")
    for _ in range(3):
        status, body = request(cluster.nginx.port, "GET", "/")
        print(f"GET / through nginx: {status} {json.loads(body)['node']} answered")
    deadline = time.monotonic() + 15     # the queue's consumers, on any node, write the notes
    while True:
        thanked = json.loads(request(cluster.nginx.port, "GET", "/thanked")[1])["thanked"]
        if len(thanked) == len(cluster.nodes) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    print(f"thank-you notes (queue consumed by any node): {len(thanked)} {thanked}")
    for node in cluster.nodes:
        status, body = request(node.port, "POST", "/count?name=visits")
        answer = json.loads(body)
        print(f"POST /count through {node.name}: {status} count {answer['count']}, the counter "
              f"lives on {answer['object_node']}")
    for node in cluster.nodes:         # one D1 database: its holder runs every statement
        status, body = request(node.port, "POST", f"/note?text=hello-from-{node.name}")
        print(f"POST /note through {node.name}: {status} {body.decode()}")
    status, body = request(cluster.nginx.port, "GET", "/notes")
    print(f"GET /notes through nginx: {status} {body.decode()}")
    welcome(cluster)


def welcome(cluster: Cluster) -> None:
    """A workflow started through the first node, its status read through the last."""
    first, last = cluster.nodes[0], cluster.nodes[-1]
    iid = json.loads(request(first.port, "POST", "/welcome?name=ada")[1])["id"]
    deadline = time.monotonic() + 15
    while True:
        status = json.loads(request(last.port, "GET", f"/welcome?id={iid}")[1])
        if status["status"] == "complete" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    print(f"workflow started through {first.name}, read through {last.name}: {status['status']} "
          f"{json.dumps(status.get('output'))}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--serve", action="store_true", help="keep serving until Ctrl-C")
    args = ap.parse_args()
    with Cluster(HERE / "config.capnp", n=args.nodes) as cluster:
        print(f"PostgreSQL {cluster.url} (pid {cluster.pg.proc.pid}); nodes on ports "
              f"{[n.port for n in cluster.nodes]}; nginx on http://127.0.0.1:{cluster.nginx.port}/")
        demo(cluster)
        if args.serve:
            print("serving; Ctrl-C stops everything")
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
    print("stopped: nodes, nginx and PostgreSQL (by PID); database files removed")


if __name__ == "__main__":
    main()
