# bench/d1: a primary-key SELECT through D1 (its database is prepared by bench/d1 in d1-data/).
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .w),
    (name = "d1", disk = (path = "d1-data", writable = true)),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "DB", wrapped = (moduleName = "cloudflare-internal:d1-api",
                                       innerBindings = [(name = "fetcher", service = "d1")]))],
);
