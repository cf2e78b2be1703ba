from js import Response
from workers import WorkerEntrypoint
class Default(WorkerEntrypoint):
    def fetch(self, request):
        return Response.new("Hello from Python!")
