import hashlib

from workers import Blob, File, FormData, Response, WorkerEntrypoint

PAGE = """<form method="post" action="/upload" enctype="multipart/form-data">
<input name="title"> <input type="file" name="doc" multiple> <button>Send</button></form>"""


class Files(WorkerEntrypoint):
    """Called over RPC with a File: what a store would keep of it."""

    async def describe(self, file):
        data = await file.bytes()
        return {"name": file.name, "type": file.content_type, "size": file.size,
                "sha256": hashlib.sha256(data).hexdigest()}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.split("/", 3)[3]
        if path == "upload" and request.method == "POST":
            try:
                form = await request.form_data()
            except TypeError as e:   # not a form: workerd's message says which types parse
                return Response.from_json({"error": str(e)}, status=400)
            fields, files = {}, []
            for key, value in form.items():
                if isinstance(value, File):
                    files.append(await self.env.FILES.describe(value))
                else:
                    fields.setdefault(key, []).append(value)
            return Response.from_json({"fields": fields, "files": files})
        if path == "sample":
            form = FormData({"greeting": "hello"})
            form.append("data", Blob(["a,b\n1,2\n"], content_type="text/csv"), filename="data.csv")
            return Response(form)
        return Response(PAGE, headers={"content-type": "text/html; charset=utf-8"})
