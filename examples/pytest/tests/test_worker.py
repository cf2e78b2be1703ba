import pytest
from workers import env, import_from_javascript

from worker import greeting


def test_greeting():
    assert greeting(env.GREETED) == "Hello, world!"


@pytest.mark.asyncio
async def test_cache_read_runs_its_fallback_once():
    calls = []

    async def fallback(key):
        calls.append(key)
        return {"value": greeting(key), "expiration": None}

    assert await env.CACHE.read("cached", fallback) == "Hello, cached!"
    assert await env.CACHE.read("cached", fallback) == "Hello, cached!"
    assert calls == ["cached"]


@pytest.mark.asyncio
async def test_with_env_replaces_env_for_the_call():
    workers = import_from_javascript("cloudflare:workers")

    async def who():
        return workers.env.GREETED

    assert await workers.withEnv({"GREETED": "tests"}, who) == "tests"
    assert workers.env.GREETED == "world"
