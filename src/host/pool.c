/* pool.c — the host's side of one worker's isolates (host process): spawning them through
 * the worker template, sending REQUEST frames, matching RESPONSE frames to calls, and
 * failing and replacing isolates that die. Frames queued for an isolate are written once per
 * loop turn (a uv_check handle), so a burst of requests costs one write; each isolate's
 * socket is a link (host/link.h), woken by the isolate's doorbell.
 * A streamed response keeps its call in flight until END: chunks go to the call as they
 * arrive, and an isolate that dies mid-stream ends the call as aborted.
 * Retirement is graceful (idle shrink, --watch drain, server shutdown): the isolate gets a
 * RETIRE frame and no more calls, finishes what it has (the host still reads its answers and
 * binding calls), runs its shutdown hooks and exits; after opts.retire_timeout_ms it is killed.
 * A template that dies is built anew (host/template_rebuild.h); its isolates die with it
 * (the template is pid 1 of their pid namespace), and until the new one forks isolates, calls wait at most
 * TEMPLATE_WAIT_MS, then get 503 with Retry-After.
 * Limits (host/limits.h): every live isolate's CPU is sampled each tick, busy or not, from its
 * first request on (before it, it only starts: no request's work can run); one over
 * its credit with requests in flight is killed (503), one over it with nothing in flight (work
 * left running after its responses) is retired and killed if it keeps burning, and a request is
 * never sent to an isolate burning with nothing in flight. An isolate that asks for it (an
 * "isolate.retire" binding call: a request ran out of memory) is retired and replaced. An
 * isolate whose socket closed is logged with how it ended (its pidfd's exit status).
 * Invariant: a call is answered exactly once (a streamed answer also ended exactly once),
 * and never after pw_pool_cancel().
 */
#include "host/pool.h"
#include "host/child_log.h"
#include "host/limits.h"
#include "host/link.h"
#include "base/log.h"
#include "host/template_rebuild.h"
#include "host/watch_list.h"
#include "wire/control.h"
#include "wire/header_lines.h"
#include "wire/rpc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LIMITS_TICK_MS 100
#define RETIRE_TICK_MS 50
#define DEFAULT_RETIRE_TIMEOUT_MS 10000

enum { ISOLATE_SPAWNING, ISOLATE_LIVE, ISOLATE_DEAD };

struct pw_isolate {
    pw_pool_t *pool;
    pw_isolate_t *next;         /* the pool's isolates, in spawn order */
    int state;
    int fd;                     /* host end, until the link owns it */
    int log_fd;                 /* its stdout/stderr pipe, until its reader owns it */
    int pid;
    pw_link_t link;             /* the socket, once live; frames to write wait in link.out */
    int dirty;
    pw_call_t inflight;         /* sentinel of the in-flight list, oldest first */
    size_t n_inflight;
    uint32_t next_id;
    uint64_t spawn_ns;          /* PYTHON_TRACE: when the host asked for it */
    int spare;                  /* held back: gets no calls until promoted (scale.h) */
    int retired;                /* stopped on purpose (idle): no error, no replacement */
    int retiring;               /* sent RETIRE: gets no calls, exits on its own (or is killed) */
    uint64_t retire_deadline;   /* uv_now() after which a retiring isolate is killed */
    uint64_t idle_since;        /* uv_now() when its last call was answered */
    uint64_t live_since;        /* uv_now() when it came up */
    uint64_t calls_started;     /* for the CPU limit (limits.h) */
    pw_cpu_account_t cpu;
    int cpu_over;               /* retired for CPU used with nothing in flight */
    int pidfd;                  /* to learn how it ended (limits.h); -1 if none */
    pw_port_t *port;            /* RPC return path; NULL until the isolate is live */
};

struct pw_port {
    pw_isolate_t *iso;          /* NULL once the isolate is gone */
    unsigned refs;              /* the isolate's own, plus one per binding call held open */
    pw_port_watch_t watchers;   /* sentinel: binding calls to cancel when the isolate dies */
};

static void port_gone(pw_port_t *port);

struct pw_pool {
    uv_loop_t *loop;
    char *name;
    int template_fd;            /* -1 while the template is dead */
    uv_poll_t *template_poll;   /* on template_fd; NULL while the template is dead */
    pw_template_rebuild_t *rebuild;     /* since the template first died */
    uv_timer_t template_wait_timer;     /* bounds calls' wait while the template is dead */
    char *spec_path;            /* the worker's spec, for rebuilds */
    pw_isolate_t *isolates;
    pw_scale_t scale;
    size_t want;                /* serving isolates wanted: scale.min <= want <= scale.max */
    uv_timer_t idle_timer;      /* retires idle isolates above the minimum */
    int draining;               /* pw_pool_drain(): a newer pool took over */
    void (*on_drained)(void *arg, pw_pool_t *pool);
    void *drained_arg;
    size_t n_live;
    pw_call_t queue;            /* sentinel: calls waiting for an isolate */
    uv_check_t flush_check;
    uv_timer_t limits_timer;    /* CPU limit and request timeout; running when either is set */
    uint64_t limits_last;       /* uv_now() of the last limits tick */
    uv_timer_t exit_timer;      /* waits for dead isolates' exit statuses (exit_waits) */
    struct exit_wait *exit_waits;
    uv_timer_t respawn_timer;   /* delays replacements while isolates keep dying at start */
    uv_timer_t spare_timer;     /* forks the next spare a little after one was promoted */
    uv_timer_t retire_timer;    /* kills retiring isolates past their deadline */
    unsigned start_failures;    /* isolates in a row that died before they were sent a call */
    pw_pool_options_t opts;
    int closing;
    int open_handles;
};

static void call_list_init(pw_call_t *head)
{
    head->prev = head->next = head;
}

static int call_list_empty(const pw_call_t *head)
{
    return head->next == head;
}

static void call_list_push(pw_call_t *head, pw_call_t *call)
{
    call->prev = head->prev;
    call->next = head;
    head->prev->next = call;
    head->prev = call;
}

static void call_list_remove(pw_call_t *call)
{
    call->prev->next = call->next;
    call->next->prev = call->prev;
    call->prev = call->next = call;
}

static void call_fail(pw_call_t *call, int status, const char *text)
{
    call->state = PW_CALL_DONE;
    call->isolate = NULL;
    call->respond(call, NULL, status, text);
}

/* The same with a Retry-After header (seconds). */
static void call_fail_retry(pw_call_t *call, int status, const char *text, unsigned retry_after_s)
{
    call->retry_after_s = retry_after_s;
    call_fail(call, status, text);
}

static void fail_queue(pw_pool_t *pool, int status, const char *text)
{
    while (!call_list_empty(&pool->queue)) {
        pw_call_t *call = pool->queue.next;
        call_list_remove(call);
        call_fail(call, status, text);
    }
}

/* ---- isolate sockets ---- */

