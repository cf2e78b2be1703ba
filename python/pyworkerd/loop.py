"""The isolate's request loop (isolate process).

Two modes. While nothing asynchronous is pending, Channel.serve_sync() serves in C without
an event loop: it blocks on the socket, calls runtime.handle() for each request and writes
the response tuples (the sync-handler fast path). When a handler returns a coroutine, the
isolate switches to an asyncio loop whose only I/O is the same socket: requests keep
arriving there, tasks run concurrently, responses are written in one batch per loop turn.
Once no task, timer or callback is left, it returns to the fast path.
A failure of this machinery itself (not of a handler: runtime.handle catches those) stops the
isolate, so that the host answers its requests with 502 and starts a fresh one.
"""

import asyncio
import functools
import traceback

import _pyworkerd
from pyworkerd import rpc, runtime
from pyworkerd.log import log


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


class _Server:
    """Connects one Channel to runtime.handle(), in either mode."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self.loop = loop
        self.fd = fd
        self.channel = _pyworkerd.Channel(fd)
        self.tasks: dict[int, asyncio.Task] = {}
        self.flush_scheduled = False
        self.waiting_to_write = False
        self.closed = False
        self.failed = False
        rpc.attach(self)

    def serve(self) -> None:
        while not self.closed and not self.failed:
            deferred = self.channel.serve_sync(runtime.handle)
            if deferred is None:
                return
            for request_id, coroutine in deferred:
                self.start_task(request_id, coroutine)
            self.run_until_idle()

    def run_until_idle(self) -> None:
        """Runs asyncio, with requests read from the loop, until no work is left."""
        self.loop.add_reader(self.fd, self.on_readable)
        try:
            self.loop.run_forever()
        finally:
            self.loop.remove_reader(self.fd)
            if self.waiting_to_write:
                self.loop.remove_writer(self.fd)
                self.waiting_to_write = False

    def idle(self) -> bool:
        loop = self.loop
        return (not self.tasks and not loop._ready and not loop._scheduled
                and not asyncio.all_tasks(loop))

    def leave_when_idle(self) -> None:
        if self.idle():
            self.channel_flush_all()
            self.loop.stop()

    def channel_flush_all(self) -> None:
        while not self.channel.flush():
            pass  # serve_sync writes with blocking waits; here the rest is tiny

    @_fatal_on_error
    def on_readable(self) -> None:
        requests = self.channel.read_requests()
        if requests is None:
            self.closed = True
            self.loop.stop()
            return
        handle = runtime.handle
        send = self.channel.send_response
        for request in requests:
            if type(request) is int:
                self.cancel(request)
                continue
            if len(request) == 2:
                rpc.resolve(*request)
                continue
            result = handle(*request)
            if type(result) is tuple:
                send(request[0], *result)
            else:
                self.start_task(request[0], result)
        self.flush()

    def start_task(self, request_id: int, coroutine) -> None:
        task = self.loop.create_task(coroutine)
        self.tasks[request_id] = task
        task.add_done_callback(functools.partial(self.task_done, request_id))

    def cancel(self, request_id: int) -> None:
        """The client went away: stop its handler (the host drops any answer)."""
        task = self.tasks.get(request_id)
        if task is not None:
            task.cancel()

    @_fatal_on_error
    def task_done(self, request_id: int, task: asyncio.Task) -> None:
        del self.tasks[request_id]
        if not task.cancelled():
            self.channel.send_response(request_id, *task.result())
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush_soon(self) -> None:
        """Write queued frames (binding calls) at the next loop turn."""
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def after_blocking_call(self) -> None:
        """A blocking binding call may have buffered frames the loop has not seen."""
        if self.channel.buffered():
            self.loop.call_soon(self.on_readable)

    @_fatal_on_error
    def flush(self) -> None:
        self.flush_scheduled = False
        if self.channel.flush():
            if self.waiting_to_write:
                self.loop.remove_writer(self.fd)
                self.waiting_to_write = False
            if not self.tasks:
                self.loop.call_soon(self.leave_when_idle)
        elif not self.waiting_to_write:
            self.loop.add_writer(self.fd, self.flush)
            self.waiting_to_write = True


def serve(fd: int) -> None:
    """Serve requests arriving on fd until the host closes it."""
    runtime.before_first_request()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = _Server(loop, fd)
    try:
        server.serve()
    finally:
        server.channel.flush()
