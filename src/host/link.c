/* link.c — the host's end of one isolate's socket (host process; link.h). Two uv_poll
 * handles: one on the socket (readable until the doorbell arrives, then only its end, plus
 * writable while output waits) and one on the doorbell. A wake-up drains the doorbell first,
 * then reads the socket until it is empty, so that bytes written after the last read come
 * with a ring that wakes the loop again.
 * Bounded buffering: a read takes at most what the frame being received still misses (or
 * READ_CHUNK), and once READ_BATCH bytes of complete frames are in `in` the owner parses them
 * before more is read; a frame header announcing more than its type allows
 * (pw_frame_max_from_isolate) is handed to the owner at once, which kills the isolate. So
 * the host holds at most one frame per isolate plus READ_BATCH, and a buffer grown for a large
 * frame is given back once that frame is used. Large frames (binding calls over 1 MiB) also
 * need a share of PW_LINK_BIG_BUDGET, host-wide (link.h): so what all isolates together can
 * make the host hold is bounded too, not only each one's.
 */
#include "host/link.h"
#include "wire/doorbell.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK 65536
#define READ_BATCH (256 * 1024)     /* complete frames read before the owner parses them */
#define KEEP_CAP (256 * 1024)       /* `in` shrinks back to this once a large frame is used */

static __thread size_t buffered_total;       /* bytes in every link's `in` (pw_link_buffered) */
static __thread size_t big_held;             /* PW_LINK_BIG_BUDGET taken */
static __thread pw_link_t *big_links;        /* links holding a share or waiting for one */
static __thread uv_timer_t big_timer;        /* fails holders past PW_LINK_BIG_HOLD_MS while others wait */
static __thread int big_timer_ready;

size_t pw_link_buffered(void)
{
    return buffered_total;
}

const char pw_link_exited[] = "it exited";

static void link_fail(pw_link_t *link, const char *why)
{
    if (link->failed)
        return;
    link->failed = 1;
    uv_poll_stop(&link->sock_poll);
    if (link->bell >= 0)
        uv_poll_stop(&link->bell_poll);
    link->on_error(link, why);
}

static void on_bell(uv_poll_t *poll, int status, int events);
static void on_socket(uv_poll_t *poll, int status, int events);

/* Watches the socket for what the link needs now: its end always; its bytes while there is
 * no doorbell (and reading is not paused); room to write while output waits. Returns 0 or a
 * libuv error. */
static int link_watch(pw_link_t *link)
{
    int events = UV_DISCONNECT | (link->bell < 0 && !link->big_waiting ? UV_READABLE : 0) |
                 (link->out.len > 0 ? UV_WRITABLE : 0);
    if (events == link->watching)
        return 0;
    int rc = uv_poll_start(&link->sock_poll, events, on_socket);
    if (rc == 0)
        link->watching = events;
    return rc;
}

/* The doorbell just arrived: from now on it wakes the reads. Returns 0 or a libuv error. */
static int link_adopt_bell(pw_link_t *link)
{
    int rc = uv_poll_init(link->sock_poll.loop, &link->bell_poll, link->bell);
    if (rc < 0) {   /* not pollable: the socket still wakes the reads */
        close(link->bell);
        link->bell = -1;
        return 0;
    }
    link->bell_poll.data = link;
    return uv_poll_start(&link->bell_poll, UV_READABLE, on_bell);
}

/* ---- the host-wide budget for large frames ---- */

/* Whether `at` starts an incomplete frame larger than PW_FRAME_MAX_INLINE. */
static int is_large(const uint8_t *at, size_t left)
{
    size_t missing = pw_frame_missing(at, left);
    return missing > 0 && missing + left - PW_FRAME_HEADER_SIZE > PW_FRAME_MAX_INLINE;
}

static void big_unlist(pw_link_t *link)
{
    for (pw_link_t **p = &big_links; *p; p = &(*p)->big_next)
        if (*p == link) {
            *p = link->big_next;
            break;
        }
    link->big_next = NULL;
}

/* A share was given back: every waiting link tries again on its next wake-up, which this
 * causes (its doorbell rung, or its socket watched again). */
static void big_wake_waiters(void)
{
    for (pw_link_t *l = big_links; l; l = l->big_next) {
        if (!l->big_waiting || l->failed)
            continue;
        l->big_waiting = 0;
        if (l->bell >= 0)
            pw_doorbell_ring(l->bell);
        else if (link_watch(l) < 0)
            l->big_waiting = 1;     /* (retried at the next release) */
    }
}

