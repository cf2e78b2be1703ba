# examples/postgres: a visit counter in PostgreSQL, reached through a Hyperdrive binding with
# pg8000 (pure Python: its socket is the host's). The same code runs on Cloudflare.
import json

import pg8000
from workers import Response, WorkerEntrypoint


def count_visit(db):
    conn = pg8000.connect(user=db.user, password=db.password or None, host=db.host,
                          port=db.port, database=db.database)
    try:
        cursor = conn.cursor()
        cursor.execute("CREATE TABLE IF NOT EXISTS visits (at timestamptz DEFAULT now())")
        cursor.execute("INSERT INTO visits DEFAULT VALUES")
        cursor.execute("SELECT count(*), current_database(), version() FROM visits")
        visits, database, version = cursor.fetchone()
        conn.commit()
    finally:
        conn.close()
    return {"visits": visits, "database": database, "server": version.split(" on ")[0]}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response(json.dumps(count_visit(self.env.DB)),
                        headers={"content-type": "application/json"})
