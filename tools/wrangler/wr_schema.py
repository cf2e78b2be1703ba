"""The keys of a wrangler file that pyworkerd knows, their types, and the checks on them.

Run by the wrangler translator (a child of the host process). A wrong type is an error naming
FILE:LINE and the field, in wrangler's words ("The field \"main\" should be a string but got
1."); a key nobody knows is a warning naming it ("Unexpected fields found in top-level field:
\"foo\""), as wrangler's; a known key that has no meaning on one machine (routes, account_id)
is accepted silently; a binding kind pyworkerd lacks (ai, vectorize) is a warning that says
it is left out. INHERITED lists what an [env.NAME] section takes from the top level.
"""
from __future__ import annotations

import json

from wr_read import Source

STR, BOOL, INT, NUM, STRS, ANY, DICT = "str", "bool", "int", "num", "strs", "any", "dict"


def table(**keys):
    return ("table", keys)


def tables(**keys):
    return ("tables", keys)


KV = tables(binding_=STR, id=STR, preview_id=STR, remote=BOOL)
D1 = tables(binding_=STR, database_name=STR, database_id=STR, preview_database_id=STR,
            migrations_dir=STR, migrations_table=STR, database_internal_env=STR, remote=BOOL)
R2 = tables(binding_=STR, bucket_name=STR, preview_bucket_name=STR, jurisdiction=STR, remote=BOOL)
DO = table(bindings=tables(name_=STR, class_name_=STR, script_name=STR, environment=STR))
QUEUES = table(producers=tables(binding_=STR, queue_=STR, delivery_delay=INT, remote=BOOL),
               consumers=tables(queue_=STR, max_batch_size=INT, max_batch_timeout=NUM,
                                max_retries=INT, dead_letter_queue=STR, max_concurrency=INT,
                                retry_delay=INT, type=STR, visibility_timeout_ms=INT))
WORKFLOWS = tables(name_=STR, binding_=STR, class_name_=STR, script_name=STR, remote=BOOL,
                   limits=DICT)
SERVICES = tables(binding_=STR, service_=STR, entrypoint=STR, environment=STR, remote=BOOL,
                  props=DICT)
HYPERDRIVE = tables(binding_=STR, id=STR, localConnectionString=STR)
ASSETS = table(directory=STR, binding=STR, html_handling=STR, not_found_handling=STR,
               run_worker_first=ANY, experimental_serve_directly=BOOL)
MIGRATIONS = tables(tag_=STR, new_classes=STRS, new_sqlite_classes=STRS, deleted_classes=STRS,
                    renamed_classes=tables(**{"from_": STR, "to_": STR}),
                    transferred_classes=tables(**{"from": STR, "from_script": STR, "to": STR}))

# Keys that make the worker: mapped to the workerd config.
WORKER_KEYS = {
    "name": STR, "main": STR, "compatibility_date": STR, "compatibility_flags": STRS,
    "vars": DICT, "kv_namespaces": KV, "d1_databases": D1, "r2_buckets": R2,
    "durable_objects": DO, "queues": QUEUES, "triggers": table(crons=STRS),
    "workflows": WORKFLOWS, "services": SERVICES, "assets": ASSETS, "hyperdrive": HYPERDRIVE,
    "limits": table(cpu_ms=INT, subrequests=INT), "observability": DICT, "dev": DICT,
}
# Known keys without a local meaning (deployment, bundling, routing on Cloudflare's edge).
ACCEPTED = {
    "$schema", "account_id", "workers_dev", "preview_urls", "route", "routes", "send_metrics",
    "keep_vars", "minify", "keep_names", "upload_source_maps", "logpush", "placement", "build",
    "rules", "no_bundle", "find_additional_modules", "base_dir", "preserve_file_names",
    "tail_consumers", "usage_model", "legacy_env", "jsx_factory", "jsx_fragment", "tsconfig",
    "node_compat", "alias", "define", "first_party_worker", "zone_id", "python_modules",
    "streaming_tail_consumers", "compliance_region", "site",
}
# Binding kinds pyworkerd does not have: left out of env, with a warning.
UNSUPPORTED_BINDINGS = {
    "ai", "vectorize", "analytics_engine_datasets", "browser",
    "dispatch_namespaces", "mtls_certificates", "logfwdr", "secrets_store_secrets", "images",
    "pipelines", "containers", "send_email", "version_metadata", "unsafe", "ratelimits",
    "unsafe_hello_world", "worker_loaders", "vpc_services", "media",
}
TOP_ONLY = {"migrations": MIGRATIONS, "env": DICT}
# wrangler: these come from the top level into [env.NAME] unless the section sets them.
INHERITED = {
    "name", "main", "compatibility_date", "compatibility_flags", "triggers", "limits",
    "observability", "assets", "account_id", "workers_dev", "preview_urls", "route", "routes",
    "rules", "build", "no_bundle", "minify", "keep_names", "base_dir", "placement", "logpush",
    "upload_source_maps", "find_additional_modules", "preserve_file_names", "usage_model",
    "tsconfig", "jsx_factory", "jsx_fragment", "send_metrics", "keep_vars", "first_party_worker",
    "zone_id", "python_modules", "compliance_region",
}

