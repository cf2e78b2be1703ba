# A durable Workflow: GET /create?name=Ada starts an instance of MyWorkflow and answers its id;
# GET /status?id=<id> answers its status. Instances and step results are kept in
# ./workflows.sqlite3 (`--persist-dir DIR` moves it, `--persist-dir=:memory:` keeps nothing);
# an instance left unfinished by a stopped or killed pyworkerd resumes at the next start.
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-11-15",
  compatibilityFlags = ["python_workers"],
  bindings = [
    (name = "MY_WORKFLOW", wrapped = (
      moduleName = "cloudflare-internal:workflows-api",
      innerBindings = [(name = "fetcher", service = (name = "main", entrypoint = "MyWorkflow"))],
    )),
  ],
);
