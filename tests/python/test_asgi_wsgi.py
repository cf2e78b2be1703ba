# Tests of the ASGI and WSGI adapters in-process (python/workers/asgi.py, wsgi.py), without
# the C side: lifespan startup once and shutdown on context.retire() (which the isolate's
# loop runs when the host closes its socket), streamed bodies read as async iterables, and
# the module aliases. The e2e suites drive the same adapters through the real server.
# Run: /usr/bin/python3.11 -m pytest tests/python
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

import workers  # noqa: E402
from pyworkerd import context, webapi  # noqa: E402
from workers import asgi as workers_asgi  # noqa: E402
from workers import wsgi  # noqa: E402


def request(url="http://example.com/path?x=1", method="GET", body=b"", headers=()):
    return webapi.make_request(method, url, list(headers), body)


def make_app(events):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    scope["state"]["ready"] = True
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-ready", str(scope["state"]["ready"]).encode())]})
        if scope["path"] == "/stream":
            for i in range(3):
                await send({"type": "http.response.body", "body": b"%d" % i, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.body", "body": b"whole"})

    return app


def test_top_level_asgi_is_workers_asgi():
    import asgi

    assert asgi is workers_asgi
    assert asgi.asgi_adapter is asgi.fetch
    assert workers.asgi is workers_asgi and workers.wsgi is wsgi


def test_lifespan_starts_once_and_shuts_down_on_retire():
    events: list[str] = []
    app = make_app(events)

    async def scenario():
        first = await workers_asgi.fetch(app, request(), env=None)
        second = await workers_asgi.fetch(app, request(), env=None)
        assert events == ["lifespan.startup"]
        assert first.headers.get("x-ready") == "True" and await second.text() == "whole"
        await context.retire()
        assert events == ["lifespan.startup", "lifespan.shutdown"]

    asyncio.run(scenario())


def test_more_body_gives_a_streamed_response():
    app = make_app([])

    async def scenario():
        response = await workers_asgi.fetch(app, request("http://h/stream"), env=None)
        assert isinstance(response, workers.Response)
        wire = response._wire()
        assert type(wire) is not tuple  # an awaitable: the runtime streams it
        status, headers, body = await wire
        assert status == 200 and [c async for c in body] == [b"0", b"1", b"2"]
        await context.retire()

    asyncio.run(scenario())


def test_wsgi_list_body_is_whole_and_generator_is_streamed():
    def whole(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"one piece"]

    def pieces(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"a"
        yield b"b"
        yield b"c"

    async def scenario():
        response = await wsgi.fetch(whole, request(), env=None)
        assert response._wire() == (200, [("content-type", "text/plain")], b"one piece")
        response = await wsgi.fetch(pieces, request(), env=None)
        assert await response.text() == "abc"

    asyncio.run(scenario())
