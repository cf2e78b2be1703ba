# bench/http peer: workerd's JavaScript hello worker. The socket address is
# overridden on the command line (-s http=127.0.0.1:PORT).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .jsWorker),
  ],
  sockets = [
    ( name = "http",
      address = "127.0.0.1:8080",
      http = (),
      service = "main"
    ),
  ]
);

const jsWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
  ],
  compatibilityDate = "2024-01-01",
);
