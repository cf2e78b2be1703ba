"""A Flask application served as a Python Worker through the WSGI adapter.

GET  /              -> an HTML form
POST /greet         -> the form's fields, as HTML (application/x-www-form-urlencoded)
POST /api/echo      -> the JSON body back, with its key count
GET  /api/env       -> a binding read through environ["workers.env"]
GET  /stream        -> a streamed text body (a generator, sent while it runs)
"""

from flask import Flask, Response, jsonify, request
from workers import WorkerEntrypoint, wsgi

app = Flask(__name__)

FORM = """<!doctype html>
<form method="post" action="/greet">
  <input name="name"> <input name="color"> <button>Greet</button>
</form>
"""


@app.get("/")
def index():
    return FORM


@app.post("/greet")
def greet():
    name = request.form.get("name", "").strip()
    if not name:
        return "name is required\n", 400
    color = request.form.get("color", "blue")
    return f"<p>Hello, {name}! Your favourite colour is {color}.</p>\n"


@app.post("/api/echo")
def echo():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(error="expected a JSON object"), 400
    return jsonify(received=data, keys=len(data))


@app.get("/api/env")
def env_var():
    env = request.environ["workers.env"]
    return jsonify(greeting=env.GREETING)


@app.get("/stream")
def stream():
    def lines():
        for i in range(3):
            yield f"line {i}\n"

    return Response(lines(), mimetype="text/plain")


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await wsgi.fetch(app, request, self.env)