static void big_release(pw_link_t *link)
{
    int had = link->big > 0;
    big_held -= link->big;
    link->big = 0;
    link->big_waiting = 0;
    big_unlist(link);
    if (had)
        big_wake_waiters();
}

static void on_big_timer(uv_timer_t *timer)
{
    uint64_t now = uv_now(timer->loop);
    int waiting = 0;
    for (pw_link_t *l = big_links; l; l = l->big_next)
        waiting |= l->big_waiting;
    pw_link_t *late = NULL;
    for (pw_link_t *l = big_links; waiting && l && !late; l = l->big_next)
        if (l->big && !l->failed && now - l->big_since >= PW_LINK_BIG_HOLD_MS)
            late = l;
    if (late) {
        big_release(late);
        link_fail(late, "it sent a large frame too slowly while others waited");
    }
    if (!big_links)
        uv_timer_stop(timer);
}

/* Takes a share of `size` bytes for the link's large frame; 0, or -1 when the budget is
 * taken (the link then waits: reading pauses until a share is given back). */
static int big_take(pw_link_t *link, size_t size)
{
    if (link->big)
        return 0;
    pw_link_t *l = big_links;
    while (l && l != link)
        l = l->big_next;
    if (!l) {
        link->big_next = big_links;
        big_links = link;
    }
    if (!big_timer_ready && uv_timer_init(link->sock_poll.loop, &big_timer) == 0) {
        big_timer_ready = 1;
        uv_unref((uv_handle_t *)&big_timer);
    }
    if (big_timer_ready && !uv_is_active((uv_handle_t *)&big_timer))
        uv_timer_start(&big_timer, on_big_timer, 1000, 1000);
    if (size > PW_LINK_BIG_BUDGET - big_held) {
        link->big_waiting = 1;
        return -1;
    }
    link->big_waiting = 0;
    link->big = size;
    link->big_since = uv_now(link->sock_poll.loop);
    big_held += size;
    return 0;
}

/* How much the next read may take: what the incomplete frame at the end of `in` still
 * misses, else READ_CHUNK; 0 once the owner must look first (READ_BATCH of complete frames,
 * or a header announcing more than its type allows). `*scan` is the start of the first frame
 * not yet known complete. */
static size_t read_room(pw_link_t *link, size_t *scan)
{
    if (link->big_waiting)
        return 0;
    for (;;) {
        size_t left = link->in.len - *scan;
        const uint8_t *at = link->in.data + *scan;
        if (left < PW_FRAME_HEADER_SIZE)
            return *scan >= READ_BATCH ? 0 : READ_CHUNK - left;
        pw_frame_t frame;
        size_t used;
        int rc = pw_frame_parse_from_isolate(at, left, &frame, &used);
        if (rc < 0)
            return 0;
        if (rc == 1) {
            *scan += used;
            continue;
        }
        if (*scan >= READ_BATCH)
            return 0;
        size_t missing = pw_frame_missing(at, left);
        if (is_large(at, left) && big_take(link, missing + left) < 0)
            return 0;               /* paused until a share is free */
        return missing > READ_CHUNK ? missing : READ_CHUNK;
    }
}

/* A descriptor passed beside the bytes goes to the owner (a socket to relay), else closed. */
static void link_take_fd(pw_link_t *link, int fd)
{
    if (link->on_fd)
        link->on_fd(link, fd);
    else
        close(fd);
}

/* Reads until the socket is empty, or until the owner must parse what came (*more set).
 * Returns NULL, or why the stream ended. */
static const char *link_read(pw_link_t *link, int *more)
{
    size_t scan = 0;
    *more = 0;
    for (;;) {
        size_t room = read_room(link, &scan);
        if (room == 0) {
            *more = !link->big_waiting;
            return NULL;
        }
        if ((room > READ_CHUNK ? pw_buf_reserve_exact(&link->in, room)
                               : pw_buf_reserve(&link->in, room)) < 0)
            return "out of memory";
        uint8_t *at = link->in.data + link->in.len;
        ssize_t n;
        int had_bell = link->bell >= 0, passed = -1;
        n = pw_doorbell_recv_fd(link->fd, at, room, &link->bell, &passed);
        if (passed >= 0)
            link_take_fd(link, passed);
        int rc = !had_bell && link->bell >= 0 ? link_adopt_bell(link) : 0;
        if (rc < 0)
            return uv_strerror(rc);
        if (n > 0) {
            link->in.len += (size_t)n;
            buffered_total += (size_t)n;
            if ((size_t)n < room && had_bell && passed < 0)
                return NULL;    /* a short read took everything queued */
            continue;           /* (a passed descriptor ends a read early) */
        }
        if (n < 0 && errno == EAGAIN)
            return NULL;
        return n == 0 ? pw_link_exited : strerror(errno);
    }
}