static void pool_maybe_free(pw_pool_t *pool);
static void isolate_die(pw_isolate_t *iso, const char *why);
static void dispatch_queue(pw_pool_t *pool);
static void pool_rebalance(pw_pool_t *pool);
static void isolate_retire_if_idle(pw_isolate_t *iso);
static void isolate_stop_quietly(pw_isolate_t *iso);
static void pool_drained_check(pw_pool_t *pool);

static void isolate_unlink(pw_isolate_t *iso)
{
    pw_isolate_t **p = &iso->pool->isolates;
    while (*p && *p != iso)
        p = &(*p)->next;
    if (*p)
        *p = iso->next;
}

static void isolate_free(pw_isolate_t *iso)
{
    if (iso->log_fd >= 0)
        close(iso->log_fd);
    if (iso->port) {
        iso->port->iso = NULL;
        pw_port_release(iso->port);
    }
    if (iso->pidfd >= 0)
        close(iso->pidfd);
    pw_link_free(&iso->link);
    free(iso);
}

static void on_link_closed(pw_link_t *link)
{
    pw_isolate_t *iso = link->data;
    pw_pool_t *pool = iso->pool;
    isolate_unlink(iso);
    isolate_free(iso);
    pool->open_handles--;
    pool_drained_check(pool);
    pool_maybe_free(pool);
}

static void isolate_flush(pw_isolate_t *iso)
{
    iso->dirty = 0;
    if (iso->state == ISOLATE_LIVE)
        pw_link_flush(&iso->link);
}

static void isolate_mark_dirty(pw_isolate_t *iso)
{
    iso->dirty = 1;
}

static void on_flush_check(uv_check_t *check)
{
    pw_pool_t *pool = check->data;
    for (pw_isolate_t *iso = pool->isolates; iso; iso = iso->next)
        if (iso->dirty)
            isolate_flush(iso);
}

