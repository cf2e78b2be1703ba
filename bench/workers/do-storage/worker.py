# bench/durable_objects: storage.get as the object sees it. GET /hit?n=N times N gets of one
# key in the object's cache; GET /miss?n=N times N gets of keys never read (each goes to the
# host: a blocking call, the input gate). Answers the latencies in ns, as JSON.
import json
import time
from urllib.parse import parse_qs, urlparse

from workers import DurableObject, Response, WorkerEntrypoint


class Store(DurableObject):
    async def fetch(self, request):
        url = urlparse(request.url)
        n = int(parse_qs(url.query).get("n", ["1000"])[0])
        storage = self.ctx.storage
        await storage.put("hot", {"value": 1, "name": "hot"})
        clock = time.perf_counter_ns
        out = []
        if url.path == "/hit":
            for _ in range(n):
                t = clock()
                await storage.get("hot")
                out.append(clock() - t)
        else:
            base = clock()
            for i in range(n):
                t = clock()
                await storage.get(f"missing-{base}-{i}")
                out.append(clock() - t)
        return Response(json.dumps(out))


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await self.env.STORE.getByName("bench").fetch(request)
