"""Each wrangler binding key as workerd config: bindings of the worker, and the disk services
that hold their state.

Run by the wrangler translator (a child of the host process). State lives in disk services
whose paths are relative to the persist directory (`pyworkerd dev`: .wrangler/state, or
--persist-to), as wrangler keeps it under .wrangler/state/v3: KV namespace ID in v3/kv/ID, D1
database ID in v3/d1/ID, R2 bucket B in v3/r2/B, Durable Objects in v3/do. A binding is a dict
in the shape of `capnp eval -ojson`'s output, so config.c checks it as any workerd config.
"""
from __future__ import annotations

import json
import os
import re
from urllib.parse import unquote, urlsplit

from wr_env import Worker

D1_MODULE = "cloudflare-internal:d1-api"
HYPERDRIVE_ENV = ("CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_",
                  "WRANGLER_HYPERDRIVE_LOCAL_CONNECTION_STRING_")
HYPERDRIVE_PORTS = {"postgres": 5432, "postgresql": 5432, "mysql": 3306}
WORKFLOWS_MODULE = "cloudflare-internal:workflows-api"


class Secret(str):
    """A value from .dev.vars or .env: loaded as text, printed as `fromEnvironment`."""


def safe(name: str) -> str:
    """A path segment made of a resource id."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"


class Bindings:
    """The bindings of one worker, the disk services they need and the banner's lines."""

    def __init__(self, w: Worker, wname: str, disks: dict, workers: set[str]) -> None:
        self.w = w
        self.wname = wname
        self.disks = disks              # service name -> disk dict (shared by all workers)
        self.workers = workers          # the names of every worker given
        self.list: list[dict] = []
        self.banner: list[tuple[str, str, str]] = []

    def add(self, binding: dict, kind: str, detail: str) -> None:
        self.list.append(binding)
        self.banner.append((binding["name"], kind, detail))

    def disk(self, name: str, path: str) -> str:
        self.disks[name] = {"name": name, "disk": {"path": path, "writable": True}}
        return name

    def target(self, key_path, script: str | None) -> str:
        """The worker a script_name / service names (this one when none)."""
        if not script:
            return self.wname
        if script not in self.workers:
            raise self.w.error(key_path, f"no worker named \"{script}\" among the configs given "
                                         f"(give its wrangler file with another -c/--config)")
        return script

    # ---- one function per wrangler key ----

    def vars(self, values: dict) -> None:
        for name, value in values.items():
            if isinstance(value, str):
                self.add({"name": name, "text": value}, "Environment Variable", json.dumps(value))
            else:
                self.add({"name": name, "json": json.dumps(value)}, "Environment Variable",
                         json.dumps(value))

    def kv(self, items: list) -> None:
        for item in items:
            ns = item.get("id") or item["binding"]
            svc = self.disk(f"kv:{ns}", f"v3/kv/{safe(ns)}")
            self.add({"name": item["binding"], "kvNamespace": {"name": svc}}, "KV Namespace", ns)

    def d1(self, items: list) -> None:
        for item in items:
            db = item.get("database_id") or item.get("database_name") or item["binding"]
            svc = self.disk(f"d1:{db}", f"v3/d1/{safe(db)}")
            inner = [{"name": "fetcher", "service": {"name": svc}}]
            self.add({"name": item["binding"],
                      "wrapped": {"moduleName": D1_MODULE, "innerBindings": inner}},
                     "D1 Database", item.get("database_name") or db)

    def r2(self, items: list) -> None:
        for item in items:
            bucket = item.get("bucket_name") or item["binding"]
            svc = self.disk(f"r2:{bucket}", f"v3/r2/{safe(bucket)}")
            self.add({"name": item["binding"], "r2Bucket": {"name": svc}}, "R2 Bucket", bucket)

    def hyperdrive(self, items: list) -> None:
        """As `wrangler dev`: the local connection string (wrangler's environment variable
        first, then localConnectionString) becomes an external tcp service and workerd's
        hyperdrive binding; without one, an error as wrangler's."""
        for i, item in enumerate(items):
            name = item["binding"]
            url = next((os.environ[p + name] for p in HYPERDRIVE_ENV if os.environ.get(p + name)),
                       item.get("localConnectionString"))
            if not url:
                raise self.w.error(("hyperdrive", i, "binding"),
                                   f"hyperdrive \"{name}\": when developing locally, set "
                                   f"localConnectionString in the wrangler file or the "
                                   f"environment variable {HYPERDRIVE_ENV[0]}{name} to a local "
                                   f"database's connection string")
            parts = self._hyperdrive_url(i, url)
            svc = f"hyperdrive:{name}"
            self.disks[svc] = {"name": svc, "external": {"address": parts.pop("address"),
                                                         "tcp": {}}}
            self.add({"name": name, "hyperdrive": {"designator": {"name": svc}, **parts}},
                     "Hyperdrive Config", item.get("id") or name)

    def _hyperdrive_url(self, i: int, url: str) -> dict:
        u = urlsplit(url)
        try:
            port = u.port or HYPERDRIVE_PORTS.get(u.scheme)
        except ValueError:
            port = None
        if u.scheme not in HYPERDRIVE_PORTS or not u.hostname or not port:
            raise self.w.error(("hyperdrive", i, "localConnectionString"),
                               f"hyperdrive \"{self.w.get('hyperdrive')[i]['binding']}\": not a "
                               f"postgres:// or mysql:// connection string with a host")
        host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
        return {"address": f"{host}:{port}", "database": unquote(u.path.lstrip("/")),
                "user": unquote(u.username or ""), "password": unquote(u.password or ""),
                "scheme": "postgresql" if u.scheme.startswith("postgres") else u.scheme}

    def durable_objects(self, items: list, classes: dict) -> None:
        for i, item in enumerate(items):
            cls, script = item["class_name"], item.get("script_name")
            owner = self.target(("durable_objects", "bindings", i, "script_name"), script)
            if owner == self.wname and cls not in classes:
                raise self.w.error(("durable_objects", "bindings", i, "class_name"),
                                   f"Durable Object class \"{cls}\" is not created by any "
                                   f"migration (add it to a [[migrations]] new_sqlite_classes "
                                   f"or new_classes)")
            d = {"className": cls}
            if owner != self.wname:
                d["serviceName"] = owner
            self.add({"name": item["name"], "durableObjectNamespace": d}, "Durable Object",
                     cls + (f" (defined in {owner})" if owner != self.wname else ""))

    def queues(self, producers: list) -> list[str]:
        notes = []
        for item in producers:
            self.add({"name": item["binding"], "queue": {"name": item["queue"]}}, "Queue",
                     item["queue"])
        return notes

    def workflows(self, items: list) -> None:
        for i, item in enumerate(items):
            owner = self.target(("workflows", i, "script_name"), item.get("script_name"))
            inner = [{"name": "fetcher",
                      "service": {"name": owner, "entrypoint": item["class_name"]}}]
            self.add({"name": item["binding"],
                      "wrapped": {"moduleName": WORKFLOWS_MODULE, "innerBindings": inner}},
                     "Workflow", f"{item['name']} ({item['class_name']})")

    def services(self, items: list) -> None:
        for i, item in enumerate(items):
            owner = self.target(("services", i, "service"), item["service"])
            sd = {"name": owner}
            if item.get("entrypoint"):
                sd["entrypoint"] = item["entrypoint"]
            self.add({"name": item["binding"], "service": sd}, "Worker",
                     owner + (f"#{item['entrypoint']}" if item.get("entrypoint") else ""))

    def secrets(self, values: dict, kind: str) -> None:
        names = set(values)
        self.list = [b for b in self.list if not (b["name"] in names and ("text" in b or "json" in b))]
        self.banner = [r for r in self.banner if not (r[0] in names and r[1] == "Environment Variable")]
        for name, value in values.items():
            self.add({"name": name, "text": Secret(value) if kind == "Secret" else value}, kind,
                     '"(hidden)"' if kind == "Secret" else json.dumps(value))
