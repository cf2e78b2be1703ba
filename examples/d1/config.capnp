# D1: a SQLite database behind Cloudflare's D1 API, in ./d1-data/d1.sqlite3 (`--persist-dir
# DIR` moves it, `--persist-dir=:memory:` keeps nothing). workerd's form: a `wrapped` binding
# of the d1-api module whose inner binding names a writable disk service.
#   curl -X POST 127.0.0.1:8080/notes -d 'buy milk'     -> {"id": 1, ...}
#   curl 127.0.0.1:8080/notes                           -> every note
#   curl 127.0.0.1:8080/notes/1                         -> one note (404 when missing)
#   curl -X POST 127.0.0.1:8080/notes/import -d '["a","b"]'   -> all in one transaction
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .notes),
    (name = "d1", disk = (path = "d1-data", writable = true)),
  ],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const notes :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [
    (name = "DB", wrapped = (moduleName = "cloudflare-internal:d1-api",
                             innerBindings = [(name = "fetcher", service = "d1")])),
  ],
);
