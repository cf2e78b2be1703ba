# The seed's FastAPI example (worker.py), served through the ASGI adapter. FastAPI comes from
# Debian's python3-fastapi (declared in pyproject.toml next to this file, as pywrangler reads it).
# Run: pyworkerd serve examples/fastapi/config.capnp
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .fastapiWorker),
    (name = "kv", disk = (path = "kv-data", writable = true)),   # KV in SQLite, ./kv-data
  ],
  sockets = [ (name = "http", address = "*:8080", http = (), service = "main") ],
);

const fastapiWorker :Workerd.Worker = (
  modules = [ (name = "worker.py", pythonModule = embed "worker.py") ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [
    (name = "GREETING", text = "Hello from a binding"),
    (name = "NOTES", kvNamespace = "kv"),
  ],
);
