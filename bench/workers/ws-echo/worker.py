"""bench/websocket: echo every message back on the same WebSocket."""

from js import WebSocketPair
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        client, server = WebSocketPair.new().object_values()
        server.accept()
        server.addEventListener("message", lambda event: server.send(event.data))
        return Response(None, status=101, web_socket=client)
