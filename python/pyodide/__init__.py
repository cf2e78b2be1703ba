# The `pyodide` package as far as Python Workers use it: only `pyodide.ffi`, whose
# helpers are identities under pyworkerd (there is no JavaScript heap to cross into).
# Imported on demand by user code, in the template or an isolate.
"""Compatibility shim for Workers written for Pyodide; see `pyodide.ffi`."""

__version__ = "0.28.2"
"""The Pyodide release whose API this shim follows (workers check it to pick code paths)."""
