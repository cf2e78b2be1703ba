# A worker that computes with numpy. numpy is declared with the seed's `requirements` binding
# and comes from Debian's python3-numpy (or from python_modules/ next to this file, if you
# vendor it there). Run: pyworkerd serve examples/numpy/config.capnp
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .numpyWorker) ],
  sockets = [ (name = "http", address = "*:8080", http = (), service = "main") ],
);

const numpyWorker :Workerd.Worker = (
  modules = [ (name = "worker.py", pythonModule = embed "worker.py") ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [ (name = "requirements", json = "[\"numpy>=1.20\"]") ],
);
