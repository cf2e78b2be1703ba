"""Queues end to end: a worker sends through its `queue = "NAME"` binding (send, sendBatch,
every content type and option, Cloudflare's limits and errors) and consumes the same queue
in its queue(self, batch, env, ctx) handler, which prints each batch it gets as a JSON line
of the log. Also: batching by size and timeout, max_concurrency, retries (a raising
handler, retry(), retryAll(), an isolate that dies) with delays and attempts, the
dead-letter queue and dropped messages (these also on PostgreSQL, --storage), ackAll()/ack(), the legacy top-level on_queue, a
service binding's queue() (workerd's Fetcher.queue), and 10,000 messages sent in batches of
100 each consumed at least once across a kill -9 of the server in the middle."""

import json
import signal
import time

import pytest

from conftest import REPO, Server, kv_worker_config, wait_for

WORKER = '''
import asyncio, datetime, json, os
from urllib.parse import urlparse, parse_qs
from workers import Response, WorkerEntrypoint

TYPED = [
    ({"a": [1, 2.5, None, True], "s": "é"}, None),
    ("plain text", "text"),
    (b"\\x00\\x01\\xff", "bytes"),
    ({"when": datetime.datetime(2024, 5, 6, 7, 8, 9), "raw": b"xyz", "n": [1, {"d": 2}]}, "v8"),
    ([1, "two"], "json"),
]


def describe(body):
    if isinstance(body, (bytes, bytearray)):
        return {"bytes": body.hex()}
    if isinstance(body, datetime.datetime):
        return {"date": body.isoformat()}
    if isinstance(body, dict):
        return {k: describe(v) for k, v in body.items()}
    if isinstance(body, list):
        return [describe(v) for v in body]
    return body


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            if url.path == "/send":
                spec = json.loads(await request.text())
                if spec.get("batch"):
                    await self.env.JOBS.sendBatch(spec["messages"], **spec.get("options", {}))
                else:
                    await self.env.JOBS.send(spec["body"], **spec.get("options", {}))
                return Response("ok")
            if url.path == "/send-typed":
                for body, kind in TYPED:
                    opts = {"contentType": kind} if kind else {}
                    await self.env.JOBS.send(body, **opts)
                return Response("ok")
            if url.path == "/send-many":
                start, n = int(q["start"]), int(q["n"])
                await self.env.JOBS.sendBatch([{"body": {"n": i, "record": 1}}
                                               for i in range(start, start + n)])
                return Response("ok")
            if url.path == "/seen":
                seen, cursor = [], None
                while True:
                    page = await self.env.KV.list({"prefix": "b:", "cursor": cursor})
                    for key in page["keys"]:
                        seen += json.loads(await self.env.KV.get(key["name"]))
                    if page["list_complete"]:
                        return Response.json(seen)
                    cursor = page["cursor"]
            if url.path == "/fetcher-queue":
                stamp = datetime.datetime(2025, 1, 2, 3, 4, 5)
                result = await self.env.SELF.queue("jobs", [
                    {"id": "m0", "timestamp": stamp, "body": {"ack": True}, "attempts": 2},
                    {"id": "m1", "timestamp": stamp, "body": {"retry": 7}, "attempts": 1},
                    {"id": "m2", "timestamp": stamp, "body": "x", "attempts": 1},
                ])
                return Response.json(result)
        except Exception as exc:
            return Response.json({"exception": type(exc).__name__, "message": str(exc)}, status=500)
        return Response("not found", status=404)

    async def queue(self, batch, env, ctx):
        record = {"queue": batch.queue, "messages": [
            {"id": m.id, "attempts": m.attempts, "body": describe(m.body),
             "type": type(m.body).__name__, "ts": m.timestamp.isoformat()} for m in batch.messages]}
        print("BATCH " + json.dumps(record))
        fail = False
        for m in batch.messages:
            body = m.body if isinstance(m.body, dict) else {}
            if body.get("sleep"):
                await asyncio.sleep(body["sleep"])
            if m.attempts <= body.get("exit", 0):
                os._exit(3)
            if body.get("ack"):
                m.ack()
            if "retry" in body and m.attempts == 1:
                m.retry(delaySeconds=body["retry"]) if body["retry"] is not True else m.retry()
            if body.get("ackAll"):
                batch.ackAll()
            if "retryAll" in body:
                batch.retryAll(delaySeconds=body["retryAll"])
            if m.attempts <= body.get("fail", 0):
                fail = True
            if "record" in body:
                await env.KV.put("b:" + m.id, json.dumps([b["n"] for b in
                                 (x.body for x in batch.messages)]))
                break
        print("DONE " + json.dumps([m.id for m in batch.messages]))
        if fail:
            raise RuntimeError("consumer failed on purpose")
'''


