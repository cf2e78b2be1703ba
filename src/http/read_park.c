/* read_park.c — parking paused reads of accepted connections (host process, each loop
 * thread; see read_park.h). States of a connection's read:
 *
 *   READING     h2o reads; libuv calls h2o's callbacks.
 *   PARKED      h2o paused; libuv still reads, into `held` (park_alloc/park_read).
 *   STOPPED     h2o paused and libuv really stopped (never started, held too much, or saw the
 *               end or an error while parked).
 *   DELIVERING  h2o reads again but `held` (or the end) must reach it before anything newer:
 *               libuv is stopped and the loop thread's idle handle hands it over, one chunk
 *               per h2o buffer, then starts libuv again (or hands over the end).
 *
 * Only this file calls libuv's own uv_read_stop/uv_read_start (found with dlsym(RTLD_NEXT)).
 */
#include "http/read_park.h"
#include "http/peer_gone.h"

#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

enum { READING, PARKED, STOPPED, DELIVERING };

typedef int (*read_stop_fn)(uv_stream_t *);
typedef int (*read_start_fn)(uv_stream_t *, uv_alloc_cb, uv_read_cb);

static read_stop_fn libuv_read_stop;
static read_start_fn libuv_read_start;
static pthread_once_t resolved = PTHREAD_ONCE_INIT;

static void resolve(void)
{
    libuv_read_stop = (read_stop_fn)dlsym(RTLD_NEXT, "uv_read_stop");
    libuv_read_start = (read_start_fn)dlsym(RTLD_NEXT, "uv_read_start");
}

static __thread char scratch[PW_READ_PARK_MAX];

void pw_read_park_init(pw_read_park_t *park)
{
    memset(park, 0, sizeof *park);
    park->state = STOPPED;
}

void pw_read_park_forget(pw_read_park_t *park)
{
    pw_due_forget(&park->due);
    pw_buf_free(&park->held);
    park->given = 0;
    park->status = 0;
}

int pw_read_park_holds_data(const pw_read_park_t *park)
{
    return park->held.len > park->given;
}

int pw_read_park_saw_end(const pw_read_park_t *park)
{
    return park->status < 0;
}

/* The accepted connection behind a stream, or NULL for any other stream. */

/* ---- parked: libuv reads into `held` ---- */

static void park_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    *buf = uv_buf_init(scratch, sizeof scratch);
}

static void really_stop(pw_accepted_t *conn)
{
    libuv_read_stop((uv_stream_t *)&conn->tcp);
    conn->park.state = STOPPED;
}

static void park_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    pw_accepted_t *conn = (pw_accepted_t *)stream;
    pw_read_park_t *park = &conn->park;
    if (nread < 0) {
        park->status = nread;
        really_stop(conn);          /* an end of stream stays readable: no busy loop */
        return;
    }
    if (nread > 0 && pw_buf_append(&park->held, buf->base, (size_t)nread) < 0)
        park->status = UV_ENOMEM;
    if (park->status < 0 || park->held.len - park->given >= PW_READ_PARK_MAX)
        really_stop(conn);
}

/* ---- handing over ---- */

static void deliver(pw_accepted_t *conn)
{
    pw_read_park_t *park = &conn->park;
    uv_stream_t *stream = (uv_stream_t *)&conn->tcp;
    while (park->state == DELIVERING && pw_read_park_holds_data(park)) {
        uv_buf_t buf;
        park->alloc_cb((uv_handle_t *)stream, 65536, &buf);
        size_t n = park->held.len - park->given;
        if (n > buf.len)
            n = buf.len;
        if (!buf.base || n == 0) {
            park->read_cb(stream, UV_ENOBUFS, &buf);
            return;
        }
        memcpy(buf.base, park->held.data + park->given, n);
        park->given += n;
        park->read_cb(stream, (ssize_t)n, &buf);
        if (uv_is_closing((uv_handle_t *)stream))
            return;                 /* h2o closed it: pw_read_park_forget comes with the close */
    }
    if (park->state != DELIVERING)
        return;                     /* h2o paused again: the rest stays held */
    park->held.len = park->given = 0;
    if (park->status < 0) {
        ssize_t status = park->status;
        park->status = 0;
        park->state = STOPPED;
        uv_buf_t none = uv_buf_init(NULL, 0);
        park->read_cb(stream, status, &none);
        return;
    }
    park->state = READING;
    if (libuv_read_start(stream, park->alloc_cb, park->read_cb) < 0)
        park->read_cb(stream, UV_EOF, &(uv_buf_t){ 0 });
}

/* Runs before the loop polls (http/due_list.h), so that what h2o does with the bytes is not
 * held up. */
static void on_due(pw_due_t *due)
{
    pw_read_park_t *park = PW_CONTAINER_OF(due, pw_read_park_t, due);
    deliver(PW_CONTAINER_OF(park, pw_accepted_t, park));
}

static void deliver_soon(pw_accepted_t *conn)
{
    pw_due_soon(conn->tcp.loop, &conn->park.due, on_due);
}

/* An open accepted connection's stream (a closing one's reads go straight to libuv). */
static pw_accepted_t *parkable(uv_stream_t *stream)
{
    return uv_is_closing((uv_handle_t *)stream) ? NULL : pw_accepted_of((uv_handle_t *)stream);
}

/* ---- libuv's entry points, for every caller in the host (h2o included) ---- */

int uv_read_stop(uv_stream_t *stream)
{
    pthread_once(&resolved, resolve);
    pw_accepted_t *conn = parkable(stream);
    if (!conn)
        return libuv_read_stop(stream);
    pw_read_park_t *park = &conn->park;
    if (park->state == READING) {
        park->alloc_cb = stream->alloc_cb;
        park->read_cb = stream->read_cb;
        stream->alloc_cb = park_alloc;
        stream->read_cb = park_read;
        park->state = PARKED;
    } else if (park->state == DELIVERING) {
        park->state = STOPPED;          /* the rest stays held; libuv is not reading */
    }
    return 0;
}

int uv_read_start(uv_stream_t *stream, uv_alloc_cb alloc_cb, uv_read_cb read_cb)
{
    pthread_once(&resolved, resolve);
    pw_accepted_t *conn = parkable(stream);
    if (!conn || !alloc_cb || !read_cb)
        return libuv_read_start(stream, alloc_cb, read_cb);
    pw_read_park_t *park = &conn->park;
    int held = pw_read_park_holds_data(park) || park->status < 0;
    switch (park->state) {
    case READING:                       /* new callbacks for a running read */
        stream->alloc_cb = alloc_cb;
        stream->read_cb = read_cb;
        return 0;
    case PARKED:
        if (!held) {                    /* the common case: nothing came meanwhile */
            stream->alloc_cb = alloc_cb;
            stream->read_cb = read_cb;
            park->state = READING;
            return 0;
        }
        libuv_read_stop(stream);        /* what is held goes first */
        break;
    case STOPPED:
        if (!held) {
            int rc = libuv_read_start(stream, alloc_cb, read_cb);
            if (rc == 0)
                park->state = READING;
            return rc;
        }
        break;
    }
    park->alloc_cb = alloc_cb;
    park->read_cb = read_cb;
    park->state = DELIVERING;
    deliver_soon(conn);
    return 0;
}
