/* child.c — one isolate as the host sees it (host process); see child.h.
 * Spawning: the template is sent a socketpair end and a pipe for the isolate's output, and
 * answers with its pid (the pool reads that answer); the child then opens its link, and the
 * isolate's frames are read here: responses and streamed bodies go to the calls in flight,
 * binding calls to the set's rpc handler (answered through the child's port, host/port.h),
 * and an "isolate.retire" call (a request ran out of memory) retires and replaces it.
 * Ending: pw_child_end() is the only way out. A killed child is SIGKILLed through its pidfd,
 * its calls are failed, its port closed, and the pool told (ops->died) unless it closes; the
 * line saying how it ended waits for its exit status when it exited on its own (exit_log.h).
 */
#include "host/child.h"
#include "base/log.h"
#include "host/child_log.h"
#include "host/ws_isolate.h"
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

/* A death this soon after it came up, before any call reached it, counts as one at start
 * (the pool then backs off its replacements). */
#define START_FAILURE_MS 1000

static const char died_text[] =
    "Bad Gateway: the worker's isolate stopped while handling this request; see the server log.\n";
static const char template_died_text[] =
    "Bad Gateway: the worker's template and its isolates stopped while handling this request; "
    "see the server log.\n";
static const char cpu_text[] = "Service Unavailable: the worker exceeded its CPU time limit.\n";
static const char stopped_text[] = "Service Unavailable: the worker's isolate was stopped.\n";

/* ---- the set's list ---- */

static void child_unlink(pw_child_t *child)
{
    pw_child_t **p = &child->set->head;
    while (*p && *p != child)
        p = &(*p)->next;
    if (*p)
        *p = child->next;
}

static void child_free(pw_child_t *child)
{
    if (child->log_fd >= 0)
        close(child->log_fd);
    if (child->port)
        pw_port_close(child->port);
    pw_ws_table_free(child->sockets);
    if (child->pidfd >= 0)
        close(child->pidfd);
    pw_link_free(&child->link);
    free(child);
}

pw_child_t *pw_child_first_spawning(pw_children_t *set)
{
    pw_child_t *child = set->head;
    while (child && child->state != PW_CHILD_SPAWNING)
        child = child->next;
    return child;
}

/* ---- writing ---- */

static void child_mark_dirty(void *arg)
{
    pw_child_t *child = arg;
    child->dirty = 1;
}

void pw_child_flush(pw_child_t *child)
{
    child->dirty = 0;
    if (child->state == PW_CHILD_LIVE)
        pw_link_flush(&child->link);
}

void pw_child_send(pw_child_t *child, pw_call_t *call)
{
    call->id = child->next_id++;
    if (child->next_id == 0)
        child->next_id = 1;
    if (call->encode(call, &child->link.out) < 0) {
        pw_call_fail(call, 500, "Internal Server Error: the request could not be encoded.\n");
        return;
    }
    call->state = PW_CALL_SENT;
    call->isolate = child;
    if (pw_trace_on) {
        PW_TRACE(call->trace_ns, "request dispatched id=%u " PW_LOG_REQUEST_ID " isolate=%d",
                 call->id, call->request_id, child->pid);
        call->trace_ns = pw_trace_clock();
    }
    if (call->pin)
        pw_child_pin_attach(child, call->pin);
    pw_call_list_push(&child->inflight, call);
    child->n_inflight++;
    child->calls_started++;
    child_mark_dirty(child);
}

int pw_child_busy(const pw_child_t *child)
{
    return child->n_inflight || pw_ws_table_count(child->sockets);
}

void pw_child_cancel(pw_child_t *child, pw_call_t *call)
{
    pw_call_list_remove(call);
    child->n_inflight--;
    if (pw_frame_put_empty(&child->link.out, PW_FRAME_CANCEL, call->id) == 0)
        child_mark_dirty(child);
}

