/* guard_relay.c — the guard's reading of a template's messages (guard process; see
 * guard_relay.h). Only READY, FAILED, ISOLATE_SPAWNED and ISOLATE_EXITED reach the host; a pid
 * reaches it only as the kernel translated it (SCM_CREDENTIALS), never as the template wrote
 * it, and never the template's own. Invariant: out never points outside `payload` or `own`.
 */
#include "isolate/guard_relay.h"
#include "wire/frame.h"

#include <string.h>

static uint32_t read_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void write_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static pw_guard_action_t send_u32(pw_guard_out_t *out, uint8_t type, uint32_t value)
{
    out->type = type;
    write_u32(out->own, value);
    out->payload = out->own;
    out->len = 4;
    return PW_GUARD_SEND;
}

/* The isolate's pid as the host sees it; 0 (fork failed) when the message does not name one
 * the kernel vouched for. */
static pid_t spawned_pid(pw_guard_state_t *st, const uint8_t *payload, size_t len, pid_t creds)
{
    pid_t inner = len == 4 ? (pid_t)read_u32(payload) : 0;
    if (st->same_pids && inner > 0)
        creds = inner;
    if (inner <= 0 || creds <= 0 || creds == st->template_pid || creds == st->guard_pid)
        return 0;
    unsigned slot = (unsigned)inner % PW_GUARD_PID_SLOTS;
    st->pids[slot].inner = inner;
    st->pids[slot].outer = creds;
    return creds;
}

static pw_guard_action_t isolate_exited(const pw_guard_state_t *st, const uint8_t *payload,
                                        size_t len, pw_guard_out_t *out)
{
    if (len != 8)
        return PW_GUARD_DROP;
    pid_t inner = (pid_t)read_u32(payload);
    unsigned slot = (unsigned)inner % PW_GUARD_PID_SLOTS;
    if (inner <= 0 || st->pids[slot].inner != inner)
        return PW_GUARD_DROP;
    out->type = PW_FRAME_CTL_ISOLATE_EXITED;
    write_u32(out->own, (uint32_t)st->pids[slot].outer);
    memcpy(out->own + 4, payload + 4, 4);
    out->payload = out->own;
    out->len = 8;
    return PW_GUARD_SEND;
}

pw_guard_action_t pw_guard_relay(pw_guard_state_t *st, uint8_t type, const uint8_t *payload,
                                 size_t len, pid_t creds_pid, size_t n_fds, pw_guard_out_t *out)
{
    switch (type) {
    case PW_FRAME_CTL_GUARD_LISTENER:
        return !st->loaded && n_fds == 1 ? PW_GUARD_TAKE_LISTENER : PW_GUARD_DROP;
    case PW_FRAME_CTL_TEMPLATE_READY:
        if (st->loaded)
            return PW_GUARD_DROP;   /* the host hears of the load once */
        st->loaded = 1;
        return send_u32(out, type, (uint32_t)st->guard_pid);
    case PW_FRAME_CTL_TEMPLATE_FAILED:
        if (st->loaded)
            return PW_GUARD_DROP;
        st->loaded = 1;
        out->type = type;
        out->payload = payload;
        out->len = len;
        return PW_GUARD_SEND;
    case PW_FRAME_CTL_ISOLATE_SPAWNED:
        return send_u32(out, type, (uint32_t)spawned_pid(st, payload, len, creds_pid));
    case PW_FRAME_CTL_ISOLATE_EXITED:
        return isolate_exited(st, payload, len, out);
    default:
        return PW_GUARD_DROP;   /* nothing else is the template's to say */
    }
}
