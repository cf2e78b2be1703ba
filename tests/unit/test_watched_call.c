/* test_watched_call.c — host/watched_call: a binding call answered later ends exactly once,
 * answered through its port (RPC_RESULT with its id) or cancelled when the isolate dies first,
 * and holds the port only while it is open. */
#include "host/watched_call.h"
#include "wire/rpc.h"
#include "unit.h"

typedef struct {
    pw_watched_call_t call;     /* first */
    int *cancelled;
} test_call_t;

static void count_cancel(pw_watched_call_t *call)
{
    (*((test_call_t *)call)->cancelled)++;
}

static void ignore_queued(void *arg)
{
}

/* The one frame in out: its type, id and fields (0 fields when there is none). */
static size_t one_frame(const pw_buf_t *out, pw_frame_t *frame, pw_bytes_t *fields, size_t max)
{
    size_t consumed = 0, n = 0;
    if (pw_frame_parse(out->data, out->len, frame, &consumed) != 1 || consumed != out->len)
        return 0;
    if (pw_rpc_decode(frame, fields, max, &n) < 0)
        return 0;
    return n;
}

static pw_binding_call_t call_on(pw_port_t *port, uint32_t id)
{
    pw_binding_call_t c = { 0 };
    c.port = port;
    c.id = id;
    return c;
}

TEST(reply_answers_once_and_releases_the_port)
{
    pw_buf_t out;
    pw_buf_init(&out);
    pw_port_t *port = pw_port_create(&out, ignore_queued, NULL);
    int cancelled = 0;
    pw_binding_call_t c = call_on(port, 7);
    test_call_t *t = pw_watched_call_new(&c, sizeof *t, count_cancel, "out of memory");
    CHECK(t != NULL);
    t->cancelled = &cancelled;
    CHECK(pw_port_held(port) == 1);
    pw_bytes_t f[2] = { pw_bytes_of(""), pw_bytes_of("value") }, got[4];
    pw_watched_call_reply(&t->call, f, 2);
    CHECK(pw_port_held(port) == 0);
    pw_frame_t frame;
    CHECK(one_frame(&out, &frame, got, 4) == 2);
    CHECK(frame.type == PW_FRAME_RPC_RESULT && frame.id == 7);
    CHECK(pw_bytes_is(got[1], "value"));
    pw_port_close(port);
    CHECK(cancelled == 0);
    pw_buf_free(&out);
}

TEST(a_backend_error_is_answered_as_the_named_error)
{
    pw_buf_t out;
    pw_buf_init(&out);
    pw_port_t *port = pw_port_create(&out, ignore_queued, NULL);
    int cancelled = 0;
    pw_binding_call_t c = call_on(port, 9);
    test_call_t *t = pw_watched_call_new(&c, sizeof *t, count_cancel, "out of memory");
    t->cancelled = &cancelled;
    pw_watched_call_result(&t->call, "TypeError", "bad key", NULL, 0);
    pw_frame_t frame;
    pw_bytes_t got[4];
    size_t n = one_frame(&out, &frame, got, 4);
    CHECK(n >= 2 && frame.id == 9);
    CHECK(n >= 2 && pw_bytes_is(got[0], "TypeError"));
    CHECK(n >= 2 && pw_bytes_is(got[1], "bad key"));
    CHECK(pw_port_held(port) == 0);
    pw_port_close(port);
    CHECK(cancelled == 0);
    pw_buf_free(&out);
}

TEST(the_isolates_death_cancels_and_nothing_answers)
{
    pw_buf_t out;
    pw_buf_init(&out);
    pw_port_t *port = pw_port_create(&out, ignore_queued, NULL);
    int cancelled = 0;
    pw_binding_call_t c = call_on(port, 3);
    test_call_t *t = pw_watched_call_new(&c, sizeof *t, count_cancel, "out of memory");
    t->cancelled = &cancelled;
    pw_port_close(port);        /* frees the port once the call's hold is gone */
    CHECK(cancelled == 1);
    CHECK(out.len == 0);
    pw_buf_free(&out);
}

int main(void)
{
    RUN(reply_answers_once_and_releases_the_port);
    RUN(a_backend_error_is_answered_as_the_named_error);
    RUN(the_isolates_death_cancels_and_nothing_answers);
    return UNIT_DONE();
}