def start_app(tmp_path, storage=()):
    """start(consumer="maxBatchTimeout = 0", date=...) -> a running server; same state."""
    servers = []

    def start(consumer="maxBatchTimeout = 0", date="2025-11-15", worker=WORKER, args=()):
        (tmp_path / "worker.py").write_text(worker)
        config = tmp_path / "config.capnp"
        config.write_text(kv_worker_config(
            date=date, bindings='(name = "JOBS", queue = "jobs"), (name = "SELF", service = "main")',
            fields=f'pyworkerd = (queueConsumers = [(queue = "jobs", {consumer}), '
                   '(queue = "jobs-dlq", maxBatchTimeout = 0)])'))
        s = Server(config, args=["--persist-dir", str(tmp_path / "state"), *storage, *args], tmp=tmp_path)
        servers.append(s)
        return s

    return start, servers


@pytest.fixture
def app(tmp_path):
    """Queues on SQLite (--persist-dir)."""
    start, servers = start_app(tmp_path)
    yield start
    for s in servers:
        s.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def app_any(request, tmp_path):
    """app, on each store in turn: SQLite, and PostgreSQL (--storage; conftest's server)."""
    storage = ("--storage", request.getfixturevalue("pg_url")) if request.param == "postgres" else ()
    start, servers = start_app(tmp_path, storage)
    yield start
    for s in servers:
        s.stop()


def send(server, body=None, batch=None, **options):
    spec = {"batch": True, "messages": batch} if batch is not None else {"body": body}
    spec["options"] = options
    status, _, out = server.request("POST", "/send", body=json.dumps(spec))
    return status, (out.decode() if status == 200 else json.loads(out))


def batches(server):
    """Every BATCH line of the log so far, in order."""
    return [json.loads(line.split("BATCH ", 1)[1]) for line in server.log().splitlines()
            if "BATCH " in line]


def messages(server, queue="jobs"):
    return [m for b in batches(server) if b["queue"] == queue for m in b["messages"]]


def wait_messages(server, n, queue="jobs", timeout=10.0):
    wait_for(lambda: len(messages(server, queue)) >= n, timeout, server=server)
    return messages(server, queue)


# ---------------------------------------------------------------- producing


def test_every_content_type_round_trips(app_any):
    s = app_any()
    assert s.get("/send-typed")[0] == 200
    got = wait_messages(s, 5)
    by_type = [(m["type"], m["body"]) for m in got]
    assert ("JsDict", {"a": [1, 2.5, None, True], "s": "é"}) in by_type       # default: json
    assert ("str", "plain text") in by_type
    assert ("bytes", {"bytes": "0001ff"}) in by_type
    assert ("JsDict", {"when": {"date": "2024-05-06T07:08:09"}, "raw": {"bytes": "78797a"},
                       "n": [1, {"d": 2}]}) in by_type                          # v8
    assert ("list", [1, "two"]) in by_type
    for m in got:
        assert len(m["id"]) == 32 and int(m["id"], 16) >= 0
        assert m["attempts"] == 1
        assert abs(time.time() - time.mktime(time.strptime(m["ts"][:19], "%Y-%m-%dT%H:%M:%S"))
                   + time.timezone) < 60   # a UTC datetime of the send
    assert len({m["id"] for m in got}) == 5


def test_old_compatibility_dates_send_structured_clones_by_default(app):
    s = app(date="2024-01-01")
    assert send(s, {"x": 1}) == (200, "ok")
    assert wait_messages(s, 1)[0]["type"] == "JsDict"   # v8: tagged JSON, decoded the same


def test_send_batch_and_per_message_options(app_any):
    s = app_any()
    status, out = send(s, batch=[{"body": "a", "contentType": "text"},
                                 {"body": {"n": 2}},
                                 {"body": "late", "contentType": "text", "delaySeconds": 1}])
    assert (status, out) == (200, "ok")
    sent = time.monotonic()
    got = wait_messages(s, 3, timeout=5)
    assert [m["body"] for m in got[:2]] == ["a", {"n": 2}]
    assert got[2]["body"] == "late" and time.monotonic() - sent > 0.8


