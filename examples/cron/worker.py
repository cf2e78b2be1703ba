"""A scheduled() handler for the Cron Triggers of config.capnp."""
import json

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        runs = int(await self.env.KV.get("runs") or 0)
        last = await self.env.KV.get("last", type="json")
        return Response.json({"runs": runs, "last": last})

    async def scheduled(self, controller, env, ctx):
        runs = int(await env.KV.get("runs") or 0) + 1
        await env.KV.put("runs", str(runs))
        await env.KV.put("last", json.dumps({"cron": controller.cron,
                                             "scheduledTime": controller.scheduledTime}))
        print(f"cron {controller.cron!r} ran (run {runs})")
