"""bench/http peer: FastAPI route returning a PlainTextResponse, served by uvicorn."""
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

app = FastAPI()


@app.get("/", response_class=PlainTextResponse)
async def hello() -> PlainTextResponse:
    return PlainTextResponse("Hello from Python!")
