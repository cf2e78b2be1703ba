from urllib.parse import urlparse

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    def fetch(self, request):
        scheme = urlparse(request.url).scheme
        return Response(f"Hello over {scheme}!\n")
