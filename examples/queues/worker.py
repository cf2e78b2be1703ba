"""Producer and consumer of the "orders" queue (see config.capnp)."""
import json
from urllib.parse import parse_qs, urlparse

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/order":
            order = {"item": query.get("item", "book"), "qty": int(query.get("qty", "1"))}
            await self.env.ORDERS.send(order)
            return Response.json({"queued": order})
        if url.path == "/orders":
            return Response.json(await self._list("done:"))
        if url.path == "/dead":
            return Response.json(await self._list("dead:"))
        return Response("GET /order?item=book&qty=2, /orders or /dead\n")

    async def queue(self, batch, env, ctx):
        for message in batch.messages:
            order = message.body
            if batch.queue == "orders-dlq":
                await env.KV.put("dead:" + message.id, json.dumps(order))
                message.ack()
            elif order["qty"] > 0:
                await env.KV.put("done:" + message.id, json.dumps(
                    {**order, "attempts": message.attempts, "sent": message.timestamp.isoformat()}))
                message.ack()
            else:
                message.retry()     # after max_retries: to orders-dlq

    async def _list(self, prefix):
        keys = (await self.env.KV.list(prefix=prefix))["keys"]
        return [json.loads(await self.env.KV.get(k["name"])) for k in keys]
