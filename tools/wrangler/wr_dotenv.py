"""Local secrets: .dev.vars (or .dev.vars.<env>), else .env files, in dotenv syntax.

Run by the wrangler translator (a child of the host process). As wrangler: with `--env E`,
.dev.vars.E replaces .dev.vars; when no .dev.vars file exists, .env, .env.E, .env.local and
.env.E.local are read, a later one overriding an earlier one. Syntax (the dotenv package's):
`KEY=value` with an optional `export `, `#` comments (whole lines, or after an unquoted value
and a space), values trimmed; 'single' and `backtick` quotes are literal, "double" quotes take
\\n \\r \\t \\" \\\\ escapes; quoted values may span lines. An unterminated quote is an error
naming FILE:LINE; a line without `=` is a warning.
"""
from __future__ import annotations

import os
import re

from wr_read import ConfigError

_KEY = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def _double(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), raw)


def _quoted(text: str, i: int, path: str, line: int) -> tuple[str, int]:
    q = text[i]
    j = i + 1
    while j < len(text) and text[j] != q:
        j += 2 if (text[j] == "\\" and q == '"') else 1
    if j >= len(text):
        raise ConfigError(path, line, f"unterminated {q}quoted{q} value")
    raw = text[i + 1:j]
    return (_double(raw) if q == '"' else raw), j + 1


def parse(text: str, path: str, warnings: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    i, line = 0, 1
    while i < len(text):
        end = text.find("\n", i)
        end = len(text) if end < 0 else end
        row = text[i:end]
        start_line = line
        m = _KEY.match(row)
        if not row.strip() or row.lstrip().startswith("#"):
            pass
        elif not m:
            warnings.append(f"{path}:{line}: not KEY=VALUE: ignored")
        elif i + m.end() < len(text) and text[i + m.end()] in "'\"`":
            value, after = _quoted(text, i + m.end(), path, start_line)
            line += text.count("\n", i, after)
            values[m.group(1)] = value
            end = text.find("\n", after)
            end = len(text) if end < 0 else end
        else:
            value = row[m.end():]
            hash_at = value.find(" #")
            values[m.group(1)] = (value[:hash_at] if hash_at >= 0 else value).strip()
        i = end + 1
        line += 1
    return values


def dev_files(project: str, env: str | None) -> list[str]:
    """The files local secrets come from, lowest priority first."""
    if env and os.path.isfile(os.path.join(project, f".dev.vars.{env}")):
        return [os.path.join(project, f".dev.vars.{env}")]
    if os.path.isfile(os.path.join(project, ".dev.vars")):
        return [os.path.join(project, ".dev.vars")]
    names = [".env"] + ([f".env.{env}"] if env else []) + [".env.local"] + \
            ([f".env.{env}.local"] if env else [])
    return [p for p in (os.path.join(project, n) for n in names) if os.path.isfile(p)]


def candidates(project: str, env: str | None) -> list[str]:
    """Every file dev_files may pick, present or not: --watch reloads when one appears."""
    names = [".dev.vars", ".env", ".env.local"]
    if env:
        names += [f".dev.vars.{env}", f".env.{env}", f".env.{env}.local"]
    return [os.path.join(project, n) for n in names]


def load(project: str, env: str | None, warnings: list[str]) -> tuple[dict[str, str], list[str]]:
    """The secrets, and the files that may hold them (the --watch inputs)."""
    values: dict[str, str] = {}
    files = dev_files(project, env)
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(path, 0, f"cannot read: {e}")
        values.update(parse(text, os.path.relpath(path), warnings))
    return values, candidates(project, env)
