# A counter per name, kept by a Durable Object (see config.capnp).
from urllib.parse import urlparse

from workers import DurableObject, Response, WorkerEntrypoint


class Counter(DurableObject):
    async def fetch(self, request):
        # No lock: while get() reads storage no other request reaches this object, and the
        # response leaves only once the put() is durable.
        value = (await self.ctx.storage.get("value") or 0) + 1
        await self.ctx.storage.put("value", value)
        return Response(str(value))

    async def count(self):
        return await self.ctx.storage.get("value") or 0


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        parts = urlparse(request.url).path.strip("/").split("/")
        counter = self.env.COUNTER.getByName(parts[0] or "default")
        if parts[1:] == ["count"]:
            return Response(str(await counter.count()))
        return await counter.fetch(request)

    async def test(self, ctrl):
        # `pyworkerd test config.capnp` runs this with the same bindings.
        counter = self.env.COUNTER.getByName("test-run")
        before = await counter.count()
        response = await counter.fetch("https://counter.example/test-run")
        assert int(await response.text()) == before + 1
        assert await counter.count() == before + 1
