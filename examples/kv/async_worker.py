# The same worker written async: every KV method is awaitable.
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        kv = self.env.MY_KV_NAMESPACE
        count = int(await kv.get("visits") or 0) + 1
        await kv.put("visits", str(count), metadata={"last": request.url})
        entry = await kv.getWithMetadata("visits")
        listing = await kv.list(prefix="vis")
        return Response.json({"visits": count, "metadata": entry["metadata"],
                              "keys": [k["name"] for k in listing["keys"]]})
