# Queues: GET /order?item=book&qty=2 sends an order to the "orders" queue and answers at once;
# the same worker consumes the queue in batches (queue() below) and keeps each processed
# order in KV; GET /orders lists them. An order for qty=0 fails every time: after 2 retries
# it moves to the "orders-dlq" dead-letter queue, which the worker consumes too (GET /dead).
# Messages are kept in ./queues.sqlite3 (`--persist-dir DIR` moves it) and survive a
# restart, or a kill -9, of pyworkerd.
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "kv", disk = (path = "kv-data", writable = true)),
  ],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-11-15",
  compatibilityFlags = ["python_workers"],
  bindings = [
    (name = "ORDERS", queue = "orders"),
    (name = "KV", kvNamespace = "kv"),
  ],
  pyworkerd = (
    queueConsumers = [
      (queue = "orders", maxBatchSize = 10, maxBatchTimeout = 1, maxRetries = 2,
       deadLetterQueue = "orders-dlq"),
      (queue = "orders-dlq", maxBatchTimeout = 1),
    ],
  ),
);
