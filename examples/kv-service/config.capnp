# A KV namespace served by a worker in workerd's KV HTTP protocol: the front worker's NOTES
# binding names the "kv-service" worker, which keeps the data in its own namespace on a
# disk service. The same config runs under workerd. http://127.0.0.1:8080/:
#   curl -X PUT --data 'hello' 127.0.0.1:8080/greeting; curl 127.0.0.1:8080/greeting
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .front),
    (name = "kv-service", worker = .kvService),
    (name = "kv", disk = (path = "kv-data", writable = true)),
  ],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const front :Workerd.Worker = (
  modules = [(name = "front.py", pythonModule = embed "front.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "NOTES", kvNamespace = "kv-service")],
);
const kvService :Workerd.Worker = (
  modules = [(name = "kv_service.py", pythonModule = embed "kv_service.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "STORE", kvNamespace = "kv")],
);
