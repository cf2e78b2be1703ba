/* child_log.h — the host's end of a worker process's stdout/stderr (host process). Every
 * template and isolate writes fds 1 and 2 into a pipe of its own (isolate/stdio.h); the
 * host reads it and writes each line to its own stderr tagged with the process that wrote
 * it, "[<service> iso <pid>] <line>" ("[<service> tpl] " for a template), with control
 * characters escaped, so a worker can neither touch the host's log file nor forge a line
 * that looks like the host's. Lines longer than PW_CHILD_LOG_MAX_LINE are split; a process
 * that writes more than PW_CHILD_LOG_LINES lines or PW_CHILD_LOG_BYTES bytes in one
 * PW_CHILD_LOG_WINDOW_MS window has the rest dropped, with one "pyworkerd: ... N lines of
 * output dropped" note per window. The host holds at most one partial line per pipe and
 * reads one chunk per wake-up: a writer faster than that blocks on its full pipe, which
 * slows only itself.
 */
#ifndef PW_CHILD_LOG_H
#define PW_CHILD_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define PW_CHILD_LOG_MAX_LINE 4096      /* bytes of a line as written, before escaping */
#define PW_CHILD_LOG_WINDOW_MS 1000
#define PW_CHILD_LOG_LINES 1000         /* per window */
#define PW_CHILD_LOG_BYTES (1 << 20)    /* per window */

/* ---- lines: splitting, tagging, escaping and rate limiting (no I/O) ---- */

typedef void (*pw_child_log_emit_cb)(void *arg, const char *text, size_t len);

typedef struct {
    char tag[128];              /* "[main iso 1234] " */
    size_t tag_len;
    char who[128];              /* "service main: isolate 1234", for the drop note */
    char partial[PW_CHILD_LOG_MAX_LINE];
    size_t partial_len;
    uint64_t window_start_ms;
    unsigned window_lines;
    size_t window_bytes;
    uint64_t dropped;           /* in the current window */
    pw_child_log_emit_cb emit;  /* gets whole output lines, '\n' included */
    void *emit_arg;
} pw_child_lines_t;

/* role: "iso" or "tpl"; pid 0 leaves the pid out. */
void pw_child_lines_init(pw_child_lines_t *lines, const char *service, const char *role, int pid,
                         pw_child_log_emit_cb emit, void *emit_arg);
/* Bytes read from the pipe at now_ms: whole lines go out (or are counted as dropped), the
 * rest waits for its newline. */
void pw_child_lines_feed(pw_child_lines_t *lines, const char *data, size_t len, uint64_t now_ms);
/* Ends the window if now_ms is past it, writing its drop note if it dropped anything.
 * Returns the ms until the current window ends while it has drops to report, else 0. */
uint64_t pw_child_lines_tick(pw_child_lines_t *lines, uint64_t now_ms);
/* End of file: the partial line and any pending drop note go out. */
void pw_child_lines_finish(pw_child_lines_t *lines, uint64_t now_ms);

/* ---- the reader on the host's loop ---- */

typedef struct pw_child_log pw_child_log_t;

/* Reads fd (a pipe's read end; owned from now on, closed on failure) on `loop` until end of
 * file, when every writer is gone, and then frees itself. It never keeps the loop alive.
 * Returns NULL when it cannot start. */
pw_child_log_t *pw_child_log_open(uv_loop_t *loop, int fd, const char *service, const char *role,
                                  int pid);

/* Reads one chunk if there is one, without blocking, for a host that waits outside its loop
 * (while a template loads). */
void pw_child_log_pump(pw_child_log_t *log);
int pw_child_log_fd(const pw_child_log_t *log);

/* At exit: reads whatever every open reader's pipe still holds (without blocking) and writes
 * out partial lines and drop notes. */
void pw_child_log_drain_all(void);

#endif
