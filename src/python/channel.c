/* channel.c — _pyworkerd.Channel, the isolate's end of its socket to the host (isolate
 * process). read_requests() drains the socket and turns REQUEST frames into tuples
 * (id, method, url, [(name, value), ...], body, client, server, request id), CALL frames (a
 * service binding's call) into (id, None, entrypoint, method, payload, None, None, request id),
 * RPC_RESULT frames into (call id, [fields]),
 * CANCEL frames (the client went away) into the bare request id, BODY_ACK frames into
 * [id, bytes] and the RETIRE frame (no more requests will come) into None; send_response()
 * appends a RESPONSE frame to the output buffer,
 * send_response_start()/send_chunk()/send_end() a streamed one (also a whole body larger than
 * PW_FRAME_INLINE_BODY, announced with its size: the wire takes at most PW_FRAME_MAX_INLINE
 * per frame from an isolate, wire/frame.h); flush() writes what it can
 * without blocking. rpc_send() queues a binding call (RPC frame); rpc_call() sends one and
 * blocks until its RPC_RESULT arrives, leaving every other frame buffered for later. Frames
 * from the host are
 * trusted less than fully: a malformed one closes the channel with an error.
 * The channel's first frame offers the host a doorbell (wire/doorbell.h), rung after every
 * write, so that the host sleeps on it rather than on the socket.
 * Invariant: frames are consumed by advancing in_off before any Python code runs, because
 * that code may call rpc_call(), which reads more into (and may move) the input buffer.
 */
#include "base/fd.h"
#include "base/log.h"
#include "python/busy_poll.h"
#include "python/module.h"
#include "wire/control.h"
#include "python/ws_channel.h"
#include "wire/doorbell.h"
#include "wire/frame.h"
#include "wire/rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

/* serve_sync() writes the responses queued so far once the last write is this old, instead of
 * after the whole burst it read: with handlers of tens of microseconds (FastAPI) the first
 * responses then leave while later requests still run (the host works in parallel). */
#define EARLY_WRITE_NS 200000
#define READ_CHUNK 65536
#define KEEP_CAP (256 * 1024)   /* `in` shrinks back to this once a large frame is used */

typedef struct {
    PyObject_HEAD
    int fd;
    int bell;                   /* the doorbell the host sleeps on, or -1 (wire/doorbell.h) */
    int eof;
    int retiring;               /* a RETIRE frame arrived: serve_sync() returns None */
    pw_buf_t in;
    size_t in_off;              /* frames before this offset of `in` are consumed */
    pw_buf_t out;
    uint32_t next_rpc_id;
    uint64_t last_write_ns;     /* CLOCK_MONOTONIC of serve_sync()'s last write */
    pw_busy_poll_t waiting;     /* how wait_readable() waits */
    PyObject *server;           /* the last request's server (ip, port), reused while equal */
    char server_ip[46];
    size_t server_ip_len;
    uint32_t server_port;
} channel_t;

