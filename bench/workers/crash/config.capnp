# bench/startup: a worker whose isolate exits on GET /exit, so that the next request measures
# a replacement isolate's start. The socket address is overridden on the command line.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .pythonWorker),
  ],
  sockets = [
    ( name = "http",
      address = "*:8080",
      http = (),
      service = "main"
    ),
  ]
);

const pythonWorker :Workerd.Worker = (
  modules = [
    (name = "worker.py", pythonModule = embed "worker.py"),
  ],
  compatibilityDate = "2024-01-01",
  compatibilityFlags = ["python_workers"],
);
