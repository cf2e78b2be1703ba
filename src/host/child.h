/* child.h — one isolate as the host sees it (host process): its spawn through the worker
 * template, its socket (a link, host/link.h), its state, the calls in flight on it, the
 * frames it sends, and how it ends.
 *
 * The children of one pool form a set (pw_children_t) that the pool embeds: the set holds
 * the list in spawn order and what every child needs of its pool; the pool learns what
 * happens to its children through the set's ops. An isolate ends in one way,
 * pw_child_end(), with a reason: killed (its calls get 502 or 503, a replacement follows),
 * retired gracefully (RETIRE: it finishes its calls, runs its shutdown hooks and exits, or is
 * killed after retire_timeout_ms), or forgotten (it never came up).
 * Invariant: a call in flight is answered exactly once (a streamed answer also ended exactly
 * once), and a dead child is never sent a call.
 */
#ifndef PW_CHILD_H
#define PW_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "host/call.h"
#include "host/exit_log.h"
#include "host/limits.h"
#include "host/link.h"
#include "host/port.h"

typedef struct pw_children pw_children_t;

enum { PW_CHILD_SPAWNING, PW_CHILD_LIVE, PW_CHILD_DEAD };

struct pw_child {
    pw_children_t *set;
    pw_child_t *next;           /* the set's children, in spawn order */
    int state;
    int fd;                     /* host end, until the link owns it */
    int log_fd;                 /* its stdout/stderr pipe, until its reader owns it */
    int pid;
    pw_link_t link;             /* the socket, once live; frames to write wait in link.out */
    int dirty;
    pw_list_t inflight;         /* its calls in flight (pw_call_t.link), oldest first */
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
    pw_list_t pins;             /* pins held on it (host/pool_pin.h) */
    struct pw_ws_table *sockets;    /* its WebSockets (host/ws_isolate.h) */
};

/* What the pool learns of its children. */
typedef struct {
    void (*answered)(pw_children_t *set);   /* a call was answered: queued calls may go */
    void (*read)(pw_child_t *child);        /* it sent frames and is still live */
    void (*retiring)(pw_children_t *set);   /* one was sent RETIRE: watch its deadline */
    void (*replace)(pw_children_t *set);    /* one was retired to be replaced: start another */
    /* One died (not forgotten); at_start: before any call reached it, soon after it came up. */
    void (*died)(pw_children_t *set, int at_start);
    void (*closed)(pw_children_t *set);     /* a dead one's link closed; it is freed */
} pw_children_ops_t;

struct pw_children {
    uv_loop_t *loop;
    const char *name;           /* the service's name, for logs */
    const pw_children_ops_t *ops;
    pw_rpc_handler_cb rpc;      /* binding calls (host/rpc.h); NULL: refused */
    void *rpc_arg;
    unsigned cpu_limit_ms;      /* CPU per request before the isolate is killed; 0: none */
    unsigned retire_timeout_ms; /* a retired isolate's time to finish and exit */
    int closing;                /* the pool closes: deaths are not replaced */
    pw_child_t *head;           /* in spawn order */
    size_t n_live;              /* live and not retiring */
    int open_links;             /* links not yet closed */
    pw_exit_log_t exits;
};

/* Why an isolate ends (pw_child_end). */
typedef enum {
    PW_CHILD_END_BROKEN,        /* it broke the protocol, its socket failed or it exited
                                 * (detail: why, pw_link_exited for an exit): 502 */
    PW_CHILD_END_SHUTDOWN,      /* the server shuts down: its calls get 502 */
    PW_CHILD_END_TEMPLATE,      /* its template exited: 502; one not up yet is forgotten */
    PW_CHILD_END_CPU,           /* over its CPU time limit with calls in flight: 503 */
    PW_CHILD_END_CPU_LINGER,    /* retired for CPU and still burning it: killed, 503 */
    PW_CHILD_END_RETIRE_TIMEOUT,    /* retired and not gone by its deadline: killed, 503 */
    PW_CHILD_END_FORGET,        /* it never came up (the fork failed): dropped silently */
    PW_CHILD_END_RETIRE,        /* graceful and quiet: --watch drain, a spare not needed */
    PW_CHILD_END_IDLE,          /* graceful: idle above the minimum (logged with the time) */
    PW_CHILD_END_REPLACE,       /* graceful, and a new one is started (detail: why) */
} pw_child_end_t;

/* Ends the child for `reason`, logging it as the reason says (no-op once dead). A killed or
 * forgotten child may be freed before this returns; a graceful one stays until it exits. */
void pw_child_end(pw_child_t *child, pw_child_end_t reason, const char *detail);

/* Asks the template (control socket template_fd) for an isolate and appends its child,
 * SPAWNING, to the set. Returns 0 or -errno. */
int pw_child_spawn(pw_children_t *set, int template_fd, int spare);
/* The first child still waiting for its fork, or NULL. */
pw_child_t *pw_child_first_spawning(pw_children_t *set);
/* The isolate is up as `pid`: its socket becomes a link. Returns 0; -1 when its link could
 * not be made (it was killed and forgotten, as one the template could not fork); -2 when it
 * could not be watched (it died as a live one does, and is replaced). */
int pw_child_open(pw_child_t *child, int pid);

/* Sends the call (a REQUEST frame, written on this loop turn). */
void pw_child_send(pw_child_t *child, pw_call_t *call);
/* Takes back a call in flight (a CANCEL frame tells the isolate). */
void pw_child_cancel(pw_child_t *child, pw_call_t *call);
/* Returns `bytes` of a streaming call's body to the isolate's flow-control window. */
void pw_child_ack(pw_child_t *child, pw_call_t *call, size_t bytes);
/* Whether it has calls in flight or WebSockets open (it is not idle). */
int pw_child_busy(const pw_child_t *child);
/* Writes the frames queued since the last flush. */
void pw_child_flush(pw_child_t *child);

/* One CPU sample of a live isolate (limits.h), elapsed ms since the last: ends it when over
 * its limit. */
void pw_child_cpu_tick(pw_child_t *child, uint64_t elapsed);
/* Kills the retiring children past their deadline. Returns 1 while some are still retiring. */
int pw_children_kill_overdue(pw_children_t *set, uint64_t now);

/* Pins (host/pool_pin.c): a free pin takes the child a call carrying it is sent to; when the
 * child dies or retires its pins are lost. */
struct pw_pool_pin;
void pw_child_pin_attach(pw_child_t *child, struct pw_pool_pin *pin);
void pw_child_pins_lost(pw_child_t *child);

#endif