def test_delay_seconds_option_delays_delivery(app_any):
    s = app_any()
    started = time.monotonic()
    assert send(s, {"n": 1}, delaySeconds=1) == (200, "ok")
    assert send(s, batch=[{"body": {"n": 2}}], delaySeconds=1) == (200, "ok")
    time.sleep(0.5)
    assert messages(s) == []
    wait_messages(s, 2, timeout=5)
    assert time.monotonic() - started >= 1.0


@pytest.mark.parametrize("spec, exception, message", [
    ({"body": "x" * 128001, "options": {"contentType": "text"}}, "JsException",
     "Queue send failed: message length of 128001 bytes exceeds limit of 128000"),
    ({"batch": True, "messages": [{"body": i} for i in range(101)]}, "JsException",
     "Queue sendBatch failed: batch message count of 101 exceeds limit of 100"),
    ({"batch": True, "messages": [{"body": "x" * 100000, "contentType": "text"}] * 3},
     "JsException", "Queue sendBatch failed: batch size of 300000 bytes exceeds limit of 256000"),
    ({"batch": True, "messages": [{"body": "x" * 130000, "contentType": "text"}]}, "JsException",
     "message in batch has length 130000 bytes which exceeds single message size limit of 128000"),
    ({"batch": True, "messages": []}, "TypeError", "sendBatch() requires at least one message"),
    ({"batch": True, "messages": [{"contentType": "text"}]}, "TypeError",
     "Message body cannot be undefined"),
    ({"body": 1, "options": {"contentType": "xml"}}, "TypeError",
     "Unsupported queue message content type: xml"),
    ({"body": 5, "options": {"contentType": "text"}}, "TypeError",
     'Content Type "text" requires a value of type string, but received: number'),
    ({"body": "s", "options": {"contentType": "bytes"}}, "TypeError",
     'Content Type "bytes" requires a value of type ArrayBufferView, but received: string'),
    ({"body": 1, "options": {"delaySeconds": 86401}}, "JsException",
     "Queue send failed: message delay of 86401 seconds exceeds limit of 86400"),
    ({"body": 1, "options": {"delaySeconds": -1}}, "TypeError", "delaySeconds must not be negative"),
    ({"body": 1, "options": {"delaySeconds": "soon"}}, "TypeError", "delaySeconds must be a number"),
])
def test_limits_and_bad_messages_are_refused_in_cloudflares_words(app, spec, exception, message):
    s = app()
    status, _, out = s.request("POST", "/send", body=json.dumps(spec))
    body = json.loads(out)
    assert status == 500 and body["exception"] == exception and message in body["message"], body
    time.sleep(0.2)
    assert messages(s) == []        # nothing of a refused send is stored


def test_content_type_names_are_case_insensitive(app):
    s = app()
    assert send(s, "x", contentType="TEXT") == (200, "ok")
    assert wait_messages(s, 1)[0]["body"] == "x"


# ---------------------------------------------------------------- batching


def test_batches_fill_to_max_batch_size_then_wait_for_the_timeout(app_any):
    s = app_any("maxBatchSize = 5, maxBatchTimeout = 1")
    assert send(s, batch=[{"body": {"n": i}} for i in range(12)]) == (200, "ok")
    sent = time.monotonic()
    wait_for(lambda: len(batches(s)) >= 2, server=s)
    full = batches(s)
    assert [len(b["messages"]) for b in full[:2]] == [5, 5]
    assert time.monotonic() - sent < 0.9       # full batches go at once
    wait_messages(s, 12, timeout=5)
    assert [len(b["messages"]) for b in batches(s)] == [5, 5, 2]
    assert time.monotonic() - sent >= 0.9      # the partial one after max_batch_timeout
    assert [m["body"]["n"] for m in messages(s)] == list(range(12))


def test_max_concurrency_one_delivers_one_batch_at_a_time(app):
    s = app("maxBatchSize = 1, maxConcurrency = 1, maxBatchTimeout = 0")
    assert send(s, batch=[{"body": {"n": i, "sleep": 0.2}} for i in range(3)]) == (200, "ok")
    wait_for(lambda: s.log().count("DONE ") >= 3, server=s)
    kinds = [line.split("req=")[1].split(" ")[1] for line in s.log().splitlines()
             if "BATCH " in line or "DONE " in line]
    assert kinds == ["BATCH", "DONE"] * 3, kinds


