# The `cloudflare` package of Python Workers (isolate process): `cloudflare.sockets`.
"""Cloudflare's runtime modules for Python Workers."""