static int channel_init(channel_t *self, PyObject *args, PyObject *kwargs)
{
    int fd;
    if (!PyArg_ParseTuple(args, "i", &fd))
        return -1;
    int rc = pw_fd_set_nonblock(fd, 1);
    if (rc < 0) {
        errno = -rc;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    self->fd = fd;
    if (self->bell > 0)         /* > 0: a Channel never initialised has bell 0 (zeroed) */
        close(self->bell);
    self->bell = pw_doorbell_offer(fd);     /* none (-errno): the host reads the socket itself */
    if (self->bell < 0)
        self->bell = -1;
    self->eof = 0;
    self->retiring = 0;
    self->in_off = 0;
    self->next_rpc_id = 1;
    pw_busy_poll_init(&self->waiting, PW_BUSY_POLL_WINDOW_NS);
    Py_CLEAR(self->server);
    pw_buf_init(&self->in);
    pw_buf_init(&self->out);
    return 0;
}

static void channel_dealloc(channel_t *self)
{
    PyTypeObject *type = Py_TYPE(self);
    pw_buf_free(&self->in);
    pw_buf_free(&self->out);
    Py_CLEAR(self->server);
    if (self->bell > 0)
        close(self->bell);
    type->tp_free(self);
    Py_DECREF(type);
}

/* Bytes the incomplete frame at the end of `in` still misses (0 if none is incomplete);
 * `*scan` is the start of the first frame not yet known complete. */
static size_t frame_missing(channel_t *self, size_t *scan)
{
    pw_frame_t frame;
    size_t used;
    while (pw_frame_parse(self->in.data + *scan, self->in.len - *scan, &frame, &used) == 1)
        *scan += used;
    return pw_frame_missing(self->in.data + *scan, self->in.len - *scan);
}

/* Room for the next read: exactly what a large frame still misses (a 32 MiB request body
 * must not double the buffer under the memory limit), else READ_CHUNK. 0 or -1 (error set). */
static int reserve_read(channel_t *self, size_t *scan)
{
    size_t missing = frame_missing(self, scan);
    int rc = missing > READ_CHUNK ? pw_buf_reserve_exact(&self->in, missing)
                                  : pw_buf_reserve(&self->in, READ_CHUNK);
    if (rc < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* Drops the consumed frames, and gives back the memory a large frame needed. Only while no
 * pointer into `in` is held. */
static void channel_compact(channel_t *self)
{
    pw_buf_consume(&self->in, self->in_off);
    self->in_off = 0;
    pw_buf_shrink(&self->in, KEEP_CAP);
}

/* Reads everything available; sets self->eof at end of stream. A read shorter than the room
 * it had drained the socket: no second read(2) just to see EAGAIN (one system call less per
 * wake-up; an end of stream right behind is seen on the next wake-up, the socket being
 * readable). Returns 0 or -1 (error set). */
static int channel_fill(channel_t *self)
{
    size_t scan = 0;
    channel_compact(self);
    for (;;) {
        if (reserve_read(self, &scan) < 0)
            return -1;
        size_t room = self->in.cap - self->in.len;
        ssize_t n = read(self->fd, self->in.data + self->in.len, room);
        if (n > 0) {
            self->in.len += (size_t)n;
            if ((size_t)n < room)
                return 0;
            continue;
        }
        if (n == 0) {
            self->eof = 1;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return 0;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
}

static PyObject *str_from(pw_bytes_t b)
{
    return PyUnicode_DecodeLatin1((const char *)b.base, (Py_ssize_t)b.len, NULL);
}

static PyObject *headers_to_list(pw_message_t *msg)
{
    PyObject *list = PyList_New(msg->n_headers);
    if (!list)
        return NULL;
    pw_header_t h;
    for (Py_ssize_t i = 0; pw_headers_next(msg, &h); i++) {
        PyObject *pair = Py_BuildValue("(NN)", str_from(h.name), str_from(h.value));
        if (!pair) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, pair);
    }
    return list;
}

/* (ip, port), or None for an address the host did not know. */
static PyObject *address_tuple(pw_bytes_t ip, uint32_t port)
{
    if (ip.len == 0)
        Py_RETURN_NONE;
    return Py_BuildValue("(NI)", str_from(ip), port);
}

/* The server address as a tuple: the same for every request of a listener, so the last one
 * is kept and reused. */
static PyObject *server_tuple(channel_t *self, pw_bytes_t ip, uint32_t port)
{
    if (!self->server || self->server_port != port || self->server_ip_len != ip.len ||
        memcmp(self->server_ip, ip.base, ip.len) != 0) {
        if (ip.len > sizeof self->server_ip)
            return address_tuple(ip, port);
        Py_CLEAR(self->server);
        if (!(self->server = address_tuple(ip, port)))
            return NULL;
        memcpy(self->server_ip, ip.base, ip.len);
        self->server_ip_len = ip.len;
        self->server_port = port;
    }
    return Py_NewRef(self->server);
}

/* REQUEST -> (id, method, url, headers, body, client, server, request id); client and server
 * are (ip, port) or None; the request id is the host's, for log lines. */
static PyObject *request_to_tuple(channel_t *self, const pw_frame_t *frame)
{
    pw_message_t msg;
    if (pw_message_decode_request(frame, &msg) < 0) {
        PyErr_Format(PyExc_ValueError, "malformed REQUEST frame %u from the host", frame->id);
        return NULL;
    }
    PyObject *headers = headers_to_list(&msg);
    if (!headers)
        return NULL;
    PyObject *client, *server;
    if (msg.has_peer) {
        client = address_tuple(msg.peer.client_ip, msg.peer.client_port);
        server = client ? server_tuple(self, msg.peer.server_ip, msg.peer.server_port) : NULL;
    } else {
        client = Py_NewRef(Py_None);
        server = Py_NewRef(Py_None);
    }
    if (!client || !server) {
        Py_XDECREF(client);
        Py_DECREF(headers);
        return NULL;
    }
    return Py_BuildValue("(INNNy#NNK)", frame->id, str_from(msg.method),
                         PyUnicode_DecodeUTF8((const char *)msg.url.base, (Py_ssize_t)msg.url.len,
                                              "surrogateescape"),
                         headers, (const char *)msg.body.base, (Py_ssize_t)msg.body.len, client,
                         server, (unsigned long long)msg.request_id);
}

static PyObject *fields_to_list(const pw_frame_t *frame, const char *what)
{
    pw_bytes_t stack[16], *fields = stack;
    size_t n, max = pw_rpc_count(frame);
    if (max > PW_RPC_MAX_FIELDS)
        max = PW_RPC_MAX_FIELDS;
    if (max > 16 && !(fields = PyMem_Malloc(sizeof *fields * max)))
        return PyErr_NoMemory();
    if (pw_rpc_decode(frame, fields, max, &n) < 0) {
        if (fields != stack)
            PyMem_Free(fields);
        PyErr_Format(PyExc_ValueError, "malformed %s frame %u from the host", what, frame->id);
        return NULL;
    }
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *b = PyBytes_FromStringAndSize((const char *)fields[i].base, (Py_ssize_t)fields[i].len);
        if (!b) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, b);
    }
    if (fields != stack)
        PyMem_Free(fields);
    return list;
}

/* RPC_RESULT -> (call id, [bytes, ...]) */
static PyObject *result_to_tuple(const pw_frame_t *frame)
{
    PyObject *fields = fields_to_list(frame, "RPC_RESULT");
    return fields ? Py_BuildValue("(IN)", frame->id, fields) : NULL;
}

/* CALL -> (id, None, entrypoint, method, payload, None, None, request id): a REQUEST's shape */
static PyObject *call_to_tuple(const pw_frame_t *frame)
{
    pw_bytes_t f[4];
    size_t n;
    if (pw_rpc_decode(frame, f, 4, &n) < 0 || n != 4 || f[3].len != 8) {
        PyErr_Format(PyExc_ValueError, "malformed CALL frame %u from the host", frame->id);
        return NULL;
    }
    pw_cursor_t rid;
    pw_cursor_init(&rid, f[3].base, 8);
    return Py_BuildValue("(IONNy#OOK)", frame->id, Py_None, str_from(f[0]), str_from(f[1]),
                         (const char *)f[2].base, (Py_ssize_t)f[2].len, Py_None, Py_None,
                         (unsigned long long)pw_cursor_u64(&rid));
}

/* [id, bytes] for a BODY_ACK frame. */
static PyObject *ack_to_list(const pw_frame_t *frame)
{
    uint32_t bytes;
    if (pw_frame_decode_u32(frame, &bytes) < 0) {
        PyErr_Format(PyExc_ValueError, "malformed BODY_ACK frame %u from the host", frame->id);
        return NULL;
    }
    return Py_BuildValue("[II]", frame->id, bytes);
}

/* read_requests() -> list of request tuples and cancelled ids, or None once the host has
 * closed the socket and every request before that was returned. */
static PyObject *channel_read_requests(channel_t *self, PyObject *unused)
{
    if (!self->eof && channel_fill(self) < 0)
        return NULL;
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    size_t used;
    pw_frame_t frame;
    int rc;
    while ((rc = pw_frame_parse(self->in.data + self->in_off, self->in.len - self->in_off, &frame,
                                &used)) == 1) {
        self->in_off += used;
        PyObject *req;
        if (frame.type == PW_FRAME_REQUEST)
            req = request_to_tuple(self, &frame);
        else if (frame.type == PW_FRAME_CALL)
            req = call_to_tuple(&frame);
        else if (frame.type == PW_FRAME_RPC_RESULT)
            req = result_to_tuple(&frame);
        else if (frame.type == PW_FRAME_CANCEL)
            req = PyLong_FromUnsignedLong(frame.id);
        else if (frame.type == PW_FRAME_BODY_ACK)
            req = ack_to_list(&frame);
        else if (pw_ws_channel_is_event(frame.type))
            req = pw_ws_channel_event(&frame);
        else if (frame.type == PW_FRAME_RETIRE && !self->retiring) {
            self->retiring = 1;
            req = Py_NewRef(Py_None);
        } else
            continue;   /* future frame types */
        if (!req || PyList_Append(list, req) < 0) {
            Py_XDECREF(req);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(req);
    }
    if (rc < 0) {
        Py_DECREF(list);
        return PyErr_Format(PyExc_ValueError, "oversized frame from the host");
    }
    channel_compact(self);
    if (self->eof && PyList_GET_SIZE(list) == 0) {
        Py_DECREF(list);
        Py_RETURN_NONE;
    }
    return list;
}

static int utf8_of(PyObject *obj, pw_bytes_t *out)
{
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(obj, &len);
    if (!s)
        return -1;
    out->base = (const uint8_t *)s;
    out->len = (size_t)len;
    return 0;
}

/* Converts a PySequence_Fast of (name, value) str pairs into wire headers pointing into the
 * str objects, which stay alive as long as `fast` does. */
static pw_header_t *headers_from_list(PyObject *fast, Py_ssize_t *count)
{
    if (!fast)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    pw_header_t *headers = PyMem_Malloc(sizeof(pw_header_t) * (size_t)(n ? n : 1));
    if (!headers) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(fast, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            utf8_of(PyTuple_GET_ITEM(pair, 0), &headers[i].name) < 0 ||
            utf8_of(PyTuple_GET_ITEM(pair, 1), &headers[i].value) < 0) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "each header must be a (str, str) tuple");
            PyMem_Free(headers);
            return NULL;
        }
    }
    *count = n;
    return headers;
}

