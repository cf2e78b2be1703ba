/* r2_stream.c — open R2 bodies between binding calls (host process, loop thread; see
 * r2_stream.h). A worker's streams are one list under a mutex (isolates of one worker may
 * one day be served by several loops); each stream watches its isolate's port.
 * Invariant: a stream is freed exactly once — by finish() or gone() when idle, else by the
 * release() that ends its job.
 */
#include "host/r2_stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pw_r2_stream {
    pw_port_watch_t watch;      /* first: gone() gets this pointer */
    pw_r2_stream_t *next;
    pw_r2_streams_t *owner;
    pw_port_t *port;
    uint32_t sid;
    int busy, done, watching;   /* done: finished, or its isolate is gone */
    int part, writes;
    pw_r2_backend_t *be;
    pw_r2_reader_t *reader;
    pw_r2_writer_t *writer;
    uint64_t left;
    uint64_t used;              /* the owner's clock when last used */
};

struct pw_r2_streams {
    const pw_binding_env_t *env;
    pthread_mutex_t lock;
    pw_r2_stream_t *list;
    uint32_t next_sid;
    uint64_t clock;
};

pw_r2_streams_t *pw_r2_streams_new(const pw_binding_env_t *env)
{
    pw_r2_streams_t *ss = calloc(1, sizeof *ss);
    if (ss) {
        ss->env = env;
        ss->next_sid = 1;
        pthread_mutex_init(&ss->lock, NULL);
    }
    return ss;
}

const pw_binding_env_t *pw_r2_streams_env(const pw_r2_streams_t *ss)
{
    return ss->env;
}

/* Unlinks and frees s, closing what it holds. */
static void stream_free(pw_r2_stream_t *s)
{
    pw_r2_streams_t *ss = s->owner;
    pthread_mutex_lock(&ss->lock);
    for (pw_r2_stream_t **p = &ss->list; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    pthread_mutex_unlock(&ss->lock);
    if (s->watching)
        pw_port_unwatch(s->port, &s->watch);
    if (s->reader)
        s->be->ops->close_reader(s->reader);
    if (s->writer)
        s->be->ops->abort(s->writer);
    free(s);
}

void pw_r2_streams_free(pw_r2_streams_t *ss)
{
    if (!ss)
        return;
    while (ss->list)
        stream_free(ss->list);
    pthread_mutex_destroy(&ss->lock);
    free(ss);
}

/* The isolate died: its stream goes now, or when its job ends. */
static void stream_gone(pw_port_watch_t *watch)
{
    pw_r2_stream_t *s = (pw_r2_stream_t *)watch;
    pw_port_unwatch(s->port, &s->watch);
    s->watching = 0;
    if (s->busy)
        s->done = 1;
    else
        stream_free(s);
}

/* The port's least recently used idle reader (mutex held), and how many streams it has. */
static pw_r2_stream_t *oldest_reader(pw_r2_streams_t *ss, const pw_port_t *port, size_t *count)
{
    pw_r2_stream_t *oldest = NULL;
    *count = 0;
    for (pw_r2_stream_t *s = ss->list; s; s = s->next) {
        if (s->port != port || s->done)
            continue;
        (*count)++;
        if (s->reader && !s->busy && (!oldest || s->used < oldest->used))
            oldest = s;
    }
    return oldest;
}

static int stream_open(pw_r2_streams_t *ss, pw_port_t *port, pw_r2_stream_t *s, char sid[16])
{
    size_t count;
    pthread_mutex_lock(&ss->lock);
    pw_r2_stream_t *evict = oldest_reader(ss, port, &count);
    pthread_mutex_unlock(&ss->lock);
    if (count >= PW_R2_MAX_STREAMS) {
        if (!evict) {
            free(s);
            return -EMFILE;
        }
        stream_free(evict);
    }
    s->owner = ss;
    s->port = port;
    pthread_mutex_lock(&ss->lock);
    s->sid = ss->next_sid++;
    if (ss->next_sid == 0)
        ss->next_sid = 1;
    s->used = ++ss->clock;
    s->next = ss->list;
    ss->list = s;
    pthread_mutex_unlock(&ss->lock);
    s->watching = 1;
    pw_port_watch(port, &s->watch, stream_gone);
    snprintf(sid, 16, "%u", s->sid);
    return 0;
}

int pw_r2_stream_open_reader(pw_r2_streams_t *ss, pw_port_t *port, pw_r2_backend_t *be,
                             pw_r2_reader_t *reader, uint64_t left, char sid[16])
{
    pw_r2_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->be = be;
    s->left = left;
    int rc = stream_open(ss, port, s, sid);
    if (rc == 0)
        s->reader = reader;
    return rc;
}

int pw_r2_stream_open_writer(pw_r2_streams_t *ss, pw_port_t *port, pw_r2_backend_t *be,
                             pw_r2_writer_t *writer, int part, char sid[16])
{
    pw_r2_stream_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->be = be;
    s->part = part;
    s->writes = 1;
    int rc = stream_open(ss, port, s, sid);
    if (rc == 0)
        s->writer = writer;
    return rc;
}

pw_r2_stream_t *pw_r2_stream_find(pw_r2_streams_t *ss, const pw_port_t *port, pw_bytes_t id)
{
    int64_t sid;
    pw_r2_stream_t *found = NULL;
    if (pw_bytes_to_i64(id, &sid) < 0 || sid <= 0 || sid > UINT32_MAX)
        return NULL;
    pthread_mutex_lock(&ss->lock);
    for (pw_r2_stream_t *s = ss->list; s && !found; s = s->next)
        if (s->sid == (uint32_t)sid && s->port == port && !s->done)
            found = s;
    if (found)
        found->used = ++ss->clock;
    pthread_mutex_unlock(&ss->lock);
    return found;
}

int pw_r2_stream_is_writer(const pw_r2_stream_t *s)
{
    return s->writes;
}

int pw_r2_stream_is_part(const pw_r2_stream_t *s)
{
    return s->part;
}

int pw_r2_stream_busy(const pw_r2_stream_t *s)
{
    return s->busy;
}

void pw_r2_stream_hold(pw_r2_stream_t *s)
{
    s->busy = 1;
}

void pw_r2_stream_release(pw_r2_stream_t *s)
{
    s->busy = 0;
    if (s->done)
        stream_free(s);
}

void pw_r2_stream_finish(pw_r2_stream_t *s)
{
    s->done = 1;
    if (!s->busy)
        stream_free(s);
}

pw_r2_reader_t *pw_r2_stream_reader(pw_r2_stream_t *s)
{
    return s->reader;
}

uint64_t pw_r2_stream_left(const pw_r2_stream_t *s)
{
    return s->left;
}

void pw_r2_stream_consumed(pw_r2_stream_t *s, uint64_t n)
{
    s->left -= n;
}

pw_r2_writer_t *pw_r2_stream_writer(pw_r2_stream_t *s)
{
    return s->writer;
}

void pw_r2_stream_writer_gone(pw_r2_stream_t *s)
{
    s->writer = NULL;
}
