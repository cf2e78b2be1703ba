# A worker whose `test` handler runs pytest over its own tests/ folder: under
# `pyworkerd test examples/pytest/config.capnp`, pytest and pytest-asyncio are importable
# without being declared (they are test tools, not deployed), async tests run on the
# isolate's loop (binding calls complete), and a failing pytest test fails the run.
# `pyworkerd serve` serves the same worker; there, `import pytest` is refused as on Cloudflare.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.py", pythonModule = embed "worker.py"),
    (name = "tests/test_worker.py", pythonModule = embed "tests/test_worker.py"),
  ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["python_workers"],
  bindings = [
    (name = "GREETED", text = "world"),
    (name = "CACHE", memoryCache = (id = "greetings", limits = (maxKeys = 10, maxValueSize = 1024, maxTotalValueSize = 4096))),
  ],
);
