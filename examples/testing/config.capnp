# Test handlers, run by `pyworkerd test examples/testing/config.capnp` (optionally with a
# filter: `main`, `main:Admin`, `*:default`); `pyworkerd serve` serves the same worker.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "GREETED", text = "world")],
);
