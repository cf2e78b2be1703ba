# workerd's memoryCache binding: an in-memory cache that every isolate of the worker shares
# (here 2 isolates); read(key, fallback) runs the fallback once per key, however many
# requests miss it at the same time. Try: curl http://127.0.0.1:8080/rates/EUR (twice).
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [
    (name = "RATES", memoryCache = (
      id = "exchange-rates",
      limits = (maxKeys = 100, maxValueSize = 1024, maxTotalValueSize = 65536),
    )),
  ],
  pyworkerd = (minIsolates = 2),
);
