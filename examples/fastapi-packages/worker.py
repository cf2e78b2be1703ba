"""FastAPI and pydantic, declared in pyproject.toml, imported at top level.

The FastAPI application and its pydantic models are built once, in the worker template; every
isolate forks with them ready. Requests reach them through a plain `fetch` handler: pyworkerd's
ASGI adapter (`workers.asgi` / `asgi.fetch(app, request, env)`) is a later issue, and until it
exists this worker validates with the same pydantic models the FastAPI routes declare.

GET  /           -> versions and the routes of the FastAPI app
POST /items      -> validates a JSON Item, answers 201 with the stored item or 422 with errors
GET  /items/<id> -> an item stored by this isolate, or 404
"""

import fastapi
import pydantic
from fastapi import FastAPI
from pydantic import BaseModel, Field, ValidationError
from workers import Response, WorkerEntrypoint


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    price: float = Field(gt=0)
    quantity: int = Field(default=1, ge=1)
    tags: list[str] = []


class StoredItem(Item):
    id: int
    total: float


app = FastAPI(title="fastapi-packages")
items: dict[int, StoredItem] = {}


@app.post("/items", status_code=201, response_model=StoredItem)
def create_item(item: Item) -> StoredItem:
    stored = StoredItem(id=len(items) + 1, total=round(item.price * item.quantity, 2), **item.dict())
    items[stored.id] = stored
    return stored


@app.get("/items/{item_id}", response_model=StoredItem)
def read_item(item_id: int) -> StoredItem:
    if item_id not in items:
        raise fastapi.HTTPException(status_code=404, detail="Item not found")
    return items[item_id]


def json_response(body: str, status: int = 200) -> Response:
    return Response(body, status=status, headers={"content-type": "application/json"})


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = "/" + request.url.split("/", 3)[3].split("?")[0]
        if path == "/items" and request.method == "POST":
            try:
                item = Item.parse_raw(await request.text())
            except ValidationError as exc:
                return json_response(exc.json(indent=None), status=422)
            return json_response(create_item(item).json(), status=201)
        if path.startswith("/items/") and request.method == "GET":
            try:
                return json_response(read_item(int(path.removeprefix("/items/"))).json())
            except (ValueError, fastapi.HTTPException):
                return json_response('{"detail": "Item not found"}', status=404)
        routes = sorted(f"{sorted(r.methods)[0]} {r.path}" for r in app.routes if hasattr(r, "methods"))
        return Response.json({"fastapi": fastapi.__version__, "pydantic": pydantic.VERSION,
                              "routes": routes})