/* Encodes one RESPONSE frame into the output buffer; body_obj NULL starts a streamed one
 * (whose chunks add up to `size` bytes, unless size < 0). Returns 0, or -1 with an exception. */
static int queue_response(channel_t *self, unsigned int id, unsigned int status,
                          PyObject *headers_obj, PyObject *body_obj, long long size)
{
    Py_buffer body = { .buf = NULL, .len = 0 };
    if (body_obj && PyObject_GetBuffer(body_obj, &body, PyBUF_SIMPLE) < 0)
        return -1;
    Py_ssize_t n = 0;
    PyObject *fast = PySequence_Fast(headers_obj, "headers must be a sequence of (name, value) pairs");
    pw_header_t *headers = fast ? headers_from_list(fast, &n) : NULL;
    if (!headers) {
        Py_XDECREF(fast);
        if (body_obj)
            PyBuffer_Release(&body);
        return -1;
    }
    pw_bytes_t b = { body.buf, (size_t)body.len };
    size_t start = self->out.len;
    int rc = body_obj    ? pw_frame_put_response(&self->out, id, status, headers, (size_t)n, b)
             : size >= 0 ? pw_frame_put_response_start_sized(&self->out, id, status, headers,
                                                             (size_t)n, (uint64_t)size)
                         : pw_frame_put_response_start(&self->out, id, status, headers, (size_t)n);
    PyMem_Free(headers);
    Py_DECREF(fast);
    if (body_obj)
        PyBuffer_Release(&body);
    if (rc == 0 && self->out.len - start - PW_FRAME_HEADER_SIZE > PW_FRAME_MAX_INLINE) {
        self->out.len = start;      /* the host would take it for a protocol violation */
        rc = -EMSGSIZE;
    }
    if (rc == -ENOMEM) {
        PyErr_NoMemory();
        return -1;
    }
    if (rc < 0) {
        PyErr_Format(PyExc_ValueError,
                     "response %u: its status, headers and body take more than the 1 MiB a "
                     "response may have on the wire (larger bodies are sent in chunks)", id);
        return -1;
    }
    return 0;
}

