# The `workers.workflows` submodule (template and isolates): the public names of Cloudflare's
# Workflows SDK for Python; the implementation is pyworkerd.workflows.
"""Workflows: `NonRetryableError`, and the types of run()'s `event` and `step`."""

from pyworkerd.workflows import (NonRetryableError, Workflow, WorkflowEvent, WorkflowInstance,
                                 WorkflowStep)
from workers import WorkflowEntrypoint

__all__ = ["NonRetryableError", "Workflow", "WorkflowEntrypoint", "WorkflowEvent",
           "WorkflowInstance", "WorkflowStep"]