def test_default_concurrency_overlaps_batches(app):
    s = app("maxBatchSize = 1, maxBatchTimeout = 0")
    assert send(s, batch=[{"body": {"n": i, "sleep": 0.3}} for i in range(3)]) == (200, "ok")
    wait_for(lambda: s.log().count("DONE ") >= 3, server=s)
    kinds = [line.split("req=")[1].split(" ")[1] for line in s.log().splitlines()
             if "BATCH " in line or "DONE " in line]
    assert kinds[:3] == ["BATCH"] * 3


# ---------------------------------------------------------------- acks, retries, dead letters


def test_a_raising_consumer_gets_the_batch_again_with_attempts_counted(app_any):
    s = app_any("maxRetries = 3, maxBatchTimeout = 0")
    assert send(s, batch=[{"body": {"n": 1, "fail": 1}}, {"body": {"n": 2}}]) == (200, "ok")
    got = wait_messages(s, 4)
    assert [(m["body"]["n"], m["attempts"]) for m in got] == [(1, 1), (2, 1), (1, 2), (2, 2)]
    assert got[0]["id"] == got[2]["id"]
    s.wait_log("consumer failed on purpose")


def test_explicit_ack_survives_a_failing_batch_and_retry_is_per_message(app_any):
    s = app_any("maxBatchTimeout = 0")
    assert send(s, batch=[{"body": {"n": 1, "ack": True}}, {"body": {"n": 2, "retry": 0}},
                          {"body": {"n": 3, "fail": 1}}]) == (200, "ok")
    wait_messages(s, 5)
    time.sleep(0.3)
    got = messages(s)
    assert [(m["body"]["n"], m["attempts"]) for m in got] == [(1, 1), (2, 1), (3, 1), (2, 2), (3, 2)]


def test_retry_delay_seconds_and_consumer_retry_delay(app_any):
    s = app_any("maxBatchTimeout = 0, retryDelay = 1")
    assert send(s, batch=[{"body": {"n": 1, "retry": True}}]) == (200, "ok")
    wait_messages(s, 1)
    first = time.monotonic()
    wait_messages(s, 2, timeout=5)
    assert time.monotonic() - first >= 0.8      # the consumer's retry_delay
    assert send(s, batch=[{"body": {"n": 2, "retry": 0}}]) == (200, "ok")
    got = wait_messages(s, 4, timeout=5)        # retry(delaySeconds=0) wins over retry_delay
    assert [m["body"]["n"] for m in got[2:4]] == [2, 2]


def test_ack_all_and_retry_all(app_any):
    s = app_any("maxBatchTimeout = 0")
    assert send(s, batch=[{"body": {"n": 1, "ackAll": True, "fail": 9}}, {"body": {"n": 2}}]) == (200, "ok")
    wait_messages(s, 2)
    time.sleep(0.3)
    assert len(messages(s)) == 2                # ackAll() holds although the handler raised
    assert send(s, batch=[{"body": {"n": 3, "retryAll": 0}}, {"body": {"n": 4, "ack": True}}]) == (200, "ok")
    got = wait_messages(s, 6)
    assert [(m["body"]["n"], m["attempts"]) for m in got[2:6]] == [(3, 1), (4, 1), (3, 2), (4, 2)]
    s.wait_log("Calling ack() on a message after calling retryAll() has no effect.")


def test_after_max_retries_messages_go_to_the_dead_letter_queue(app_any):
    s = app_any("maxRetries = 1, maxBatchTimeout = 0, deadLetterQueue = \"jobs-dlq\"")
    assert send(s, batch=[{"body": {"n": 1, "fail": 99}}]) == (200, "ok")
    dead = wait_messages(s, 1, queue="jobs-dlq")
    assert [m["attempts"] for m in messages(s)] == [1, 2]
    assert dead[0]["body"]["n"] == 1 and dead[0]["attempts"] == 1
    assert dead[0]["id"] == messages(s)[0]["id"]
    s.wait_log("moved to dead-letter queue jobs-dlq")


def test_without_a_dead_letter_queue_messages_are_dropped(app_any):
    s = app_any("maxRetries = 0, maxBatchTimeout = 0")
    assert send(s, batch=[{"body": {"n": 1, "fail": 99}}]) == (200, "ok")
    s.wait_log("have no dead-letter queue; dropped")
    time.sleep(0.3)
    assert len(messages(s)) == 1


