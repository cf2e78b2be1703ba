# A Flask (WSGI) application as a Python Worker. Flask comes from Debian's python3-flask
# (or python_modules/ next to this file); the requirement is declared in the "requirements"
# binding, as in the seed. Run: pyworkerd serve examples/flask/config.capnp
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .flaskWorker) ],
  sockets = [ (name = "http", address = "*:8080", http = (), service = "main") ],
);

const flaskWorker :Workerd.Worker = (
  modules = [ (name = "worker.py", pythonModule = embed "worker.py") ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [
    (name = "requirements", json = "[\"flask\"]"),
    (name = "GREETING", text = "Hello from a binding"),
  ],
);
