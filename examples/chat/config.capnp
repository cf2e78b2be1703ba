# A WebSocket chat: the page at / opens a WebSocket to /ws; every message goes to everyone in
# the room. `pyworkerd serve examples/chat/config.capnp`, then open http://localhost:8080/ in
# two browser windows.
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .chat)],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const chat :Workerd.Worker = (
  modules = [
    (name = "worker.py", pythonModule = embed "worker.py"),
    (name = "page.html", text = embed "page.html"),
  ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
);
