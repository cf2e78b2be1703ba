import os

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    def fetch(self, request):
        if request.url.endswith("/exit"):
            os._exit(0)
        return Response("Hello from Python!")
