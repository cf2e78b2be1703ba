# FastAPI and pydantic from packages: the requirement is in pyproject.toml next to this file
# ([project] dependencies, as pywrangler reads it); they come from Debian's python3-fastapi, or
# from python_modules/ here if you vendor them (pip install --target python_modules fastapi).
# Run: pyworkerd serve examples/fastapi-packages/config.capnp
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .fastapiWorker) ],
  sockets = [ (name = "http", address = "*:8080", http = (), service = "main") ],
);

const fastapiWorker :Workerd.Worker = (
  modules = [ (name = "worker.py", pythonModule = embed "worker.py") ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
);
