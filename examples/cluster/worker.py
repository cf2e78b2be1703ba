# A guestbook on KV, served by any node of the cluster: POST /sign?name=N writes through the
# node that takes the request, GET / lists what every node wrote, GET /get?key=K reads one.
# Each answer says which node served it (the NODE binding: the node's environment). Each
# signature also goes on the queue THANKS; the node that consumes it writes a thank-you note
# (GET /thanked lists them, with the node that wrote each).
from urllib.parse import parse_qs, urlparse

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        book = self.env.BOOK
        url = urlparse(request.url)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        node = self.env.NODE or "?"
        if request.method == "POST" and url.path == "/sign":
            await book.put(f"guest:{q['name']}", node, metadata={"node": node})
            await self.env.THANKS.send({"name": q["name"], "signed_on": node})
            return Response.json({"signed": q["name"], "node": node})
        if url.path == "/get":
            return Response.json({"value": await book.get(q["key"]), "node": node})
        if url.path == "/put" and request.method == "POST":
            await book.put(q["key"], await request.text())
            return Response.json({"ok": True, "node": node})
        if url.path == "/thanked":
            notes = (await book.list(prefix="thanked:"))["keys"]
            return Response.json({"thanked": sorted(k["name"][8:] for k in notes), "node": node})
        listing = await book.list(prefix="guest:")
        return Response.json({"guests": [k["name"][6:] for k in listing["keys"]],
                              "written_by": [k["metadata"]["node"] for k in listing["keys"]],
                              "node": node})

    async def queue(self, batch, env, ctx):
        for message in batch.messages:
            await env.BOOK.put(f"thanked:{message.body['name']}", env.NODE or "?")
