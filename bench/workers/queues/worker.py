"""bench/queues' worker: GET /produce?batches=N sends N batches of 100 JSON messages with
sendBatch(); its queue() handler counts what it consumes (GET /count)."""
from urllib.parse import parse_qs, urlparse

from workers import Response, WorkerEntrypoint

consumed = 0


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        if url.path == "/produce":
            q = parse_qs(url.query)
            batches, start = int(q["batches"][0]), int(q.get("start", ["0"])[0])
            for b in range(batches):
                base = start + b * 100
                await self.env.Q.sendBatch([{"body": {"n": base + i}} for i in range(100)])
            return Response("ok")
        if url.path == "/count":
            return Response(str(consumed))
        return Response("bench/queues")

    async def queue(self, batch, env, ctx):
        global consumed
        for message in batch.messages:
            message.body        # decoded, as a consumer would
        consumed += len(batch.messages)
