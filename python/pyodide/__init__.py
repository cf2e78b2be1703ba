# The `pyodide` package as far as Python Workers use it: only `pyodide.ffi`, whose
# helpers are identities under pyworkerd (there is no JavaScript heap to cross into).
# Imported on demand by user code, in the template or an isolate.
"""Compatibility shim for Workers written for Pyodide; see `pyodide.ffi`."""
