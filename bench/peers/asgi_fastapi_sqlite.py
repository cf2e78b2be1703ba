"""bench/d1 peer: the same primary-key SELECT through Python's sqlite3, in a FastAPI route
served by uvicorn. One connection for the process (WAL, as pyworkerd's), opened at import;
the route is `async def` and calls sqlite3 directly (an indexed lookup takes microseconds,
faster than handing it to a thread). The database is $BENCH_D1_DB, prepared by bench/d1."""
import os
import sqlite3

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

ROWS = 10000
db = sqlite3.connect(os.environ["BENCH_D1_DB"], check_same_thread=False, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=NORMAL")
app = FastAPI()
_next = 0


@app.get("/", response_class=PlainTextResponse)
async def greeting() -> PlainTextResponse:
    global _next
    _next = _next % ROWS + 1
    cur = db.execute("SELECT id, msg, n FROM greetings WHERE id = ?", (_next,))
    row = dict(zip((c[0] for c in cur.description), cur.fetchone()))
    return PlainTextResponse(row["msg"])