/* send_response(id, status, headers, body) */
static PyObject *channel_send_response(channel_t *self, PyObject *args)
{
    unsigned int id, status;
    PyObject *headers_obj, *body_obj;
    if (!PyArg_ParseTuple(args, "IIOO", &id, &status, &headers_obj, &body_obj))
        return NULL;
    if (queue_response(self, id, status, headers_obj, body_obj, -1) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* send_response_start(id, status, headers, size=-1): the head of a streamed response; a
 * size >= 0 says the chunks will add up to it (the client gets it as Content-Length). */
static PyObject *channel_send_response_start(channel_t *self, PyObject *args)
{
    unsigned int id, status;
    PyObject *headers_obj;
    long long size = -1;
    if (!PyArg_ParseTuple(args, "IIO|L", &id, &status, &headers_obj, &size))
        return NULL;
    if (queue_response(self, id, status, headers_obj, NULL, size) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* send_chunk(id, data) -> bytes now waiting in the output buffer. */
static PyObject *channel_send_chunk(channel_t *self, PyObject *args)
{
    unsigned int id;
    Py_buffer data;
    if (!PyArg_ParseTuple(args, "Iy*", &id, &data))
        return NULL;
    int rc = (size_t)data.len > PW_FRAME_MAX_INLINE
                 ? -EMSGSIZE
                 : pw_frame_put_chunk(&self->out, id, data.buf, (size_t)data.len);
    PyBuffer_Release(&data);
    if (rc < 0)
        return PyErr_Format(PyExc_ValueError, "body chunk of response %u too large for the wire", id);
    return PyLong_FromSize_t(self->out.len);
}

/* send_end(id, aborted): the end of a streamed response. */
static PyObject *channel_send_end(channel_t *self, PyObject *args)
{
    unsigned int id;
    int aborted;
    if (!PyArg_ParseTuple(args, "Ip", &id, &aborted))
        return NULL;
    if (pw_frame_put_u32_frame(&self->out, PW_FRAME_END, id, aborted ? 1 : 0) < 0)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* Queues a handler's (status, headers, body) tuple as the response to request id. */
static int queue_response_tuple(channel_t *self, uint32_t id, PyObject *result)
{
    unsigned long status;
    if (PyTuple_GET_SIZE(result) != 3 || !PyLong_Check(PyTuple_GET_ITEM(result, 0)) ||
        (status = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(result, 0))) > 999) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "a response tuple is (status, headers, body)");
        return -1;
    }
    return queue_response(self, id, (unsigned int)status, PyTuple_GET_ITEM(result, 1),
                          PyTuple_GET_ITEM(result, 2), -1);
}

/* A handler's response could not be queued (bad headers, too large, out of memory): passes
 * the exception to on_error(id, exc), which logs it and returns the response to send instead
 * (a 500). Only this request fails. Returns 0, or -1 with an exception when not even that
 * could be queued. */
static int queue_instead(channel_t *self, uint32_t id, PyObject *on_error)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    PyObject *result = on_error && value ? PyObject_CallFunction(on_error, "IO", id, value) : NULL;
    if (!on_error || !value)
        PyErr_Restore(type, value, tb);
    else {
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
    if (!result)
        return -1;
    int rc = PyTuple_CheckExact(result) ? queue_response_tuple(self, id, result) : -1;
    if (rc < 0 && !PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "on_error must return a response tuple");
    Py_DECREF(result);
    return rc;
}

static void ring(channel_t *self, size_t written)
{
    if (written > 0 && self->bell >= 0)
        pw_doorbell_ring(self->bell);
}

/* Writes the output buffer; when the socket is full, waits for it if `block`, else stops.
 * Rings the doorbell after writing, and before waiting (the host must wake to drain the
 * socket). Returns 0, or -1 with an exception set. */
static int write_out(channel_t *self, int block)
{
    size_t off = 0, rung = 0;
    while (off < self->out.len) {
        ssize_t n = write(self->fd, self->out.data + off, self->out.len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN && !block)
            break;
        if (n < 0 && errno == EAGAIN) {
            ring(self, off - rung);
            rung = off;
            struct pollfd pfd = { .fd = self->fd, .events = POLLOUT };
            if (poll(&pfd, 1, -1) >= 0 || errno == EINTR)
                continue;
        }
        pw_buf_consume(&self->out, off);
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    ring(self, off - rung);
    pw_buf_consume(&self->out, off);
    return 0;
}

/* flush(block=False) -> True when everything buffered was written, False when the socket is
 * full (never with block: it waits for the socket). */
static PyObject *channel_flush(channel_t *self, PyObject *const *args, Py_ssize_t nargs)
{
    int block = nargs > 0 ? PyObject_IsTrue(args[0]) : 0;
    if (block < 0 || write_out(self, block) < 0)
        return NULL;
    return PyBool_FromLong(self->out.len == 0);
}

/* Waits for the host's next bytes, polling first while the isolate is the bottleneck
 * (python/busy_poll.h). Returns 0, or -1 with an exception set. */
static int wait_readable(channel_t *self)
{
    if (pw_busy_poll_wait(&self->waiting, self->fd) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

/* Writes what is queued, without waiting for the socket, if the last write is EARLY_WRITE_NS
 * old. Returns 0, or -1 with an exception set. */
static int write_if_due(channel_t *self)
{
    uint64_t now = pw_trace_clock();
    if (self->out.len == 0 || now - self->last_write_ns < EARLY_WRITE_NS)
        return 0;
    self->last_write_ns = now;
    return write_out(self, 0);
}

/* Calls handle(*request) for every complete REQUEST frame buffered. A tuple result is queued
 * as the response; None means handle() has queued the response itself; anything else (a
 * coroutine, or a started task that still runs) is appended to `deferred` as (id, result),
 * and the frames after it stay buffered for the event loop (read_requests()): from then on
 * a CANCEL or an RPC_RESULT may concern that task. Before, nothing runs asynchronously, so
 * CANCEL frames and stray RPC_RESULTs are ignored. */
static int dispatch_buffered(channel_t *self, PyObject *handle, PyObject *on_error,
                             PyObject *deferred)
{
    size_t used;
    pw_frame_t frame;
    int rc;
    while ((rc = pw_frame_parse(self->in.data + self->in_off, self->in.len - self->in_off, &frame,
                                &used)) == 1) {
        self->in_off += used;   /* before handle() runs: it may call rpc_call() */
        PyObject *request;
        if (frame.type == PW_FRAME_REQUEST)
            request = request_to_tuple(self, &frame);
        else if (frame.type == PW_FRAME_CALL)
            request = call_to_tuple(&frame);
        else if (frame.type == PW_FRAME_RETIRE) {
            self->retiring = 1;     /* the host sends nothing after it but acks and results */
            return 0;
        } else
            continue;   /* CANCEL, or an RPC_RESULT nobody waits for any more */
        if (request && used > KEEP_CAP)
            channel_compact(self);  /* no pointer into `in` is held: give the body's room back */
        PyObject *result = request ? PyObject_Call(handle, request, NULL) : NULL;
        Py_XDECREF(request);
        if (!result)
            return -1;
        int failed;
        if (PyTuple_CheckExact(result)) {
            failed = queue_response_tuple(self, frame.id, result) < 0 &&
                     queue_instead(self, frame.id, on_error) < 0;
        } else if (result == Py_None) {
            failed = 0;
        } else {
            PyObject *pair = Py_BuildValue("(IO)", frame.id, result);
            failed = !pair || PyList_Append(deferred, pair) < 0;
            Py_XDECREF(pair);
        }
        Py_DECREF(result);
        if (failed || write_if_due(self) < 0)
            return -1;
        if (PyList_GET_SIZE(deferred) > 0)
            return 0;
    }
    if (rc < 0) {
        PyErr_SetString(PyExc_ValueError, "oversized frame from the host");
        return -1;
    }
    return 0;
}

/* serve_sync(handle, on_error=None) -> [(id, coroutine or task), ...] or None.
 * The isolate's fast path while no asynchronous work is pending: blocks on the socket, calls
 * handle() for each request and writes the tuples it returns, all without an event loop.
 * Returns the requests whose handlers returned coroutines (so that the caller runs them on
 * asyncio), or None once the host has closed the socket or retired this isolate (RETIRE).
 * A response tuple that cannot be queued is replaced by what on_error(id, exc) returns. */
static PyObject *channel_serve_sync(channel_t *self, PyObject *args)
{
    PyObject *handle, *on_error = NULL;
    if (!PyArg_ParseTuple(args, "O|O", &handle, &on_error))
        return NULL;
    if (on_error == Py_None)
        on_error = NULL;
    PyObject *deferred = PyList_New(0);
    if (!deferred)
        return NULL;
    for (;;) {
        self->last_write_ns = pw_trace_clock();
        if (dispatch_buffered(self, handle, on_error, deferred) < 0 || write_out(self, 1) < 0)
            break;
        if (PyList_GET_SIZE(deferred) > 0)
            return deferred;
        if (self->eof || self->retiring) {
            Py_DECREF(deferred);
            Py_RETURN_NONE;
        }
        if (wait_readable(self) < 0 || channel_fill(self) < 0)
            break;
    }
    Py_DECREF(deferred);
    return NULL;
}

/* Appends an RPC frame of the given fields (bytes-like or str) with a new call id. Returns
 * the id, or 0 with an exception set. */
static uint32_t queue_rpc(channel_t *self, PyObject *args)
{
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 1 || n > PW_RPC_MAX_ARGS) {
        PyErr_SetString(PyExc_TypeError, "a binding call has 1 to 128 fields");
        return 0;
    }
    pw_bytes_t fields[PW_RPC_MAX_ARGS];
    Py_buffer views[PW_RPC_MAX_ARGS];
    Py_ssize_t held = 0;
    uint32_t id = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(args, i);
        if (PyUnicode_Check(item)) {
            if (utf8_of(item, &fields[i]) < 0)
                goto done;
            continue;
        }
        if (PyObject_GetBuffer(item, &views[held], PyBUF_SIMPLE) < 0)
            goto done;
        fields[i] = (pw_bytes_t){ views[held].buf, (size_t)views[held].len };
        held++;
    }
    id = self->next_rpc_id++;
    if (self->next_rpc_id == 0)
        self->next_rpc_id = 1;
    size_t start = self->out.len;
    int rc = pw_rpc_put(&self->out, PW_FRAME_RPC, id, fields, (size_t)n);
    if (rc == 0 && self->out.len - start - PW_FRAME_HEADER_SIZE > PW_FRAME_MAX_RPC) {
        self->out.len = start;      /* the host would take it for a protocol violation */
        rc = -EMSGSIZE;
    }
    if (rc < 0) {
        PyErr_SetString(PyExc_ValueError, "binding call too large for the wire (33 MiB)");
        id = 0;
    }
done:
    while (held > 0)
        PyBuffer_Release(&views[--held]);
    return id;
}

/* rpc_send(op, *args) -> call id: queues an RPC frame; its RPC_RESULT comes through
 * read_requests(). */
static PyObject *channel_rpc_send(channel_t *self, PyObject *args)
{
    uint32_t id = queue_rpc(self, args);
    return id ? PyLong_FromUnsignedLong(id) : NULL;
}

/* Finds the RPC_RESULT for `id` among the buffered frames, takes it out of the buffer and
 * returns its fields; NULL without an exception when it has not arrived. */
static PyObject *take_result(channel_t *self, uint32_t id)
{
    size_t off = self->in_off, used;
    pw_frame_t frame;
    int rc;
    while ((rc = pw_frame_parse(self->in.data + off, self->in.len - off, &frame, &used)) == 1) {
        if (frame.type == PW_FRAME_RPC_RESULT && frame.id == id) {
            PyObject *fields = fields_to_list(&frame, "RPC_RESULT");
            memmove(self->in.data + off, self->in.data + off + used, self->in.len - off - used);
            self->in.len -= used;
            return fields;
        }
        off += used;
    }
    if (rc < 0)
        PyErr_SetString(PyExc_ValueError, "oversized frame from the host");
    return NULL;
}

/* rpc_call(op, *args) -> [bytes, ...]: sends an RPC frame and blocks until its result
 * arrives. Requests and other results read meanwhile stay buffered. */
static PyObject *channel_rpc_call(channel_t *self, PyObject *args)
{
    uint32_t id = queue_rpc(self, args);
    if (!id || write_out(self, 1) < 0)
        return NULL;
    for (;;) {
        PyObject *fields = take_result(self, id);
        if (fields || PyErr_Occurred())
            return fields;
        if (self->eof)
            return PyErr_Format(PyExc_ConnectionError, "the host closed the isolate's channel");
        if (wait_readable(self) < 0 || channel_fill(self) < 0)
            return NULL;
    }
}

/* pass_fd(fd): writes what is queued, then passes the descriptor fd to the host beside an
 * empty DOORBELL frame; the host keeps it for the next binding call that takes one (a
 * socket's connect: host/binding_socket.c). The caller still owns (and closes) its copy. */
static PyObject *channel_pass_fd(channel_t *self, PyObject *arg)
{
    int fd = PyLong_AsLong(arg) < 0 ? -1 : (int)PyLong_AsLong(arg);
    if (fd < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "pass_fd: not a descriptor");
        return NULL;
    }
    if (write_out(self, 1) < 0)
        return NULL;
    int rc = pw_control_send(self->fd, PW_FRAME_DOORBELL, 0, NULL, 0, fd);
    if (rc < 0) {
        errno = -rc;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    ring(self, 1);
    Py_RETURN_NONE;
}

/* buffered() -> True when a complete frame is waiting in the input buffer. */
static PyObject *channel_buffered(channel_t *self, PyObject *unused)
{
    pw_frame_t frame;
    size_t used;
    int rc = pw_frame_parse(self->in.data + self->in_off, self->in.len - self->in_off, &frame, &used);
    return PyBool_FromLong(rc != 0);
}

static PyObject *channel_retiring(channel_t *self, PyObject *unused)
{
    return PyBool_FromLong(self->retiring);
}

static PyObject *channel_fileno(channel_t *self, PyObject *unused)
{
    return PyLong_FromLong(self->fd);
}

/* WebSocket frames (python/ws_channel.h) */
static PyObject *channel_ws_send(channel_t *self, PyObject *args)
{
    return pw_ws_channel_send(&self->out, args);
}

static PyObject *channel_ws_close(channel_t *self, PyObject *args)
{
    return pw_ws_channel_close(&self->out, args);
}

static PyObject *channel_ws_taken(channel_t *self, PyObject *args)
{
    return pw_ws_channel_taken(&self->out, args);
}

static PyObject *channel_send_websocket_response(channel_t *self, PyObject *args)
{
    return pw_ws_channel_response(&self->out, args);
}

static PyMethodDef channel_methods[] = {
    { "read_requests", (PyCFunction)channel_read_requests, METH_NOARGS,
      "Drain the socket; return request tuples, or None once the host closed it." },
    { "send_response", (PyCFunction)channel_send_response, METH_VARARGS,
      "Queue a response: (id, status, [(name, value)], body)." },
    { "send_response_start", (PyCFunction)channel_send_response_start, METH_VARARGS,
      "Queue the head of a streamed response: (id, status, [(name, value)][, size])." },
    { "send_chunk", (PyCFunction)channel_send_chunk, METH_VARARGS,
      "Queue a piece of a streamed body: (id, bytes); returns the bytes buffered." },
    { "send_end", (PyCFunction)channel_send_end, METH_VARARGS,
      "Queue the end of a streamed body: (id, aborted)." },
    { "flush", (PyCFunction)(void (*)(void))channel_flush, METH_FASTCALL,
      "Write queued responses (without blocking unless block=True); True when all are written." },
    { "serve_sync", (PyCFunction)channel_serve_sync, METH_VARARGS,
      "Serve requests without an event loop until a handler returns a coroutine: "
      "(handle[, on_error])." },
    { "rpc_send", (PyCFunction)channel_rpc_send, METH_VARARGS,
      "Queue a binding call (op, *args); return its call id." },
    { "rpc_call", (PyCFunction)channel_rpc_call, METH_VARARGS,
      "Send a binding call (op, *args) and block until its result fields arrive." },
    { "pass_fd", (PyCFunction)channel_pass_fd, METH_O,
      "Pass a descriptor to the host (for the next binding call that takes one)." },
    { "buffered", (PyCFunction)channel_buffered, METH_NOARGS,
      "Whether a complete frame waits in the input buffer." },
    { "retiring", (PyCFunction)channel_retiring, METH_NOARGS,
      "Whether the host sent RETIRE (no more requests will come)." },
    { "fileno", (PyCFunction)channel_fileno, METH_NOARGS, "The socket's descriptor." },
    { "ws_send", (PyCFunction)channel_ws_send, METH_VARARGS,
      "Queue a WebSocket message (id, str|bytes)." },
    { "ws_close", (PyCFunction)channel_ws_close, METH_VARARGS,
      "Queue a WebSocket close (id, code, reason)." },
    { "ws_taken", (PyCFunction)channel_ws_taken, METH_VARARGS,
      "Tell the host that bytes of a WebSocket's messages were taken (id, bytes)." },
    { "send_websocket_response", (PyCFunction)channel_send_websocket_response, METH_VARARGS,
      "Queue a 101 accepting the request's WebSocket (id, [(name, value)])." },
    { NULL, NULL, 0, NULL },
};

static PyType_Slot channel_slots[] = {
    { Py_tp_init, channel_init },
    { Py_tp_dealloc, channel_dealloc },
    { Py_tp_methods, channel_methods },
    { Py_tp_doc, "Channel(fd): the isolate's end of the wire to the host." },
    { 0, NULL },
};

PyType_Spec pw_channel_spec = {
    .name = "_pyworkerd.Channel",
    .basicsize = sizeof(channel_t),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = channel_slots,
};