def test_an_isolate_that_dies_gets_its_batch_again(app_any):
    s = app_any("maxBatchTimeout = 0")
    # delayed: the isolate that dies is not the one still answering this send
    assert send(s, batch=[{"body": {"n": 1, "exit": 1}}], delaySeconds=1) == (200, "ok")
    got = wait_messages(s, 2, timeout=15)
    assert [m["attempts"] for m in got] == [1, 2]
    s.wait_log("it will be retried")


# ---------------------------------------------------------------- handlers


LEGACY = '''
import json
from workers import Response

async def on_fetch(request, env):
    await env.JOBS.send({"n": 1})
    return Response("ok")

def on_queue(batch, env):
    for m in batch.messages:
        print("BATCH " + json.dumps({"queue": batch.queue, "messages": [{"id": m.id, "attempts": m.attempts, "body": m.body}]}))
'''


def test_legacy_top_level_on_queue(app):
    s = app(date="2024-01-01", worker=LEGACY)
    assert s.get("/")[0] == 200
    assert wait_messages(s, 1)[0]["body"] == {"n": 1}


NO_HANDLER = '''
from workers import Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        await self.env.JOBS.send(1)
        return Response("ok")
'''


def test_a_consumer_without_a_queue_handler_fails_its_batches(app):
    s = app("maxRetries = 0, maxBatchTimeout = 0", worker=NO_HANDLER)
    assert s.get("/")[0] == 200
    s.wait_log("Handler does not export a queue() function.")
    s.wait_log("have no dead-letter queue; dropped")


def test_service_binding_queue_returns_workerds_result(app):
    s = app()
    status, _, body = s.get("/fetcher-queue")
    assert status == 200, body
    result = json.loads(body)
    assert result == {"outcome": "ok", "ackAll": False, "retryBatch": {"retry": False},
                      "explicitAcks": ["m0"], "retryMessages": [{"msgId": "m1", "delaySeconds": 7}]}
    got = messages(s)
    assert [(m["id"], m["attempts"], m["ts"]) for m in got] == [
        ("m0", 2, "2025-01-02T03:04:05"), ("m1", 1, "2025-01-02T03:04:05"),
        ("m2", 1, "2025-01-02T03:04:05")]


# ---------------------------------------------------------------- durability


def test_ten_thousand_messages_survive_kill_9_in_the_middle(app):
    """10,000 messages sent in batches of 100; the server is killed (SIGKILL) after half of
    them were acknowledged to the producer, with deliveries in flight; after a restart the
    rest are sent and every acknowledged message is consumed at least once."""
    s = app("maxBatchSize = 100, maxBatchTimeout = 0, maxConcurrency = 2")
    worker_record = lambda start: f"/send-many?start={start}&n=100"     # noqa: E731
    acked = set()
    for start in range(0, 5000, 100):
        status, _, body = s.get(worker_record(start))
        assert status == 200, body
        acked.update(range(start, start + 100))
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    s2 = app("maxBatchSize = 100, maxBatchTimeout = 0, maxConcurrency = 2")
    for start in range(5000, 10000, 100):
        status, _, body = s2.get(worker_record(start))
        assert status == 200, body
        acked.update(range(start, start + 100))
    deadline = time.monotonic() + 90
    while True:
        seen = json.loads(s2.get("/seen")[2])
        if set(seen) >= acked or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(acked) == 10000
    missing = acked - set(seen)
    assert not missing, f"{len(missing)} lost, e.g. {sorted(missing)[:10]}"


def test_queues_example(tmp_path):
    example = REPO / "examples" / "queues"
    s = Server(example / "config.capnp", args=["--persist-dir", str(tmp_path)], tmp=tmp_path)
    try:
        for item, qty in (("book", 2), ("pen", 1), ("void", 0)):
            status, _, body = s.get(f"/order?item={item}&qty={qty}")
            assert status == 200 and json.loads(body)["queued"] == {"item": item, "qty": qty}
        deadline = time.monotonic() + 15
        while True:
            done = json.loads(s.get("/orders")[2])
            dead = json.loads(s.get("/dead")[2])
            if (len(done) == 2 and dead) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sorted(o["item"] for o in done) == ["book", "pen"], s.log()
        assert all(o["attempts"] == 1 for o in done)
        assert dead == [{"item": "void", "qty": 0}], s.log()
        assert (tmp_path / "queues.sqlite3").exists()
    finally:
        s.stop()
