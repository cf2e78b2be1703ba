# Outbound fetch() through the host (libcurl). workerd's implied "internet" service allows
# only public addresses; this config also allows loopback ("local") so that the example
# can fetch from a server on this machine: http://127.0.0.1:8080/?url=http://127.0.0.1:8000/
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .w),
    (name = "internet", network = (allow = ["public", "local"])),
  ],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const w :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
);
