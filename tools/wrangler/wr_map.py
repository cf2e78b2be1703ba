"""A wrangler project (one or more wrangler files) as one workerd Config.

Run by the wrangler translator (a child of the host process). The first file's worker is
served on the socket "http"; the others (more -c/--config files, as `wrangler dev -c a -c b`)
are workers that service bindings, Durable Object script_names and workflows reach by name.
Local secrets (.dev.vars, .env) and --var KEY:VALUE override vars of the same name.
"""
from __future__ import annotations

import os

import wr_dotenv
import wr_env
import wr_read
import wr_schema
import wr_worker


class Project:
    def __init__(self) -> None:
        self.config: dict = {}
        self.inputs: list[str] = []
        self.banner: list[tuple[str, str, str]] = []
        self.name = ""
        self.dir = ""


def _name(w: wr_env.Worker) -> str:
    name = w.get("name")
    return name if name else os.path.basename(w.src.dir) or "worker"


def _socket(service: str, address: str, keypair) -> dict:
    sock = {"name": "http", "address": address, "service": {"name": service}}
    if keypair:
        sock["https"] = {"options": {}, "tlsOptions": {"keypair": keypair}}
    else:
        sock["http"] = {}
    return sock


def _overrides(w: wr_env.Worker, primary: bool, cli_vars: dict, warnings: list[str]):
    secrets, files = wr_dotenv.load(w.src.dir, w.env, warnings)
    return secrets, (dict(cli_vars) if primary else {}), files


def build(paths: list[str], env: str | None, cli_vars: dict, address: str, keypair,
          warnings: list[str]) -> Project:
    srcs = [wr_read.read(p) for p in paths]
    for src in srcs:
        wr_schema.check_file(src, warnings)
    workers = [wr_env.select(src, env, warnings) for src in srcs]
    names = [_name(w) for w in workers]
    p = Project()
    p.name, p.dir = names[0], srcs[0].dir
    disks: dict = {}
    services: list[dict] = []
    socket_service = names[0]
    for i, (w, wname) in enumerate(zip(workers, names)):
        b, classes, static, main, date, flags = wr_worker.build(w, wname, disks, set(names), warnings)
        secrets, extra, files = _overrides(w, i == 0, cli_vars, warnings)
        b.secrets(secrets, "Secret")
        b.secrets(extra, "Environment Variable")
        p.inputs += [os.path.realpath(w.src.path)] + [os.path.realpath(f) for f in files]
        if main:
            services.append({"name": wname, "worker": wr_worker.worker_dict(
                b, classes, main, date, flags, w, disks)})
            if wr_worker.assets_in_front(disks, static, w, wname) and i == 0:
                socket_service = static[0]
        elif i == 0:
            socket_service = static[0]
        if i == 0:
            p.banner = b.banner
    p.config = {"services": services + list(disks.values()),
                "sockets": [_socket(socket_service, address, keypair)]}
    return p
