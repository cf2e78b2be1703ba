# pyworkerd's private Python package, the SDK's machinery in layers, bottom to top (each
# module imports only from its own layer or lower ones; tests/python/test_layers.py holds the
# table): web API types (`webapi`, `response`, `errors`, `log`, `trace`, `entropy`) → binding
# calls (`rpc`, `bindings`, `workflows`, `packages`) → the process's context (`context`,
# `workflow_run`) → [the public faces `workers`, `js`, `asgi`, `micropip`, `pyodide`] → the
# isolate's driver, which the C side calls (`runtime`, `loop`, `test_handler`). Imported in
# the worker template; its state is inherited by every isolate forked from it. Workers
# import `workers`, `js` and `pyodide`, never this.
