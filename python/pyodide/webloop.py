# pyodide.webloop for Workers written for Pyodide: under pyworkerd the event loop is asyncio's
# own (the isolate's loop, see pyworkerd/loop.py), so Pyodide's names are asyncio's classes.
# Imported on demand by user code, in the template or an isolate.
"""Pyodide's event loop names, as asyncio's classes (pyworkerd runs asyncio's own loop)."""

import asyncio

__all__ = ["PyodideFuture", "PyodideTask", "WebLoop", "WebLoopPolicy"]

WebLoop = asyncio.AbstractEventLoop
"""The event loop class, as Pyodide's WebLoop an AbstractEventLoop: the isolate's loop (an asyncio
selector loop) and the views of it that code sees from a nested loop (pyworkerd/nested_loops.py)
are both instances."""
WebLoopPolicy = asyncio.DefaultEventLoopPolicy
PyodideFuture = asyncio.Future
PyodideTask = asyncio.Task
