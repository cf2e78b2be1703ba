/* child_log.c — reading, tagging and rate-limiting what templates and isolates write to
 * their fds 1 and 2 (host process; see child_log.h). The line logic (pw_child_lines_*) does
 * no I/O; the reader around it is a uv_poll on the pipe plus a timer for drop notes, kept on
 * a list so that the host can drain every pipe once more at exit.
 * Invariant: a reader holds at most one partial line; each readable event reads at most one
 * chunk; output lines always start with the tag or with "pyworkerd: " (the host's own).
 */
#include "host/child_log.h"
#include "base/fd.h"
#include "base/list.h"
#include "base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)

/* ---- lines ---- */

void pw_child_lines_init(pw_child_lines_t *lines, const char *service, const char *role, int pid,
                         pw_child_log_emit_cb emit, void *emit_arg)
{
    memset(lines, 0, sizeof *lines);
    int is_iso = strcmp(role, "iso") == 0;
    int n = pid > 0 ? snprintf(lines->tag, sizeof lines->tag, "[%.80s %s %d] ", service, role, pid)
                    : snprintf(lines->tag, sizeof lines->tag, "[%.80s %s] ", service, role);
    lines->tag_len = n > 0 && (size_t)n < sizeof lines->tag ? (size_t)n : strlen(lines->tag);
    if (pid > 0)
        snprintf(lines->who, sizeof lines->who, "service %.80s: %s %d", service,
                 is_iso ? "isolate" : "worker template", pid);
    else
        snprintf(lines->who, sizeof lines->who, "service %.80s: %s", service,
                 is_iso ? "isolate" : "worker template");
    lines->emit = emit;
    lines->emit_arg = emit_arg;
}

/* The tag, then the line with control characters (but tab) as \xNN: no carriage return or
 * terminal escape can hide the tag or fake a line break. */
static void emit_line(pw_child_lines_t *lines, const char *data, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char out[sizeof lines->tag + 4 * PW_CHILD_LOG_MAX_LINE + 1];
    memcpy(out, lines->tag, lines->tag_len);
    size_t o = lines->tag_len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)data[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '\n';
    lines->emit(lines->emit_arg, out, o);
}

static void emit_note(pw_child_lines_t *lines)
{
    char note[512];
    int n = snprintf(note, sizeof note,
                     "pyworkerd: %s: %llu lines of output dropped (more than %d lines or %d KiB "
                     "in %d ms)\n", lines->who, (unsigned long long)lines->dropped,
                     PW_CHILD_LOG_LINES, PW_CHILD_LOG_BYTES / 1024, PW_CHILD_LOG_WINDOW_MS);
    if (n > 0)
        lines->emit(lines->emit_arg, note, (size_t)n < sizeof note ? (size_t)n : sizeof note - 1);
    lines->dropped = 0;
}

uint64_t pw_child_lines_tick(pw_child_lines_t *lines, uint64_t now_ms)
{
    if (now_ms - lines->window_start_ms >= PW_CHILD_LOG_WINDOW_MS) {
        if (lines->dropped)
            emit_note(lines);
        lines->window_start_ms = now_ms;
        lines->window_lines = 0;
        lines->window_bytes = 0;
    }
    if (!lines->dropped)
        return 0;
    return lines->window_start_ms + PW_CHILD_LOG_WINDOW_MS - now_ms;
}

/* One whole line (without its newline), if the window has room for it. */
static void take_line(pw_child_lines_t *lines, const char *data, size_t len, uint64_t now_ms)
{
    pw_child_lines_tick(lines, now_ms);
    if (lines->window_lines >= PW_CHILD_LOG_LINES || lines->window_bytes + len > PW_CHILD_LOG_BYTES) {
        lines->dropped++;
        return;
    }
    lines->window_lines++;
    lines->window_bytes += len + 1;
    emit_line(lines, data, len);
}

/* Appends to the partial line; a partial line that reaches the maximum goes out as one. */
static void keep_partial(pw_child_lines_t *lines, const char *data, size_t len, uint64_t now_ms)
{
    while (len > 0) {
        size_t room = PW_CHILD_LOG_MAX_LINE - lines->partial_len;
        size_t n = len < room ? len : room;
        memcpy(lines->partial + lines->partial_len, data, n);
        lines->partial_len += n;
        data += n;
        len -= n;
        if (lines->partial_len == PW_CHILD_LOG_MAX_LINE) {
            take_line(lines, lines->partial, lines->partial_len, now_ms);
            lines->partial_len = 0;
        }
    }
}

void pw_child_lines_feed(pw_child_lines_t *lines, const char *data, size_t len, uint64_t now_ms)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        if (!nl) {
            keep_partial(lines, data, len, now_ms);
            return;
        }
        size_t n = (size_t)(nl - data);
        if (lines->partial_len == 0 && n <= PW_CHILD_LOG_MAX_LINE) {
            take_line(lines, data, n, now_ms);
        } else {
            keep_partial(lines, data, n, now_ms);   /* may send out full pieces first */
            if (lines->partial_len)
                take_line(lines, lines->partial, lines->partial_len, now_ms);
            lines->partial_len = 0;
        }
        data = nl + 1;
        len -= n + 1;
    }
}

