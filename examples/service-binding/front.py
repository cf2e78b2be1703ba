# The public worker: asks the "auth" worker (same runtime, no network hop) over a service
# binding, by HTTP (env.AUTH.fetch) and by RPC to a named entrypoint (env.ADMIN.check).
from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        token = request.headers.get("authorization") or ""
        verdict = await self.env.AUTH.fetch("http://auth/verify", headers={"authorization": token})
        if verdict.status != 200:
            return Response("forbidden\n", status=403)
        user = await verdict.text()
        role = await self.env.ADMIN.role_of(user)
        return Response(f"hello {user} ({role})\n")
