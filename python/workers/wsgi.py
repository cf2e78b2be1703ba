# WSGI adapter of the Python Workers SDK (`workers.wsgi`): serves one Workers request with a
# PEP 3333 application (Flask, Django, ...) and turns its answer into a Response. Runs in
# isolates, on the request's asyncio task, without threads: the app is called directly and
# its iterable is read in the event loop. A body of one piece becomes a plain Response; an
# iterable with more pieces is streamed, one piece per loop turn, so that each reaches the
# client as soon as the app yields it (the first once the second is known to exist).
# Invariant: the app's iterable is closed (PEP 3333 close()) exactly once, however the
# response ends: read to the end, failed, or abandoned by the client.
"""Run WSGI applications (Flask, Django, ...) as Python Workers."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

import workers
from pyworkerd import context, webapi
from workers.asgi import _response, _server, _split_url

__all__ = ["fetch"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_SPECIAL_HEADERS = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}


def environ(request: webapi.Request, env: Any, ctx: Any = None) -> dict[str, Any]:
    """The PEP 3333 environ of a Workers request, with `environ["workers.env"]`; SERVER_NAME/
    SERVER_PORT are the listening socket's address, REMOTE_ADDR/REMOTE_PORT the client's."""
    scheme, authority, path, query = _split_url(request.url)
    host, port = request._server or _server(scheme, authority)
    body = request._body or b""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request._method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": host,
        "SERVER_PORT": str(port or ""),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "workers.env": env,
        "workers.ctx": ctx,
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    raw = request._headers._list if request._headers is not None else request._raw
    for name, value in raw:
        name = name.lower()
        key = _SPECIAL_HEADERS.get(name) or "HTTP_" + name.upper().replace("-", "_")
        if key in environ and key.startswith("HTTP_"):
            environ[key] += "," + value
        elif key != "CONTENT_LENGTH" or not body:
            environ[key] = value
    if "HTTP_HOST" not in environ and authority:
        environ["HTTP_HOST"] = authority  # the host passes Host as the URL's authority
    if request._client is not None:
        environ["REMOTE_ADDR"], port = request._client
        environ["REMOTE_PORT"] = str(port)
    elif environ.get("HTTP_CF_CONNECTING_IP"):
        environ["REMOTE_ADDR"] = environ["HTTP_CF_CONNECTING_IP"]  # a service binding's call
    return environ


class _StartResponse:
    """The start_response callable of one request (and the legacy write())."""

    __slots__ = ("status", "headers", "written")

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: list[tuple[str, str]] = []
        self.written: list[bytes] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self.written:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise RuntimeError("start_response() called twice without exc_info")
        self.status = int(status.split(None, 1)[0])
        self.headers = list(headers)
        return self.written.append


async def _chunks(first: list[bytes], rest: Iterator[bytes], result: Any) -> AsyncIterator[bytes]:
    """The pieces already read, then the rest of the app's iterable, one per loop turn."""
    try:
        for piece in first:
            yield piece
            await asyncio.sleep(0)  # let the loop send it before the app makes the next
        for piece in rest:
            if piece:
                yield piece
                await asyncio.sleep(0)
    finally:
        _close(result)


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


async def fetch(app: WSGIApp, request: Any, env: Any = None, ctx: Any = None) -> workers.Response:
    """Serve `request` with the WSGI application `app`; `env` is `environ["workers.env"]`.

    `await wsgi.fetch(app, request, self.env)`. The app runs in this isolate's event loop,
    without threads. An iterable of several pieces is streamed as the app produces them.
    """
    if env is None:
        env = context.env
    start = _StartResponse()
    result = app(environ(request, env, ctx), start)
    try:
        pieces = start.written
        rest = iter(result)
        for piece in rest:  # read up to two pieces: one alone is a plain response
            if piece:
                pieces.append(piece)
                if len(pieces) > 1:
                    break
        else:
            _close(result)
            return _whole(start, pieces)
    except BaseException:
        _close(result)
        raise
    if start.status is None:
        _close(result)
        raise RuntimeError("WSGI app did not call start_response()")
    return _response(start.status, start.headers, _chunks(pieces, rest, result), True)


def _whole(start: _StartResponse, pieces: list[bytes]) -> workers.Response:
    if start.status is None:
        raise RuntimeError("WSGI app did not call start_response()")
    body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
    return _response(start.status, start.headers, bytes(body), False)
