/* fuzz_target: fuzz_guard.c — what a template's guard passes on to the host of the messages
 * the template sends it (isolate/guard_relay.c). A template runs the worker's top-level code,
 * so every message may be hostile. Each input is a sequence of messages: a type byte, a
 * byte of passed descriptors, 4 bytes of the pid the kernel vouched for (SCM_CREDENTIALS),
 * a length byte and that many payload bytes. Checked: only the four answers the host expects
 * go out, once for the load; a pid reaches the host only as the kernel vouched for it and
 * never as the template's or guard's own; out stays inside the message or its own bytes.
 */
#include "fuzz.h"
#include "isolate/guard_relay.h"
#include "wire/frame.h"

#include <stdlib.h>
#include <string.h>

#define TEMPLATE_PID 4242
#define GUARD_PID 4241

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void check_out(pw_guard_state_t *st, uint8_t type, const uint8_t *payload, size_t len,
                      pid_t creds, const pw_guard_out_t *out, int *loads)
{
    int inside = (out->payload >= payload && out->payload + out->len <= payload + len) ||
                 (out->payload >= out->own && out->payload + out->len <= out->own + sizeof out->own);
    if (!inside || out->type != type)
        abort();
    switch (type) {
    case PW_FRAME_CTL_TEMPLATE_READY:
    case PW_FRAME_CTL_TEMPLATE_FAILED:
        if (++*loads > 1)
            abort();
        break;
    case PW_FRAME_CTL_ISOLATE_SPAWNED: {
        pid_t pid = out->len == 4 ? (pid_t)u32(out->payload) : -1;
        if (pid != 0 && (pid != creds || pid == TEMPLATE_PID || pid == GUARD_PID))
            abort();
        break;
    }
    case PW_FRAME_CTL_ISOLATE_EXITED: {
        pid_t pid = out->len == 8 ? (pid_t)u32(out->payload) : -1;
        if (pid <= 0 || pid == TEMPLATE_PID || pid == GUARD_PID)
            abort();
        break;
    }
    default:
        abort();
    }
    (void)st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static pw_guard_state_t st;
    memset(&st, 0, sizeof st);
    st.template_pid = TEMPLATE_PID;
    st.guard_pid = GUARD_PID;
    int loads = 0;
    while (size >= 7) {
        uint8_t type = data[0], n_fds = data[1], len = data[6];
        pid_t creds = (pid_t)u32(data + 2);
        data += 7;
        size -= 7;
        if (len > size)
            len = (uint8_t)size;
        pw_guard_out_t out;
        memset(&out, 0xa5, sizeof out);
        pw_guard_action_t action = pw_guard_relay(&st, type, data, len, creds, n_fds, &out);
        if (action == PW_GUARD_SEND)
            check_out(&st, type, data, len, creds, &out, &loads);
        else if (action == PW_GUARD_TAKE_LISTENER && (type != PW_FRAME_CTL_GUARD_LISTENER || n_fds != 1))
            abort();
        data += len;
        size -= len;
    }
    return 0;
}

static void message(uint8_t *out, size_t *n, uint8_t type, uint8_t fds, uint32_t creds,
                    const void *payload, uint8_t len)
{
    uint8_t *p = out + *n;
    p[0] = type;
    p[1] = fds;
    for (int i = 0; i < 4; i++)
        p[2 + i] = (uint8_t)(creds >> (8 * i));
    p[6] = len;
    memcpy(p + 7, payload, len);
    *n += 7u + len;
}

void fuzz_seeds(fuzz_add_cb add)
{
    uint8_t buf[512];
    size_t n = 0;
    uint8_t two[4] = { 2, 0, 0, 0 }, exited[8] = { 2, 0, 0, 0, 9, 0, 0, 0 };
    message(buf, &n, PW_FRAME_CTL_GUARD_LISTENER, 1, 0, "", 0);
    message(buf, &n, PW_FRAME_CTL_TEMPLATE_READY, 0, 0, two, 4);
    message(buf, &n, PW_FRAME_CTL_ISOLATE_SPAWNED, 0, 31337, two, 4);
    message(buf, &n, PW_FRAME_CTL_ISOLATE_EXITED, 0, 0, exited, 8);
    add(buf, n);
    n = 0;
    message(buf, &n, PW_FRAME_CTL_TEMPLATE_FAILED, 0, 0, "ValueError: broken", 18);
    message(buf, &n, PW_FRAME_CTL_TEMPLATE_READY, 0, 0, two, 4);
    message(buf, &n, PW_FRAME_CTL_ISOLATE_SPAWNED, 0, TEMPLATE_PID, two, 4);
    message(buf, &n, PW_FRAME_CTL_SPAWN_ISOLATE, 3, 1, two, 4);
    add(buf, n);
}
