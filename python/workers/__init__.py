# The `workers` module of Cloudflare's Python Workers SDK, as pyworkerd offers it:
# WorkerEntrypoint, Request, Response, the Headers type and the lazy `workers.env`.
# Imported in the worker template (by the runtime, then by the user's modules) and used
# by every isolate forked from it. The objects themselves live in pyworkerd.webapi, which
# `js` shares, so `workers.Response` and `js.Response` are interchangeable to the runtime.
# fetch() and the RPC helpers come from pyworkerd.bindings (calls to the host).
# Submodules: workers.asgi and workers.wsgi (the ASGI/WSGI adapters).
# Not here yet (other issues): FormData/Blob/File.
"""Python Workers SDK: entry point base classes and HTTP objects (the `workers` module)."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any, Protocol

from pyworkerd import bindings, webapi
from pyworkerd.bindings import fetch, python_from_rpc, python_to_rpc
from pyworkerd.webapi import Request

__all__ = ["Context", "FetchResponse", "Headers", "Request", "Response", "WorkerEntrypoint", "env",
           "fetch", "python_from_rpc", "python_to_rpc", "waitUntil", "wait_until"]

Headers = dict[str, str] | list[tuple[str, str]] | webapi.Headers
"""What a `headers=` argument accepts: a dict, a list of (name, value) pairs or Headers."""


class Context(Protocol):
    """The execution context of a request (`self.ctx`), with JavaScript method names."""

    def waitUntil(self, awaitable: Any) -> None:
        """Keep running `awaitable` after the response has been sent."""

    def passThroughOnException(self) -> None:
        """Accepted for compatibility; pyworkerd has no origin to fall back to."""


class WorkerEntrypoint:
    """Base class of a Worker's entry point: `class Default(WorkerEntrypoint)`.

    An instance is created for each request with the request's `ctx` and the Worker's
    `env`; its `fetch(self, request)` method (sync or async) returns a Response.
    """

    def __init__(self, ctx: Context, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class DurableObject:
    """Base class of a Durable Object. Not yet routed by pyworkerd (no DO bindings)."""

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class WorkflowEntrypoint:
    """Base class of a Workflow: `class MyWorkflow(WorkflowEntrypoint)` with
    `async def run(self, event, step)`, bound with a workflows `wrapped` binding; what run()
    returns is the instance's output (see workers.workflows)."""

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        run = cls.__dict__.get("run")
        if callable(run):  # the host calls run(event) alone; the SDK adds `step`
            from pyworkerd.workflows import wrap_run

            cls.run = wrap_run(run)  # type: ignore[method-assign]


def _from_json(
    data: Any,
    status: HTTPStatus | int = HTTPStatus.OK,
    status_text: str = "",
    headers: Headers | None = None,
) -> Response:
    """A response whose body is `json.dumps(data)`, content-type application/json unless given."""
    pairs = webapi.header_list(webapi.checked_headers(headers))
    if not any(k == "content-type" for k, _ in pairs):
        pairs.append(("content-type", "application/json"))
    return Response(json.dumps(data), status, status_text, pairs)


class Response(webapi.ResponseBase):
    """The response to a request, with an API like the web `Response`.

    `Response(body=None, status=None, status_text="", headers=None)`: `body` is str
    (sent as UTF-8, content-type text/plain;charset=UTF-8 unless given), bytes, bytearray,
    memoryview (copied as bytes) or None;
    `headers` a dict, a list of (name, value) pairs or Headers. A `js.Response` may be
    passed as the body, without options, to wrap it.
    """

    __slots__ = ()

    def __init__(
        self,
        body: str | bytes | bytearray | memoryview | webapi.ResponseBase | None = None,
        status: HTTPStatus | int | None = None,
        status_text: str = "",
        headers: Headers | None = None,
    ) -> None:
        if isinstance(body, webapi.ResponseBase):
            if status is not None or status_text or headers is not None:
                raise ValueError("Expected no options when constructing Response from a js.Response")
            self._copy_from(body)
            return
        if body is not None and not isinstance(body, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"Unsupported type in Response: {type(body).__name__}")
        self._init(body, status, status_text, webapi.checked_headers(headers) if headers else None)

    @property
    def status_text(self) -> str:
        """The status message ("" unless one was given)."""
        return self._status_text

    json = webapi.JsonMethod(_from_json)
    from_json = staticmethod(_from_json)

    @staticmethod
    def redirect(url: str, status: HTTPStatus | int = HTTPStatus.FOUND) -> Response:
        """A redirect to `url` with `status` (301, 302, 303, 307 or 308)."""
        code, pairs = webapi.redirect_args(url, status)
        return Response(None, code, "", pairs)

    def __repr__(self) -> str:
        parts = [f"status={self._status}"]
        if self._status_text:
            parts.append(f"status_text={self._status_text!r}")
        content_type = self._headers.get("content-type")
        if content_type is not None:
            parts.append(f"content_type={content_type!r}")
        return f"Response({', '.join(parts)})"


def _js_response_class() -> type:
    import js

    return js.Response


class FetchResponse(Response, _js_response_class()):  # type: ignore[misc]
    """The Response of fetch() or of a service binding: the Python (`status`, `await r.text()`,
    `r.json()`, `r.bytes()`) and the JavaScript surface (`statusText`, `await r.arrayBuffer()`)."""

    __slots__ = ("_url", "_redirected")

    @property
    def url(self) -> str:
        """The final URL (after redirects)."""
        return self._url

    @property
    def redirected(self) -> bool:
        """Whether redirects were followed."""
        return self._redirected

    @property
    def type(self) -> str:
        """"basic", as for any fetched response."""
        return "basic"

    def raise_for_status(self) -> None:
        """Raise OSError for a 4xx or 5xx status."""
        if self._status >= 400:
            raise OSError(f"{self._status} error for url: {self._url}")

    def __repr__(self) -> str:
        return f"FetchResponse(status={self._status}, url={self._url!r})"


def wait_until(awaitable: Any) -> None:
    """Keep running `awaitable` (a coroutine or task) after the response has been sent."""
    from pyworkerd import runtime

    runtime.wait_until(awaitable)


waitUntil = wait_until


def __getattr__(name: str) -> Any:
    if name == "env":
        from pyworkerd import runtime

        if runtime.env is None:
            raise AttributeError("workers.env is only available once a Worker is loaded")
        return runtime.env
    if name in ("asgi", "wsgi"):
        import importlib

        return importlib.import_module(f"workers.{name}")
    raise AttributeError(f"module 'workers' has no attribute {name!r}")
