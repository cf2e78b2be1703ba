/* test_kv_backend.c — the KV backend vtable (storage/kv_backend.h) on its SQLite backend
 * (storage/kv_disk.c, in memory): each op ends before it returns with the fields the front
 * sends back (storage/kv_backend.h's layouts), and a read-only disk service refuses writes
 * with Cloudflare's 405 messages. A new backend (PostgreSQL) should pass the same checks. */
#include "unit.h"
#include "storage/kv_disk.h"

typedef struct {
    int calls;
    char error[256];
    char fields[16][64];
    size_t n;
} answer_t;

static void on_done(void *arg, const pw_kv_result_t *r)
{
    answer_t *a = arg;
    a->calls++;
    a->n = r->error_name ? 0 : r->n_fields;
    snprintf(a->error, sizeof a->error, "%s", r->error_name ? r->error : "");
    for (size_t i = 0; i < a->n && i < 16; i++)
        snprintf(a->fields[i], sizeof a->fields[i], "%.*s", (int)r->fields[i].len,
                 (const char *)r->fields[i].base);
}

static pw_bytes_t B(const char *s)
{
    return (pw_bytes_t){ (const uint8_t *)s, strlen(s) };
}

static answer_t run(pw_kv_backend_t *kv, pw_kv_op_fn op, const pw_kv_args_t *args)
{
    answer_t a = { 0 };
    pw_kv_pending_t *pending = (pw_kv_pending_t *)&a;
    op(kv, args, on_done, &a, &pending);
    CHECK(a.calls == 1 && pending == NULL);         /* ended before it returned */
    return a;
}

TEST(ops_answer_in_the_front_s_field_layout)
{
    pw_kv_backend_t *kv;
    char err[256];
    CHECK(pw_kv_disk_open(NULL, "disk", 1, &kv, err, sizeof err) == 0);
    CHECK(!kv->subrequests && !kv->refuse_put && !kv->refuse_delete);
    pw_bytes_t keys[3] = { B("a"), B("b"), B("zz") };
    pw_kv_args_t put = { .keys = keys, .n_keys = 1, .now = 1000, .value = B("1"),
                         .metadata = B("{\"m\":1}"), .expiration = 5000 };
    answer_t a = run(kv, kv->ops->put, &put);
    CHECK(a.n == 1 && a.fields[0][0] == '\0');
    put.keys = &keys[1];
    put.expiration = 0;
    run(kv, kv->ops->put, &put);
    pw_kv_args_t get = { .keys = keys, .n_keys = 1, .now = 1000 };
    a = run(kv, kv->ops->get, &get);
    CHECK(a.n == 4);
    CHECK_STR(a.fields[1], "1");
    CHECK_STR(a.fields[2], "{\"m\":1}");
    CHECK_STR(a.fields[3], "5000");
    get.now = 6000;                                 /* expired: not found */
    a = run(kv, kv->ops->get, &get);
    CHECK(a.n == 1);
    pw_kv_args_t many = { .keys = keys, .n_keys = 3, .now = 1000 };
    a = run(kv, kv->ops->get_many, &many);
    CHECK(a.n == 10);
    CHECK_STR(a.fields[1], "1");
    CHECK_STR(a.fields[4], "1");
    CHECK_STR(a.fields[7], "");                     /* zz: missing */
    pw_kv_args_t list = { .now = 1000, .limit = 1 };
    a = run(kv, kv->ops->list, &list);
    CHECK(a.n == 6);
    CHECK_STR(a.fields[1], "");                     /* not complete */
    CHECK_STR(a.fields[2], "61");                   /* the cursor: hex of "a" */
    CHECK_STR(a.fields[3], "a");
    list.cursor = B("61");
    list.limit = 10;
    a = run(kv, kv->ops->list, &list);
    CHECK(a.n == 6);
    CHECK_STR(a.fields[1], "1");
    CHECK_STR(a.fields[3], "b");
    list.cursor = B("6");
    a = run(kv, kv->ops->list, &list);
    CHECK_STR(a.error, "KV GET failed: 400 Invalid cursor.");
    pw_kv_args_t del = { .keys = keys, .n_keys = 1, .now = 1000 };
    run(kv, kv->ops->delete, &del);
    a = run(kv, kv->ops->get, &get);
    CHECK(a.n == 1);
    kv->ops->close(kv);
}

TEST(a_read_only_disk_service_says_why_it_refuses_writes)
{
    pw_kv_backend_t *kv;
    char err[256];
    CHECK(pw_kv_disk_open(NULL, "ro", 0, &kv, err, sizeof err) == 0);
    CHECK_STR(kv->refuse_put, "KV PUT failed: 405 Method Not Allowed (disk service \"ro\" is not "
              "writable: add writable = true)");
    CHECK_STR(kv->refuse_delete, "KV DELETE failed: 405 Method Not Allowed (disk service \"ro\" is "
              "not writable)");
    kv->ops->close(kv);
}

int main(void)
{
    RUN(ops_answer_in_the_front_s_field_layout);
    RUN(a_read_only_disk_service_says_why_it_refuses_writes);
    return UNIT_DONE();
}
