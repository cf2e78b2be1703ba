# bench/durable_objects' peer: the counter written the way a self-hoster would today — FastAPI
# on uvicorn (one process), sqlite3 in WAL mode with synchronous=NORMAL (what pyworkerd's
# Durable Object storage uses: a committed write survives kill -9), one transaction per
# increment, the answer sent after the commit. GET /<name> adds one and answers the value.
# Run: uvicorn --app-dir bench/peers do_counter_fastapi:app (COUNTER_DB: the database file).
import os
import sqlite3

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

db = sqlite3.connect(os.environ.get("COUNTER_DB", "counter.sqlite"), isolation_level=None,
                     check_same_thread=False)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=NORMAL")
db.execute("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
app = FastAPI()


@app.get("/{name}", response_class=PlainTextResponse)
async def increment(name: str) -> str:
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("INSERT INTO counters (name, value) VALUES (?, 1) "
                   "ON CONFLICT (name) DO UPDATE SET value = value + 1", (name,))
        (value,) = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return str(value)
