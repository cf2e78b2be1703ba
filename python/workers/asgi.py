# ASGI adapter of the Python Workers SDK (`workers.asgi`, also the top-level `asgi` module):
# serves one Workers request with an ASGI 3 application (FastAPI, Starlette, ...) and turns
# what the app sends into a Response. Runs in isolates, inside the request's asyncio task.
# The app runs in a task of its own: a body sent whole becomes a plain Response; a body
# sent with more_body=True becomes a streamed Response, returned at the first chunk while
# the app goes on producing (a bounded queue, then the wire's flow control, slow it down).
# Lifespan: startup runs once per isolate and app before its first request, its state is
# shared (shallow-copied per request, as uvicorn does); shutdown when the isolate retires.
# While the app waits for that shutdown, its lifespan task does not keep the isolate's
# asyncio loop running (context.waits_for_retirement): requests stay on the fast path.
# Invariant: exactly one Response per call, or an exception (the runtime answers 500 and
# logs the traceback); the app's own failures after its response are logged, never lost.
"""Run ASGI applications (FastAPI, Starlette, ...) as Python Workers."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

import workers
from pyworkerd import context, webapi
from pyworkerd import log as _log
from pyworkerd.response import StreamedResponse
from workers import asgi_websocket

__all__ = ["asgi_adapter", "env", "fetch", "request_to_scope", "run_in_background", "websocket"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]

ASGI_VERSION = {"version": "3.0", "spec_version": "2.3"}
RECEIVE_CHUNK = 65536
"""Request bodies larger than this reach the app in pieces (more_body=True)."""
STREAM_QUEUE = 16
"""Chunks an app may send ahead of the client before its send() waits."""
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_NULL_BODY_STATUSES = frozenset((101, 103, 204, 205, 304))
_END = object()
_new_object = object.__new__
_is_token = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]*\Z").match
_bad_value = re.compile(r"[\r\n\0]").search
_is_token_bytes = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]*\Z").match
_bad_value_bytes = re.compile(rb"[\r\n\0]").search


def _checked_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The app's header pairs, lower-cased; validated as the Response constructor would,
    with one scan of all names and values in the common case."""
    names = "".join([k for k, _ in headers])
    if _is_token(names) is None or _bad_value("".join([v for _, v in headers])) is not None:
        return webapi.header_list(headers)  # raises TypeError naming the bad header
    return [(k.lower(), v.strip(" \t")) for k, v in headers]


MEMO_SIZE = 1024
"""Header pairs (and URLs) whose conversion is remembered; the memo starts over when full."""
MEMO_VALUE = 128
"""Only header values up to this length are remembered (not cookies, tokens, ...)."""
MEMO_URL = 256
"""Only URLs up to this length are remembered."""
_response_pairs: dict[tuple[bytes, bytes], tuple[str, str]] = {}


def _asgi_headers(raw: Any) -> list[tuple[str, str]]:
    """An ASGI app's (bytes, bytes) header pairs as checked, lower-cased str pairs. Pairs
    seen before (a framework sends the same few) come from a memo; others are checked with
    one scan of all names and values."""
    if not raw:
        return []
    memo = _response_pairs
    pairs = []
    append = pairs.append
    try:
        for pair in raw:  # a loop, not a comprehension: no function call on 3.11
            append(memo[pair])
        return pairs
    except (KeyError, TypeError):  # a new pair, or an unhashable one (a list)
        pass
    pairs = _converted_headers(raw)
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    for pair, converted in zip(raw, pairs):
        if type(pair) is tuple and len(pair[1]) <= MEMO_VALUE and type(pair[0]) is bytes and type(pair[1]) is bytes:
            memo[pair] = converted
    return pairs


def _converted_headers(raw: Any) -> list[tuple[str, str]]:
    try:
        names = b"".join([k for k, _ in raw])
        values = b"".join([v for _, v in raw])
    except TypeError:
        names = None
    if names is None or _is_token_bytes(names) is None or _bad_value_bytes(values) is not None:
        # raises the TypeError that names the bad header
        return _checked_headers([(bytes(k).decode("latin-1"), bytes(v).decode("latin-1")) for k, v in raw])
    return [(k.decode("latin-1").lower(), v.decode("latin-1").strip(" \t")) for k, v in raw]


