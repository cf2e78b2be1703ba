"""The isolate's request loop (isolate process).

Runs an asyncio event loop whose only I/O is the socket to the host. Each readable event
drains every frame available; a sync handler's response is queued at once (fast path), an
async one runs as a task and is queued when it finishes. Queued responses are written in
one batch per loop turn, and the writer waits for the socket when it is full.
A failure of this machinery itself (not of a handler: runtime.handle catches those) stops the
isolate, so that the host answers its requests with 502 and starts a fresh one.
"""

import asyncio
import functools
import traceback

import _pyworkerd
from pyworkerd import runtime
from pyworkerd.log import log


def _fatal_on_error(method):
    """Runs a loop callback; any exception is logged and stops the isolate."""

    @functools.wraps(method)
    def wrapper(self, *args):
        try:
            return method(self, *args)
        except BaseException:
            log("isolate loop failed; stopping this isolate\n" + traceback.format_exc())
            self.loop.stop()

    return wrapper


class _Server:
    """Connects one Channel to runtime.handle() on one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self.loop = loop
        self.fd = fd
        self.channel = _pyworkerd.Channel(fd)
        self.tasks: dict[int, asyncio.Task] = {}
        self.flush_scheduled = False
        self.waiting_to_write = False

    @_fatal_on_error
    def on_readable(self) -> None:
        requests = self.channel.read_requests()
        if requests is None:
            self.loop.stop()
            return
        handle = runtime.handle
        send = self.channel.send_response
        for request in requests:
            if type(request) is int:
                self.cancel(request)
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
        if task.cancelled():
            return
        self.channel.send_response(request_id, *task.result())
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    @_fatal_on_error
    def flush(self) -> None:
        self.flush_scheduled = False
        if self.channel.flush():
            if self.waiting_to_write:
                self.loop.remove_writer(self.fd)
                self.waiting_to_write = False
        elif not self.waiting_to_write:
            self.loop.add_writer(self.fd, self.flush)
            self.waiting_to_write = True


def serve(fd: int) -> None:
    """Serve requests arriving on fd until the host closes it."""
    runtime.before_first_request()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = _Server(loop, fd)
    loop.add_reader(fd, server.on_readable)
    try:
        loop.run_forever()
    finally:
        server.channel.flush()
