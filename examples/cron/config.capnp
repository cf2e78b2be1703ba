# Cron Triggers: scheduled() runs every ten minutes and every hour (UTC) and counts its runs
# in KV; GET / shows the count and the last run. To try it at once, start pyworkerd with
# --test-scheduled and open http://127.0.0.1:8080/__scheduled?cron=*/10+*+*+*+* (wrangler's
# test path). A tick that falls while pyworkerd is stopped is not run later.
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
  bindings = [(name = "KV", kvNamespace = "kv")],
  pyworkerd = (crons = ["*/10 * * * *", "@hourly"]),
);
