"""The isolate's request loop (isolate process).

Two modes. While nothing asynchronous is pending, Channel.serve_sync() serves in C without
running an event loop: it blocks on the socket, calls runtime.handle() for each request and
writes the responses (the fast path). An async handler's task takes its first step right
there (an eager task, as 3.12's eager_task_factory: the loop is marked running meanwhile;
for a worker whose fetch is async, from one such request to the next, and unmarked before
any sync code and when serve_sync() returns), so one that never truly waits (FastAPI's
hello) answers on the fast path too. Only when a task is left waiting, or it scheduled other
work (waitUntil, a stream), does the isolate switch to an asyncio loop whose only I/O is the
same socket: requests keep arriving there, tasks run concurrently, responses are written in
one batch per loop turn. Once no task (but those waiting only for the isolate's retirement,
such as an ASGI lifespan), timer or callback is left, it returns to the fast path.
A response whose body is an async iterable is streamed: its head goes out at once, each
chunk as the iterable yields it, then the end; at most _pyworkerd.STREAM_WINDOW bytes per
stream are unacknowledged by the host (which acknowledges what the client took), so a slow
client slows the producer instead of filling memory. A whole (bytes) body larger than
_pyworkerd.INLINE_BODY is streamed the same way, announced with its length (the client gets
a Content-Length), so that neither side ever holds a second copy of it; a streamed chunk is
sent in pieces of at most CHUNK bytes.
A response that cannot be sent (headers that are not str, a head over the wire's limit, no
memory left to queue it) is logged with its request id and answered with a 500 instead:
only that request fails.
Retirement: when the host sends RETIRE (no more requests will come) or closes the socket,
the isolate finishes its in-flight requests, streams and waitUntil() tasks, runs
context.retire() (ASGI lifespan shutdown), writes what is left and serve() returns (the
isolate exits). The host bounds the whole of it and kills an isolate that takes longer.
A failure of this machinery itself (not of a handler: runtime.handle catches those) stops the
isolate, so that the host answers its requests with 502 and starts a fresh one.
Each request arrives with the host's id for it (the tuple's last item): it is the context
variable pyworkerd.log.request_id while its handler runs and in the task made for it, so
every line the request's code logs carries it, and tasks it starts inherit it.
"""

from __future__ import annotations

import functools
import traceback
from typing import Any

import _pyworkerd
from pyworkerd import context, on_import, rpc, runtime, websocket
from pyworkerd.log import log
from pyworkerd.log import request_id as _request_id

asyncio: Any = None
"""The asyncio module, imported when the isolate makes its loop (_Server.loop): everything
below that uses it runs on that loop."""

_BYTES_TYPES = (bytes, bytearray, memoryview)
BATCH = 8
"""Requests started per loop turn while handlers are heavy (see _Server.dispatch)."""
HEAVY = 20e-6
"""Average handler time (s) above which a burst of requests is started in BATCHes."""
FLUSH_INTERVAL = 200e-6
"""A response is written at once if the last write is this old (s), else at the turn's end."""
RETIRE_POLL = 0.005
"""While retiring: how often (s) to look whether in-flight work has finished."""
CHUNK = 64 * 1024
"""The largest piece of a streamed body sent at once (several fit in the window)."""
INLINE_BODY = _pyworkerd.INLINE_BODY
"""Whole bodies longer than this are streamed (the wire takes ~1 MiB per frame)."""


def _size(body) -> int:
    return body.nbytes if type(body) is memoryview else len(body)


async def _pieces(body):
    """A whole body as an async iterable of CHUNK-sized views (no copy)."""
    view = memoryview(body).cast("B")
    for start in range(0, len(view), CHUNK):
        yield view[start:start + CHUNK]


def _fatal_on_error(method):
    """Runs a loop callback; any exception is logged and stops the isolate."""

    @functools.wraps(method)
    def wrapper(self, *args):
        try:
            return method(self, *args)
        except BaseException:
            log("isolate loop failed; stopping this isolate\n" + traceback.format_exc())
            self.failed = True
            self.loop.stop()

    return wrapper


