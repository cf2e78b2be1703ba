# pyworkerd's private Python package: the contract with the C side (`runtime`), the
# Fetch-standard objects shared by the public SDK modules (`webapi`) and the tagged
# logger (`log`). Imported in the worker template; its state is inherited by every
# isolate forked from it. Workers import `workers`, `js` and `pyodide`, never this.
