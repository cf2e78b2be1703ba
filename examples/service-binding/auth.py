# The internal worker: not bound to any socket, reachable only through service bindings.
from workers import Response, WorkerEntrypoint

USERS = {"Bearer ann-token": "ann", "Bearer bob-token": "bob"}


class Default(WorkerEntrypoint):
    def fetch(self, request):
        user = USERS.get(request.headers.get("authorization") or "")
        return Response(user, status=200) if user else Response("no", status=401)


class Admin(WorkerEntrypoint):
    def role_of(self, user):
        return "admin" if user == "ann" else "member"