static pw_call_t *find_inflight(pw_isolate_t *iso, uint32_t id)
{
    for (pw_call_t *c = iso->inflight.next; c != &iso->inflight; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

/* Returns 0, or -1 when the isolate broke the protocol (and was killed). */
static int handle_response(pw_isolate_t *iso, const pw_frame_t *frame)
{
    pw_message_t msg;
    if (pw_message_decode_response(frame, &msg) < 0 || msg.status < 100 || msg.status > 999) {
        isolate_die(iso, "it sent a malformed frame");
        return -1;
    }
    if (!pw_message_headers_ok(&msg)) {
        isolate_die(iso, "it sent a response header with an invalid name or value");
        return -1;
    }
    pw_call_t *call = find_inflight(iso, frame->id);
    if (!call)
        return 0;   /* cancelled meanwhile */
    if (call->state != PW_CALL_SENT) {
        isolate_die(iso, "it answered a request twice");
        return -1;
    }
    if (msg.flags & PW_FRAME_FLAG_STREAM) {
        call->state = PW_CALL_STREAMING;    /* in flight until END */
        call->respond(call, &msg, 0, NULL);
        return 0;
    }
    call_list_remove(call);
    iso->n_inflight--;
    call->state = PW_CALL_DONE;
    call->isolate = NULL;
    PW_TRACE(call->trace_ns, "request finished id=%u " PW_LOG_REQUEST_ID " isolate=%d status=%u",
             call->id, call->request_id, iso->pid, (unsigned)msg.status);
    call->respond(call, &msg, 0, NULL);
    if (!call_list_empty(&iso->pool->queue))
        dispatch_queue(iso->pool);      /* a call waited for --max-concurrent-requests */
    return 0;
}

/* BODY_CHUNK and END of a streamed response. */
static int handle_stream_frame(pw_isolate_t *iso, const pw_frame_t *frame)
{
    uint32_t aborted = 0;
    if (frame->type == PW_FRAME_END && pw_frame_decode_u32(frame, &aborted) < 0) {
        isolate_die(iso, "it sent a malformed frame");
        return -1;
    }
    pw_call_t *call = find_inflight(iso, frame->id);
    if (!call)
        return 0;   /* cancelled meanwhile */
    if (call->state != PW_CALL_STREAMING) {
        isolate_die(iso, "it streamed a body without a streaming response");
        return -1;
    }
    if (frame->type == PW_FRAME_BODY_CHUNK) {
        if (call->chunk(call, frame->payload, frame->len) < 0) {
            isolate_die(iso, "it streamed past its flow-control window");
            return -1;
        }
        return 0;
    }
    call_list_remove(call);
    iso->n_inflight--;
    call->state = PW_CALL_DONE;
    call->isolate = NULL;
    call->end(call, aborted != 0);
    return 0;
}

static void isolate_replace(pw_isolate_t *iso, const char *why);

/* "isolate.retire" (a request of this isolate ran out of memory and it is still short of it,
 * pyworkerd/runtime.py): it is retired and replaced. 1 when the frame was that call. */
static int handle_retire_call(pw_isolate_t *iso, const pw_frame_t *frame)
{
    pw_bytes_t f[2];
    size_t n;
    if (pw_rpc_count(frame) != 2 || pw_rpc_decode(frame, f, 2, &n) < 0 ||
        f[0].len != sizeof "isolate.retire" - 1 || memcmp(f[0].base, "isolate.retire", f[0].len))
        return 0;
    if (!iso->retiring)
        isolate_replace(iso, "a request ran out of memory (MemoryError) and the isolate is "
                             "still short of it");
    return 1;
}

static int handle_frame(pw_isolate_t *iso, const pw_frame_t *frame)
{
    if (frame->type == PW_FRAME_RPC && handle_retire_call(iso, frame))
        return 0;
    if (frame->type == PW_FRAME_RPC && iso->pool->opts.rpc) {
        if (iso->pool->opts.rpc(iso->pool->opts.rpc_arg, iso->port, frame) == 0)
            return 0;
        isolate_die(iso, "it sent a malformed binding call");
        return -1;
    }
    if (frame->type == PW_FRAME_RESPONSE)
        return handle_response(iso, frame);
    if (frame->type == PW_FRAME_BODY_CHUNK || frame->type == PW_FRAME_END)
        return handle_stream_frame(iso, frame);
    if (frame->type == PW_FRAME_DOORBELL)
        return 0;       /* its descriptor was taken as it was read (host/link.c) */
    isolate_die(iso, "it sent a malformed frame");
    return -1;
}

static void on_link_read(pw_link_t *link)
{
    pw_isolate_t *iso = link->data;
    size_t off = 0, used;
    pw_frame_t frame;
    int rc;
    while ((rc = pw_frame_parse_from_isolate(link->in.data + off, link->in.len - off, &frame,
                                              &used)) == 1) {
        off += used;
        if (handle_frame(iso, &frame) < 0)
            return;
    }
    if (rc < 0) {
        isolate_die(iso, "it sent an oversized frame");
        return;
    }
    pw_buf_consume(&link->in, off);
    isolate_retire_if_idle(iso);
}

static void on_link_error(pw_link_t *link, const char *why)
{
    pw_isolate_t *iso = link->data;
    if (iso->retiring && why == pw_link_exited)
        pw_log_info("service %s: retired isolate %d exited", iso->pool->name, iso->pid);
    isolate_die(iso, why);
}

/* An isolate that dies at start (before any call reached it: a broken sandbox or after-fork
 * step) would otherwise be replaced at once, forever: after START_FAILURES_FREE such deaths
 * in a row, replacements wait, twice as long each time, up to RESPAWN_MAX_DELAY_MS. */
#define START_FAILURE_MS 1000
#define START_FAILURES_FREE 3
#define RESPAWN_MAX_DELAY_MS 5000

static void on_respawn_timer(uv_timer_t *timer)
{
    pool_rebalance(timer->data);
}

#define SPARE_DELAY_MS 5

static void on_spare_timer(uv_timer_t *timer)
{
    pool_rebalance(timer->data);    /* the timer is no longer active: spares are forked now */
}

static void replace_after_death(pw_pool_t *pool, int died_at_start)
{
    pool->start_failures = died_at_start ? pool->start_failures + 1 : 0;
    if (pool->start_failures <= START_FAILURES_FREE) {
        pool_rebalance(pool);
        return;
    }
    unsigned shift = pool->start_failures - START_FAILURES_FREE;
    uint64_t delay = shift > 12 ? RESPAWN_MAX_DELAY_MS : (uint64_t)10 << shift;
    if (delay > RESPAWN_MAX_DELAY_MS)
        delay = RESPAWN_MAX_DELAY_MS;
    if (uv_is_active((uv_handle_t *)&pool->respawn_timer))
        return;
    pw_log_error("service %s: %u isolates in a row died at start; next try in %llu ms",
                 pool->name, pool->start_failures, (unsigned long long)delay);
    uv_timer_start(&pool->respawn_timer, on_respawn_timer, delay, 0);
}

/* ---- how an isolate ended ---- */

/* A dead isolate's log line waits for its exit status: its socket closes before the kernel
 * reaps it, and only then does its pidfd tell (limits.h). */
#define EXIT_WAIT_TICK_MS 2
#define EXIT_WAIT_TRIES 50

struct exit_wait {
    struct exit_wait *next;
    int pidfd, pid;
    size_t n_inflight;
    unsigned tries;
};

static void log_isolate_stopped(pw_pool_t *pool, int pid, const char *why, size_t n_inflight)
{
    pw_log_error("service %s: isolate %d stopped (%s) with %zu request(s) in flight%s",
                 pool->name, pid, why, n_inflight, pool->closing ? "" : "; starting a new one");
}

/* Logs the line once the status is known, or on the last try without it. 1 when logged. */
static int exit_wait_try(pw_pool_t *pool, struct exit_wait *w, int last)
{
    int status = 0;
    int rc = pw_exit_status(w->pidfd, &status);
    if (rc == 0 && !last)
        return 0;
    char reason[128];
    log_isolate_stopped(pool, w->pid,
                        rc == 1 ? pw_exit_describe(status, reason, sizeof reason) : pw_link_exited,
                        w->n_inflight);
    return 1;
}

static void exit_waits_run(pw_pool_t *pool, int last)
{
    for (struct exit_wait **p = &pool->exit_waits, *w; (w = *p);) {
        if (exit_wait_try(pool, w, last || ++w->tries >= EXIT_WAIT_TRIES)) {
            *p = w->next;
            close(w->pidfd);
            free(w);
        } else {
            p = &w->next;
        }
    }
}

static void on_exit_timer(uv_timer_t *timer)
{
    pw_pool_t *pool = timer->data;
    exit_waits_run(pool, 0);
    if (!pool->exit_waits)
        uv_timer_stop(timer);
}

/* The isolate's socket closed: log how it ended, now or once the kernel has reaped it. Takes
 * its pidfd. */
static void log_isolate_exit(pw_isolate_t *iso)
{
    pw_pool_t *pool = iso->pool;
    struct exit_wait *w = iso->pidfd >= 0 ? calloc(1, sizeof *w) : NULL;
    if (!w) {
        log_isolate_stopped(pool, iso->pid, pw_link_exited, iso->n_inflight);
        return;
    }
    w->pidfd = iso->pidfd;
    w->pid = iso->pid;
    w->n_inflight = iso->n_inflight;
    iso->pidfd = -1;
    if (exit_wait_try(pool, w, pool->closing)) {
        close(w->pidfd);
        free(w);
        return;
    }
    w->next = pool->exit_waits;
    pool->exit_waits = w;
    if (!uv_is_active((uv_handle_t *)&pool->exit_timer))
        uv_timer_start(&pool->exit_timer, on_exit_timer, EXIT_WAIT_TICK_MS, EXIT_WAIT_TICK_MS);
}

/* SIGKILL through its pidfd when it has one: a pid may already name another process. */
static void isolate_kill(pw_isolate_t *iso)
{
#ifdef SYS_pidfd_send_signal
    if (iso->pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, iso->pidfd, SIGKILL, NULL, 0);
        return;
    }
#endif
    kill(iso->pid, SIGKILL);
}

static void isolate_fail(pw_isolate_t *iso, const char *why, int status, const char *text);

static void isolate_die(pw_isolate_t *iso, const char *why)
{
    isolate_fail(iso, why, 502, "Bad Gateway: the worker's isolate stopped while handling this "
                                "request; see the server log.\n");
}

/* Kills the isolate; its calls get `status` with `text`. */
static void isolate_fail(pw_isolate_t *iso, const char *why, int status, const char *text)
{
    if (iso->state == ISOLATE_DEAD)
        return;
    pw_pool_t *pool = iso->pool;
    int was_live = iso->state == ISOLATE_LIVE;
    iso->state = ISOLATE_DEAD;
    if (was_live && !iso->retiring)
        pool->n_live--;
    int exit_status;
    if (why == pw_link_exited && !(iso->pidfd >= 0 && pw_exit_status(iso->pidfd, &exit_status) == 1) &&
        !pw_limits_exiting(iso->pid))
        why = "it closed its socket";   /* it runs on: killed below */
    if (was_live)
        isolate_kill(iso);
    if (!iso->retired && (!pool->closing || iso->n_inflight)) {
        if (why == pw_link_exited)
            log_isolate_exit(iso);
        else
            log_isolate_stopped(pool, iso->pid, why, iso->n_inflight);
    }
    while (!call_list_empty(&iso->inflight)) {
        pw_call_t *call = iso->inflight.next;
        call_list_remove(call);
        if (call->state == PW_CALL_STREAMING) {
            call->state = PW_CALL_DONE;
            call->isolate = NULL;
            call->end(call, 1);
            continue;
        }
        call_fail(call, status, text);
    }
    iso->n_inflight = 0;
    if (iso->port)
        port_gone(iso->port);
    if (was_live) {
        pw_link_close(&iso->link, on_link_closed);
    } else {
        close(iso->fd);
        isolate_unlink(iso);
        isolate_free(iso);
    }
    if (!pool->closing)
        replace_after_death(pool, was_live && iso->next_id == 1 && !iso->retired &&
                                      uv_now(pool->loop) - iso->live_since < START_FAILURE_MS);
}

/* ---- spawning through the template ---- */

static int isolate_request_spawn(pw_pool_t *pool, int spare)
{
    if (pool->template_fd < 0)
        return -EAGAIN;     /* the template is dead: its rebuild rebalances */
    int fds[2], out[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
        return -errno;
    if (pipe2(out, O_CLOEXEC) < 0) {
        int rc = -errno;
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    int passed[2] = { fds[1], out[1] };     /* its socket; its fds 1 and 2 (child_log.h) */
    int rc = pw_control_send_fds(pool->template_fd, PW_FRAME_CTL_SPAWN_ISOLATE, 0, NULL, 0, passed, 2);
    close(fds[1]);
    close(out[1]);
    pw_isolate_t *iso = rc < 0 ? NULL : calloc(1, sizeof *iso);
    if (!iso) {
        close(fds[0]);
        close(out[0]);
        return rc < 0 ? rc : -ENOMEM;
    }
    iso->pool = pool;
    iso->state = ISOLATE_SPAWNING;
    iso->fd = fds[0];
    iso->pidfd = -1;
    iso->log_fd = out[0];
    iso->next_id = 1;
    iso->spawn_ns = pw_trace_on ? pw_trace_clock() : 0;
    iso->spare = spare;
    call_list_init(&iso->inflight);
    pw_isolate_t **tail = &pool->isolates;
    while (*tail)
        tail = &(*tail)->next;
    *tail = iso;
    return 0;
}

/* The isolate is up: its socket becomes a link. One whose link cannot be made is killed and
 * forgotten (as one the template could not fork); one whose link was made but cannot be
 * watched dies as a live one does (its link is closed, a replacement is started). */
static int isolate_open(pw_isolate_t *iso, int pid)
{
    pw_pool_t *pool = iso->pool;
    iso->pid = pid;
    iso->pidfd = pw_exit_pidfd_open(pid);
    pw_child_log_open(pool->loop, iso->log_fd, pool->name, "iso", pid);    /* owns it now */
    iso->log_fd = -1;
    iso->port = calloc(1, sizeof *iso->port);
    if (iso->port) {
        iso->port->iso = iso;
        iso->port->refs = 1;
        pw_watch_list_init(&iso->port->watchers);
    }
    iso->link.data = iso;
    iso->link.on_read = on_link_read;
    iso->link.on_error = on_link_error;
    int rc = UV_ENOMEM;
    if (iso->port) {
        rc = pw_link_open(&iso->link, pool->loop, iso->fd);
    } else {
        close(iso->fd);
        iso->link.fd = -1;
    }
    iso->fd = -1;
    if (rc < 0 && iso->link.fd < 0) {
        pw_log_error("service %s: isolate %d: %s", pool->name, pid, uv_strerror(rc));
        kill(pid, SIGKILL);
        isolate_unlink(iso);
        isolate_free(iso);
        if (pool->n_live == 0)
            fail_queue(pool, 503, "Service Unavailable: no isolate could be started.\n");
        pool_drained_check(pool);
        return rc;
    }
    pool->open_handles++;
    iso->state = ISOLATE_LIVE;
    iso->idle_since = iso->live_since = uv_now(pool->loop);
    pool->n_live++;
    if (rc < 0) {               /* the link is open but could not be watched */
        isolate_die(iso, uv_strerror(rc));
        return rc;
    }
    pw_log_info("service %s: isolate %d started", pool->name, pid);
    PW_TRACE(iso->spawn_ns, "isolate started pid=%d service=%s", pid, pool->name);
    return 0;
}

static void on_spawned(pw_pool_t *pool, int pid)
{
    pw_isolate_t *iso = pool->isolates;
    while (iso && iso->state != ISOLATE_SPAWNING)
        iso = iso->next;
    if (!iso)
        return;
    if (pid <= 0) {
        pw_log_error("service %s: the worker template could not fork an isolate", pool->name);
        close(iso->fd);
        isolate_unlink(iso);
        isolate_free(iso);
        if (pool->n_live == 0)
            fail_queue(pool, 503, "Service Unavailable: no isolate could be started.\n");
        pool_drained_check(pool);
        return;
    }
    if (isolate_open(iso, pid) < 0)
        return;
    if (pool->draining)
        isolate_stop_quietly(iso);
    else
        dispatch_queue(pool);
}

/* ---- the template: its socket, its death, its rebuild (host/template_rebuild.h) ----
 * Isolates die with their template (PR_SET_PDEATHSIG; a pid namespace's init takes its
 * namespace along), so a dead template leaves the pool with nothing to serve: its calls in
 * flight get 502 as their isolates go, new calls wait for the rebuilt template's isolates,
 * for TEMPLATE_WAIT_MS at most (then 503 with Retry-After), and once the worker failed to
 * load too often they get that 503 at once. */

#define TEMPLATE_WAIT_MS 3000
#define TEMPLATE_WAIT_TICK_MS 100

static const char template_down_text[] =
    "Service Unavailable: the worker's template is being restarted; try again shortly.\n";
static const char template_failed_text[] =
    "Service Unavailable: the worker failed to load; see the server log.\n";

static void template_lost(pw_pool_t *pool);

static void on_template_readable(uv_poll_t *poll, int status, int events)
{
    pw_pool_t *pool = poll->data;
    for (;;) {
        pw_control_msg_t msg;
        int rc = pw_control_recv(pool->template_fd, &msg);
        if (rc == -EAGAIN)
            return;
        if (rc <= 0) {
            template_lost(pool);
            return;
        }
        if (msg.type == PW_FRAME_CTL_ISOLATE_SPAWNED)
            on_spawned(pool, (int)pw_control_msg_u32(&msg));
        pw_control_msg_free(&msg);
    }
}

static void on_template_poll_closed(uv_handle_t *handle)
{
    pw_pool_t *pool = handle->data;
    free(handle);
    pool->open_handles--;
    pool_maybe_free(pool);
}

/* Polls `fd`, the pool's template's control socket. Returns 0 or a libuv error. */
static int template_watch(pw_pool_t *pool, int fd)
{
    uv_poll_t *poll = calloc(1, sizeof *poll);
    if (!poll)
        return UV_ENOMEM;
    int rc = uv_poll_init(pool->loop, poll, fd);
    if (rc < 0) {
        free(poll);
        return rc;
    }
    poll->data = pool;
    pool->template_poll = poll;
    pool->template_fd = fd;
    pool->open_handles++;
    return uv_poll_start(poll, UV_READABLE | UV_DISCONNECT, on_template_readable);
}

/* Stops polling the template's socket (the socket itself stays open). */
static void template_unwatch(pw_pool_t *pool)
{
    if (!pool->template_poll)
        return;
    uv_close((uv_handle_t *)pool->template_poll, on_template_poll_closed);
    pool->template_poll = NULL;
}

static unsigned template_retry_after(pw_pool_t *pool)
{
    return pool->rebuild ? pw_template_rebuild_retry_after_s(pool->rebuild) : 1;
}

/* Answers 503 to queued calls that waited TEMPLATE_WAIT_MS while no template could fork an
 * isolate (all of them once the worker failed to load for good). */
static void on_template_wait_tick(uv_timer_t *timer)
{
    pw_pool_t *pool = timer->data;
    if (pool->template_fd >= 0 || call_list_empty(&pool->queue)) {
        uv_timer_stop(timer);
        return;
    }
    int gave_up = pool->rebuild && pw_template_rebuild_gave_up(pool->rebuild);
    uint64_t now = uv_now(pool->loop);
    for (pw_call_t *call = pool->queue.next, *next; call != &pool->queue; call = next) {
        next = call->next;
        if (!gave_up && now - call->start_ms < TEMPLATE_WAIT_MS)
            continue;
        call_list_remove(call);
        call_fail_retry(call, 503, gave_up ? template_failed_text : template_down_text,
                        template_retry_after(pool));
    }
}

static void template_wait_start(pw_pool_t *pool)
{
    if (!uv_is_active((uv_handle_t *)&pool->template_wait_timer))
        uv_timer_start(&pool->template_wait_timer, on_template_wait_tick, TEMPLATE_WAIT_TICK_MS,
                       TEMPLATE_WAIT_TICK_MS);
}

/* pw_pool_submit: while the template is dead and no isolate is left, a call is queued with
 * a bounded wait, or (the worker failed to load for good) refused at once. Returns 1 when
 * it was answered. */
static int template_refuses(pw_pool_t *pool, pw_call_t *call)
{
    if (pool->template_fd >= 0 || pool->n_live > 0)
        return 0;
    if (pool->rebuild && pw_template_rebuild_gave_up(pool->rebuild)) {
        call_fail_retry(call, 503, template_failed_text, template_retry_after(pool));
        return 1;
    }
    template_wait_start(pool);
    return 0;
}

static void on_template_rebuilt(void *arg, int template_fd)
{
    pw_pool_t *pool = arg;
    int rc = template_watch(pool, template_fd);
    if (rc < 0) {
        pw_log_error("service %s: cannot watch the new worker template: %s", pool->name,
                     uv_strerror(rc));
        template_unwatch(pool);
        close(template_fd);     /* the template exits */
        pool->template_fd = -1;
        pw_template_rebuild_start(pool->rebuild);
        return;
    }
    pw_log_error("service %s: worker template rebuilt; starting isolates", pool->name);
    pool->start_failures = 0;   /* the deaths counted were the old template's isolates' */
    uv_timer_stop(&pool->respawn_timer);
    pool_rebalance(pool);
}

static void on_template_gave_up(void *arg, const char *error_text)
{
    pw_pool_t *pool = arg;
    (void)error_text;           /* logged by template_rebuild.c */
    if (!call_list_empty(&pool->queue))
        on_template_wait_tick(&pool->template_wait_timer);
}

/* The dead template's isolates: those it was asked for will never come (forgotten); the
 * live ones are dying with it (PR_SET_PDEATHSIG) and are failed now, so that no call is
 * sent to one meanwhile. Returns how many calls they had in flight. */
static size_t template_isolates_die(pw_pool_t *pool)
{
    size_t inflight = 0;
    for (pw_isolate_t *iso = pool->isolates, *next; iso; iso = next) {
        next = iso->next;
        if (iso->state == ISOLATE_SPAWNING) {
            close(iso->fd);
            isolate_unlink(iso);
            isolate_free(iso);
        } else if (iso->state == ISOLATE_LIVE) {
            inflight += iso->n_inflight;
            iso->retired = 1;       /* logged below; replaced once the template is back */
            isolate_fail(iso, "its template exited", 502,
                         "Bad Gateway: the worker's template and its isolates stopped while "
                         "handling this request; see the server log.\n");
        }
    }
    return inflight;
}

static int rebuild_ensure(pw_pool_t *pool)
{
    if (pool->rebuild)
        return 0;
    if (!pool->opts.zygote || !pool->spec_path)
        return -1;
    pw_template_rebuild_options_t opts = {
        .loop = pool->loop, .zygote = pool->opts.zygote, .service = pool->name,
        .spec_path = pool->spec_path, .on_ready = on_template_rebuilt,
        .on_gave_up = on_template_gave_up, .arg = pool,
    };
    return pw_template_rebuild_create(&opts, &pool->rebuild) < 0 ? -1 : 0;
}

static void template_lost(pw_pool_t *pool)
{
    template_unwatch(pool);
    close(pool->template_fd);   /* after the handle's close: it dropped the fd from epoll */
    pool->template_fd = -1;
    size_t inflight = template_isolates_die(pool);
    if (pool->closing || pool->draining) {
        pool_drained_check(pool);
        return;
    }
    int rebuild = rebuild_ensure(pool) == 0;
    pw_log_error("service %s: the worker template exited (killed, out of memory or crashed); "
                 "its isolates went with it (%zu request(s) in flight got 502); %s", pool->name,
                 inflight, rebuild ? "rebuilding it" : "no new isolates can be started");
    if (!rebuild) {
        fail_queue(pool, 503, "Service Unavailable: the worker's template exited.\n");
        return;
    }
    pw_template_rebuild_start(pool->rebuild);
    if (!call_list_empty(&pool->queue))
        template_wait_start(pool);
}

/* ---- scaling (host/scale.h) ---- */

static pw_isolate_t *find_spare(pw_pool_t *pool)
{
    pw_isolate_t *starting = NULL;
    for (pw_isolate_t *iso = pool->isolates; iso; iso = iso->next) {
        if (!iso->spare || iso->state == ISOLATE_DEAD || iso->retiring)
            continue;
        if (iso->state == ISOLATE_LIVE)
            return iso;
        if (!starting)
            starting = iso;
    }
    return starting;
}

static size_t count_alive(pw_pool_t *pool, int spare)
{
    size_t n = 0;
    for (pw_isolate_t *iso = pool->isolates; iso; iso = iso->next)
        if (iso->state != ISOLATE_DEAD && iso->spare == spare && !iso->retiring)
            n++;
    return n;
}

/* Serving isolates up to `want`, spares first; then new spares. */
static void pool_rebalance(pw_pool_t *pool)
{
    if (pool->closing || pool->draining)
        return;
    size_t serving = count_alive(pool, 0), spares = count_alive(pool, 1);
    int promoted = 0;
    for (pw_isolate_t *spare; serving < pool->want && (spare = find_spare(pool)); serving++, spares--) {
        spare->spare = 0;
        promoted = 1;
        PW_TRACE(spare->spawn_ns, "isolate promoted pid=%d (spare)", spare->pid);
    }
    /* The waiting requests go to the promoted spare before the template is asked for the
     * next one (see pw_pool_submit), and the next spare is forked SPARE_DELAY_MS later: a
     * fork of the template at once competes with the promoted isolate's first request (the
     * two share copy-on-write pages and, on a small machine, the CPUs). */
    if (promoted)
        dispatch_queue(pool);
    for (; serving < pool->want; serving++)
        if (isolate_request_spawn(pool, 0) < 0)
            goto failed;
    if (spares < pool->scale.spare && (promoted || uv_is_active((uv_handle_t *)&pool->spare_timer))) {
        if (!uv_is_active((uv_handle_t *)&pool->spare_timer))
            uv_timer_start(&pool->spare_timer, on_spare_timer, SPARE_DELAY_MS, 0);
        return;
    }
    for (; spares < pool->scale.spare; spares++)
        if (isolate_request_spawn(pool, 1) < 0)
            goto failed;
    return;
failed:
    if (pool->template_fd >= 0)
        pw_log_error("service %s: cannot ask the template for an isolate", pool->name);
}

static void on_retire_tick(uv_timer_t *timer)
{
    pw_pool_t *pool = timer->data;
    uint64_t now = uv_now(pool->loop);
    int left = 0;
    for (pw_isolate_t *iso = pool->isolates, *next; iso; iso = next) {
        next = iso->next;
        if (iso->state != ISOLATE_LIVE || !iso->retiring)
            continue;
        if (now < iso->retire_deadline) {
            left = 1;
            continue;
        }
        pw_log_error("service %s: retired isolate %d did not exit within %u ms; killing it",
                     pool->name, iso->pid, pool->opts.retire_timeout_ms);
        isolate_fail(iso, "killed after its retirement timeout", 503,
                     "Service Unavailable: the worker's isolate was stopped.\n");
    }
    if (!left)
        uv_timer_stop(timer);
}

/* Sends RETIRE: the isolate gets no more calls, finishes its own and exits (or is killed at
 * its deadline). One that is not up yet just goes. */
static void isolate_stop_quietly(pw_isolate_t *iso)
{
    pw_pool_t *pool = iso->pool;
    iso->retired = 1;
    if (iso->state != ISOLATE_LIVE) {
        isolate_die(iso, "retired");
        return;
    }
    if (iso->retiring)
        return;
    if (pw_frame_put_empty(&iso->link.out, PW_FRAME_RETIRE, 0) < 0) {
        isolate_die(iso, "retired");
        return;
    }
    iso->retiring = 1;
    iso->spare = 0;
    pool->n_live--;
    iso->retire_deadline = uv_now(pool->loop) + pool->opts.retire_timeout_ms;
    isolate_flush(iso);
    if (!uv_is_active((uv_handle_t *)&pool->retire_timer))
        uv_timer_start(&pool->retire_timer, on_retire_tick, RETIRE_TICK_MS, RETIRE_TICK_MS);
}

static void isolate_retire(pw_isolate_t *iso, uint64_t idle_ms)
{
    pw_pool_t *pool = iso->pool;
    pool->want--;
    pw_log_info("service %s: isolate %d retired after %.1f s idle", pool->name, iso->pid,
                (double)idle_ms / 1000);
    PW_TRACE(pw_trace_clock() - idle_ms * 1000000, "isolate retired pid=%d (idle)", iso->pid);
    isolate_stop_quietly(iso);
}

/* After its calls were answered: retire it now when the idle timeout is 0. */
static void isolate_retire_if_idle(pw_isolate_t *iso)
{
    pw_pool_t *pool = iso->pool;
    if (iso->state != ISOLATE_LIVE || iso->n_inflight || iso->retiring)
        return;
    if (pool->draining) {
        isolate_stop_quietly(iso);
        return;
    }
    if (iso->spare)
        return;
    iso->idle_since = uv_now(pool->loop);
    if (pool->scale.idle_timeout_ms == 0 && call_list_empty(&pool->queue) &&
        pw_scale_should_retire(&pool->scale, pool->want, 0))
        isolate_retire(iso, 0);
}

static void on_idle_tick(uv_timer_t *timer)
{
    pw_pool_t *pool = timer->data;
    uint64_t now = uv_now(pool->loop);
    for (pw_isolate_t *iso = pool->isolates, *next; iso; iso = next) {
        next = iso->next;
        if (iso->state == ISOLATE_LIVE && !iso->spare && !iso->retiring && iso->n_inflight == 0 &&
            call_list_empty(&pool->queue) &&
            pw_scale_should_retire(&pool->scale, pool->want, now - iso->idle_since))
            isolate_retire(iso, now - iso->idle_since);
    }
}

static void idle_timer_start(pw_pool_t *pool)
{
    uv_timer_init(pool->loop, &pool->idle_timer);
    pool->idle_timer.data = pool;
    pool->open_handles++;
    uint64_t tick = pool->scale.idle_timeout_ms / 4;
    tick = tick < 50 ? 50 : tick > 5000 ? 5000 : tick;
    if (pool->scale.idle_timeout_ms && pool->scale.max > pool->scale.min)
        uv_timer_start(&pool->idle_timer, on_idle_tick, tick, tick);
}

/* A call arrives: grow when every serving isolate is busy (or none is up). */
/* Whether a request arriving now makes the pool want more serving isolates (pool->want is
 * raised; the caller rebalances once the request is sent or queued). */
static int pool_scale_on_request(pw_pool_t *pool, pw_isolate_t *least_busy)
{
    size_t want = pw_scale_on_request(&pool->scale, pool->want, count_alive(pool, 0),
                                      least_busy ? (long)least_busy->n_inflight : -1);
    if (want == pool->want)
        return 0;
    pw_log_info("service %s: %zu serving isolate(s) wanted (was %zu)", pool->name, want, pool->want);
    pool->want = want;
    return 1;
}

/* ---- dispatch ---- */

static pw_isolate_t *pick_isolate(pw_pool_t *pool)
{
    pw_isolate_t *best = NULL;
    for (pw_isolate_t *iso = pool->isolates; iso; iso = iso->next)
        if (iso->state == ISOLATE_LIVE && !iso->spare && !iso->retiring && !iso->cpu.burning &&
            (!best || iso->n_inflight < best->n_inflight))
            best = iso;
    if (best && pool->opts.max_concurrent && best->n_inflight >= pool->opts.max_concurrent)
        return NULL;
    return best;
}

static void send_call(pw_isolate_t *iso, pw_call_t *call)
{
    call->id = iso->next_id++;
    if (iso->next_id == 0)
        iso->next_id = 1;
    if (call->encode(call, &iso->link.out) < 0) {
        call_fail(call, 500, "Internal Server Error: the request could not be encoded.\n");
        return;
    }
    call->state = PW_CALL_SENT;
    call->isolate = iso;
    if (pw_trace_on) {
        PW_TRACE(call->trace_ns, "request dispatched id=%u " PW_LOG_REQUEST_ID " isolate=%d",
                 call->id, call->request_id, iso->pid);
        call->trace_ns = pw_trace_clock();
    }
    call_list_push(&iso->inflight, call);
    iso->n_inflight++;
    iso->calls_started++;
    isolate_mark_dirty(iso);
}

static void dispatch_queue(pw_pool_t *pool)
{
    while (!call_list_empty(&pool->queue)) {
        pw_isolate_t *iso = pick_isolate(pool);
        if (!iso)
            return;
        pw_call_t *call = pool->queue.next;
        call_list_remove(call);
        send_call(iso, call);
    }
}

static int template_refuses(pw_pool_t *pool, pw_call_t *call);

void pw_pool_submit(pw_pool_t *pool, pw_call_t *call)
{
    call->prev = call->next = call;
    call->trace_ns = pw_trace_on ? pw_trace_clock() : 0;
    call->start_ms = uv_now(pool->loop);
    call->retry_after_s = 0;
    if (pool->closing || pool->draining) {
        call_fail(call, 503, "Service Unavailable: the server is shutting down.\n");
        return;
    }
    if (template_refuses(pool, call))
        return;
    pw_isolate_t *iso = pick_isolate(pool);
    int grow = pool_scale_on_request(pool, iso);
    if (iso) {
        send_call(iso, call);
    } else {
        call->state = PW_CALL_QUEUED;
        call_list_push(&pool->queue, call);
    }
    /* Only now the template may be asked for isolates: its fork, woken by that message, would
     * otherwise run first on this CPU while the request waits (pool_rebalance gives a promoted
     * spare its requests before it asks). */
    if (grow || !iso) {
        pool_rebalance(pool);
        dispatch_queue(pool);
    }
}

void pw_pool_cancel(pw_call_t *call)
{
    if (call->state == PW_CALL_QUEUED) {
        call_list_remove(call);
    } else if (call->state == PW_CALL_SENT || call->state == PW_CALL_STREAMING) {
        pw_isolate_t *iso = call->isolate;
        call_list_remove(call);
        iso->n_inflight--;
        if (pw_frame_put_empty(&iso->link.out, PW_FRAME_CANCEL, call->id) == 0)
            isolate_mark_dirty(iso);
    }
    call->state = PW_CALL_DONE;
    call->isolate = NULL;
}

/* ---- draining (--watch) ---- */

/* Once a draining pool has no isolate left (starting or serving): it closes. */
static void pool_drained_check(pw_pool_t *pool)
{
    if (!pool->draining || pool->closing)
        return;
    for (pw_isolate_t *iso = pool->isolates; iso; iso = iso->next)
        if (iso->state != ISOLATE_DEAD)
            return;
    if (pool->on_drained)
        pool->on_drained(pool->drained_arg, pool);
    pool->on_drained = NULL;
    pw_pool_close(pool);
}

void pw_pool_drain(pw_pool_t *pool, pw_pool_t *successor,
                   void (*on_drained)(void *arg, pw_pool_t *pool), void *arg)
{
    pool->draining = 1;
    pool->on_drained = on_drained;
    pool->drained_arg = arg;
    uv_timer_stop(&pool->idle_timer);
    pw_template_rebuild_free(pool->rebuild);    /* the successor has its own template */
    pool->rebuild = NULL;
    if (!successor)
        fail_queue(pool, 503, "Service Unavailable: the server is shutting down.\n");
    while (!call_list_empty(&pool->queue)) {
        pw_call_t *call = pool->queue.next;
        call_list_remove(call);
        pw_pool_submit(successor, call);
    }
    for (pw_isolate_t *iso = pool->isolates, *next; iso; iso = next) {
        next = iso->next;
        isolate_stop_quietly(iso);  /* a live one finishes its calls, then exits */
    }
    pool_drained_check(pool);
}

/* ---- limits: CPU per request, wall-clock timeout ---- */

static void expire_calls(pw_pool_t *pool, pw_call_t *head, pw_isolate_t *iso, uint64_t now)
{
    for (pw_call_t *call = head->next, *next; call != head; call = next) {
        next = call->next;
        if (now - call->start_ms < pool->opts.request_timeout_ms || call->state == PW_CALL_STREAMING)
            continue;   /* a streamed response has started: the timeout is to its first byte */
        call_list_remove(call);
        if (iso) {
            iso->n_inflight--;
            if (pw_frame_put_empty(&iso->link.out, PW_FRAME_CANCEL, call->id) == 0)
                isolate_mark_dirty(iso);
        }
        call_fail(call, 504, "Gateway Timeout: the worker did not answer within the request "
                             "timeout (--request-timeout).\n");
    }
}

/* Retires the isolate (it gets no more calls, finishes its own) and starts its replacement. */
static void isolate_replace(pw_isolate_t *iso, const char *why)
{
    pw_pool_t *pool = iso->pool;
    pw_log_error("service %s: isolate %d retired (%s); starting a new one", pool->name, iso->pid,
                 why);
    isolate_stop_quietly(iso);
    pool_rebalance(pool);
}

/* One CPU sample of a live isolate (limits.h). */
static void cpu_tick(pw_isolate_t *iso, uint64_t elapsed)
{
    pw_pool_t *pool = iso->pool;
    uint64_t cpu;
    int running;
    if (!iso->calls_started)
        return;     /* it is only starting: no request's work can run yet */
    if (pw_limits_cpu_ms(iso->pid, &cpu, &running) < 0)
        return;     /* exiting: the pool sees the EOF */
    int over = pw_cpu_account_tick(&iso->cpu, cpu, running, iso->n_inflight, iso->calls_started,
                                   pool->opts.cpu_limit_ms, elapsed);
    if (iso->cpu_over) {
        if (iso->cpu.busy_idle) {   /* retired, and still burning: it will not finish */
            pw_log_error("service %s: isolate %d still uses CPU after its CPU time limit; "
                         "killing it", pool->name, iso->pid);
            isolate_fail(iso, "it exceeded its CPU time limit", 503,
                         "Service Unavailable: the worker exceeded its CPU time limit.\n");
        }
        return;
    }
    if (over == PW_CPU_OVER_BUSY) {
        isolate_fail(iso, "it exceeded its CPU time limit", 503,
                     "Service Unavailable: the worker exceeded its CPU time limit.\n");
    } else if (over == PW_CPU_OVER_IDLE) {
        iso->cpu_over = 1;
        isolate_replace(iso, "it exceeded its CPU time limit with no request in flight: work "
                             "left running after its responses");
    }
}

static void on_limits_tick(uv_timer_t *timer)
{
    pw_pool_t *pool = timer->data;
    uint64_t now = uv_now(pool->loop);
    uint64_t elapsed = now - pool->limits_last;
    pool->limits_last = now;
    if (pool->opts.request_timeout_ms)
        expire_calls(pool, &pool->queue, NULL, now);
    for (pw_isolate_t *iso = pool->isolates, *next; iso; iso = next) {
        next = iso->next;
        if (iso->state != ISOLATE_LIVE)
            continue;
        if (pool->opts.request_timeout_ms)
            expire_calls(pool, &iso->inflight, iso, now);
        if (pool->opts.cpu_limit_ms)
            cpu_tick(iso, elapsed);
    }
    if (!call_list_empty(&pool->queue))
        dispatch_queue(pool);   /* an isolate stopped burning */
}

static void limits_start(pw_pool_t *pool)
{
    uv_timer_init(pool->loop, &pool->limits_timer);
    pool->limits_timer.data = pool;
    pool->open_handles++;
    pool->limits_last = uv_now(pool->loop);
    if (pool->opts.cpu_limit_ms || pool->opts.request_timeout_ms)
        uv_timer_start(&pool->limits_timer, on_limits_tick, LIMITS_TICK_MS, LIMITS_TICK_MS);
    uv_timer_init(pool->loop, &pool->exit_timer);
    pool->exit_timer.data = pool;
    pool->open_handles++;
}

void pw_pool_ack(pw_call_t *call, size_t bytes)
{
    pw_isolate_t *iso = call->isolate;
    if (call->state != PW_CALL_STREAMING || !iso || iso->state != ISOLATE_LIVE || bytes == 0)
        return;
    if (pw_frame_put_u32_frame(&iso->link.out, PW_FRAME_BODY_ACK, call->id,
                               bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes) == 0)
        isolate_mark_dirty(iso);
}

/* ---- lifetime ---- */

static int wait_for_spawned(pw_pool_t *pool)
{
    pw_control_msg_t msg;
    int rc = pw_control_recv(pool->template_fd, &msg);
    if (rc <= 0)
        return rc == 0 ? -EPIPE : rc;
    int pid = msg.type == PW_FRAME_CTL_ISOLATE_SPAWNED ? (int)pw_control_msg_u32(&msg) : 0;
    pw_control_msg_free(&msg);
    if (pid <= 0)
        return -ECHILD;
    pw_isolate_t *iso = pool->isolates;
    while (iso && iso->state != ISOLATE_SPAWNING)
        iso = iso->next;
    return iso ? isolate_open(iso, pid) : -EPROTO;
}

static int start_isolates(pw_pool_t *pool)
{
    for (size_t i = 0; i < pool->want; i++) {
        int rc = isolate_request_spawn(pool, 0);
        if (rc == 0)
            rc = wait_for_spawned(pool);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int pw_pool_create(uv_loop_t *loop, const pw_pool_options_t *opts, pw_pool_t **out)
{
    pw_pool_t *pool = calloc(1, sizeof *pool);
    if (!pool)
        return -ENOMEM;
    pool->loop = loop;
    pool->name = strdup(opts->name);
    pool->spec_path = opts->spec_path ? strdup(opts->spec_path) : NULL;
    pool->template_fd = opts->template_fd;
    pool->opts = *opts;
    pool->opts.name = NULL;
    pool->opts.spec_path = NULL;
    pool->scale = opts->scale;
    if (!pool->scale.min && !pool->scale.max && opts->isolates > 0)
        pool->scale.min = (size_t)opts->isolates;   /* a caller that only set `isolates` */
    pw_scale_normalize(&pool->scale);
    pool->want = pool->scale.min;
    call_list_init(&pool->queue);
    uv_check_init(loop, &pool->flush_check);
    pool->flush_check.data = pool;
    uv_check_start(&pool->flush_check, on_flush_check);
    limits_start(pool);
    uv_timer_init(loop, &pool->respawn_timer);
    pool->respawn_timer.data = pool;
    pool->open_handles++;
    uv_timer_init(loop, &pool->spare_timer);
    pool->spare_timer.data = pool;
    pool->open_handles++;
    uv_timer_init(loop, &pool->retire_timer);
    pool->retire_timer.data = pool;
    pool->open_handles++;
    uv_timer_init(loop, &pool->template_wait_timer);
    pool->template_wait_timer.data = pool;
    pool->open_handles++;
    if (!pool->opts.retire_timeout_ms)
        pool->opts.retire_timeout_ms = DEFAULT_RETIRE_TIMEOUT_MS;
    *out = pool;
    /* Blocking waits first: uv_poll_init makes the descriptor non-blocking. */
    int rc = start_isolates(pool);
    pool->open_handles++;       /* flush_check */
    if (rc == 0)
        rc = template_watch(pool, pool->template_fd);
    idle_timer_start(pool);
    if (rc == 0)
        pool_rebalance(pool);   /* the spares, in the background */
    return rc;
}

static void on_pool_handle_closed(uv_handle_t *handle)
{
    pw_pool_t *pool = handle->data;
    pool->open_handles--;
    pool_maybe_free(pool);
}

static void pool_maybe_free(pw_pool_t *pool)
{
    if (!pool->closing || pool->open_handles > 0)
        return;
    if (pool->template_fd >= 0)
        close(pool->template_fd);
    free(pool->spec_path);
    free(pool->name);
    free(pool);
}

void pw_pool_close(pw_pool_t *pool)
{
    if (pool->closing)
        return;
    pool->closing = 1;
    fail_queue(pool, 503, "Service Unavailable: the server is shutting down.\n");
    pw_isolate_t *iso = pool->isolates;
    while (iso) {
        pw_isolate_t *next = iso->next;
        isolate_die(iso, "server shutdown");
        iso = next;
    }
    template_unwatch(pool);
    pw_template_rebuild_free(pool->rebuild);
    pool->rebuild = NULL;
    uv_close((uv_handle_t *)&pool->template_wait_timer, on_pool_handle_closed);
    uv_close((uv_handle_t *)&pool->flush_check, on_pool_handle_closed);
    uv_close((uv_handle_t *)&pool->idle_timer, on_pool_handle_closed);
    uv_close((uv_handle_t *)&pool->limits_timer, on_pool_handle_closed);
    exit_waits_run(pool, 1);
    uv_close((uv_handle_t *)&pool->exit_timer, on_pool_handle_closed);
    uv_close((uv_handle_t *)&pool->respawn_timer, on_pool_handle_closed);
    uv_close((uv_handle_t *)&pool->spare_timer, on_pool_handle_closed);
    uv_close((uv_handle_t *)&pool->retire_timer, on_pool_handle_closed);
}

const char *pw_pool_name(const pw_pool_t *pool)
{
    return pool->name;
}

/* ---- RPC return path ---- */

void pw_port_hold(pw_port_t *port)
{
    port->refs++;
}

void pw_port_release(pw_port_t *port)
{
    if (--port->refs == 0)
        free(port);
}

void pw_port_watch(pw_port_t *port, pw_port_watch_t *watch, void (*gone)(pw_port_watch_t *watch))
{
    port->refs++;
    watch->gone = gone;
    pw_watch_list_add(&port->watchers, watch);
}

void pw_port_unwatch(pw_port_t *port, pw_port_watch_t *watch)
{
    pw_watch_list_remove(watch);
    pw_port_release(port);
}

/* The isolate died: every watcher is unlinked, then told (it unwatches, releasing its hold). */
static void port_gone(pw_port_t *port)
{
    port->refs++;
    pw_watch_list_notify_all(&port->watchers);
    pw_port_release(port);
}

unsigned pw_port_held(const pw_port_t *port)
{
    return port->refs - (port->iso ? 1 : 0);
}

int pw_port_reply(pw_port_t *port, uint32_t id, const pw_bytes_t *fields, size_t n)
{
    pw_isolate_t *iso = port->iso;
    if (!iso || iso->state != ISOLATE_LIVE)
        return -EPIPE;
    int rc = pw_rpc_put(&iso->link.out, PW_FRAME_RPC_RESULT, id, fields, n);
    if (rc == 0)
        isolate_mark_dirty(iso);
    return rc;
}
