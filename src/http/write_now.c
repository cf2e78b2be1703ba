/* write_now.c — client writes that complete at once (host process, each loop thread; see
 * write_now.h). Only this file calls libuv's own uv_write and uv_close (dlsym(RTLD_NEXT)).
 */
#include "http/write_now.h"
#include "http/peer_gone.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef int (*write_fn)(uv_write_t *, uv_stream_t *, const uv_buf_t[], unsigned, uv_write_cb);
typedef void (*close_fn)(uv_handle_t *, uv_close_cb);

static write_fn libuv_write;
static close_fn libuv_close;
static pthread_once_t resolved = PTHREAD_ONCE_INIT;

static void resolve(void)
{
    libuv_write = (write_fn)dlsym(RTLD_NEXT, "uv_write");
    libuv_close = (close_fn)dlsym(RTLD_NEXT, "uv_close");
}

/* Runs the due callback, once. */
static void finish(pw_accepted_t *conn)
{
    uv_write_t *req = conn->write.done;
    if (!req)
        return;
    conn->write.done = NULL;
    pw_due_forget(&conn->write.due);
    req->cb(req, conn->write.status);
}

/* Runs before the loop polls (http/due_list.h): what a callback starts (the next pipelined
 * request) must not wait for the poll to time out. */
static void on_due(pw_due_t *due)
{
    pw_write_now_t *w = PW_CONTAINER_OF(due, pw_write_now_t, due);
    pw_accepted_t *conn = PW_CONTAINER_OF(w, pw_accepted_t, write);
    if (!uv_is_closing((uv_handle_t *)&conn->tcp))
        finish(conn);       /* a closing one gets it from on_closed */
}

static void finish_soon(pw_accepted_t *conn, uv_write_t *req, uv_stream_t *stream, uv_write_cb cb,
                        int status)
{
    memset(req, 0, sizeof *req);
    req->type = UV_WRITE;
    req->handle = stream;
    req->cb = cb;
    conn->write.done = req;
    conn->write.status = status;
    pw_due_soon(conn->tcp.loop, &conn->write.due, on_due);
}

static size_t total_of(const uv_buf_t bufs[], unsigned nbufs)
{
    size_t total = 0;
    for (unsigned i = 0; i < nbufs; i++)
        total += bufs[i].len;
    return total;
}

/* libuv's uv_write for what uv_try_write left: the buffers from byte `skip` on. */
static int write_rest(uv_write_t *req, uv_stream_t *stream, const uv_buf_t bufs[], unsigned nbufs,
                      size_t skip, uv_write_cb cb)
{
    uv_buf_t small[16], *rest = nbufs <= 16 ? small : malloc(nbufs * sizeof *rest);
    if (!rest)
        return UV_ENOMEM;
    unsigned n = 0;
    for (unsigned i = 0; i < nbufs; i++) {
        if (skip >= bufs[i].len) {
            skip -= bufs[i].len;
            continue;
        }
        rest[n++] = uv_buf_init(bufs[i].base + skip, (unsigned)(bufs[i].len - skip));
        skip = 0;
    }
    int rc = libuv_write(req, stream, rest, n, cb);     /* libuv copies the array */
    if (rest != small)
        free(rest);
    return rc;
}

int uv_write(uv_write_t *req, uv_stream_t *stream, const uv_buf_t bufs[], unsigned nbufs,
             uv_write_cb cb)
{
    pthread_once(&resolved, resolve);
    pw_accepted_t *conn = pw_accepted_of((uv_handle_t *)stream);
    if (!conn || !cb || conn->write.done || uv_is_closing((uv_handle_t *)stream))
        return libuv_write(req, stream, bufs, nbufs, cb);
    int written = stream->write_queue_size != 0 ? UV_EAGAIN : uv_try_write(stream, bufs, nbufs);
    int all = written >= 0 && (size_t)written == total_of(bufs, nbufs);
    int rc = all ? 0 : write_rest(req, stream, bufs, nbufs, written < 0 ? 0 : (size_t)written, cb);
    if (all || rc < 0)
        finish_soon(conn, req, stream, cb, rc);     /* done, or refused: called back either way */
    return 0;
}

/* A connection closed with a callback due: it runs before the closer's close callback. */
static void on_closed(uv_handle_t *handle)
{
    pw_accepted_t *conn = (pw_accepted_t *)handle;
    uv_close_cb close_cb = conn->write.close_cb;
    finish(conn);
    if (close_cb)
        close_cb(handle);
}

void uv_close(uv_handle_t *handle, uv_close_cb close_cb)
{
    pthread_once(&resolved, resolve);
    pw_accepted_t *conn = pw_accepted_of(handle);
    if (!conn || !conn->write.done || uv_is_closing(handle)) {
        libuv_close(handle, close_cb);
        return;
    }
    conn->write.close_cb = close_cb;
    libuv_close(handle, on_closed);
}
