# A site: its API in Python, its files from env.ASSETS (a disk service, served by the host with
# content types, ETag/304, Range and index.html); unknown pages get the app's index.html.
from urllib.parse import urlsplit

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlsplit(request.url)
        if url.path.startswith("/api/"):
            return Response.json({"hello": "from Python", "path": url.path})
        response = await self.env.ASSETS.fetch(request)
        if response.status == 404 and request.method == "GET":
            return await self.env.ASSETS.fetch(f"{url.scheme}://{url.netloc}/index.html")
        return response
