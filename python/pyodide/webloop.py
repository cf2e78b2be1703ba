# pyodide.webloop for Workers written for Pyodide: under pyworkerd the event loop is asyncio's
# own (the isolate's loop, see pyworkerd/loop.py), so Pyodide's names are asyncio's classes.
# Imported on demand by user code, in the template or an isolate.
"""Pyodide's event loop names, as asyncio's classes (pyworkerd runs asyncio's own loop)."""

import asyncio

__all__ = ["PyodideFuture", "PyodideTask", "WebLoop", "WebLoopPolicy"]

WebLoop = asyncio.BaseEventLoop
"""The event loop class (the isolate's loop is an asyncio selector loop)."""
WebLoopPolicy = asyncio.DefaultEventLoopPolicy
PyodideFuture = asyncio.Future
PyodideTask = asyncio.Task
