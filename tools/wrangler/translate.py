"""The wrangler translator: a Cloudflare Python Workers project -> workerd config.

Run by the host process (src/config/wrangler.c) as `/usr/bin/python3.11 -S -E -s
translate.py COMMAND ...`, the way the `capnp` compiler is run for .capnp configs; also
`pyworkerd init`. Commands:
  load   [-c FILE]... [--env E] [--var K:V]... [--address A] [--https]
         prints one JSON object: {"config": <the Config as `capnp eval -ojson` prints it>,
         "source", "dir", "name", "inputs", "bindings"}
  config (same options)  prints the Config as Cap'n Proto text
  init NAME              writes a new project
  d1 execute|migrations ...  wrangler's d1 commands on the local databases (wr_d1.py)
Warnings go to stderr as "▲ [WARNING] ..." lines (exit 0); an error is one
"FILE:LINE: message" on stderr and exit status 1. Nothing here imports more than it needs:
the host waits for this process before the first request (bench/startup).
"""
from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import wr_read  # noqa: E402


def parse_args(argv: list[str]) -> dict:
    a = {"configs": [], "env": None, "vars": {}, "address": "127.0.0.1:8787", "https": False}
    it = iter(argv)
    for arg in it:
        if arg in ("-c", "--config"):
            a["configs"].append(next(it))
        elif arg in ("-e", "--env"):
            a["env"] = next(it)
        elif arg == "--var":
            kv = next(it)
            if ":" not in kv:
                raise ValueError(f"--var {kv}: expected KEY:VALUE")
            key, value = kv.split(":", 1)
            a["vars"][key] = value
        elif arg == "--address":
            a["address"] = next(it)
        elif arg == "--https":
            a["https"] = True
        else:
            raise ValueError(f"{arg}: unknown argument")
    return a


def project(a: dict, warnings: list[str]):
    import wr_map
    if not a["configs"]:
        found = wr_read.find(".")
        if not found:
            raise ValueError("no wrangler.toml, wrangler.json or wrangler.jsonc in "
                             f"{os.getcwd()} (give one with -c/--config)")
        a["configs"] = [found]
    keypair = None
    if a["https"]:
        import wr_cert
        keypair = wr_cert.keypair(os.path.dirname(os.path.abspath(a["configs"][0])))
    return wr_map.build(a["configs"], a["env"], a["vars"], a["address"], keypair, warnings)


def cmd_load(a: dict, warnings: list[str]) -> str:
    import wr_capnp
    p = project(a, warnings)
    out = {"config": wr_capnp.to_json(p.config), "source": a["configs"][0], "dir": p.dir,
           "name": p.name, "inputs": p.inputs, "bindings": p.banner}
    return json.dumps(out)


def cmd_config(a: dict, warnings: list[str]) -> str:
    import wr_capnp
    p = project(a, warnings)
    header = (f"# workerd config of {a['configs'][0]}"
              f"{' (env ' + a['env'] + ')' if a['env'] else ''}, written by `pyworkerd config`.\n"
              f"# Save it in the project directory and run from there:\n"
              f"#   pyworkerd serve config.capnp --persist-dir .wrangler/state\n")
    return wr_capnp.render(p.config, p.dir, header)


def main(argv: list[str]) -> int:
    warnings: list[str] = []
    try:
        if argv[:1] == ["init"] and len(argv) == 2:
            import wr_init
            sys.stdout.write(wr_init.init(argv[1]))
            return 0
        if argv[:1] == ["d1"]:
            import wr_d1
            text = wr_d1.main(argv[1:], warnings)
            for w in warnings:
                sys.stderr.write(f"\u25b2 [WARNING] {w}\n")
            sys.stdout.write(text)
            return 0
        if not argv or argv[0] not in ("load", "config"):
            raise ValueError("usage: translate.py load|config [options] | init NAME | d1 ...")
        text = (cmd_load if argv[0] == "load" else cmd_config)(parse_args(argv[1:]), warnings)
    except (wr_read.ConfigError, ValueError, OSError, StopIteration) as e:
        for w in warnings:
            sys.stderr.write(f"\u25b2 [WARNING] {w}\n")
        sys.stderr.write(f"{e or 'missing argument'}\n")
        return 1
    for w in warnings:
        sys.stderr.write(f"\u25b2 [WARNING] {w}\n")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
