# A guestbook on KV, served by any node of the cluster: POST /sign?name=N writes through the
# node that takes the request, GET / lists what every node wrote, GET /get?key=K reads one.
# Each answer says which node served it (the NODE binding: the node's environment). Each
# signature also goes on the queue THANKS; the node that consumes it writes a thank-you note
# (GET /thanked lists them, with the node that wrote each).
# A Durable Object counter: POST /count?name=N increments the counter N wherever it lives
# (one live instance in the whole cluster: the node holding it runs it, the others forward),
# GET /count?name=N reads it, /count-fetch?name=N goes through the object's fetch();
# POST /ring?name=N&in=MS sets its alarm, GET /rang?name=N says which node ran it.
# POST /cached?name=N increments a counter the object also keeps in memory (an instance that
# kept serving after another node took the object over would count from a stale number).
# A D1 database: POST /note?text=T inserts a row through whichever node takes the request
# (the node holding the database runs it), GET /notes lists them all.
# A Workflow, Welcome: POST /welcome?name=N starts an instance through any node, GET
# /welcome?id=I reads its status through any node; one node at a time runs it (a lease in
# PostgreSQL) and its output names the node that ran each step.
import datetime
from urllib.parse import parse_qs, urlparse

from workers import DurableObject, Response, WorkerEntrypoint, WorkflowEntrypoint


class Welcome(WorkflowEntrypoint):
    async def run(self, event, step):
        node = self.env.NODE or "?"

        @step.do("greet")
        async def greet():
            return {"greeting": f"welcome, {event.payload['name']}", "by": node}

        @step.do("note")
        async def note():
            await self.env.BOOK.put(f"welcomed:{event.payload['name']}", node)
            return node

        return {**(await greet()), "noted_by": await note()}


async def welcome_answer(env, q, method, node):
    if method == "POST":
        instance = await env.WELCOME.create(params={"name": q["name"]})
        return Response.json({"id": instance.id, "node": node})
    return Response.json({**(await (await env.WELCOME.get(q["id"])).status()), "node": node})


class Counter(DurableObject):
    async def increment(self):
        n = (await self.ctx.storage.get("n") or 0) + 1
        await self.ctx.storage.put("n", n)
        return {"count": n, "object_node": self.env.NODE}

    async def value(self):
        return {"count": await self.ctx.storage.get("n") or 0, "object_node": self.env.NODE}

    async def ring_in(self, ms):
        now = datetime.datetime.now(datetime.timezone.utc)
        await self.ctx.storage.setAlarm(now + datetime.timedelta(milliseconds=ms))
        return {"object_node": self.env.NODE}

    async def rang(self):
        return {"rang": await self.ctx.storage.get("rang"), "object_node": self.env.NODE}

    async def alarm(self, alarm_info):
        await self.ctx.storage.put("rang", self.env.NODE)

    async def increment_cached(self):
        if getattr(self, "cached", None) is None:
            self.cached = await self.ctx.storage.get("n") or 0
        self.cached += 1
        await self.ctx.storage.put("n", self.cached)
        return {"count": self.cached, "object_node": self.env.NODE}

    async def fetch(self, request):
        return Response.json(await self.increment())


NOTES_READY = []     # this isolate made the table already


async def notes_answer(env, q, method, node):
    db = env.DB
    if not NOTES_READY:
        await db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT, node TEXT)")
        NOTES_READY.append(True)
    if method == "POST":
        meta = (await db.prepare("INSERT INTO notes (text, node) VALUES (?, ?)")
                .bind(q["text"], node).run()).meta
        return Response.json({"id": meta.last_row_id, "node": node})
    rows = (await db.prepare("SELECT text, node FROM notes ORDER BY id").all()).results
    return Response.json({"notes": [r["text"] for r in rows], "written_by": [r["node"] for r in rows],
                          "node": node})


async def counter_answer(env, url, q, method, node):
    stub = env.COUNTER.get(env.COUNTER.idFromName(q["name"]))
    if url.path == "/count-fetch":
        r = await stub.fetch("http://counter/")
        return Response.json({**(await r.json()), "node": node})
    if url.path == "/ring":
        return Response.json({**(await stub.ring_in(int(q["in"]))), "node": node})
    if url.path == "/rang":
        return Response.json({**(await stub.rang()), "node": node})
    if url.path == "/cached":
        return Response.json({**(await stub.increment_cached()), "node": node})
    answer = await (stub.increment() if method == "POST" else stub.value())
    return Response.json({**answer, "node": node})


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
        if url.path in ("/count", "/count-fetch", "/ring", "/rang", "/cached"):
            return await counter_answer(self.env, url, q, request.method, node)
        if url.path in ("/note", "/notes"):
            return await notes_answer(self.env, q, request.method, node)
        if url.path == "/welcome":
            return await welcome_answer(self.env, q, request.method, node)
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
