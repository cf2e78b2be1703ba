# The front worker: an ordinary KV user. Its NOTES binding names the "kv-service" worker
# instead of a disk service, so every NOTES call below becomes a request to kv_service.py in
# workerd's KV protocol — the code here is the same either way.
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        notes = self.env.NOTES
        name = request.url.split("/", 3)[3] or "index"
        if request.method == "PUT":
            text = await request.text()
            await notes.put(name, text, metadata={"length": len(text)})
            return Response("stored\n")
        if request.method == "DELETE":
            await notes.delete(name)
            return Response("deleted\n")
        if name == "index":
            listing = await notes.list()
            lines = [f"{k['name']} ({k['metadata']['length']} chars)" for k in listing["keys"]]
            return Response("\n".join(lines) + "\n")
        note = await notes.get(name)
        if note is None:
            return Response("no such note\n", status=404)
        return Response(note)
