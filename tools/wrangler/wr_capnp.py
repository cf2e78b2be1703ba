"""The translated config as workerd's Cap'n Proto text (`pyworkerd config wrangler.toml`).

Run by the wrangler translator (a child of the host process). Renders the same dict that the
host loads as JSON, so the two cannot differ: workers become their own constants, files
become `embed "path"` relative to the project directory (save the output there), secrets
(.dev.vars) `fromEnvironment` bindings of the same name (set them when serving), and a
struct left at its defaults is `()`. The result is a config `pyworkerd serve` (and workerd,
for what it supports) runs from the project directory with `--persist-dir .wrangler/state`.
"""
from __future__ import annotations

import json
import os
import re

from wr_bindings import Secret
from wr_modules import Embed, ProjectPath

WIDTH = 96


def _const(name: str) -> str:
    words = re.split(r"[^A-Za-z0-9]+", name)
    ident = words[0][:1].lower() + words[0][1:] + "".join(w[:1].upper() + w[1:] for w in words[1:])
    ident = ident if ident and ident[0].isalpha() else "w" + ident
    return ident + "Worker"


class Renderer:
    def __init__(self, base: str) -> None:
        self.base = base

    def value(self, v, indent: str) -> str:
        if isinstance(v, Embed):
            return f"embed {json.dumps(os.path.relpath(v.path, self.base))}"
        if isinstance(v, ProjectPath):
            return json.dumps(os.path.relpath(v, self.base), ensure_ascii=False)
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return str(v)
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, list):
            return self.seq("[", "]", [self.value(x, indent + "  ") for x in v], indent)
        if isinstance(v, dict) and isinstance(v.get("text"), Secret):
            name = json.dumps(v["name"])       # never the secret itself: read from the environment
            return f"(name = {name}, fromEnvironment = {name})"
        if isinstance(v, dict):
            items = [f"{k} = {self.value(x, indent + '  ')}" for k, x in v.items()]
            return self.seq("(", ")", items, indent)
        raise TypeError(f"cannot render {v!r}")

    @staticmethod
    def seq(open_: str, close: str, items: list[str], indent: str) -> str:
        one = open_ + ", ".join(items) + close
        if len(one) + len(indent) <= WIDTH and "\n" not in one:
            return one
        inner = indent + "  "
        return open_ + "\n" + "".join(f"{inner}{x},\n" for x in items) + indent + close


def render(config: dict, base: str, header: str) -> str:
    r = Renderer(base)
    consts = []
    services = []
    for s in config["services"]:
        if "worker" in s:
            name = _const(s["name"])
            consts.append(f"const {name} :Workerd.Worker = {r.value(s['worker'], '')};\n")
            services.append(f"(name = {json.dumps(s['name'])}, worker = .{name})")
        else:
            services.append(r.value(s, "    "))
    top = ("const config :Workerd.Config = (\n"
           f"  services = {Renderer.seq('[', ']', services, '  ')},\n"
           f"  sockets = {r.value(config['sockets'], '  ')},\n"
           ");\n")
    return header + 'using Workerd = import "/workerd/workerd.capnp";\n\n' + top + "\n" + \
        "\n".join(consts)


def to_json(v):
    """The dict with every Embed read: what `capnp eval -ojson` would print for it."""
    if isinstance(v, Embed):
        return v.read()
    if isinstance(v, list):
        return [to_json(x) for x in v]
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    return v
