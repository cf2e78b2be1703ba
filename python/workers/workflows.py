# The `workers.workflows` submodule (template and isolates): the public names of Cloudflare's
# Workflows SDK for Python (implemented by pyworkerd.workflow_run and, for the binding,
# pyworkerd.workflows), and the seed document's form of a workflow: `class MyWorkflow(Workflow)`
# whose `@step` methods are durable steps.
"""Workflows: `NonRetryableError`, the types of run()'s `event` and `step`, and `Workflow`."""

from __future__ import annotations

from typing import Any

from pyworkerd.workflow_run import NonRetryableError, WorkflowEvent, WorkflowStep, step_method
from pyworkerd.workflows import WorkflowBinding, WorkflowInstance
from workers import WorkflowEntrypoint

__all__ = ["NonRetryableError", "Step", "Workflow", "WorkflowBinding", "WorkflowEntrypoint",
           "WorkflowEvent", "WorkflowInstance", "WorkflowStep", "step"]

Step = WorkflowStep
"""The type of run()'s `step` argument (the seed imports it as `Step`)."""

step = step_method
"""`@step` over a method of a `Workflow` class: each call is a durable step."""


class _WorkflowClass(type):
    """Lets a `Workflow` class body use `@step` without importing it (as the seed's example
    does): the class body starts with `step` defined, and the name is removed afterwards."""

    @classmethod
    def __prepare__(mcls, name: str, bases: tuple[type, ...], **kwargs: Any) -> dict[str, Any]:
        return {"step": step_method}

    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> type:
        if namespace.get("step") is step_method:
            del namespace["step"]
        return super().__new__(mcls, name, bases, namespace, **kwargs)


class Workflow(WorkflowEntrypoint, metaclass=_WorkflowClass):
    """The seed's workflow class: `@step` methods are durable steps. Bound like any
    WorkflowEntrypoint (a workflows `wrapped` binding naming the class). A class that defines
    no run() of its own runs its `@step` methods in the order it defines them (a base class's
    first), each with the previous one's result, the first with the event's payload; the last
    result is the instance's output."""

    async def run(self, event: Any, step: Any) -> Any:
        value = event["payload"]
        for name in _step_names(type(self)):
            value = await getattr(self, name)(value)
        return value


def _step_names(cls: type) -> list[str]:
    """The names of a class's @step methods, in definition order, base classes first."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if getattr(value, "__workflow_step__", False) and name not in names:
                names.append(name)
    return names
