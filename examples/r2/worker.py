# A small object store in front of an R2 bucket, after Cloudflare's R2 demo Worker: PUT
# stores the request's body under the path, GET and HEAD read it back (with its HTTP
# metadata, ETag, ranges and conditional requests), DELETE removes it, GET / lists.
import json
from urllib.parse import parse_qs, unquote, urlparse

from js import Headers
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        key = unquote(url.path[1:])
        if request.method == "PUT":
            obj = await self.env.BUCKET.put(key, await request.bytes(), httpMetadata=request.headers)
            return Response(f"Put {key} successfully: {obj.size} bytes, etag {obj.etag}\n")
        if request.method == "DELETE":
            await self.env.BUCKET.delete(key)
            return Response(f"Deleted {key}\n")
        if request.method not in ("GET", "HEAD"):
            return Response("Method Not Allowed\n", status=405, headers={"allow": "PUT, GET, HEAD, DELETE"})
        if not key:
            return await self.listing(parse_qs(url.query))
        return await self.read(key, request)

    async def listing(self, query):
        options = {name: query[name][0] for name in ("prefix", "delimiter", "cursor") if name in query}
        listed = await self.env.BUCKET.list(**options)
        body = {"objects": [{"key": o.key, "size": o.size, "etag": o.etag} for o in listed.objects],
                "delimitedPrefixes": listed.delimitedPrefixes, "truncated": listed.truncated,
                "cursor": listed.get("cursor")}
        return Response.json(body)

    async def read(self, key, request):
        ranged = request.headers.get("range") is not None
        obj = await self.env.BUCKET.get(key, range=request.headers, onlyIf=request.headers)
        if obj is None:
            return Response(f"Object {key} not found\n", status=404)
        headers = Headers.new()
        obj.writeHttpMetadata(headers)
        headers.set("etag", obj.httpEtag)
        if not hasattr(obj, "body"):            # If-None-Match / If-Modified-Since held
            return Response(None, status=304, headers=headers)
        if ranged and obj.range:
            start, length = obj.range["offset"], obj.range["length"]
            headers.set("content-range", f"bytes {start}-{start + length - 1}/{obj.size}")
        if request.method == "HEAD":
            return Response(None, headers=headers)
        return Response(obj.body, status=206 if ranged and obj.range else 200, headers=headers)
