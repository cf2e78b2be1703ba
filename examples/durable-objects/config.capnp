# A counter per name, as a Durable Object: GET /<name> adds one to <name>'s counter and
# answers the new value; GET /<name>/count reads it through an RPC method. Each counter is
# one object (one live instance, wherever requests come from), its value in SQLite under
# ./do-data/counters/<id>.sqlite (`--persist-dir DIR` moves it).
# And a chat room per name: open http://localhost:8080/chat/<room> in two browser windows.
# The room is a Durable Object holding its members' WebSockets with hibernation: it keeps
# the last messages in storage (./do-data/chat-rooms/) and sleeps between messages.
using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .counterWorker),
    (name = "do-data", disk = (path = "do-data", writable = true)),
  ],
  sockets = [(name = "http", address = "*:8080", http = (), service = "main")],
);
const counterWorker :Workerd.Worker = (
  modules = [
    (name = "worker.py", pythonModule = embed "worker.py"),
    (name = "chat.html", text = embed "chat.html"),
  ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  durableObjectNamespaces = [
    (className = "Counter", uniqueKey = "counters", enableSql = true),
    (className = "ChatRoom", uniqueKey = "chat-rooms", enableSql = true),
  ],
  durableObjectStorage = (localDisk = "do-data"),
  bindings = [
    (name = "COUNTER", durableObjectNamespace = "Counter"),
    (name = "CHAT", durableObjectNamespace = "ChatRoom"),
  ],
);
