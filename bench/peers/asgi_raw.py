"""bench/http peer: the smallest ASGI app, served by uvicorn (uvloop + httptools)."""

BODY = b"Hello from Python!"
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(BODY)).encode())],
}
END = {"type": "http.response.body", "body": BODY}


async def app(scope, receive, send):
    if scope["type"] != "http":
        return  # lifespan: nothing to set up
    await send(START)
    await send(END)
