"""JSONC (wrangler.jsonc, wrangler.json): JSON with // and /* */ comments and trailing commas.

Run by the wrangler translator (a child of the host process). `strip` blanks comments and
trailing commas out with spaces, keeping every newline, so that the result has the original's
lines and columns: json's error positions and wr_lines' key lines stay right.
"""
from __future__ import annotations


def _blank(s: str) -> str:
    return "".join("\n" if c == "\n" else " " for c in s)


def _strip_comments(text: str) -> str:
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] not in '"\n':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(_blank(text[i:j]))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(_blank(text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _strip_trailing_commas(text: str) -> str:
    chars, i, n = list(text), 0, len(text)
    while i < n:
        c = chars[i]
        if c == '"':
            i += 1
            while i < n and chars[i] not in '"\n':
                i += 2 if chars[i] == "\\" else 1
        elif c == ",":
            j = i + 1
            while j < n and chars[j] in " \t\r\n":
                j += 1
            if j < n and chars[j] in "]}":
                chars[i] = " "
        i += 1
    return "".join(chars)


def strip(text: str) -> str:
    """The JSON text of a JSONC text, with the same lines and columns."""
    return _strip_trailing_commas(_strip_comments(text))