void pw_child_ack(pw_child_t *child, pw_call_t *call, size_t bytes)
{
    if (child->state != PW_CHILD_LIVE || bytes == 0)
        return;
    if (pw_frame_put_u32_frame(&child->link.out, PW_FRAME_BODY_ACK, call->id,
                               bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes) == 0)
        child_mark_dirty(child);
}

/* ---- frames from the isolate ---- */

static pw_call_t *find_inflight(pw_child_t *child, uint32_t id)
{
    PW_LIST_FOR_EACH(node, &child->inflight)
        if (PW_CALL_OF(node)->id == id)
            return PW_CALL_OF(node);
    return NULL;
}

/* The call is answered: it leaves the in-flight list. */
static void call_finish(pw_child_t *child, pw_call_t *call)
{
    pw_call_list_remove(call);
    child->n_inflight--;
    call->state = PW_CALL_DONE;
    call->isolate = NULL;
}

/* A 101 with the isolate's WebSocket: the call is answered, and the socket (id: the
 * request's; or, with a 4-byte body, a socket the isolate already has, whose peer is
 * handed on) is given to the asker to link; one it did not take is closed. */
static int respond_websocket(pw_child_t *child, pw_call_t *call, pw_message_t *msg, uint32_t id)
{
    call_finish(child, call);
    uint32_t existing = 0;
    pw_cursor_t cur;
    pw_cursor_init(&cur, msg->body.base, msg->body.len);
    if (msg->body.len == 4)     /* a socket the isolate already has (it proxies it) */
        existing = pw_cursor_u32(&cur);
    pw_buf_t held;
    pw_buf_init(&held);
    call->ws = msg->status != 101 ? NULL
               : msg->body.len == 4 ? pw_ws_isolate_splice(child->port, existing, &held)
                                    : pw_ws_isolate_open(child->port, id);
    if (!call->ws) {
        call->respond(call, NULL, 502, "Bad Gateway: the worker's WebSocket response could not "
                                       "be accepted (a status other than 101, or out of memory).\n");
    } else {
        pw_ws_side_t *ws = call->ws;
        call->respond(call, msg, 0, NULL);
        if (!ws->peer)
            ws->ops->detached(ws);      /* nobody took it: closed as if its peer left */
        else
            pw_ws_replay(&held, ws->peer);  /* what a proxied socket held, to its new peer */
    }
    pw_buf_free(&held);
    child->set->ops->answered(child->set);
    return 0;
}

/* Returns 0, or -1 when the isolate broke the protocol (and was killed). */
static int handle_response(pw_child_t *child, const pw_frame_t *frame)
{
    pw_message_t msg;
    if (pw_message_decode_response(frame, &msg) < 0 || msg.status < 100 || msg.status > 999) {
        pw_child_end(child, PW_CHILD_END_BROKEN, "it sent a malformed frame");
        return -1;
    }
    if (!pw_message_headers_ok(&msg)) {
        pw_child_end(child, PW_CHILD_END_BROKEN,
                     "it sent a response header with an invalid name or value");
        return -1;
    }
    pw_call_t *call = find_inflight(child, frame->id);
    if (!call)
        return 0;   /* cancelled meanwhile */
    if (call->state != PW_CALL_SENT) {
        pw_child_end(child, PW_CHILD_END_BROKEN, "it answered a request twice");
        return -1;
    }
    if (msg.flags & PW_FRAME_FLAG_STREAM) {
        call->state = PW_CALL_STREAMING;    /* in flight until END */
        call->respond(call, &msg, 0, NULL);
        return 0;
    }
    if (msg.flags & PW_FRAME_FLAG_WEBSOCKET)
        return respond_websocket(child, call, &msg, frame->id);
    call_finish(child, call);
    PW_TRACE(call->trace_ns, "request finished id=%u " PW_LOG_REQUEST_ID " isolate=%d status=%u",
             call->id, call->request_id, child->pid, (unsigned)msg.status);
    call->respond(call, &msg, 0, NULL);
    child->set->ops->answered(child->set);     /* a call waited for --max-concurrent-requests */
    return 0;
}

