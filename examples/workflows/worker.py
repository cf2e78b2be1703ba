from urllib.parse import parse_qs, urlparse

from workers import Response, WorkerEntrypoint, WorkflowEntrypoint


class MyWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        @step.do("greet")
        async def greet():
            return f"Hello, {event.payload['name']}!"

        greeting = await greet()
        await step.sleep("pause a little", "1 second")

        @step.do("shout", config={"retries": {"limit": 2, "delay": 100, "backoff": "constant"}})
        async def shout():
            return greeting.upper()

        return {"greeting": greeting, "shouted": await shout()}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/create":
            instance = await self.env.MY_WORKFLOW.create(params={"name": query.get("name", "world")})
            return Response.json({"id": instance.id})
        if url.path == "/status":
            instance = await self.env.MY_WORKFLOW.get(query["id"])
            return Response.json(await instance.status())
        return Response("GET /create?name=Ada, then GET /status?id=<id>\n")
