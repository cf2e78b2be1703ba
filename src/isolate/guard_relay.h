/* guard_relay.h — what a template's guard passes on to the host of what the template says
 * (guard process; guard.c does the I/O). Pure: no descriptors, no system calls, so that it
 * can be fuzzed (tests/fuzz/fuzz_guard.c). The template runs the worker's top-level code: any
 * byte of any message may be hostile.
 */
#ifndef PW_GUARD_RELAY_H
#define PW_GUARD_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PW_GUARD_PID_SLOTS 256

typedef struct {
    pid_t template_pid;     /* the template, in the guard's (and host's) pid namespace */
    pid_t guard_pid;
    int loaded;             /* TEMPLATE_READY or _FAILED passed on: no more listener */
    int same_pids;          /* no sandbox, so no pid namespace: the template's pids are the
                             * host's (and nothing it says is a boundary) */
    struct { pid_t inner, outer; } pids[PW_GUARD_PID_SLOTS];  /* isolates: namespace -> host */
} pw_guard_state_t;

typedef enum {
    PW_GUARD_DROP,          /* nothing for the host */
    PW_GUARD_SEND,          /* send *out (type, payload) to the host */
    PW_GUARD_TAKE_LISTENER, /* keep the message's descriptor: the template's fork listener */
} pw_guard_action_t;

typedef struct {
    uint8_t type;
    const uint8_t *payload;     /* points into the message, or at `own` */
    size_t len;
    uint8_t own[8];
} pw_guard_out_t;

/* One message from the template: its frame type and payload, and creds_pid, the pid the
 * kernel put in its SCM_CREDENTIALS translated into the guard's namespace (0 without).
 * n_fds: descriptors passed with it. */
pw_guard_action_t pw_guard_relay(pw_guard_state_t *st, uint8_t type, const uint8_t *payload,
                                 size_t len, pid_t creds_pid, size_t n_fds, pw_guard_out_t *out);

#endif
