# bench/queues: one worker producing into and consuming from the queue "bench".
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .w)],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-11-15",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "Q", queue = "bench")],
  pyworkerd = (queueConsumers = [(queue = "bench", maxBatchSize = 100, maxBatchTimeout = 1)]),
);
