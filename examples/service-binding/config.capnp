# Service bindings: "main" calls "auth" by fetch() (default entrypoint) and by RPC to the
# named entrypoint Admin. curl -H 'authorization: Bearer ann-token' http://127.0.0.1:8080/
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .front), (name = "auth", worker = .auth)],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const front :Workerd.Worker = (
  modules = [(name = "front.py", pythonModule = embed "front.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [
    (name = "AUTH", service = "auth"),
    (name = "ADMIN", service = (name = "auth", entrypoint = "Admin")),
  ],
);
const auth :Workerd.Worker = (
  modules = [(name = "auth.py", pythonModule = embed "auth.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
);
