# `import _cloudflare_compat_flags`, as workerd offers it to Python Workers: one attribute per
# compatibility flag workerd knows, by its enable name, True when the flag is on for this
# Worker (given, or implied by its compatibility date; a disable flag given turns it off).
# Cloudflare's SDK reads it (`getattr(_cloudflare_compat_flags, flag, False)`). The host
# resolves the flags from its table (src/config/compat_flags.c) into the spec; runtime.load
# puts them in pyworkerd.context before the Worker's modules are imported. A public face of
# the SDK; imported in the template (or an isolate), read anywhere.
"""The Worker's compatibility flags: `_cloudflare_compat_flags.<flag>` is True when it is on."""

from __future__ import annotations

from pyworkerd import context


def __getattr__(name: str) -> bool:
    try:
        return context.compat_flags[name]
    except KeyError:
        raise AttributeError(f"module '_cloudflare_compat_flags' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(context.compat_flags)
