# The seed document's "Workflows integration" example, verbatim from `from workers.workflows`
# to the end of send_notification; expensive_operation() and notify_user() are this example's
# own (the seed leaves them to the reader). MyWorkflow defines no run(): its @step methods run
# in order, each with the previous one's result, the first with the instance's params.
import workers
from workers import Response, WorkerEntrypoint


async def expensive_operation(data):
    return {"total": sum(data["numbers"]), "count": len(data["numbers"])}


async def notify_user(result):
    # a side effect that must happen once per instance: counted in KV
    sent = int(await workers.env.NOTES.get("notifications") or 0) + 1
    await workers.env.NOTES.put("notifications", str(sent))
    await workers.env.NOTES.put("last", f"total {result['total']} of {result['count']} numbers")


from workers.workflows import Workflow, Step
class MyWorkflow(Workflow):
    @step
    async def process_data(self, data):
        # Process data in a durable workflow step
        result = await expensive_operation(data)
        return result
    @step
    async def send_notification(self, result):
        # Send notification about result
        await notify_user(result)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = request.url
        if url.endswith("/start"):
            instance = await self.env.MY_WORKFLOW.create(params=await request.json())
            return Response.json({"id": instance.id})
        if "/status/" in url:
            instance = await self.env.MY_WORKFLOW.get(url.rsplit("/", 1)[1])
            return Response.json(await instance.status())
        if url.endswith("/notes"):
            return Response.json({"notifications": await self.env.NOTES.get("notifications"),
                                  "last": await self.env.NOTES.get("last")})
        return Response('POST /start {"numbers": [...]}, GET /status/<id>, GET /notes\n')
