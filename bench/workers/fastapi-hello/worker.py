"""bench/asgi: the FastAPI hello app of bench/peers/asgi_fastapi.py (the same route, the same
PlainTextResponse), served by pyworkerd through the ASGI adapter."""
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from workers import WorkerEntrypoint
import asgi

app = FastAPI()


@app.get("/", response_class=PlainTextResponse)
async def hello() -> PlainTextResponse:
    return PlainTextResponse("Hello from Python!")


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await asgi.fetch(app, request, self.env)
