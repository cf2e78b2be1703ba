# `from cloudflare.sockets import connect` (isolate process): the same connect() as
# import_from_javascript("cloudflare:sockets"), TCP through the host. A public face (layer 4).
"""TCP sockets: connect(address, options) -> Socket."""

from pyworkerd.cf_sockets import Socket, connect

__all__ = ["Socket", "connect"]
