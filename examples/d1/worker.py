# A notes service on D1: the schema is made on the first request (exec), a note is one
# INSERT ... RETURNING (first()), an import is one batch (all notes or none), and a listing
# is all() with the statement's meta passed on.
import json

from workers import Response, WorkerEntrypoint

SCHEMA = """
CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL CHECK (text <> ''), created INTEGER NOT NULL DEFAULT (unixepoch()));
CREATE INDEX IF NOT EXISTS notes_created ON notes (created);
"""


class Default(WorkerEntrypoint):
    ready = False

    async def fetch(self, request):
        db = self.env.DB
        if not Default.ready:
            await db.exec(SCHEMA)
            Default.ready = True
        path = request.url.split("/", 3)[3].split("?")[0].rstrip("/")
        if path == "notes" and request.method == "POST":
            note = await db.prepare("INSERT INTO notes (text) VALUES (?) RETURNING id, text").bind(
                await request.text()).first()
            return Response.json(note, status=201)
        if path == "notes/import" and request.method == "POST":
            texts = json.loads(await request.text())
            insert = db.prepare("INSERT INTO notes (text) VALUES (?)")
            try:
                results = await db.batch([insert.bind(t) for t in texts])
            except Exception as e:     # one bad note: nothing was imported
                return Response.json({"error": str(e)}, status=400)
            return Response.json({"imported": sum(r.meta.changes for r in results)})
        if path == "notes":
            r = await db.prepare("SELECT id, text FROM notes ORDER BY id").all()
            return Response.json({"notes": r.results, "rows_read": r.meta.rows_read})
        if path.startswith("notes/"):
            note = await db.prepare("SELECT id, text FROM notes WHERE id = ?").bind(
                int(path[len("notes/"):])).first()
            return Response.json(note) if note else Response("no such note", status=404)
        return Response("POST /notes, GET /notes, GET /notes/<id>, POST /notes/import", status=404)