/* BODY_CHUNK and END of a streamed response. */
static int handle_stream_frame(pw_child_t *child, const pw_frame_t *frame)
{
    uint32_t aborted = 0;
    if (frame->type == PW_FRAME_END && pw_frame_decode_u32(frame, &aborted) < 0) {
        pw_child_end(child, PW_CHILD_END_BROKEN, "it sent a malformed frame");
        return -1;
    }
    pw_call_t *call = find_inflight(child, frame->id);
    if (!call)
        return 0;   /* cancelled meanwhile */
    if (call->state != PW_CALL_STREAMING) {
        pw_child_end(child, PW_CHILD_END_BROKEN, "it streamed a body without a streaming response");
        return -1;
    }
    if (frame->type == PW_FRAME_BODY_CHUNK) {
        if (call->chunk(call, frame->payload, frame->len) < 0) {
            pw_child_end(child, PW_CHILD_END_BROKEN, "it streamed past its flow-control window");
            return -1;
        }
        return 0;
    }
    call_finish(child, call);
    call->end(call, aborted != 0);
    return 0;
}

/* "isolate.retire" (a request of this isolate ran out of memory and it is still short of it,
 * python/pyworkerd/context.py): it is retired and replaced. 1 when the frame was that call. */
static int handle_retire_call(pw_child_t *child, const pw_frame_t *frame)
{
    pw_bytes_t f[2];
    size_t n;
    if (pw_rpc_count(frame) != 2 || pw_rpc_decode(frame, f, 2, &n) < 0 ||
        !pw_bytes_is(f[0], "isolate.retire"))
        return 0;
    if (!child->retiring)
        pw_child_end(child, PW_CHILD_END_REPLACE, "a request ran out of memory (MemoryError) and "
                                                  "the isolate is still short of it");
    return 1;
}

static int handle_frame(pw_child_t *child, const pw_frame_t *frame)
{
    pw_children_t *set = child->set;
    if (frame->type == PW_FRAME_RPC && handle_retire_call(child, frame))
        return 0;
    if (frame->type == PW_FRAME_RPC && set->rpc) {
        if (set->rpc(set->rpc_arg, child->port, frame) == 0)
            return 0;
        pw_child_end(child, PW_CHILD_END_BROKEN, "it sent a malformed binding call");
        return -1;
    }
    if (frame->type == PW_FRAME_RESPONSE)
        return handle_response(child, frame);
    if (frame->type == PW_FRAME_BODY_CHUNK || frame->type == PW_FRAME_END)
        return handle_stream_frame(child, frame);
    if (frame->type == PW_FRAME_DOORBELL)
        return 0;       /* its descriptor was taken as it was read (host/link.c) */
    if (pw_ws_is_isolate_frame(frame->type)) {
        const char *why = NULL;
        if (pw_ws_isolate_frame(child->port, frame, &why) == 0)
            return 0;
        pw_child_end(child, PW_CHILD_END_BROKEN, why);
        return -1;
    }
    pw_child_end(child, PW_CHILD_END_BROKEN, "it sent a malformed frame");
    return -1;
}

static void on_link_read(pw_link_t *link)
{
    pw_child_t *child = link->data;
    size_t off = 0, used;
    pw_frame_t frame;
    int rc;
    while ((rc = pw_frame_parse_from_isolate(link->in.data + off, link->in.len - off, &frame,
                                              &used)) == 1) {
        off += used;
        if (handle_frame(child, &frame) < 0)
            return;
    }
    if (rc < 0) {
        pw_child_end(child, PW_CHILD_END_BROKEN, "it sent an oversized frame");
        return;
    }
    pw_buf_consume(&link->in, off);
    child->set->ops->read(child);
}

static void on_link_error(pw_link_t *link, const char *why)
{
    pw_child_t *child = link->data;
    if (child->retiring && why == pw_link_exited)
        pw_log_info("service %s: retired isolate %d exited", child->set->name, child->pid);
    pw_child_end(child, PW_CHILD_END_BROKEN, why);
}

