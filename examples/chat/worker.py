"""A WebSocket chat room (examples/chat): GET / is the page, /ws?name=... its WebSocket.

Every message a member sends goes to every member, as JSON {"from", "text"}; joins and
leaves are announced. The room lives in this isolate's memory (pyworkerd runs one isolate
per worker unless told otherwise; on Cloudflare a room would be a Durable Object).
"""

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from js import WebSocketPair
from workers import Response, WorkerEntrypoint

PAGE = (Path(__file__).parent / "page.html").read_text()
ROOM: dict = {}          # server socket -> member name


def broadcast(sender: str, text: str) -> None:
    message = json.dumps({"from": sender, "text": text})
    for ws in list(ROOM):
        try:
            ws.send(message)
        except TypeError:    # it is closing
            ROOM.pop(ws, None)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        if url.path == "/":
            return Response(PAGE, headers={"content-type": "text/html; charset=utf-8"})
        if url.path != "/ws":
            return Response("not found", status=404)
        if request.headers.get("upgrade") != "websocket":
            return Response("this is the chat's WebSocket: connect with one", status=426)
        name = parse_qs(url.query).get("name", ["anonymous"])[0][:32]
        client, server = WebSocketPair.new().object_values()
        server.accept()

        def on_message(event):
            if isinstance(event.data, str) and event.data.strip():
                broadcast(name, event.data[:2000])

        def on_close(event):
            if ROOM.pop(server, None) is not None:
                broadcast("*", f"{name} left")

        server.addEventListener("message", on_message)
        server.addEventListener("close", on_close)
        ROOM[server] = name
        broadcast("*", f"{name} joined ({len(ROOM)} here)")
        return Response(None, status=101, web_socket=client)
