# Static assets, workerd's way: a `disk` service holds the files.
#  - socket "http" (8080): the Python worker `site`; it answers /api/* itself and hands every
#    other request to env.ASSETS, a service binding to the disk service (answered by the host,
#    no Python involved in reading the file); an unknown path gets index.html (a single-page app).
#  - socket "static" (8081): the disk service itself, served by the host with no worker at all.
# Run from this directory (a disk path is relative to the working directory, as in workerd):
#   ../../build/pyworkerd serve config.capnp
#   curl -i http://127.0.0.1:8080/api/hello   curl -i http://127.0.0.1:8081/css/site.css
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "site", worker = .site),
    (name = "assets", disk = (path = "public")),
  ],
  sockets = [
    (name = "http", address = "*:8080", http = (), service = "site"),
    (name = "static", address = "*:8081", http = (), service = "assets"),
  ],
);
const site :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "ASSETS", service = "assets")],
);
