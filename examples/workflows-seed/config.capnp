# The seed's Workflows example (`class MyWorkflow(Workflow)` with `@step` methods) as a durable
# workflow: POST /start {"numbers": [1, 2, 3]} starts an instance, GET /status/<id> answers
# its status, GET /notes what its notification step wrote (once per instance) to KV.
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "kv", disk = (path = "kv-data", writable = true)),
  ],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-11-15",
  compatibilityFlags = ["python_workers"],
  bindings = [
    (name = "NOTES", kvNamespace = "kv"),
    (name = "MY_WORKFLOW", wrapped = (
      moduleName = "cloudflare-internal:workflows-api",
      innerBindings = [(name = "fetcher", service = (name = "main", entrypoint = "MyWorkflow"))],
    )),
  ],
);
