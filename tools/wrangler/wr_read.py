"""Finding and reading a wrangler file: wrangler.toml, wrangler.json or wrangler.jsonc.

Run by the wrangler translator (a child of the host process). TOML is read by Python 3.11's
tomllib (a maintained, spec-complete parser: Debian 12 packages no C TOML library), JSON and
JSONC by json after wr_jsonc.strip. Syntax errors become "FILE:LINE:COL: message"; the key
lines for later messages come from wr_lines.
"""
from __future__ import annotations

import json
import os
import re

import wr_jsonc
import wr_lines

NAMES = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")     # wrangler's order


class ConfigError(Exception):
    """A problem a person fixes in a file: printed as "FILE:LINE[:COL]: message"."""

    def __init__(self, path: str, line: int, message: str, col: int = 0) -> None:
        where = path + (f":{line}" if line else "") + (f":{col}" if line and col else "")
        super().__init__(f"{where}: {message}")


class Source:
    """One wrangler file: its path, its values and where each key is."""

    def __init__(self, path: str, data: dict, lines: wr_lines.LineMap) -> None:
        self.path = path
        self.data = data
        self.lines = lines
        self.dir = os.path.dirname(os.path.abspath(path))

    def error(self, key_path, message: str) -> ConfigError:
        return ConfigError(self.path, self.lines.line_of(tuple(key_path)), message)

    def where(self, key_path) -> str:
        line = self.lines.line_of(tuple(key_path))
        return f"{self.path}:{line}" if line else self.path


def find(directory: str = ".") -> str | None:
    """The wrangler file of `directory` (wrangler's order of preference), or None."""
    for name in NAMES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path if directory != "." else name
    return None


def _toml(path: str, text: str) -> Source:
    import tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column (\d+)\)$", msg)
        if m:
            raise ConfigError(path, int(m.group(1)), msg[:m.start()].strip(), int(m.group(2)))
        m = re.search(r"\(at end of document\)$", msg)
        raise ConfigError(path, text.count("\n") + 1 if m else 0, msg)
    return Source(path, data, wr_lines.toml_lines(text))


def _json(path: str, text: str) -> Source:
    plain = wr_jsonc.strip(text)
    try:
        data = json.loads(plain)
    except json.JSONDecodeError as e:
        raise ConfigError(path, e.lineno, e.msg, e.colno)
    if not isinstance(data, dict):
        raise ConfigError(path, 1, "the configuration must be a JSON object")
    return Source(path, data, wr_lines.json_lines(plain))


def read(path: str) -> Source:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(path, 0, "No such file.")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, 0, f"cannot read: {e}")
    return _toml(path, text) if path.endswith(".toml") else _json(path, text)
