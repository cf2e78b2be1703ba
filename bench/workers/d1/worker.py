# bench/d1's worker: each request reads one row by primary key (ids cycle over the table)
# and answers its text, as bench/peers/asgi_fastapi_sqlite.py does with sqlite3.
from workers import Response, WorkerEntrypoint

ROWS = 10000
_next = 0


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        global _next
        _next = _next % ROWS + 1
        row = await self.env.DB.prepare("SELECT id, msg, n FROM greetings WHERE id = ?").bind(_next).first()
        return Response(row["msg"], headers={"content-type": "text/plain; charset=utf-8"})
