# A slow lookup cached for a minute in a memoryCache binding: the first request for a
# currency computes it (the fallback), the others, in any isolate, get the cached value.
import asyncio
import json
import os
import time

from workers import Response, WorkerEntrypoint

TTL_MS = 60_000


async def lookup_rate(currency: str) -> dict:
    await asyncio.sleep(0.2)  # stands for a slow upstream API
    return {"currency": currency, "rate": round(1 + len(currency) / 10, 2),
            "computed_by": os.getpid(), "at": time.time()}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        currency = request.url.rstrip("/").rsplit("/", 1)[-1].upper()
        computed = False

        async def fallback(key):
            nonlocal computed
            computed = True
            return {"value": await lookup_rate(currency),
                    "expiration": time.time() * 1000 + TTL_MS}

        value = await self.env.RATES.read(f"rate:{currency}", fallback)
        return Response(json.dumps({**value, "cached": not computed}),
                        headers={"content-type": "application/json"})