def _response(status: int, headers: list[tuple[str, str]], body: Any, streamed: bool,
              checked: bool = False) -> workers.Response:
    """A Response from an app's status, header pairs (`checked`: already through
    _checked_headers or _asgi_headers) and body (bytes, or an async iterable)."""
    if status in _NULL_BODY_STATUSES:
        body, streamed = None, False
    response = _new_object(StreamedResponse if streamed else workers.Response)
    response._status = status
    response._status_text = ""
    response._headers = webapi.wrap_headers(headers if checked else _checked_headers(headers) if headers else [])
    response._body = body if streamed or body else None
    response._body_used = False
    return response


# ---------------------------------------------------------------- the scope


def _split_url(url: str) -> tuple[str, str, str, str]:
    """(scheme, host[:port], path, query) of an absolute URL."""
    scheme, _, rest = url.partition("://")
    authority, slash, target = rest.partition("/")
    path, _, query = (slash + target).partition("?")
    path = path.partition("#")[0]
    return scheme.lower(), authority, path or "/", query.partition("#")[0]


def _server(scheme: str, authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):  # [IPv6]:port
        host, _, rest = authority[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = authority.partition(":")
    return host, int(port) if port.isdigit() else _DEFAULT_PORTS.get(scheme)


_request_pairs: dict[tuple[str, str], tuple[bytes, bytes]] = {}


def _headers_and_client(request: webapi.Request) -> tuple[list[tuple[bytes, bytes]], Any]:
    """Header pairs as lower-case bytes, exactly the request's (an HTTP request's include its
    Host; a service binding's or one made in Python have none unless given, as on workerd),
    and the client's address: the connection's peer, or for a request that came in on no
    connection (a service binding's) as Cloudflare passes it (CF-Connecting-IP).
    Pairs seen before come from a memo."""
    raw = request._headers._list if request._headers is not None else request._raw
    pairs: list[tuple[bytes, bytes]] = []
    client = request._client
    memo = _request_pairs
    get = memo.get
    append = pairs.append
    for pair in raw:
        converted = get(pair)
        if converted is None:
            name, value = pair
            converted = (name.lower().encode("latin-1"), value.encode("latin-1", "replace"))
            if len(value) <= MEMO_VALUE:
                if len(memo) >= MEMO_SIZE:
                    memo.clear()
                memo[pair] = converted
        name = converted[0]
        if name == b"cf-connecting-ip" and request._client is None:
            client = (pair[1], 0)
        append(converted)
    return pairs, client


_urls: dict[str, tuple[str, str, bytes, bytes, tuple[str, int | None]]] = {}


def _url_parts(url: str) -> tuple[str, str, bytes, bytes, tuple[str, int | None]]:
    """(scheme, path, raw_path, query_string, server) of an absolute URL, as the scope has
    them; URLs seen before come from a memo."""
    parts = _urls.get(url)
    if parts is None:
        scheme, authority, path, query = _split_url(url)
        parts = (scheme, unquote(path) if "%" in path else path, path.encode("utf-8", "surrogateescape"),
                 query.encode("utf-8", "surrogateescape"), _server(scheme, authority))
        if len(url) <= MEMO_URL:
            if len(_urls) >= MEMO_SIZE:
                _urls.clear()
            _urls[url] = parts
    return parts


def http_scope(request: webapi.Request, env: Any, state: dict[str, Any]) -> Scope:
    """The ASGI 3 HTTP scope of a Workers request."""
    scheme, path, raw_path, query, server = _url_parts(request._url)
    headers, client = _headers_and_client(request)
    return {
        "type": "http",
        "asgi": ASGI_VERSION,
        "http_version": "1.1",
        "method": request._method,
        "scheme": scheme,
        "path": path,
        "raw_path": raw_path,
        "root_path": "",
        "query_string": query,
        "headers": headers,
        "client": client,
        "server": request._server or server,
        "env": env,
        "state": state.copy() if state else {},
    }


# ---------------------------------------------------------------- one request


class _Exchange:
    """receive() and send() of one HTTP request, and the Response they produce.

    Two ways to run the app. Inline (in the isolate, the common case): the app runs in the
    request's own task; a whole body settles the Response when the app returns, a streamed
    one is handed to the isolate loop at its first chunk (context.stream_early) while the app
    goes on in this task. In a task of its own (anywhere else): fetch() returns at the first
    chunk and the app's task goes on producing.
    """

    __slots__ = ("body", "offset", "response", "waiter", "status", "headers", "queue",
                 "finished", "disconnected", "request", "task", "inline")

    def __init__(self, request: webapi.Request, inline: int | None) -> None:
        self.body = request._body or b""
        self.offset = -1
        self.request = request
        self.inline = inline
        self.response: workers.Response | None = None
        self.waiter: asyncio.Future[workers.Response] | None = None
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.queue: asyncio.Queue[Any] | None = None
        self.finished = False
        self.disconnected: asyncio.Future[None] | None = None
        self.task: asyncio.Task[None] | None = None

    async def receive(self) -> Message:
        body = self.body
        if self.offset < len(body):
            start = max(self.offset, 0)
            self.offset = start + RECEIVE_CHUNK
            more = self.offset < len(body)
            piece = body if start == 0 and not more else body[start:self.offset]
            return {"type": "http.request", "body": piece, "more_body": more}
        if not self.finished:
            if self.disconnected is None:
                self.disconnected = asyncio.get_running_loop().create_future()
            await self.disconnected
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            status = self.status
            if status is None:
                raise RuntimeError("ASGI app sent 'http.response.body' before 'http.response.start'")
            if self.finished:
                raise RuntimeError("ASGI app sent a response body after the response was complete")
            chunk = message.get("body", b"")
            more = message.get("more_body", False)
            if not more and self.queue is None:
                self._send_whole(status, bytes(chunk))
            else:
                await self._stream(chunk, more)
        elif kind == "http.response.start":
            if self.status is not None:
                raise RuntimeError("ASGI app sent 'http.response.start' twice")
            self.headers = _asgi_headers(message.get("headers"))
            self.status = int(message["status"])
        elif kind == "http.response.trailers":
            pass  # not sent: Workers responses have no trailers
        else:
            raise RuntimeError(f"ASGI app sent an unexpected message type {kind!r}")

    def _send_whole(self, status: int, body: bytes) -> None:
        """The body in one message (the common case): a plain Response, settled at once.
        (_finish and _settle, inlined: this runs for nearly every request.)"""
        self.finished = True
        if self.disconnected is not None:
            self._disconnect()
        response = self.response = _response(status, self.headers, body, False, True)
        if self.waiter is not None:
            self.waiter.set_result(response)

    def _settle(self, response: workers.Response) -> None:
        self.response = response
        if self.waiter is not None:
            self.waiter.set_result(response)

    async def _stream(self, chunk: bytes, more: bool) -> None:
        """A body sent in pieces: the first piece makes the Response a streamed one."""
        if self.queue is None:
            self.queue = asyncio.Queue(STREAM_QUEUE)
            response = _response(self.status, self.headers, self._chunks(), True, True)
            self._settle(response)
            if response._body is None:
                self.queue = asyncio.Queue()  # a null-body status (204, 304): dropped
            elif self.inline is not None:
                context.stream_early(self.inline, response)
        if chunk and self.response._body is not None:
            await self.queue.put(bytes(chunk))
        if not more:
            self._finish()

    def _finish(self) -> None:
        self.finished = True
        if self.queue is not None:
            self.queue.put_nowait(_END)  # _END may exceed the bound: never blocks the app
        self._disconnect()

    def _disconnect(self) -> None:
        waiter = self.disconnected
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _chunks(self) -> AsyncIterator[bytes]:
        queue = self.queue
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._disconnect()
            if not self.finished and self.task is not None:
                self.task.cancel()  # the client left mid-stream: stop the app

    def app_ended(self, exc: BaseException | None) -> None:
        """The app returned (exc None) or raised after settling its Response."""
        if exc is not None:
            if self.queue is not None and not self.finished:
                self.finished = True
                self.queue.put_nowait(exc)  # the stream fails: logged by the isolate loop
            elif not isinstance(exc, asyncio.CancelledError):
                req = self.request
                message = f"{req._method} {req._url}: the ASGI app raised after sending its response"
                context.log_exception(message, exc)
                _to_asgi_logger(message, exc)
        elif self.queue is not None and not self.finished:
            self._finish()  # returned without more_body=False: the body ends here

    def app_done(self, task: asyncio.Task[None]) -> None:
        """Task mode: the app's task ended; settle whatever it left unsettled."""
        exc = None if task.cancelled() else task.exception()
        if not self.waiter.done():
            self.waiter.set_exception(exc or RuntimeError(_NO_RESPONSE))
        else:
            self.app_ended(exc)


_NO_RESPONSE = "ASGI app returned without sending a complete response"


async def fetch(app: ASGIApp, request: Any, env: Any = None, ctx: Any = None) -> workers.Response:
    """Serve `request` with the ASGI application `app`; `env` is in `scope["env"]`.

    `await asgi.fetch(app, request, self.env, self.ctx)`. The app's lifespan startup runs
    before its first request in this isolate. A body sent with more_body=True is streamed
    to the client while the app produces it.
    """
    if env is None:
        env = context.env
    state = _states.get(id(app))
    if state is None:
        state = (await _start_lifespan(app, env)).state_for_requests()
    scope = http_scope(request, env, state)
    if asgi_websocket.is_upgrade(request):
        return await asgi_websocket.serve(app, request, asgi_websocket.websocket_scope(scope, request))
    request_id = context.streams.early_stream_id()  # context.early_stream_id(), one call less
    if request_id is None:
        try:
            return await _run_in_task(app, scope, _Exchange(request, None))
        except Exception as exc:
            _to_asgi_logger(f"ASGI request failed: {exc}", exc)
            raise
    exchange = _Exchange(request, request_id)  # inline: in this task (see _Exchange)
    try:
        await app(scope, exchange.receive, exchange.send)
    except BaseException as exc:
        if exchange.response is None and isinstance(exc, Exception):
            _to_asgi_logger(f"ASGI request failed: {exc}", exc)
        if exchange.response is None or isinstance(exc, asyncio.CancelledError):
            raise
        exchange.app_ended(exc)
    else:
        if exchange.response is None:
            raise RuntimeError(_NO_RESPONSE)
        if exchange.queue is not None:  # a whole body has nothing left to end
            exchange.app_ended(None)
    return exchange.response


async def _run_in_task(app: ASGIApp, scope: Scope, exchange: _Exchange) -> workers.Response:
    loop = asyncio.get_running_loop()
    exchange.waiter = loop.create_future()
    task = loop.create_task(app(scope, exchange.receive, exchange.send))
    task.add_done_callback(exchange.app_done)
    exchange.task = task
    try:
        return await exchange.waiter
    except asyncio.CancelledError:
        task.cancel()
        raise


async def websocket(app: ASGIApp, request: Any, env: Any = None, ctx: Any = None) -> workers.Response:
    """Serve the WebSocket upgrade `request` with `app` (a "websocket" scope); fetch() does
    the same for any request that asks for a WebSocket."""
    if env is None:
        env = context.env
    state = _states.get(id(app))
    if state is None:
        state = (await _start_lifespan(app, env)).state_for_requests()
    scope = asgi_websocket.websocket_scope(http_scope(request, env, state), request)
    return await asgi_websocket.serve(app, request, scope)


asgi_adapter = fetch
"""The seed's spelling: `from asgi import asgi_adapter; await asgi_adapter(app, request)`."""


def request_to_scope(request: Any, env: Any, ws: bool = False) -> Scope:
    """The ASGI scope of `request` (a workers.Request or js.Request), `env` in scope["env"]
    (Cloudflare's SDK function; `ws`: a "websocket" scope)."""
    scope = http_scope(request, env, {})
    if ws:
        scope["type"] = "websocket"
        scope["scheme"] = {"http": "ws", "https": "wss"}.get(scope["scheme"], scope["scheme"])
    return scope


def run_in_background(coroutine: Awaitable[Any]) -> None:
    """Run `coroutine` after the response too (waitUntil); a failure is logged, to the
    Worker's log and to the "asgi" logger when logging is configured."""
    async def logged() -> Any:
        try:
            return await coroutine
        except Exception as exc:
            _to_asgi_logger(f"ASGI background task failed: {exc}", exc)
            raise

    context.wait_until(logged())


def _to_asgi_logger(message: str, exc: BaseException) -> None:
    """Also report a failure to the standard `logging` module's "asgi" logger, as Cloudflare's
    SDK does, when the Worker uses logging and has a handler for it (the Worker's log already
    has the traceback: without a handler, logging's stderr fallback would repeat it)."""
    logging = sys.modules.get("logging")
    if logging is None:
        return
    logger = logging.getLogger("asgi")
    if logger.hasHandlers():
        logger.error(message, exc_info=(type(exc), exc, exc.__traceback__))


# ---------------------------------------------------------------- lifespan


class _Lifespan:
    """The lifespan protocol of one app in this isolate."""

    def __init__(self, app: ASGIApp, env: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.ready: asyncio.Future[None] = loop.create_future()
        self.failure: str | None = None
        self.supported = True
        self.events: asyncio.Queue[Message] = asyncio.Queue()
        self.shut_down: asyncio.Future[None] = loop.create_future()
        self.events.put_nowait({"type": "lifespan.startup"})
        scope = {"type": "lifespan", "asgi": ASGI_VERSION, "state": self.state, "env": env}
        self.task = loop.create_task(self._run(scope))

    def state_for_requests(self) -> dict[str, Any]:
        if self.failure is not None:
            raise RuntimeError(f"ASGI lifespan startup failed: {self.failure}")
        return self.state

    async def _run(self, scope: Scope) -> None:
        _log.request_id.set(0)  # started by the first request, but serves none: its lines untagged
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as exc:
            if not self.ready.done():
                self.supported = False  # an app without lifespan support: serve it anyway
                self.ready.set_result(None)
            elif not self.shut_down.done():
                if not isinstance(exc, asyncio.CancelledError):
                    context.log_exception("ASGI lifespan: the app raised", exc)
                self.shut_down.set_result(None)
            if not isinstance(exc, Exception):
                raise
        else:
            if not self.ready.done():
                self.ready.set_result(None)
            if not self.shut_down.done():
                self.shut_down.set_result(None)

    async def _receive(self) -> Message:
        """The app's receive(): once started, it waits here for the shutdown that retirement
        sends, meanwhile not keeping the isolate off its fast path (context.waits_for_retirement)."""
        events = self.events
        if not events.empty() or not self.ready.done():
            return await events.get()
        context.waits_for_retirement(self.task, True)
        try:
            return await events.get()
        finally:
            context.waits_for_retirement(self.task, False)

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind in ("lifespan.startup.complete", "lifespan.startup.failed"):
            if kind.endswith("failed"):
                self.failure = message.get("message") or "(no message)"
                _log.log(f"ASGI lifespan startup failed: {self.failure}")
            else:
                context.on_retire(self.shutdown)
            if not self.ready.done():
                self.ready.set_result(None)
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            if kind.endswith("failed"):
                _log.log(f"ASGI lifespan shutdown failed: {message.get('message', '')}")
            if not self.shut_down.done():
                self.shut_down.set_result(None)

    async def shutdown(self) -> None:
        """Send lifespan.shutdown and wait for the app to answer (the isolate retires)."""
        if self.task.done():
            return
        self.events.put_nowait({"type": "lifespan.shutdown"})
        await self.shut_down


_lifespans: dict[int, _Lifespan] = {}
_states: dict[int, dict[str, Any]] = {}
"""id(app) -> lifespan state, once startup succeeded (or the app has no lifespan)."""


async def _start_lifespan(app: ASGIApp, env: Any) -> _Lifespan:
    lifespan = _lifespans.get(id(app))
    if lifespan is None:
        lifespan = _lifespans[id(app)] = _Lifespan(app, env, asyncio.get_running_loop())
    await asyncio.shield(lifespan.ready)
    if lifespan.failure is None:
        _states[id(app)] = lifespan.state
    return lifespan


# ---------------------------------------------------------------- FastAPI dependency


def __getattr__(name: str) -> Any:
    if name == "env":
        return _env_dependency()
    raise AttributeError(f"module 'workers.asgi' has no attribute {name!r}")


_env_dep: Any = None


def _env_dependency() -> Any:
    """`from workers.asgi import env`; `Depends(env)` gives a FastAPI route the Worker's env."""
    global _env_dep
    if _env_dep is None:
        from starlette.requests import Request

        async def env(request: Request) -> Any:
            """The Worker's bindings, for FastAPI: `env = Depends(workers.asgi.env)`."""
            return request.scope["env"]

        env.__annotations__["request"] = Request  # evaluated by FastAPI: not a string here
        _env_dep = env
    return _env_dep