static void on_link_closed(pw_link_t *link)
{
    pw_child_t *child = link->data;
    pw_children_t *set = child->set;
    child_unlink(child);
    child_free(child);
    set->open_links--;
    set->ops->closed(set);
}

/* ---- spawning through the template ---- */

int pw_child_spawn(pw_children_t *set, int template_fd, int spare)
{
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
    int rc = pw_control_send_fds(template_fd, PW_FRAME_CTL_SPAWN_ISOLATE, 0, NULL, 0, passed, 2);
    close(fds[1]);
    close(out[1]);
    pw_child_t *child = rc < 0 ? NULL : calloc(1, sizeof *child);
    if (!child) {
        close(fds[0]);
        close(out[0]);
        return rc < 0 ? rc : -ENOMEM;
    }
    child->set = set;
    child->state = PW_CHILD_SPAWNING;
    child->fd = fds[0];
    child->pidfd = -1;
    child->log_fd = out[0];
    child->next_id = 1;
    child->spawn_ns = pw_trace_on ? pw_trace_clock() : 0;
    child->spare = spare;
    pw_call_list_init(&child->inflight);
    pw_list_init(&child->pins);
    pw_child_t **tail = &set->head;
    while (*tail)
        tail = &(*tail)->next;
    *tail = child;
    return 0;
}

/* A descriptor the isolate passed (a socket for binding_socket.c) waits in its port. */
static void on_link_fd(pw_link_t *link, int fd)
{
    pw_child_t *child = link->data;
    pw_port_give_fd(child->port, fd);
}

/* Its link: the port and the socket. Returns 0 or a libuv error; after an error, link.fd
 * tells whether the link is open (see pw_link_open). */
static int child_link_open(pw_child_t *child)
{
    child->port = pw_port_create(&child->link.out, child_mark_dirty, child);
    child->sockets = pw_ws_table_new(&child->calls_started);
    if (child->port && child->sockets)
        pw_port_set_sockets(child->port, child->sockets);
    child->link.data = child;
    child->link.on_read = on_link_read;
    child->link.on_error = on_link_error;
    child->link.on_fd = on_link_fd;
    int rc = UV_ENOMEM;
    if (child->port) {
        rc = pw_link_open(&child->link, child->set->loop, child->fd);
    } else {
        close(child->fd);
        child->link.fd = -1;
    }
    child->fd = -1;
    return rc;
}

int pw_child_open(pw_child_t *child, int pid)
{
    pw_children_t *set = child->set;
    child->pid = pid;
    child->pidfd = pw_exit_pidfd_open(pid);
    pw_child_log_open(set->loop, child->log_fd, set->name, "iso", pid);    /* owns it now */
    child->log_fd = -1;
    int rc = child_link_open(child);
    if (rc < 0 && child->link.fd < 0) {
        pw_log_error("service %s: isolate %d: %s", set->name, pid, uv_strerror(rc));
        pw_child_end(child, PW_CHILD_END_FORGET, NULL);
        return -1;
    }
    set->open_links++;
    child->state = PW_CHILD_LIVE;
    child->idle_since = child->live_since = uv_now(set->loop);
    set->n_live++;
    if (rc < 0) {               /* the link is open but could not be watched */
        pw_child_end(child, PW_CHILD_END_BROKEN, uv_strerror(rc));
        return -2;
    }
    pw_log_info("service %s: isolate %d started", set->name, pid);
    PW_TRACE(child->spawn_ns, "isolate started pid=%d service=%s", pid, set->name);
    return 0;
}

/* ---- ending ---- */

/* SIGKILL through its pidfd when it has one: a pid may already name another process. */
static void child_signal_kill(pw_child_t *child)
{
#ifdef SYS_pidfd_send_signal
    if (child->pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, child->pidfd, SIGKILL, NULL, 0);
        return;
    }
