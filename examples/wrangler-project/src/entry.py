"""A guestbook: POST /sign?name=ada queues a signature, the queue consumer stores it in D1,
GET / lists the entries (cached in KV for 60 s), a Durable Object counts the visits, and the
hourly cron trigger writes a summary to KV (GET /summary)."""
import json
from urllib.parse import parse_qs, urlparse

from workers import DurableObject, Response, WorkerEntrypoint

SCHEMA = "CREATE TABLE IF NOT EXISTS entries (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"


class Visits(DurableObject):
    async def visit(self):
        count = (await self.ctx.storage.get("count") or 0) + 1
        await self.ctx.storage.put("count", count)
        return count


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/sign" and request.method == "POST":
            await self.env.SIGNATURES.send({"name": query.get("name", "anonymous")})
            return Response("queued\n", status=202)
        if url.path == "/summary":
            return Response(await self.env.CACHE.get("summary") or "no summary yet\n")
        if url.path != "/":
            return Response("not found\n", status=404)
        visits = await self.env.VISITS.getByName("home").visit()
        return Response.json({"title": self.env.TITLE, "visits": visits,
                              "entries": await self.entries()})

    async def entries(self):
        cached = await self.env.CACHE.get("entries")
        if cached is not None:
            return json.loads(cached)
        await self.env.DB.exec(SCHEMA)
        rows = await self.env.DB.prepare("SELECT name FROM entries ORDER BY id").all()
        names = [row["name"] for row in rows["results"]]
        await self.env.CACHE.put("entries", json.dumps(names), expirationTtl=60)
        return names

    async def queue(self, batch, env, ctx):
        await env.DB.exec(SCHEMA)
        for message in batch.messages:
            await env.DB.prepare("INSERT INTO entries (name) VALUES (?)").bind(
                message.body["name"]).run()
            message.ack()
        await env.CACHE.delete("entries")

    async def scheduled(self, controller, env, ctx):
        await env.DB.exec(SCHEMA)
        row = await env.DB.prepare("SELECT count(*) AS n FROM entries").first()
        await env.CACHE.put("summary", f"{row['n']} entries at {controller.cron}\n")