class _Stream:
    """Flow control of one streamed body: bytes sent and not yet acknowledged by the host."""

    __slots__ = ("unacked", "waiter")

    def __init__(self) -> None:
        self.unacked = 0
        self.waiter: asyncio.Future | None = None


class _FirstStep:
    """Stands in for the loop's call_soon while an eager task is created: keeps the task's
    first step, to be run at once, instead of scheduling it (no Handle, no ready queue)."""

    __slots__ = ("step", "context")

    def __call__(self, step, *args, context=None) -> None:
        self.step = step
        self.context = context

    def run(self) -> None:
        step, self.step = self.step, None
        self.context.run(step)


class _Server:
    """Connects one Channel to runtime.handle(), in either mode."""

    def __init__(self, fd: int) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self.fd = fd
        self.channel = _pyworkerd.Channel(fd)
        self.tasks: dict[int, asyncio.Task] = {}
        self.streams: dict[int, _Stream] = {}
        self.backlog: list = []
        self.last_flush = 0.0
        self.handler_time = 0.0     # moving average of a handler's time, awaits included
        self.request_of: dict[asyncio.Task, int] = {}     # handler task -> request id
        self.pumps: dict[int, asyncio.Task] = {}           # request id -> body pump
        self.early: set[int] = set()                       # streamed before the handler returned
        self.flush_scheduled = False
        self.flush_deferred = False     # dispatch() flushes at its end (see there)
        self.first_step = _FirstStep()
        self.waiting_to_write = False
        self.closed = False
        self.retiring = False
        self.failed = False
        self.marked_running = False  # the loop marked running outside run_forever (handle_now)
        rpc.attach(self)
        websocket.transport = self

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The isolate's asyncio loop, made when first needed: a worker whose handlers are
        all sync never pays for it (an epoll instance and a self-pipe) at start, nor, in a
        cold isolate, for importing asyncio. A loop that a sync handler already made with
        asyncio.get_event_loop() becomes this one."""
        if self._loop is None:
            global asyncio
            import asyncio

            from pyworkerd import nested_loops

            made = asyncio.get_event_loop_policy()._local._loop
            usable = made is not None and not made.is_closed() and not isinstance(made, nested_loops.GuestLoop)
            self._loop = made if usable else nested_loops.make_host_loop()
            asyncio.set_event_loop(self._loop)
        return self._loop

    @property
    def has_loop(self) -> bool:
        return self._loop is not None

    def serve(self) -> None:
        while not self.closed and not self.failed and not self.retiring:
            if self.serve_sync() is None:
                self.retiring = True
                return
            # handle_now() started tasks that wait, or scheduled work: the loop runs them
            if self.channel.retiring():
                self.retiring = True  # RETIRE came in the same read as these requests
                return
            self.run_until_idle()

    def serve_sync(self) -> list | None:
        """The fast path (Channel.serve_sync with handle_now); the loop is no longer marked
        running when it returns."""
        try:
            return self.channel.serve_sync(self.handle_now, self.unsendable)
        finally:
            self.unmark_running()

    def retire(self) -> None:
        """Finish what is in flight, run the retire hooks (ASGI lifespan shutdown), write the
        rest. The reader stays on: streams still get acks, binding calls their results."""
        self.loop.add_reader(self.fd, self.on_readable)
        try:
            self.loop.run_until_complete(self.finish_and_retire())
        except RuntimeError:
            if not self.failed:  # the loop stopped under us (the isolate loop failed)
                raise
        finally:
            if not self.closed:
                self.loop.remove_reader(self.fd)
            if self.waiting_to_write:
                self.loop.remove_writer(self.fd)
                self.waiting_to_write = False
        if not self.closed:
            self.channel.flush(True)

    def in_flight(self) -> bool:
        return bool(self.tasks or self.pumps or self.backlog or websocket.busy() or context.pending_tasks())

    async def finish_and_retire(self) -> None:
        websocket.close_all(1001, "going away")    # the clients answer; then they are gone
        while self.in_flight() and not self.closed and not self.failed:
            await asyncio.sleep(RETIRE_POLL)
        if not self.failed:
            await context.retire()

    def run_until_idle(self) -> None:
        """Runs asyncio, with requests read from the loop, until no work is left. Frames that
        serve_sync() left buffered (after a task that waits) are read on the first turn."""
        self.loop.add_reader(self.fd, self.on_readable)
        if self.channel.buffered():
            self.loop.call_soon(self.on_readable)
        try:
            self.loop.run_forever()
        finally:
            self.loop.remove_reader(self.fd)
            if self.waiting_to_write:
                self.loop.remove_writer(self.fd)
                self.waiting_to_write = False

    def idle(self) -> bool:
        loop = self.loop
        return (not self.tasks and not self.pumps and not self.backlog and not loop._ready and not loop._scheduled
                and not websocket.busy() and asyncio.all_tasks(loop) <= context.retirement_waiters)

    def leave_when_idle(self) -> None:
        """Back to the fast path; serve_sync() writes anything still queued, waiting for the
        socket when it is full."""
        if self.idle():
            self.loop.stop()

    @_fatal_on_error
    def on_readable(self) -> None:
        requests = self.channel.read_requests()
        if requests is None:
            self.closed = True
            self.loop.remove_reader(self.fd)
            if not self.retiring:
                self.loop.stop()
            return
        if self.backlog:
            self.backlog.extend(requests)
            return
        self.dispatch(requests)

    @_fatal_on_error
    def drain_backlog(self) -> None:
        requests, self.backlog = self.backlog, []
        self.dispatch(requests)

    def dispatch(self, requests: list) -> None:
        """Each handler's task takes its first step right here (an eager task, as Python
        3.12's eager_task_factory does): a handler that never waits on I/O (FastAPI's hello)
        answers within this call, with no other loop turn. While handlers are heavy (a
        framework such as FastAPI: tens of microseconds each), start at most BATCH requests
        this loop turn and the rest on later turns: the first responses then leave while later
        requests still run (a pipeline with the host), instead of every response of a burst
        waiting for the whole burst. Light handlers are all started at once (fewer writes)."""
        if len(requests) > BATCH and self.handler_time > HEAVY:
            self.backlog = requests[BATCH:]
            requests = requests[:BATCH]
            self.loop.call_soon(self.drain_backlog)
        # The flush below writes what the handlers queue: their sends schedule no flush turn
        # of their own (one loop turn less per WebSocket message), unless run_sync() turns
        # the loop meanwhile (it flushes first, which ends the deferral).
        self.flush_scheduled = self.flush_deferred = True
        try:
            self.dispatch_each(requests)
        finally:
            self.flush_deferred = False
            self.flush()

    def dispatch_each(self, requests: list) -> None:
        handle = runtime.handle
        send = self.send
        started = self.loop.time()
        handled = 0
        for request in requests:
            if type(request) is not tuple:
                if type(request) is int:
                    self.cancel(request)
                elif request is None:
                    self.begin_retirement()
                elif len(request) == 2:
                    self.ack(*request)
                else:
                    websocket.on_frame(*request)  # [socket id, kind, data(, size)]
                continue
            if len(request) == 2:
                rpc.resolve(*request)
                continue
            handled += 1
            token = _request_id.set(request[7])
            try:
                result = handle(*request[:7])
                if type(result) is tuple:
                    send(request[0], *result)
                else:
                    self.start_task(request[0], result, True)
            finally:
                _request_id.reset(token)
        if handled:
            per_request = (self.loop.time() - started) / handled
            self.handler_time += (per_request - self.handler_time) * 0.125

    def handle_now(self, request_id: int, method: str, url: str, headers, body,
                   client=None, server=None, rid: int = 0):
        """serve_sync()'s handler: the response tuple; None once the response is queued
        (an async handler finished in its first step); else the task left for the loop.
        `rid`, the host's request id, is pyworkerd.log.request_id meanwhile (and in the task).
        An async handler's first step sees the loop running. For a worker whose fetch is
        async, the mark stays from one request to the next (its constructor sees it too):
        CPython 3.11 reads the pid (a syscall) each time it is set; sync code (a sync handler,
        a service binding's call) runs unmarked, and serve_sync() unmarks when it returns."""
        token = _request_id.set(rid)
        try:
            if method is None or not runtime.async_handler:
                self.unmark_running()
            elif not self.marked_running:
                self.mark_running()
            result = runtime.handle(request_id, method, url, headers, body, client, server)
            if type(result) is tuple:
                body = result[2]
                if type(body) is bytes and len(body) <= INLINE_BODY and not websocket.busy():
                    return result
                return True if self.send(request_id, *result) else None
            if not self.marked_running:
                self.mark_running()
            task = self.start_task(request_id, result, True)
            loop = self._loop
            if task is None and not loop._ready and not loop._scheduled:
                return None
            return True  # a waiting task, or work it scheduled (waitUntil, a stream, a flush)
        finally:
            _request_id.reset(token)

    def mark_running(self) -> None:
        """Mark the loop running, as run_forever() does, without running it: an eager
        first step (and code it calls) then finds it with asyncio.get_running_loop()."""
        loop = self._loop or self.loop  # self.loop imports asyncio when first needed
        asyncio.events._set_running_loop(loop)
        self.marked_running = True

    def unmark_running(self) -> None:
        if self.marked_running:
            asyncio.events._set_running_loop(None)
            self.marked_running = False

    def begin_retirement(self) -> None:
        """RETIRE: no more requests; leave run_until_idle() for retire() (tasks go on)."""
        if not self.retiring:
            self.retiring = True
            self.loop.stop()

    def start_task(self, request_id: int, coroutine, eager: bool = False) -> asyncio.Task | None:
        """Run a handler's coroutine in a task of its own; the task, or None when it ended in
        an eager first step. Eager (the loop running, or marked so): its first step runs now,
        with the task current as usual, instead of on the next turn; a handler that finishes
        in it has its response queued at once."""
        loop = self._loop   # made: called by handle_now() or from the running loop
        if eager:
            loop.call_soon = first_step = self.first_step  # the Task's constructor calls it
            try:
                task = asyncio.Task(coroutine, loop=loop)
            finally:
                del loop.call_soon
        else:
            task = loop.create_task(coroutine)
        self.tasks[request_id] = task
        self.request_of[task] = request_id
        if eager:
            first_step.run()
            if task.done():
                self.finish_handler(task)
                return None
        task.add_done_callback(self.handler_done)
        return task

    @_fatal_on_error
    def handler_done(self, task: asyncio.Task) -> None:
        """A handler's task ended on a later turn: queue its response and write it soon."""
        if self.finish_handler(task):
            self.response_queued()

    def finish_handler(self, task: asyncio.Task) -> bool:
        """Queue the response of a finished handler task; False when it has none to send
        (cancelled: the client left). A handler that raised (runtime.handle's coroutines never
        raise an Exception) means this machinery failed: the isolate stops."""
        request_id = self.request_of.pop(task)
        del self.tasks[request_id]
        try:
            response = task.result()
        except asyncio.CancelledError:
            self.early.discard(request_id)
            return False
        except BaseException as exc:
            log("isolate loop failed; stopping this isolate\n" +
                "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
            self.failed = True
            self.loop.stop()
            return False
        status, headers, body = response
        if self.early and request_id in self.early:
            self.early.discard(request_id)  # its response is already streaming
        elif isinstance(body, _BYTES_TYPES) or websocket.is_websocket(body):
            self.send(request_id, status, headers, body)
        else:
            try:
                self.start_stream(request_id, status, headers, body)
            except Exception as exc:
                self.channel.send_response(request_id, *self.unsendable(request_id, exc))
        return True

    def send(self, request_id: int, status: int, headers, body) -> bool:
        """Queue a whole response; one whose body is larger than INLINE_BODY is streamed
        (True: a task now sends it). One that cannot be sent gets a 500 instead."""
        try:
            if type(body) is websocket.WebSocket:
                self.send_websocket(request_id, headers, body)
                return True
            if (type(body) is not bytes or len(body) > INLINE_BODY) and \
                    isinstance(body, _BYTES_TYPES) and _size(body) > INLINE_BODY:
                self.start_stream(request_id, status, headers, _pieces(body), _size(body))
                return True
            self.channel.send_response(request_id, status, headers, body)
            return False
        except Exception as exc:
            self.channel.send_response(request_id, *self.unsendable(request_id, exc))
            return False

    def send_websocket(self, request_id: int, headers, client) -> None:
        """A 101 accepting the request's WebSocket: `client`'s pair's other end becomes the
        socket on the wire (id: the request's), and the loop runs while it is open."""
        if client._wire is not None:    # a socket from fetch() or a service binding: proxied
            self.channel.send_websocket_response(request_id, headers, websocket.hand_over(client))
            self.schedule_flush()
            return
        server = websocket.transfer(client)  # raises for a socket that cannot be sent
        self.channel.send_websocket_response(request_id, headers)
        server._go_live(request_id)
        self.schedule_flush()

    def unsendable(self, request_id: int, exc: BaseException):
        """A response that could not be queued: log why, answer 500 instead."""
        context.log_exception(f"request {request_id}: its response could not be sent", exc)
        return runtime._error_response()

    def response_queued(self) -> None:
        """Write now if the last write is FLUSH_INTERVAL old, else at the end of this turn."""
        if self.loop.time() - self.last_flush >= FLUSH_INTERVAL:
            self.flush()
        else:
            self.schedule_flush()

    def cancel(self, request_id: int) -> None:
        """The client went away: stop its handler and its body's pump (the host drops any
        answer)."""
        task = self.tasks.get(request_id)
        if task is not None:
            task.cancel()
        pump = self.pumps.get(request_id)
        if pump is not None:
            pump.cancel()

    # runtime.streams: adapters stream a response before their handler returns
    def early_stream_id(self) -> int | None:
        if self._loop is None:
            return None
        return self.request_of.get(asyncio.current_task(self._loop))

    def stream_early(self, request_id: int, response) -> None:
        if request_id in self.early or request_id not in self.tasks:
            raise RuntimeError("this request's response was already sent")
        self.early.add(request_id)
        self.start_stream(request_id, response._status, response._headers._list, response._body)
        self.schedule_flush()

    def run_sync(self, awaitable):
        """pyodide.ffi.run_sync: run `awaitable` in a task of its own on the isolate's loop,
        turn by turn, until it is done, and return its result. Works from sync code (the loop
        not running: the socket is read meanwhile, so binding calls get their results) and
        from inside a running task (which is set aside while the loop turns, as JSPI
        suspends it)."""
        loop = self.loop
        if self.flush_deferred:     # a handler dispatch() runs: what it queued goes out now
            self.flush_deferred = False
            self.flush()
        task = asyncio.ensure_future(awaitable, loop=loop)
        running = loop.is_running()
        # A fresh reader: when the loop runs, its reader's Handle may be what runs now (it
        # dispatched the request that called this), and a Handle cannot be entered twice.
        loop.remove_reader(self.fd)
        loop.add_reader(self.fd, self.on_readable)
        if not running and self.channel.buffered():
            loop.call_soon(self.on_readable)
        current = asyncio.current_task(loop)
        if current is not None:
            asyncio.tasks._leave_task(loop, current)
        outer = asyncio.events._get_running_loop()
        stopping = loop._stopping  # a stop() asked meanwhile (leave_when_idle) is not ours
        asyncio.events._set_running_loop(loop)  # the task's code finds its loop running
        try:
            while not task.done() and not self.failed:
                loop._run_once()
        finally:
            asyncio.events._set_running_loop(outer)
            loop._stopping = stopping
            if current is not None:
                asyncio.tasks._enter_task(loop, current)
            if not self.closed:
                loop.remove_reader(self.fd)
                if running:
                    loop.add_reader(self.fd, self.on_readable)
        return task.result()

    def schedule_flush(self) -> None:
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def after_blocking_call(self) -> None:
        """A blocking binding call may have buffered frames the loop has not seen."""
        if self.channel.buffered():
            self.loop.call_soon(self.on_readable)

    def start_stream(self, request_id: int, status: int, headers, body, size: int = -1) -> None:
        """Send the head now and the body's chunks as `body` (an async iterable) yields them
        (`size` bytes in all, when known)."""
        self.channel.send_response_start(request_id, status, headers, size)
        task = self.loop.create_task(self.pump(request_id, body))
        self.pumps[request_id] = task
        task.add_done_callback(functools.partial(self.stream_done, request_id))

    async def pump(self, request_id: int, body) -> None:
        stream = self.streams[request_id] = _Stream()
        window = _pyworkerd.STREAM_WINDOW
        send_chunk = self.channel.send_chunk
        aborted = True
        try:
            async for chunk in body:
                if not isinstance(chunk, _BYTES_TYPES):
                    raise TypeError(f"a streamed body yielded {type(chunk).__name__}, expected bytes")
                if not chunk:
                    continue
                pieces = (chunk,) if _size(chunk) <= CHUNK else _split(chunk)
                for piece in pieces:
                    send_chunk(request_id, piece)
                    stream.unacked += _size(piece)
                    self.schedule_flush()
                    while stream.unacked >= window:
                        stream.waiter = self.loop.create_future()
                        await stream.waiter
            aborted = False
        except Exception as exc:
            context.log_exception(f"request {request_id}: the streamed response body failed", exc)
        finally:
            del self.streams[request_id]
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()
        self.channel.send_end(request_id, aborted)
        self.schedule_flush()

    def ack(self, request_id: int, size: int) -> None:
        """The host passed `size` bytes of a streamed body on to the client."""
        stream = self.streams.get(request_id)
        if stream is None:
            return
        stream.unacked -= size
        waiter = stream.waiter
        if waiter is not None and stream.unacked < _pyworkerd.STREAM_WINDOW:
            stream.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    @_fatal_on_error
    def stream_done(self, request_id: int, task: asyncio.Task) -> None:
        if self.pumps.get(request_id) is task:
            del self.pumps[request_id]
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()
        self.schedule_flush()

    @_fatal_on_error
    def flush(self) -> None:
        self.flush_scheduled = False
        self.last_flush = self.loop.time()
        if self.channel.flush():
            if self.waiting_to_write:
                self.loop.remove_writer(self.fd)
                self.waiting_to_write = False
            if not self.tasks and not self.pumps and not websocket.busy():
                self.loop.call_soon(self.leave_when_idle)
        elif not self.waiting_to_write:
            self.loop.add_writer(self.fd, self.flush)
            self.waiting_to_write = True


def _split(chunk):
    view = memoryview(chunk).cast("B")
    return [view[start:start + CHUNK] for start in range(0, len(view), CHUNK)]


def _install_policy(server: _Server, asyncio_module: Any) -> None:
    """Loops the worker makes are views of the isolate's loop (nested_loops)."""
    from pyworkerd import nested_loops

    asyncio_module.set_event_loop_policy(nested_loops.IsolatePolicy(server))


def serve(fd: int) -> None:
    """Serve requests arriving on fd until the host closes it."""
    runtime.before_first_request()
    server = _Server(fd)
    on_import.after_import("asyncio", functools.partial(_install_policy, server))
    if runtime.async_handler:
        server.loop     # made now, not on the first request's path (a spare waits for one)
    context.streams = server
    try:
        server.serve()
    finally:
        if not server.failed:
            if server.has_loop or context.has_retire_hooks() or context.pending_tasks():
                server.retire()
            elif not server.closed:
                server.channel.flush(True)  # a sync worker: no loop to make just to exit
