# The Workflow binding on the Python side (template and isolates): `env.MY_WORKFLOW` (create,
# get) and an instance's handle (status, pause, resume, terminate, restart, send_event), each a
# "wf.*" binding call to the host's engine (src/host/workflows.c). What runs inside an instance
# (the event, steps, retries) is pyworkerd/workflow_run.py. Imported only by workers that have
# a workflow binding (runtime.make_env) or use workers.workflows.
"""Cloudflare Workflows for Python Workers: the binding and an instance's handle."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from pyworkerd import rpc
from pyworkerd.bindings import python_from_rpc, python_to_rpc


class WorkflowInstance:
    """One instance of a workflow: `id`, and async `status()`, `pause()`, `resume()`,
    `terminate()`, `restart()`, `send_event()`."""

    __slots__ = ("_binding", "id")

    def __init__(self, binding: str, instance_id: str) -> None:
        self._binding = binding
        self.id = instance_id

    def _op(self, op: str) -> Any:
        return rpc.call(lambda fields: None, op, self._binding, self.id)

    def status(self) -> Any:
        """{"status": queued|running|waiting|paused|complete|errored|terminated, "output"?,
        "error"?: {"name", "message"}}."""
        return rpc.call(lambda fields: python_from_rpc(fields[1]), "wf.status", self._binding, self.id)

    def pause(self) -> Any:
        return self._op("wf.pause")

    def resume(self) -> Any:
        return self._op("wf.resume")

    def terminate(self) -> Any:
        return self._op("wf.terminate")

    def restart(self) -> Any:
        """Run the instance again from the top, its saved steps forgotten."""
        return self._op("wf.restart")

    def send_event(self, event: Any = None, /, **kwargs: Any) -> Any:
        """Send {"type": ..., "payload": ...} to the instance's wait_for_event(type)."""
        opts = {**(event or {}), **kwargs}
        kind = opts.get("type")
        if not isinstance(kind, str) or not kind:
            raise TypeError('send_event() needs {"type": text, "payload": ...}')
        return rpc.call(lambda fields: None, "wf.event", self._binding, self.id, kind,
                        python_to_rpc(opts.get("payload")))

    sendEvent = send_event

    def __repr__(self) -> str:
        return f"WorkflowInstance({self.id!r})"


class WorkflowBinding:
    """A Workflow binding: `await env.MY_WORKFLOW.create(id=..., params=...)` (or
    `create({"id": ..., "params": ...})`), `await env.MY_WORKFLOW.get(id)`."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def create(self, options: Any = None, /, **kwargs: Any) -> Any:
        """A new instance (id: yours, or a random UUID) running with `params` as its payload."""
        if options is not None and not isinstance(options, dict):
            raise TypeError("create() takes a dict {\"id\", \"params\"} or keywords id=, params=")
        opts = {**(options or {}), **kwargs}
        instance_id = opts.get("id") or ""
        if not isinstance(instance_id, str):
            raise TypeError("A workflow instance id must be a string")
        params = python_to_rpc(opts.get("params"))
        name = self._name
        return rpc.call(lambda fields: WorkflowInstance(name, fields[1].decode()), "wf.create",
                        name, instance_id, params)

    def create_batch(self, batch: list[Any]) -> Any:
        """Several instances at once; awaitable in async code."""
        calls = [self.create(options) for options in batch]
        if calls and inspect.isawaitable(calls[0]):
            return asyncio.gather(*calls)
        return calls

    createBatch = create_batch

    def get(self, instance_id: str) -> Any:
        """The instance `instance_id` (an error when it does not exist)."""
        name = self._name
        return rpc.call(lambda fields: WorkflowInstance(name, fields[1].decode()), "wf.get", name,
                        str(instance_id))

    def __repr__(self) -> str:
        return f"WorkflowBinding({self._name!r})"
