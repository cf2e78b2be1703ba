# An R2 bucket kept in ./r2-data (objects as files, metadata in SQLite; `--persist-dir DIR`
# moves it, `--persist-dir=:memory:` keeps nothing). http://127.0.0.1:8080/:
#   curl -T file.txt localhost:8080/docs/file.txt     store (content-type from the request)
#   curl localhost:8080/docs/file.txt                 read (Range, If-None-Match work)
#   curl 'localhost:8080/?prefix=docs/&delimiter=/'   list
#   curl -X DELETE localhost:8080/docs/file.txt       delete
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .bucketWorker),
    (name = "files", disk = (path = "r2-data", writable = true)),
  ],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const bucketWorker :Workerd.Worker = (
  modules = [(name = "worker.py", pythonModule = embed "worker.py")],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [(name = "BUCKET", r2Bucket = "files")],
);