/* After the owner parsed `in` (it held `held` bytes): counts what it consumed, and frees a
 * buffer grown for a large frame once it is empty. */
static void link_account(pw_link_t *link, size_t held)
{
    buffered_total -= held - link->in.len;
    pw_buf_shrink(&link->in, KEEP_CAP);
    if (link->big && !is_large(link->in.data, link->in.len))
        big_release(link);      /* its large frame was used (the owner consumed it) */
}

/* Reads what there is and hands it to on_read, a batch at a time; an end of stream is
 * reported after the bytes that came before it. */
static void link_on_readable(pw_link_t *link)
{
    int bell_before = link->bell;
    const char *ended;
    int more;
    do {
        size_t before = link->in.len;
        ended = link_read(link, &more);
        if (link->in.len == before && !more)
            break;
        size_t held = link->in.len;
        link->on_read(link);
        if (link->failed)
            return;             /* the owner closed it in on_read */
        if (link->in.len > held) {
            link_fail(link, "its reader grew the buffer");
            return;
        }
        link_account(link, held);
        if (more && link->in.len == held) {
            link_fail(link, "it sent a frame the host cannot take");
            return;             /* (normally the owner has killed it in on_read) */
        }
    } while (more && !ended);
    if (ended) {
        link_fail(link, ended);
        return;
    }
    int rc = link->bell != bell_before || link->big_waiting ? link_watch(link) : 0;
    if (rc < 0)
        link_fail(link, uv_strerror(rc));
}

static void on_bell(uv_poll_t *poll, int status, int events)
{
    pw_link_t *link = poll->data;
    pw_doorbell_drain(link->bell);
    link_on_readable(link);
}

static int link_write(pw_link_t *link)
{
    size_t off = 0;
    while (off < link->out.len) {
        ssize_t n = write(link->fd, link->out.data + off, link->out.len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        pw_buf_consume(&link->out, off);
        link_fail(link, strerror(n < 0 ? errno : EIO));
        return -1;
    }
    pw_buf_consume(&link->out, off);
    return 0;
}

static void on_socket(uv_poll_t *poll, int status, int events)
{
    pw_link_t *link = poll->data;
    if (status < 0) {
        link_fail(link, uv_strerror(status));
        return;
    }
    if ((events & UV_WRITABLE) && link_write(link) < 0)
        return;
    if ((events & UV_DISCONNECT) && link->big_waiting) {
        link_fail(link, pw_link_exited);    /* its large frame can no longer come */
        return;
    }
    if (events & (UV_READABLE | UV_DISCONNECT))
        link_on_readable(link);
    int rc = link->failed ? 0 : link_watch(link);
    if (rc < 0)
        link_fail(link, uv_strerror(rc));
}

int pw_link_open(pw_link_t *link, uv_loop_t *loop, int fd)
{
    link->fd = fd;
    link->bell = -1;
    link->watching = 0;
    link->failed = 0;
    int rc = uv_poll_init(loop, &link->sock_poll, fd);
    if (rc < 0) {
        close(fd);
        link->fd = -1;
        return rc;
    }
    link->sock_poll.data = link;
    rc = link_watch(link);
    if (rc < 0)
        link->failed = 1;       /* open but dead: the owner closes it */
    return rc;
}

void pw_link_flush(pw_link_t *link)
{
    if (link->failed || link->out.len == 0 || link->watching & UV_WRITABLE)
        return;
    int rc = link_write(link) == 0 && link->out.len > 0 ? link_watch(link) : 0;
    if (rc < 0)
        link_fail(link, uv_strerror(rc));
}

static void on_handle_closed(uv_handle_t *handle)
{
    pw_link_t *link = handle->data;
    if (--link->closing_handles > 0)
        return;
    close(link->fd);
    if (link->bell >= 0)
        close(link->bell);
    link->fd = link->bell = -1;
    link->on_closed(link);
}

void pw_link_close(pw_link_t *link, void (*on_closed)(pw_link_t *link))
{
    big_release(link);
    link->failed = 1;
    link->on_closed = on_closed;
    link->closing_handles = 1 + (link->bell >= 0);
    uv_close((uv_handle_t *)&link->sock_poll, on_handle_closed);
    if (link->bell >= 0)
        uv_close((uv_handle_t *)&link->bell_poll, on_handle_closed);
}

void pw_link_free(pw_link_t *link)
{
    big_release(link);
    buffered_total -= link->in.len;
    pw_buf_free(&link->in);
    pw_buf_free(&link->out);
}
