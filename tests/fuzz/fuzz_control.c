/* fuzz_control.c — fuzz target: control messages the host receives from the zygote and from
 * worker templates (wire/control.c) — a template runs the worker's top-level code, so what
 * it sends is not trusted. Each input is sent as one SOCK_SEQPACKET message and read back
 * with pw_control_recv(), then read as a pid (pw_control_msg_u32) and as error text.
 */
#include "fuzz.h"
#include "wire/control.h"
#include "wire/frame.h"

#include <errno.h>

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile size_t sink;
static int pair[2] = { -1, -1 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (pair[0] < 0 && socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) < 0)
        abort();
    if (size == 0 || size > PW_CONTROL_MAX)
        return 0;       /* an empty datagram reads as end of stream; larger ones are cut */
    if (send(pair[1], data, size, 0) != (ssize_t)size)
        abort();
    pw_control_msg_t msg;
    int rc = pw_control_recv(pair[0], &msg);
    if (rc == 1) {
        if (msg.payload[msg.len] != '\0' || msg.fd != -1)
            abort();
        sink += pw_control_msg_u32(&msg) + strlen(msg.payload);
        pw_control_msg_free(&msg);
    } else if (rc != -EBADMSG) {
        abort();
    }
    return 0;
}

void fuzz_seeds(fuzz_add_cb add)
{
    pw_buf_t b;
    pw_buf_init(&b);
    size_t start;
    uint8_t pid[4] = { 0x39, 0x30, 0, 0 };
    static const char *const texts[] = { "", "Traceback (most recent call last):\n  ...\nValueError: x" };
    uint8_t types[3] = { PW_FRAME_CTL_TEMPLATE_READY, PW_FRAME_CTL_ISOLATE_SPAWNED,
                         PW_FRAME_CTL_ISOLATE_EXITED };
    for (int i = 0; i < 3; i++) {
        b.len = 0;
        pw_frame_begin(&b, types[i], 0, &start);
        pw_buf_append(&b, pid, 4);
        if (i == 2)
            pw_buf_append(&b, pid, 4);
        pw_frame_end(&b, start);
        add(b.data, b.len);
    }
    for (int i = 0; i < 2; i++) {
        b.len = 0;
        pw_frame_begin(&b, PW_FRAME_CTL_TEMPLATE_FAILED, 0, &start);
        pw_buf_append(&b, texts[i], strlen(texts[i]));
        pw_frame_end(&b, start);
        add(b.data, b.len);
    }
    pw_buf_free(&b);
}
