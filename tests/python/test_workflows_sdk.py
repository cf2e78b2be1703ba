# Tests of the Workflows SDK (python/pyworkerd/workflow_run.py) in-process, against a fake host:
# rpc.call is replaced by a dict of saved steps and sleeps, so a run can be replayed the way
# the host replays it after a sleep or a restart. Durations, retries with backoff,
# NonRetryableError, implicit dependencies and ctx, suspension, the outcome answered to the host.
# Run: /usr/bin/python3.11 -m pytest tests/python
from __future__ import annotations

import asyncio
import datetime
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

from pyworkerd import rpc, workflow_run  # noqa: E402
from workers import WorkflowEntrypoint  # noqa: E402
from workers.workflows import NonRetryableError  # noqa: E402


class FakeHost:
    """The host's side of the step calls: saved results, and sleeps that end when `now` passes."""

    def __init__(self) -> None:
        self.steps: dict[str, bytes] = {}
        self.sleeps: dict[str, int] = {}
        self.now = 0

    def call(self, decode: Any, op: str, workflow: str, iid: str, key: str, *args: Any) -> Any:
        if op == "wf.step.get":
            fields = [b"found", self.steps[key]] if key in self.steps else [b"missing"]
        elif op == "wf.step.put":
            self.steps[key] = bytes(args[0])
            fields = [b"saved"]
        else:  # wf.sleep
            wake = self.sleeps.setdefault(key, self.now + int(args[1]))
            fields = [b"done" if self.now >= wake else b"suspend"]
        future = asyncio.get_running_loop().create_future()
        future.set_result(decode(fields))
        return future


@pytest.fixture
def host(monkeypatch):
    fake = FakeHost()
    monkeypatch.setattr(rpc, "call", fake.call)
    monkeypatch.setattr(asyncio, "sleep", _no_sleep)
    return fake


_real_sleep = asyncio.sleep
delays: list[float] = []


async def _no_sleep(seconds: float) -> None:
    delays.append(seconds)
    await _real_sleep(0)


def run(cls: type, payload: Any = None) -> dict[str, Any]:
    event = {"payload": payload, "timestamp": datetime.datetime(2026, 1, 2), "instanceId": "i1",
             "workflowName": "W"}
    return asyncio.run(cls(None, None).run(event))


def test_durations():
    d = workflow_run.duration_ms
    assert d(1500) == 1500 and d("10 seconds") == 10_000 and d("1 minute") == 60_000
    assert d("2 hours") == 7_200_000 and d("1 day") == 86_400_000 and d("250 milliseconds") == 250
    assert d(datetime.timedelta(seconds=3)) == 3000
    with pytest.raises(TypeError):
        d("soon")
    with pytest.raises(TypeError):
        d(True)


def test_steps_are_memoised_across_a_replay_after_a_sleep(host):
    ran = []

    class Flow(WorkflowEntrypoint):
        async def run(self, event, step):
            @step.do("one")
            async def one():
                ran.append("one")
                return {"n": event.payload["n"]}

            first = await one()
            await step.sleep("nap", "1 second")

            @step.do()
            def two(one, ctx):
                ran.append("two")
                return one["n"] + ctx["attempt"]

            return [first, await two(), event.instanceId, event.timestamp.year]

    assert run(Flow, {"n": 1}) == {"outcome": "suspended"}
    host.now = 1000
    assert run(Flow, {"n": 1}) == {"outcome": "complete", "output": [{"n": 1}, 2, "i1", 2026]}
    assert ran == ["one", "two"]
    assert set(host.steps) == {"one", "two"} and set(host.sleeps) == {"sleep:nap"}


def test_retries_back_off_then_the_error_is_the_outcome(host):
    attempts = []
    delays.clear()

    class Flow(WorkflowEntrypoint):
        async def run(self, event, step):
            @step.do("flaky", config={"retries": {"limit": 3, "delay": "1 second",
                                                  "backoff": event.payload}})
            async def flaky():
                attempts.append(1)
                raise ValueError("boom")

            return await flaky()

    out = run(Flow, "exponential")
    assert out == {"outcome": "errored", "error": {"name": "ValueError", "message": "boom"}}
    assert len(attempts) == 4 and delays == [1.0, 2.0, 4.0]
    delays.clear()
    run(Flow, "linear")
    assert delays == [1.0, 2.0, 3.0]


def test_non_retryable_error_fails_at_once_and_a_later_success_is_saved(host):
    calls = []

    class Flow(WorkflowEntrypoint):
        async def run(self, event, step):
            @step.do("s", config={"retries": {"limit": 5, "delay": 0}})
            def s():
                calls.append(1)
                if event.payload == "fatal":
                    raise NonRetryableError("no")
                if len(calls) < 3:
                    raise OSError("again")
                return "ok"

            return await s()

    assert run(Flow, "fatal")["error"] == {"name": "NonRetryableError", "message": "no"}
    assert len(calls) == 1
    calls.clear()
    assert run(Flow, "retry") == {"outcome": "complete", "output": "ok"}
    assert len(calls) == 3 and host.steps["s"] == b'"ok"'


def test_same_step_name_twice_gets_its_own_key_and_bad_parameters_are_errors(host):
    class Flow(WorkflowEntrypoint):
        async def run(self, event, step):
            out = []
            for i in range(2):
                value = i

                @step.do("loop")
                async def loop():
                    return value
                out.append(await loop())
            if event.payload == "bad":
                @step.do("bad")
                async def bad(nothing):
                    return 1
                await bad()
            return out

    assert run(Flow) == {"outcome": "complete", "output": [0, 1]}
    assert {"loop", "loop#2"} <= set(host.steps)
    out = run(Flow, "bad")
    assert out["outcome"] == "errored" and out["error"]["name"] == "TypeError"
    assert "unexpected parameter nothing" in out["error"]["message"]


def test_user_code_cannot_swallow_a_suspension(host):
    class Flow(WorkflowEntrypoint):
        async def run(self, event, step):
            try:
                await step.sleep("nap", 5000)
            except Exception:
                return "swallowed"
            return "woke"

    assert run(Flow) == {"outcome": "suspended"}


def test_run_called_with_a_step_is_the_users_own_call():
    class Flow(WorkflowEntrypoint):
        async def run(self, event, step):
            return (event, step)

    assert asyncio.run(Flow(None, None).run({"instanceId": "x"}, "my-step")) == ({"instanceId": "x"}, "my-step")


def test_an_attempt_longer_than_the_step_timeout_fails_and_is_retried(host):
    attempts = []

    class Flow(WorkflowEntrypoint):
        async def run(self, event, step):
            @step.do("slow", config={"timeout": 50, "retries": {"limit": 1, "delay": 0}})
            async def slow():
                attempts.append(1)
                await _real_sleep(10 if len(attempts) == 1 else 0)
                return "done"

            return await slow()

    assert run(Flow) == {"outcome": "complete", "output": "done"}
    assert len(attempts) == 2


def test_seed_workflow_class_form():
    """`class W(Workflow)` may use `@step` unimported (the seed's example); the name does not
    stay on the class; a step method called outside a run says so; steps keep their order."""
    from workers.workflows import Workflow, _step_names

    class Base(Workflow):
        @step
        async def first(self, data):
            return data

    class Seed(Base):
        @step
        async def second(self, data):
            return data

        @step
        async def third(self, data):
            return data

    assert "step" not in vars(Seed) and "step" not in vars(Base)
    assert _step_names(Seed) == ["first", "second", "third"]
    with pytest.raises(RuntimeError, match="workflow step"):
        asyncio.run(Seed(None, None).first(1))
