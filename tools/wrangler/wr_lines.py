"""Where each key of a wrangler file is: a map from key paths to 1-based line numbers.

Run by the wrangler translator (tools/wrangler/translate.py), a child of the host process
(`pyworkerd dev`, `serve wrangler.toml`, `config`), before anything else. tomllib and json give
values without positions, so these scanners read the text again and note the line on which
each key (a TOML `key =` or table header, a JSON `"key":`) and each array element starts.
A path is a tuple of keys and indexes: ("env", "staging", "kv_namespaces", 0, "binding").
Invariant: a scanner never raises on text the real parser accepted; where it cannot tell,
`line_of` falls back to the nearest enclosing key's line.
"""
from __future__ import annotations

Path = tuple


class LineMap:
    """Key path -> line; `line_of` answers for a path or its nearest ancestor."""

    def __init__(self) -> None:
        self.lines: dict[Path, int] = {}

    def note(self, path: Path, line: int) -> None:
        self.lines.setdefault(path, line)

    def line_of(self, path: Path) -> int:
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return 0


# ---- JSON (after jsonc.strip: comments are blanks, so offsets and lines are the original's) ----

def json_lines(text: str) -> LineMap:
    m = LineMap()
    stack: list[list] = []      # frames: [kind, path, index or pending key]
    i, line, n = 0, 1, len(text)
    expect_key = False

    def value_starts(at_line: int) -> None:
        if stack and stack[-1][0] == "arr":
            m.note(stack[-1][1] + (stack[-1][2],), at_line)

    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            s = text[i + 1:j]
            if stack and stack[-1][0] == "obj" and expect_key:
                key = _json_unescape(s)
                stack[-1][2] = key
                m.note(stack[-1][1] + (key,), line)
                expect_key = False
            else:
                value_starts(line)
            i = j
        elif c in "{[":
            value_starts(line)
            if stack and stack[-1][0] == "obj":
                path = stack[-1][1] + (stack[-1][2],)
            elif stack:
                path = stack[-1][1] + (stack[-1][2],)
            else:
                path = ()
            stack.append(["obj" if c == "{" else "arr", path, 0 if c == "[" else None])
            expect_key = c == "{"
        elif c in "}]":
            if stack:
                stack.pop()
        elif c == ",":
            if stack and stack[-1][0] == "arr":
                stack[-1][2] += 1
            else:
                expect_key = True
        elif not c.isspace() and c != ":":
            value_starts(line)
            while i + 1 < n and text[i + 1] not in ",]}\n \t\r":
                i += 1
        i += 1
    return m


def _json_unescape(s: str) -> str:
    import json
    try:
        return json.loads('"' + s + '"')
    except ValueError:
        return s


# ---- TOML ----------------------------------------------------------------------------------

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Toml:
    def __init__(self, text: str) -> None:
        self.t = text
        self.i = 0
        self.line = 1
        self.m = LineMap()
        self.aot: dict[Path, int] = {}      # array-of-tables path -> elements so far

    def peek(self) -> str:
        return self.t[self.i] if self.i < len(self.t) else ""

    def skip_blank(self, newlines: bool) -> None:
        while self.i < len(self.t):
            c = self.t[self.i]
            if c == "#":
                while self.i < len(self.t) and self.t[self.i] != "\n":
                    self.i += 1
            elif c == "\n" and newlines:
                self.line += 1
                self.i += 1
            elif c in " \t\r":
                self.i += 1
            else:
                return

    def string(self) -> str:
        t, q = self.t, self.t[self.i]
        triple = t.startswith(q * 3, self.i)
        end = q * 3 if triple else q
        j = self.i + len(end)
        out_start = j
        while j < len(t) and not t.startswith(end, j):
            if t[j] == "\\" and q == '"':
                j += 1
            elif t[j] == "\n":
                self.line += 1
            j += 1
        s = t[out_start:j]
        self.i = j + len(end)
        while triple and self.i < len(t) and t[self.i] == q:   # """a"""" ends at the last quotes
            self.i += 1
        return s

    def key(self) -> Path:
        parts = []
        while True:
            self.skip_blank(False)
            c = self.peek()
            if c in "\"'":
                parts.append(_json_unescape(self.string()) if c == '"' else self.string())
            else:
                j = self.i
                while j < len(self.t) and self.t[j] in _BARE:
                    j += 1
                parts.append(self.t[self.i:j])
                self.i = j
            self.skip_blank(False)
            if self.peek() != ".":
                return tuple(parts)
            self.i += 1

    def expand(self, path: Path) -> Path:
        """A header's path with the current index after each array-of-tables prefix."""
        out: Path = ()
        for part in path:
            out += (part,)
            if out in self.aot:
                out += (self.aot[out] - 1,)
        return out

    def value(self, path: Path) -> None:
        self.skip_blank(False)
        c = self.peek()
        if c in "\"'":
            self.string()
        elif c == "[":
            self.i += 1
            index = 0
            while True:
                self.skip_blank(True)
                c = self.peek()
                if c in ("]", ""):
                    self.i += 1
                    return
                if c == ",":
                    self.i += 1
                    index += 1
                    continue
                self.m.note(path + (index,), self.line)
                self.value(path + (index,))
        elif c == "{":
            self.i += 1
            while True:
                self.skip_blank(False)
                c = self.peek()
                if c in ("}", "", "\n"):
                    self.i += 1
                    return
                if c == ",":
                    self.i += 1
                    continue
                k = path + self.key()
                self.m.note(k, self.line)
                self.skip_blank(False)
                if self.peek() == "=":
                    self.i += 1
                self.value(k)
        else:
            while self.i < len(self.t) and self.t[self.i] not in ",]}\n#":
                self.i += 1

    def header(self) -> Path:
        aot = self.t.startswith("[[", self.i)
        self.i += 2 if aot else 1
        raw = self.key()
        self.i += 2 if aot else 1
        if aot:
            base = self.expand(raw[:-1]) + (raw[-1],)
            self.m.note(base, self.line)
            self.aot[base] = self.aot.get(base, 0) + 1
            path = base + (self.aot[base] - 1,)
        else:
            path = self.expand(raw)
        self.m.note(path, self.line)
        return path

    def run(self) -> LineMap:
        table: Path = ()
        while True:
            self.skip_blank(True)
            c = self.peek()
            if not c:
                return self.m
            if c == "[":
                table = self.header()
                continue
            k = table + self.key()
            self.m.note(k, self.line)
            self.skip_blank(False)
            if self.peek() != "=":          # not TOML we understand: skip the line
                while self.peek() not in ("\n", ""):
                    self.i += 1
                continue
            self.i += 1
            self.value(k)


def toml_lines(text: str) -> LineMap:
    try:
        return _Toml(text).run()
    except (IndexError, ValueError):
        return LineMap()
