"""One wrangler worker as a workerd Worker: modules, compatibility, bindings, Durable Object
classes from migrations, queue consumers, cron triggers, limits and static assets.

Run by the wrangler translator (a child of the host process). `build` returns the worker's
service dict in `capnp eval -ojson`'s shape (files as wr_modules.Embed), adding the disk
services it needs to `disks`. Migrations are replayed in order: new_classes and
new_sqlite_classes create a class (SQL storage for the latter), renamed_classes move a class's
storage to its new name (the uniqueKey, hence the directory, stays), deleted_classes remove it
(its files stay on disk); transferred_classes are refused (one machine has no other script's
storage to take).
"""
from __future__ import annotations

import datetime
import os

import wr_modules
from wr_bindings import Bindings, safe
from wr_env import Worker

HTML_HANDLING = ("auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none")
NOT_FOUND = ("none", "404-page", "single-page-application")


def do_classes(w: Worker, wname: str) -> dict:
    """class name -> {"key": uniqueKey, "sql": bool}, after every migration."""
    classes: dict = {}
    for i, m in enumerate(w.get("migrations", [])):
        for key, sql in (("new_classes", False), ("new_sqlite_classes", True)):
            for cls in m.get(key, []):
                if cls in classes:
                    raise w.error(("migrations", i, key), f"migration \"{m['tag']}\": class "
                                                          f"\"{cls}\" already exists")
                classes[cls] = {"key": f"{wname}-{cls}", "sql": sql}
        for r in m.get("renamed_classes", []):
            if r["from"] not in classes:
                raise w.error(("migrations", i, "renamed_classes"),
                              f"migration \"{m['tag']}\": cannot rename \"{r['from']}\": no "
                              f"such class")
            classes[r["to"]] = classes.pop(r["from"])
        for cls in m.get("deleted_classes", []):
            if classes.pop(cls, None) is None:
                raise w.error(("migrations", i, "deleted_classes"),
                              f"migration \"{m['tag']}\": cannot delete \"{cls}\": no such class")
        if m.get("transferred_classes"):
            raise w.error(("migrations", i, "transferred_classes"),
                          "transferred_classes is not supported by pyworkerd (it moves storage "
                          "between scripts of a Cloudflare account)")
    return classes


def consumers(w: Worker) -> list[dict]:
    out = []
    for i, c in enumerate(w.get("queues", {}).get("consumers", [])):
        if c.get("type", "worker") != "worker":
            raise w.error(("queues", "consumers", i, "type"),
                          f"queue consumer type \"{c['type']}\" is not supported by pyworkerd "
                          f"(only push consumers: type = \"worker\")")
        timeout = c.get("max_batch_timeout", 5)
        if timeout != int(timeout):
            raise w.error(("queues", "consumers", i, "max_batch_timeout"),
                          "max_batch_timeout: pyworkerd takes whole seconds")
        q = {"queue": c["queue"], "maxBatchSize": c.get("max_batch_size", 10),
             "maxBatchTimeout": int(timeout), "maxRetries": c.get("max_retries", 3),
             "retryDelay": c.get("retry_delay", 0), "maxConcurrency": c.get("max_concurrency", 0)}
        if c.get("dead_letter_queue"):
            q["deadLetterQueue"] = c["dead_letter_queue"]
        out.append(q)
    return out


def options(w: Worker) -> dict:
    opts: dict = {}
    if w.get("limits", {}).get("cpu_ms"):
        opts["cpuLimitMs"] = w.get("limits")["cpu_ms"]
    if w.get("queues", {}).get("consumers"):
        opts["queueConsumers"] = consumers(w)
    delays = [{"binding": p["binding"], "deliveryDelay": p["delivery_delay"]}
              for p in w.get("queues", {}).get("producers", []) if p.get("delivery_delay")]
    if delays:
        opts["queueProducers"] = delays
    if w.get("triggers", {}).get("crons"):
        opts["crons"] = list(w.get("triggers")["crons"])
    return opts


