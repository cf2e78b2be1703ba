# The consumer's side of pyworkerd.queues in-process: what a queue() handler's ack()/retry()/
# ackAll()/retryAll() record for the host, and workerd's warning, word for word, for each call
# that an earlier one makes ineffective (workerd's queue.c++ texts; tests/e2e/test_queues.py
# checks one of them through the real binary).
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

from pyworkerd.queues import QueueEventResult  # noqa: E402


def result_of(calls):
    result = QueueEventResult()
    for name, *args in calls:
        getattr(result, name)(*args)
    return json.loads(result.to_json("ok"))


def test_ack_and_retry_are_recorded_per_message(capfd):
    got = result_of([("ack", "a"), ("retry", "b", 5), ("retry", "c", None)])
    assert got == {"outcome": "ok", "ackAll": False, "retryBatch": {"retry": False},
                   "explicitAcks": ["a"],
                   "retryMessages": [{"msgId": "b", "delaySeconds": 5}, {"msgId": "c"}]}
    assert capfd.readouterr().err == ""


def test_each_ineffective_call_logs_workerds_warning_and_changes_nothing(capfd):
    cases = [
        ([("set_retry_all", None), ("ack", "m")],
         "Received a call to ack() on message m after retryAll() was already called. "
         "Calling ack() on a message after calling retryAll() has no effect."),
        ([("retry", "m", None), ("ack", "m")],
         "Received a call to ack() on message m after retry() was already called. "
         "Calling ack() on a message after calling retry() has no effect."),
        ([("set_ack_all",), ("retry", "m", 3)],
         "Received a call to retry() on message m after ackAll() was already called. "
         "Calling retry() on a message after calling ackAll() has no effect."),
        ([("ack", "m"), ("retry", "m", 3)],
         "Received a call to retry() on message m after ack() was already called. "
         "Calling retry() on a message after calling ack() has no effect."),
        ([("set_retry_all", 7), ("set_ack_all",)],
         "Received a call to ackAll() after retryAll() was already called. "
         "Calling ackAll() after calling retryAll() has no effect."),
        ([("set_ack_all",), ("set_retry_all", 7)],
         "Received a call to retryAll() after ackAll() was already called. "
         "Calling retryAll() after calling ackAll() has no effect."),
    ]
    for calls, warning in cases:
        got = result_of(calls)
        assert capfd.readouterr().err == warning + "\n", calls
        assert got == result_of(calls[:1]), calls      # the second call changed nothing
        capfd.readouterr()


def test_a_message_call_of_the_batch_wide_kind_is_silent_and_not_recorded(capfd):
    acked = result_of([("set_ack_all",), ("ack", "m")])
    assert acked["ackAll"] is True and acked["explicitAcks"] == []
    retried = result_of([("set_retry_all", 2), ("retry", "m", 1)])
    assert retried["retryBatch"] == {"retry": True, "delaySeconds": 2} and retried["retryMessages"] == []
    assert capfd.readouterr().err == ""
