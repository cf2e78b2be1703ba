# examples/cluster: one worker served by every node of a cluster. Its KV namespace is the
# disk service "kv"; with `pyworkerd serve config.capnp --storage postgresql://...` it lives
# in PostgreSQL (table pw_kv, namespace "kv") and every node sees the same entries.
# Its queue "thanks" lives there too (table pw_queue): a signature sent through any node is
# consumed once by whichever node's consumer takes it first.
# Its Durable Object class Counter keeps its state in do-data on one node; in a cluster each
# counter is held by one node at a time (a lease in PostgreSQL) and its database is stored in
# PostgreSQL after every commit (docs/cluster.md).
# Its D1 database DB is the disk service "d1": in a cluster one node holds it at a time (a
# lease in PostgreSQL), the others forward their statements to that node, and its image is
# stored in PostgreSQL (table pw_d1_state) after every write, before the answer.
# Its Workflow WELCOME keeps its instances in PostgreSQL (tables pw_wf_*): each runs on one
# node at a time, and another node takes it over when that node dies.
# `python3.11 cluster.py` starts PostgreSQL, three nodes and nginx in front of them.
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .guestbook),
    (name = "kv", disk = (path = "kv-data", writable = true)),
    (name = "do-disk", disk = (path = "do-data", writable = true)),
    (name = "d1", disk = (path = "d1-data", writable = true)),
  ],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const guestbook :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  durableObjectNamespaces = [(className = "Counter", uniqueKey = "cluster-counter")],
  durableObjectStorage = (localDisk = "do-disk"),
  bindings = [(name = "BOOK", kvNamespace = "kv"),
              (name = "THANKS", queue = "thanks"),
              (name = "NODE", fromEnvironment = "PYWORKERD_NODE"),
              (name = "COUNTER", durableObjectNamespace = "Counter"),
              (name = "DB", wrapped = (moduleName = "cloudflare-internal:d1-api",
                                       innerBindings = [(name = "fetcher", service = "d1")])),
              (name = "WELCOME", wrapped = (moduleName = "cloudflare-internal:workflows-api",
                 innerBindings = [(name = "fetcher", service = (name = "main", entrypoint = "Welcome"))]))],
  pyworkerd = (queueConsumers = [(queue = "thanks", maxBatchTimeout = 0)]),
);
