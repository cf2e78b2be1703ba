# The site's API: wrangler.toml sends /api/* here (run_worker_first); public/ serves the rest.
from datetime import datetime, timezone
from urllib.parse import urlsplit

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlsplit(request.url).path
        if path == "/api/time":
            return Response.json({"utc": datetime.now(timezone.utc).isoformat(timespec="seconds")})
        return Response.json({"error": f"no such API: {path}"}, status=404)
