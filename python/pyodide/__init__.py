# The `pyodide` package as far as Python Workers use it: `pyodide.__version__`, `pyodide.ffi`
# (the FFI, mostly identities under native CPython), `pyodide.http` (pyfetch) and
# `pyodide.webloop` (the event loop's names). Imported on demand by user code and by
# Cloudflare's SDK, in the template or an isolate.
"""Compatibility shim for Workers written for Pyodide: __version__, ffi, http, webloop."""

__version__ = "0.27.7"
"""The Pyodide release whose Python API pyworkerd offers: the one of Python Workers'
python_workers_20250116 runtime (pyworkerd itself runs CPython 3.11)."""
