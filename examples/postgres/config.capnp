# A worker written for Cloudflare's Hyperdrive reaching a local PostgreSQL through the host:
# env.DB (a `hyperdrive` binding) gives the connection details, pg8000 (pure Python, declared
# in requirements.txt) connects with the stdlib's socket module, and the host makes the TCP
# connection to the designated external service. http://127.0.0.1:8080/ counts visits:
#   pyworkerd serve config.capnp                                    PostgreSQL on 127.0.0.1:5432
#   pyworkerd serve config.capnp --external-addr postgres=127.0.0.1:5433    elsewhere
#   curl localhost:8080/          {"visits": 1, "database": "postgres", "server": "PostgreSQL 15..."}
# The worker may reach only that database: its globalOutbound allows the public internet,
# and a hyperdrive binding's own address, which the config names, whatever the rules say.
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .counter),
    (name = "postgres", external = (address = "127.0.0.1:5432", tcp = ())),
  ],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const counter :Workerd.Worker = (
  modules = [
    (name = "worker.py", pythonModule = embed "worker.py"),
    (name = "pg8000", pythonRequirement = ""),
  ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "DB", hyperdrive = (designator = (name = "postgres"), database = "postgres",
                                          user = "postgres", password = "", scheme = "postgresql"))],
);