def assets(w: Worker, wname: str, disks: dict, notes: list[str]) -> tuple[str, str] | None:
    """The assets' disk service and binding name ("" when none), or None without assets."""
    a = w.get("assets")
    if not a:
        return None
    if "directory" not in a:
        raise w.error(("assets",), "assets: a \"directory\" is required")
    path = os.path.normpath(os.path.join(w.src.dir, a["directory"]))
    if not os.path.isdir(path):
        raise w.error(("assets", "directory"), f"assets.directory: no such directory: {path}")
    for key, allowed in (("html_handling", HTML_HANDLING), ("not_found_handling", NOT_FOUND)):
        value = a.get(key, allowed[0])
        if value not in allowed:
            raise w.error(("assets", key), f"assets.{key} must be one of "
                                           f"{', '.join(allowed)}; got \"{value}\"")
    first = a.get("run_worker_first", False)
    if not isinstance(first, bool) and not (isinstance(first, list) and
                                            all(isinstance(p, str) and p.lstrip("!").startswith("/")
                                                for p in first)):
        raise w.error(("assets", "run_worker_first"), "assets.run_worker_first must be a boolean "
                                                      "or a list of paths (\"/api/*\", \"!/api/docs/*\")")
    rules = {"htmlHandling": a.get("html_handling", HTML_HANDLING[0]),
             "notFoundHandling": a.get("not_found_handling", NOT_FOUND[0])}
    if isinstance(first, list) and first:
        rules["runWorkerFirst"] = list(first)
    name = f"{wname}:assets"
    disks[name] = {"name": name, "disk": {"path": wr_modules.ProjectPath(path), "writable": False,
                                          "assets": rules}}
    return name, a.get("binding", "")


def assets_in_front(disks: dict, static: tuple[str, str] | None, w: Worker, wname: str) -> bool:
    """Whether requests reach the assets first (then the worker), as on Cloudflare: unless
    run_worker_first = true, when they reach the worker, its assets only through the binding."""
    if not static or w.get("assets").get("run_worker_first") is True:
        return False
    disks[static[0]]["disk"]["assets"]["worker"] = wname
    return True


def compat(w: Worker, notes: list[str]) -> tuple[str, list[str]]:
    date = w.get("compatibility_date")
    if not date:
        date = datetime.date.today().isoformat()
        notes.append(f"{w.src.path}: No compatibility_date was specified. Using today's date: "
                     f"{date}. Add it to your wrangler file: compatibility_date = \"{date}\"")
    flags = list(w.get("compatibility_flags", []))
    if "python_workers" not in flags:
        raise w.error(("compatibility_flags",) if "compatibility_flags" in w.values else ("main",),
                      "The python_workers compatibility flag is required to use Python "
                      "(compatibility_flags = [\"python_workers\"]).")
    return date, flags


def main_module(w: Worker) -> str:
    main = w.get("main")
    if not main:
        raise w.error(("name",), "Missing entry-point: set `main` (e.g. main = \"src/entry.py\")")
    if not main.endswith(".py"):
        raise w.error(("main",), f"main = \"{main}\": pyworkerd runs Python Workers; main must "
                                 f"be a .py file")
    path = os.path.normpath(os.path.join(w.src.dir, main))
    if not os.path.isfile(path):
        raise w.error(("main",), f"main = \"{main}\": no such file: {path}")
    return path


def build(w: Worker, wname: str, disks: dict, workers: set[str], notes: list[str]):
    """(service dict, banner rows, assets (service, binding) or None)."""
    b = Bindings(w, wname, disks, workers)
    classes = do_classes(w, wname)
    b.vars(w.get("vars", {}))
    b.kv(w.get("kv_namespaces", []))
    b.d1(w.get("d1_databases", []))
    b.r2(w.get("r2_buckets", []))
    b.durable_objects(w.get("durable_objects", {}).get("bindings", []), classes)
    notes.extend(b.queues(w.get("queues", {}).get("producers", [])))
    b.workflows(w.get("workflows", []))
    b.services(w.get("services", []))
    b.hyperdrive(w.get("hyperdrive", []))
    static = assets(w, wname, disks, notes)
    if static and static[1]:
        b.add({"name": static[1], "service": {"name": static[0]}}, "Assets", w.get("assets")["directory"])
    main = main_module(w) if (w.get("main") or not static) else None
    date, flags = compat(w, notes) if main else ("", [])
    return b, classes, static, main, date, flags


def worker_dict(b: Bindings, classes: dict, main: str, date: str, flags: list[str], w: Worker,
                disks: dict) -> dict:
    worker: dict = {"modules": wr_modules.collect(main), "compatibilityDate": date,
                    "compatibilityFlags": flags}
    if b.list:
        worker["bindings"] = b.list
    if classes:
        worker["durableObjectNamespaces"] = [
            {"className": cls, "uniqueKey": safe(c["key"]), "enableSql": c["sql"]}
            for cls, c in classes.items()]
        disks["durable-objects"] = {"name": "durable-objects",
                                    "disk": {"path": "v3/do", "writable": True}}
        worker["durableObjectStorage"] = {"localDisk": "durable-objects"}
    opts = options(w)
    if opts:
        worker["pyworkerd"] = opts
    return worker
