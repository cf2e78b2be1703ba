# bench/websocket's pyworkerd server: a WebSocket echo worker (worker.py).
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .echo)],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "main")],
);
const echo :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
);