#endif
    kill(child->pid, SIGKILL);
}

/* Dropped without a word: it never came up (no calls, no link). */
static void child_forget(pw_child_t *child)
{
    if (child->pid > 0)
        kill(child->pid, SIGKILL);
    if (child->fd >= 0)
        close(child->fd);
    child_unlink(child);
    child_free(child);
}

/* Its calls in flight get `status` with `text`; streamed ones end as aborted. */
static void fail_inflight(pw_child_t *child, int status, const char *text)
{
    while (!pw_call_list_empty(&child->inflight)) {
        pw_call_t *call = pw_call_list_first(&child->inflight);
        pw_call_list_remove(call);
        if (call->state == PW_CALL_STREAMING) {
            call->state = PW_CALL_DONE;
            call->isolate = NULL;
            call->end(call, 1);
            continue;
        }
        pw_call_fail(call, status, text);
    }
    child->n_inflight = 0;
}

/* Logs how it ended (now, or once its exit status is known), unless it was stopped on
 * purpose or the server shuts down with nothing lost. */
static void log_death(pw_child_t *child, const char *why)
{
    pw_children_t *set = child->set;
    if (child->retired || (set->closing && !child->n_inflight))
        return;
    if (why == pw_link_exited) {
        pw_exit_log_exited(&set->exits, child->pidfd, child->pid, child->n_inflight, set->closing);
        child->pidfd = -1;
    } else {
        pw_exit_log_stopped(&set->exits, child->pid, why, child->n_inflight, set->closing);
    }
}

/* Kills the isolate; its calls get `status` with `text`; the pool is told. */
static void child_kill(pw_child_t *child, const char *why, int status, const char *text)
{
    pw_children_t *set = child->set;
    int was_live = child->state == PW_CHILD_LIVE;
    child->state = PW_CHILD_DEAD;
    if (was_live && !child->retiring)
        set->n_live--;
    int exit_status;
    if (why == pw_link_exited &&
        !(child->pidfd >= 0 && pw_exit_status(child->pidfd, &exit_status) == 1) &&
        !pw_limits_exiting(child->pid))
        why = "it closed its socket";   /* it runs on: killed below */
    if (was_live)
        child_signal_kill(child);
    pw_child_pins_lost(child);
    log_death(child, why);
    fail_inflight(child, status, text);
    if (child->port)
        pw_port_close(child->port);
    child->port = NULL;
    int at_start = was_live && child->next_id == 1 && !child->retired &&
                   uv_now(set->loop) - child->live_since < START_FAILURE_MS;
    if (was_live) {
        pw_link_close(&child->link, on_link_closed);
    } else {
        close(child->fd);
        child_unlink(child);
        child_free(child);
    }
    if (!set->closing)
        set->ops->died(set, at_start);
}

/* Sends RETIRE: the isolate gets no more calls, finishes its own and exits (or is killed at
 * its deadline). One that is not up yet just goes. */
static void child_retire(pw_child_t *child)
{
    pw_children_t *set = child->set;
    child->retired = 1;
    if (child->state != PW_CHILD_LIVE) {
        child_kill(child, "retired", 502, died_text);
        return;
    }
    if (child->retiring)
        return;
    if (pw_frame_put_empty(&child->link.out, PW_FRAME_RETIRE, 0) < 0) {
        child_kill(child, "retired", 502, died_text);
        return;
    }
    child->retiring = 1;
    child->spare = 0;
    pw_child_pins_lost(child);
    set->n_live--;
    child->retire_deadline = uv_now(set->loop) + set->retire_timeout_ms;
    pw_child_flush(child);
    set->ops->retiring(set);
}

