# The seed's "Using bindings" example: a KV namespace kept in SQLite in ./kv-data
# (`--persist-dir DIR` moves it, `--persist-dir=:memory:` keeps nothing).
# http://127.0.0.1:8080/ is the sync worker, :8081 the async one (same namespace).
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .pythonWorker),
    (name = "async", worker = .asyncWorker),
    (name = "kv", disk = (path = "kv-data", writable = true)),
  ],
  sockets = [
    (name = "http", address = "*:8080", http = (), service = "main"),
    (name = "http-async", address = "*:8081", http = (), service = "async"),
  ],
);
const pythonWorker :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2024-01-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "MY_KV_NAMESPACE", kvNamespace = "kv")],
);
const asyncWorker :Workerd.Worker = (
  modules = [(name = "async_worker.py", pythonModule = embed "async_worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "MY_KV_NAMESPACE", kvNamespace = "kv")],
);
