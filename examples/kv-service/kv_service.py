# A KV service in workerd's KV HTTP protocol, written as it would be for workerd: a worker
# that a `kvNamespace` binding names answers GET/PUT/DELETE /<key>?urlencoded=true,
# GET /?prefix=&key_count_limit=&cursor= (list) and POST /bulk/get. This one keeps the data
# in its own KV namespace STORE (SQLite on a disk service); a real one could add access
# rules, logging, replication... The front worker's KV calls arrive here as requests.
from json import dumps, loads
from urllib.parse import parse_qs, unquote, urlsplit

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlsplit(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        store = self.env.STORE
        if request.method == "POST" and url.path == "/bulk/get":
            return await self.bulk_get(store, await request.json())
        if request.method == "GET" and url.path == "/":
            return await self.list(store, query)
        key = unquote(url.path[1:])
        if key.startswith("fail500"):       # lets tests see how errors travel back
            return Response("the KV service failed", status=500)
        if request.method == "GET":
            found = await store.getWithMetadata(key, "bytes")
            if found["value"] is None:
                return Response("Not Found", status=404)
            headers = {}
            if found["metadata"] is not None:
                headers["CF-KV-Metadata"] = dumps(found["metadata"])
            return Response(found["value"], headers=headers)
        if request.method == "PUT":
            options = {}
            if "expiration" in query:
                options["expiration"] = int(query["expiration"])
            if "expiration_ttl" in query:
                options["expirationTtl"] = int(query["expiration_ttl"])
            metadata = request.headers.get("CF-KV-Metadata")
            if metadata:
                options["metadata"] = loads(metadata)
            await store.put(key, await request.bytes(), options)
            return Response("")
        if request.method == "DELETE":
            await store.delete(key)
            return Response("")
        return Response("Method Not Allowed", status=405)

    async def bulk_get(self, store, body):
        out = {}
        for key in body["keys"]:
            found = await store.getWithMetadata(key)
            if found["value"] is None:
                out[key] = None
            elif body.get("withMetadata"):
                out[key] = {"value": found["value"], "metadata": found["metadata"]}
            else:
                out[key] = found["value"]
        return Response.json(out)

    async def list(self, store, query):
        limit = int(query["key_count_limit"]) if "key_count_limit" in query else None
        page = await store.list(prefix=query.get("prefix"), limit=limit, cursor=query.get("cursor"))
        out = {"keys": page["keys"], "list_complete": page["list_complete"]}
        if "cursor" in page:
            out["cursor"] = page["cursor"]
        return Response.json(out)
