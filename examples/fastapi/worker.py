"""The seed's FastAPI example, as written, plus the routes an application usually has.

The first block is the seed's example verbatim. The rest shows, through the same adapter:
GET  /items/{item_id}?q=...  path and query parameters (422 when item_id is not an int)
POST /items                  a JSON body validated by a pydantic model (422 on bad input)
GET  /stream?count=&delay=   a StreamingResponse: each line reaches the client when produced
GET  /env                    the Worker's env through the FastAPI dependency workers.asgi.env
GET  /startup                what the lifespan startup handler (run once per isolate) recorded
PUT  /notes/{name}           store the request body in the NOTES KV namespace (env.NOTES)
GET  /notes/{name}           read it back (404 when absent)
"""

from fastapi import FastAPI
from workers import WorkerEntrypoint
app = FastAPI()
@app.get("/")
async def root():
    return {"message": "Hello from FastAPI"}
class Default(WorkerEntrypoint):
    async def fetch(self, request):
        # ASGI adapter handles the request
        from asgi import asgi_adapter
        return await asgi_adapter(app, request)


# ---- beyond the seed ----

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402

from fastapi import Depends, HTTPException, Request  # noqa: E402
from fastapi.responses import StreamingResponse  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402
from workers.asgi import env  # noqa: E402

startup = {"runs": 0}


@app.on_event("startup")
async def on_startup():
    startup["runs"] += 1
    startup["pid"] = os.getpid()


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    price: float = Field(gt=0)
    quantity: int = Field(default=1, ge=1)
    tags: list[str] = []


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None, limit: int = 10):
    return {"item_id": item_id, "q": q, "limit": limit}


@app.post("/items", status_code=201)
async def create_item(item: Item):
    return {"item": item, "total": round(item.price * item.quantity, 2)}


@app.get("/stream")
async def stream(count: int = 5, delay: float = 0.1):
    async def lines():
        for i in range(count):
            if i:
                await asyncio.sleep(delay)
            yield json.dumps({"i": i, "produced_at": time.time()}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@app.get("/env")
async def show_env(env=Depends(env)):
    return {"greeting": env.GREETING}


@app.put("/notes/{name}")
async def put_note(name: str, request: Request, env=Depends(env)):
    await env.NOTES.put(name, (await request.body()).decode())
    return {"stored": name}


@app.get("/notes/{name}")
async def get_note(name: str, env=Depends(env)):
    value = await env.NOTES.get(name)
    if value is None:
        raise HTTPException(status_code=404, detail=f"no note named {name}")
    return {"name": name, "text": value}


@app.get("/startup")
async def show_startup():
    return startup