void pw_child_lines_finish(pw_child_lines_t *lines, uint64_t now_ms)
{
    if (lines->partial_len)
        take_line(lines, lines->partial, lines->partial_len, now_ms);
    lines->partial_len = 0;
    if (lines->dropped)
        emit_note(lines);
}

/* ---- output: gathered, then written to stderr in one write per chunk read ---- */

static __thread char out_buf[64 * 1024];
static __thread size_t out_len;

static void out_flush(void)
{
    (void)pw_fd_write_all(STDERR_FILENO, out_buf, out_len);    /* nowhere to report it */
    out_len = 0;
}

static void out_append(void *arg, const char *text, size_t len)
{
    if (sizeof out_buf - out_len < len)
        out_flush();
    if (len > sizeof out_buf) {
        out_len = 0;
        len = sizeof out_buf;   /* cannot happen: a line is at most ~16.5 KiB */
    }
    memcpy(out_buf + out_len, text, len);
    out_len += len;
}

/* ---- the reader ---- */

struct pw_child_log {
    uv_poll_t poll;
    uv_timer_t timer;
    int fd;
    int open_handles;
    int done;                   /* end of file seen: closing */
    pw_child_lines_t lines;
    pw_list_t link;             /* `readers`: every reader not done */
};

static __thread pw_list_t readers_anchor;  /* each host loop thread reads its own children */

static pw_list_t *readers_list(void)
{
    return pw_list_lazy(&readers_anchor);
}

static void on_handle_closed(uv_handle_t *handle)
{
    pw_child_log_t *log = handle->data;
    if (--log->open_handles > 0)
        return;
    close(log->fd);
    free(log);
}

static void reader_end(pw_child_log_t *log)
{
    if (log->done)
        return;
    log->done = 1;
    pw_child_lines_finish(&log->lines, pw_clock_ms());
    out_flush();
    pw_list_remove(&log->link);
    uv_close((uv_handle_t *)&log->poll, on_handle_closed);
    uv_close((uv_handle_t *)&log->timer, on_handle_closed);
}

static void on_timer(uv_timer_t *timer)
{
    pw_child_log_t *log = timer->data;
    uint64_t wait = pw_child_lines_tick(&log->lines, pw_clock_ms());
    out_flush();
    if (wait)
        uv_timer_start(&log->timer, on_timer, wait, 0);
}

/* Reads one chunk. Returns 1 if it read something, 0 if the pipe is empty, -1 at its end
 * (the reader is then ending). */
static int read_chunk(pw_child_log_t *log)
{
    static __thread char buf[READ_CHUNK];
    ssize_t n;
    do
        n = read(log->fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n <= 0) {
        reader_end(log);
        return -1;
    }
    uint64_t now = pw_clock_ms();
    pw_child_lines_feed(&log->lines, buf, (size_t)n, now);
    out_flush();
    uint64_t wait = pw_child_lines_tick(&log->lines, now);
    if (wait && !uv_is_active((uv_handle_t *)&log->timer))
        uv_timer_start(&log->timer, on_timer, wait, 0);
    return 1;
}

static void on_readable(uv_poll_t *poll, int status, int events)
{
    pw_child_log_t *log = poll->data;
    if (read_chunk(log) == 0 && status < 0)
        reader_end(log);
}

pw_child_log_t *pw_child_log_open(uv_loop_t *loop, int fd, const char *service, const char *role,
                                  int pid)
{
    pw_child_log_t *log = calloc(1, sizeof *log);
    if (!log || pw_fd_set_nonblock(fd, 1) < 0 ||
        uv_poll_init(loop, &log->poll, fd) < 0) {
        free(log);
        close(fd);
        return NULL;
    }
    log->fd = fd;
    log->poll.data = log;
    log->open_handles = 2;
    uv_timer_init(loop, &log->timer);
    log->timer.data = log;
    pw_child_lines_init(&log->lines, service, role, pid, out_append, NULL);
    log->lines.window_start_ms = pw_clock_ms();
    int rc = uv_poll_start(&log->poll, UV_READABLE | UV_DISCONNECT, on_readable);
    uv_unref((uv_handle_t *)&log->poll);
    uv_unref((uv_handle_t *)&log->timer);
    pw_list_push_front(readers_list(), &log->link);
    if (rc < 0) {
        reader_end(log);
        return NULL;
    }
    return log;
}

void pw_child_log_pump(pw_child_log_t *log)
{
    if (!log->done)
        read_chunk(log);
}

int pw_child_log_fd(const pw_child_log_t *log)
{
    return log->fd;
}

void pw_child_log_drain_all(void)
{
    PW_LIST_FOR_EACH(node, readers_list()) {
        pw_child_log_t *log = PW_CONTAINER_OF(node, pw_child_log_t, link);
        for (int i = 0; i < 64 && read_chunk(log) > 0; i++)
            continue;       /* at most 4 MiB: a writer still alive cannot hold the exit */
        if (!log->done) {
            pw_child_lines_finish(&log->lines, pw_clock_ms());
            out_flush();
        }
    }
}
