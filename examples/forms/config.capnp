# Forms and files: POST a multipart/form-data (or urlencoded) form to /upload; each file part
# is a workers.File, handed over RPC (a Blob travels as one) to the Files entrypoint, which
# answers a plain dict. GET / serves the form; GET /sample answers a FormData (multipart).
#   curl -F title=hello -F doc=@README.md http://127.0.0.1:8080/upload
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .forms)],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const forms :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "FILES", service = (name = "main", entrypoint = "Files"))],
);
