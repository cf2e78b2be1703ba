using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
services = [
(name = "main", worker = .pythonWorker),
],
sockets = [
( name = "http",
address = "*:8080",
http = (),
service = "main"
),
]
);
const pythonWorker :Workerd.Worker = (
modules = [
(name = "worker.py", pythonModule = embed "worker.py"),
],
compatibilityDate = "2024-01-01",
compatibilityFlags = ["experimental", "python_workers"],
);
