"""[[queues.producers]] delivery_delay and [[queues.consumers]] max_batch_timeout, max_retries,
retry_delay and dead_letter_queue from a wrangler file, honoured by the host's queues: a
message sent without delaySeconds waits the producer's delay (delaySeconds=0 does not), a
failing message is retried after retry_delay, then goes to the dead-letter queue."""

import json
import time

from conftest import write_project

WORKER = '''
import json
import time
from urllib.parse import urlsplit
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlsplit(request.url).path
        if path == "/seen":
            listed = await self.env.SEEN.list()
            out = {}
            for key in listed["keys"]:
                out[key["name"]] = json.loads(await self.env.SEEN.get(key["name"]))
            return Response(json.dumps(out))
        name = path.strip("/")
        if name == "now":
            await self.env.JOBS.send({"name": name, "at": time.time()}, delaySeconds=0)
        else:
            await self.env.JOBS.send({"name": name, "at": time.time()})
        return Response("sent")

    async def queue(self, batch, env, ctx):
        for m in batch.messages:
            body = m.body
            key = f"{batch.queue}:{body['name']}:{m.attempts}"
            await env.SEEN.put(key, json.dumps(time.time() - body["at"]))
            if body["name"] == "fail" and batch.queue == "jobs":
                m.retry()
            else:
                m.ack()
'''

TOML = '''
name = "q"
main = "src/entry.py"
compatibility_date = "2025-09-01"
compatibility_flags = ["python_workers"]

[[kv_namespaces]]
binding = "SEEN"
id = "seen"

[[queues.producers]]
binding = "JOBS"
queue = "jobs"
delivery_delay = 2

[[queues.consumers]]
queue = "jobs"
max_batch_timeout = 0
max_retries = 1
retry_delay = 1
dead_letter_queue = "dead"

[[queues.consumers]]
queue = "dead"
max_batch_timeout = 0
'''


def seen(dev):
    return json.loads(dev.text("/seen"))


def wait_for(dev, key, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = seen(dev)
        if key in got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"{key} not delivered: {seen(dev)}\n{dev.log()}")


def test_delivery_delay_retry_delay_and_dead_letter_queue(tmp_path, start_dev):
    p = write_project(tmp_path / "p", {"src/entry.py": WORKER, "wrangler.toml": TOML})
    dev = start_dev(p)
    assert "delivery_delay is not supported" not in dev.log()
    assert dev.text("/later") == "sent" and dev.text("/now") == "sent"
    got = wait_for(dev, "jobs:now:1")
    assert got["jobs:now:1"] < 1.5                  # delaySeconds=0 wins over delivery_delay
    assert "jobs:later:1" not in got
    got = wait_for(dev, "jobs:later:1")
    assert got["jobs:later:1"] >= 2.0               # the producer's delivery_delay
    assert dev.text("/fail") == "sent"
    got = wait_for(dev, "dead:fail:1", timeout=20)
    assert got["jobs:fail:2"] - got["jobs:fail:1"] >= 1.0     # retry_delay
    assert "jobs:fail:3" not in got                 # max_retries = 1: then dead-lettered