/* The graceful ends, each logged as it says. */
static void child_end_gracefully(pw_child_t *child, pw_child_end_t reason, const char *detail)
{
    pw_children_t *set = child->set;
    if (reason == PW_CHILD_END_IDLE) {
        uint64_t idle_ms = uv_now(set->loop) - child->idle_since;
        pw_log_info("service %s: isolate %d retired after %.1f s idle", set->name, child->pid,
                    (double)idle_ms / 1000);
        PW_TRACE(pw_trace_clock() - idle_ms * 1000000, "isolate retired pid=%d (idle)", child->pid);
    } else if (reason == PW_CHILD_END_REPLACE) {
        pw_log_error("service %s: isolate %d retired (%s); starting a new one", set->name,
                     child->pid, detail);
    }
    child_retire(child);
    if (reason == PW_CHILD_END_REPLACE)
        set->ops->replace(set);
}

void pw_child_end(pw_child_t *child, pw_child_end_t reason, const char *detail)
{
    pw_children_t *set = child->set;
    if (child->state == PW_CHILD_DEAD)
        return;
    switch (reason) {
    case PW_CHILD_END_RETIRE:
    case PW_CHILD_END_IDLE:
    case PW_CHILD_END_REPLACE:
        child_end_gracefully(child, reason, detail);
        return;
    case PW_CHILD_END_FORGET:
        child_forget(child);
        return;
    case PW_CHILD_END_TEMPLATE:
        if (child->state == PW_CHILD_SPAWNING) {
            child_forget(child);    /* it will never come */
            return;
        }
        child->retired = 1;         /* logged by the pool; replaced once the template is back */
        child_kill(child, "its template exited", 502, template_died_text);
        return;
    case PW_CHILD_END_BROKEN:
        child_kill(child, detail, 502, died_text);
        return;
    case PW_CHILD_END_SHUTDOWN:
        child_kill(child, "server shutdown", 502, died_text);
        return;
    case PW_CHILD_END_CPU_LINGER:
        pw_log_error("service %s: isolate %d still uses CPU after its CPU time limit; "
                     "killing it", set->name, child->pid);
        /* fall through */
    case PW_CHILD_END_CPU:
        child_kill(child, "it exceeded its CPU time limit", 503, cpu_text);
        return;
    case PW_CHILD_END_RETIRE_TIMEOUT:
        pw_log_error("service %s: retired isolate %d did not exit within %u ms; killing it",
                     set->name, child->pid, set->retire_timeout_ms);
        child_kill(child, "killed after its retirement timeout", 503, stopped_text);
        return;
    }
}

/* ---- limits ---- */

void pw_child_cpu_tick(pw_child_t *child, uint64_t elapsed)
{
    uint64_t cpu;
    int running;
    if (!child->calls_started)
        return;     /* it is only starting: no request's work can run yet */
    if (pw_limits_cpu_ms(child->pid, &cpu, &running) < 0)
        return;     /* exiting: the pool sees the EOF */
    int over = pw_cpu_account_tick(&child->cpu, cpu, running,
                                   child->n_inflight + pw_ws_table_count(child->sockets),
                                   child->calls_started, child->set->cpu_limit_ms, elapsed);
    if (child->cpu_over) {
        if (child->cpu.busy_idle)   /* retired, and still burning: it will not finish */
            pw_child_end(child, PW_CHILD_END_CPU_LINGER, NULL);
        return;
    }
    if (over == PW_CPU_OVER_BUSY) {
        pw_child_end(child, PW_CHILD_END_CPU, NULL);
    } else if (over == PW_CPU_OVER_IDLE) {
        child->cpu_over = 1;
        pw_child_end(child, PW_CHILD_END_REPLACE, "it exceeded its CPU time limit with no request "
                                                  "in flight: work left running after its responses");
    }
}

int pw_children_kill_overdue(pw_children_t *set, uint64_t now)
{
    int left = 0;
    for (pw_child_t *child = set->head, *next; child; child = next) {
        next = child->next;
        if (child->state != PW_CHILD_LIVE || !child->retiring)
            continue;
        if (now < child->retire_deadline)
            left = 1;
        else
            pw_child_end(child, PW_CHILD_END_RETIRE_TIMEOUT, NULL);
    }
    return left;
}
