"""`--env NAME`: the worker an [env.NAME] section describes, with wrangler's inheritance.

Run by the wrangler translator (a child of the host process). The section's own keys win;
the keys in wr_schema.INHERITED come from the top level when the section lacks them; every
other key (vars and all bindings) is NOT inherited: a section without `vars` has no vars,
and wrangler's warning says so when the top level has them. `name` defaults to
"<top name>-<env name>", as wrangler deploys it. `migrations` stay top-level only.
"""
from __future__ import annotations

from wr_read import ConfigError, Source
from wr_schema import INHERITED, UNSUPPORTED_BINDINGS, WORKER_KEYS

NOT_INHERITED = (set(WORKER_KEYS) | UNSUPPORTED_BINDINGS) - INHERITED - {"dev"}


class Worker:
    """The resolved keys of one worker, and for each key the path its value came from."""

    def __init__(self, src: Source, env: str | None) -> None:
        self.src = src
        self.env = env
        self.values: dict = {}
        self.origin: dict[str, tuple] = {}

    def get(self, key, default=None):
        return self.values.get(key, default)

    def path(self, key, *rest) -> tuple:
        return self.origin.get(key, (key,)) + tuple(rest)

    def error(self, key_path, message: str) -> ConfigError:
        return self.src.error(self.path(*key_path), message)

    def where(self, *key_path) -> str:
        return self.src.where(self.path(*key_path))


def select(src: Source, env: str | None, warnings: list[str]) -> Worker:
    w = Worker(src, env)
    top = src.data
    if env is None:
        for key, value in top.items():
            if key != "env":
                w.values[key] = value
                w.origin[key] = (key,)
        return w
    envs = top.get("env", {})
    if env not in envs:
        names = ", ".join(sorted(envs)) or "none"
        raise ConfigError(src.path, 0, f"No environment found in configuration with name "
                                       f"\"{env}\" (environments defined: {names}).")
    section = envs[env]
    for key, value in section.items():
        w.values[key] = value
        w.origin[key] = ("env", env, key)
    for key in INHERITED:
        if key in top and key not in section:
            w.values[key] = top[key]
            w.origin[key] = (key,)
    if "name" not in section and isinstance(top.get("name"), str):
        w.values["name"] = f"{top['name']}-{env}"
    if "migrations" in top:
        w.values["migrations"] = top["migrations"]
        w.origin["migrations"] = ("migrations",)
    for key in sorted(NOT_INHERITED):
        if key in top and key not in section:
            warnings.append(f"{src.where(('env', env))}: \"{key}\" exists at the top level, but "
                            f"not on \"env.{env}\". This is not what you probably want, since "
                            f"\"{key}\" is not inherited by environments. Please add \"{key}\" "
                            f"to \"env.{env}\".")
    return w
