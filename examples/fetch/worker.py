# Outbound fetch(): GET /?url=<url> fetches it through the host and reports what came back.
from urllib.parse import parse_qs, urlparse

from workers import Response, WorkerEntrypoint, fetch


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = parse_qs(urlparse(request.url).query).get("url", ["https://example.com/"])[0]
        try:
            r = await fetch(url, headers={"user-agent": "pyworkerd-example"})
        except Exception as e:
            return Response(f"fetch failed: {e}\n", status=502)
        body = await r.text()
        return Response.json({"status": r.status, "url": r.url, "redirected": r.redirected,
                              "content_type": r.headers.get("content-type"), "length": len(body)})
