# The seed's hello worker with an `async def fetch`: measures pyworkerd's
# asyncio path (the sync variant is examples/hello/worker.py).
from js import Response
from workers import WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response.new("Hello from Python!")
