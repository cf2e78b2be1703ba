# bench/kv's worker: GET /<mode>?n=N runs N KV operations inside one request and answers
# with each operation's latency (ns) as seen from Python, so HTTP is not in the numbers.
import asyncio
import time
from urllib.parse import parse_qs, urlparse

from workers import Response, WorkerEntrypoint


def _timed_sync(n, op):
    out = []
    clock = time.perf_counter_ns
    for i in range(n):
        t0 = clock()
        op(i)
        out.append(clock() - t0)
    return out


class Default(WorkerEntrypoint):
    def fetch(self, request):
        u = urlparse(request.url)
        mode = u.path[1:]
        n = int(parse_qs(u.query)["n"][0])
        kv = self.env.KV
        if mode == "sync-put":
            return Response.json(_timed_sync(n, lambda i: kv.put(f"k{i % 1000}", "v" * 100)))
        if mode == "sync-get":
            return Response.json(_timed_sync(n, lambda i: kv.get(f"k{i % 1000}")))
        return self._async(kv, mode, n)

    async def _async(self, kv, mode, n):
        clock = time.perf_counter_ns
        out = []
        if mode == "async-get":
            for i in range(n):
                t0 = clock()
                await kv.get(f"k{i % 1000}")
                out.append(clock() - t0)
        elif mode == "async-put":
            for i in range(n):
                t0 = clock()
                await kv.put(f"k{i % 1000}", "v" * 100)
                out.append(clock() - t0)
        elif mode == "gather-get":   # 100 gets in flight at a time: throughput, not latency
            t0 = clock()
            for start in range(0, n, 100):
                await asyncio.gather(*(kv.get(f"k{i % 1000}") for i in range(start, start + 100)))
            out = [(clock() - t0) / n] * n
        return Response.json(out)