_NAMES = {STR: "a string", BOOL: "a boolean", INT: "an integer", NUM: "a number",
          STRS: "an array of strings", DICT: "an object", "table": "an object",
          "tables": "an array of objects"}


def dotted(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (("." if out else "") + p)
    return out


def _ok(kind, v) -> bool:
    if kind == STR:
        return isinstance(v, str)
    if kind == BOOL:
        return isinstance(v, bool)
    if kind == INT:
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == NUM:
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind == STRS:
        return isinstance(v, list) and all(isinstance(x, str) for x in v)
    if kind == DICT:
        return isinstance(v, dict)
    return True


def _got(v) -> str:
    try:
        return json.dumps(v, default=str)
    except (TypeError, ValueError):
        return repr(v)


class Checker:
    """Checks one wrangler file; errors raise, warnings are collected."""

    def __init__(self, src: Source, warnings: list[str]) -> None:
        self.src = src
        self.warnings = warnings

    def type_error(self, path, kind, v):
        return self.src.error(path, f"The field \"{dotted(path)}\" should be {_NAMES[kind]} "
                                    f"but got {_got(v)}.")

    def check(self, path, spec, v) -> None:
        kind = spec[0] if isinstance(spec, tuple) else spec
        if kind == "table":
            if not isinstance(v, dict):
                raise self.type_error(path, kind, v)
            self.keys(path, spec[1], v, dotted(path))
        elif kind == "tables":
            if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
                raise self.type_error(path, kind, v)
            for i, item in enumerate(v):
                self.keys(path + (i,), spec[1], item, dotted(path + (i,)))
        elif not _ok(kind, v):
            raise self.type_error(path, kind, v)

    def keys(self, path, spec: dict, obj: dict, where: str) -> None:
        known = {k.rstrip("_"): (s, k.endswith("_")) for k, s in spec.items()}
        for key, (s, required) in known.items():
            if required and not isinstance(obj.get(key), str):
                what = "" if where.startswith("migrations") else " bindings"
                raise self.src.error(path, f"\"{where}\"{what} should have a string "
                                           f"\"{key}\" field but got {_got(obj)}.")
        unknown = [k for k in obj if k not in known]
        if unknown:
            self.unexpected(path, where, unknown)
        for key, value in obj.items():
            if key in known:
                self.check(path + (key,), known[key][0], value)

    def unexpected(self, path, where: str, keys) -> None:
        names = ", ".join(f"\"{k}\"" for k in keys)
        self.warnings.append(f"{self.src.where(path + (keys[0],))}: Unexpected fields found in "
                             f"{where or 'top-level'} field: {names}")

    def worker(self, prefix, obj: dict, top: bool) -> None:
        """The keys of the top level (top) or of an [env.NAME] section."""
        unknown = []
        for key, value in obj.items():
            path = prefix + (key,)
            if key in WORKER_KEYS:
                self.check(path, WORKER_KEYS[key], value)
            elif top and key in TOP_ONLY:
                self.check(path, TOP_ONLY[key], value)
            elif key in UNSUPPORTED_BINDINGS:
                self.warnings.append(f"{self.src.where(path)}: \"{key}\" bindings are not "
                                     f"supported by pyworkerd: left out of env")
            elif key not in ACCEPTED:
                unknown.append(key)
        if unknown:
            self.unexpected(prefix, dotted(prefix) if prefix else "", unknown)


def check_file(src: Source, warnings: list[str]) -> None:
    c = Checker(src, warnings)
    c.worker((), src.data, True)
    for name, section in src.data.get("env", {}).items():
        if not isinstance(section, dict):
            raise c.type_error(("env", name), DICT, section)
        c.worker(("env", name), section, False)
