/* test_binding_table.c — the binding-kind table (host/binding.c): every kind's ops are
 * registered under their wire names, an op without a row goes to the group of its prefix
 * (else to service bindings', as before the table), and the rows carry the field counts and
 * messages isolates have always been answered with. */
#include "unit.h"
#include "host/binding.h"

static pw_bytes_t B(const char *s)
{
    return (pw_bytes_t){ (const uint8_t *)s, strlen(s) };
}

static const pw_binding_kind_impl_t *kind_of(const pw_binding_route_t *r)
{
    return pw_binding_kind_at(r->kind);
}

static void expect_op(const char *name, const pw_binding_kind_impl_t *kind)
{
    pw_binding_route_t r;
    pw_binding_route(B(name), &r);
    if (!r.op || strcmp(r.op->name, name) != 0 || kind_of(&r) != kind)
        fprintf(stderr, "  op %s is not registered by kind %s\n", name, kind->name);
    CHECK(r.op && strcmp(r.op->name, name) == 0 && kind_of(&r) == kind);
    CHECK(r.op && r.op->handler && r.group && r.group->resolve);
}

TEST(every_kind_registers_its_ops)
{
    static const char *const kv[] = { "kv.get", "kv.get_many", "kv.put", "kv.delete", "kv.list" };
    static const char *const wf[] = { "wf.create", "wf.event", "wf.status", "wf.get", "wf.pause",
                                      "wf.resume", "wf.terminate", "wf.restart", "wf.step.get",
                                      "wf.step.put", "wf.sleep", "wf.wait" };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        expect_op(kv[i], &pw_binding_kv);
    for (size_t i = 0; i < sizeof wf / sizeof wf[0]; i++)
        expect_op(wf[i], &pw_binding_workflows);
    expect_op("svc.call", &pw_binding_service);
    expect_op("fetch", &pw_binding_fetch);
    static const char *const r2[] = { "r2.head", "r2.get", "r2.read", "r2.close", "r2.put", "r2.write",
                                      "r2.delete", "r2.list", "r2.mpu.create", "r2.mpu.part",
                                      "r2.mpu.complete", "r2.mpu.abort" };
    for (size_t i = 0; i < sizeof r2 / sizeof r2[0]; i++)
        expect_op(r2[i], &pw_binding_r2);
    static const char *const mc[] = { "mcache.get", "mcache.read", "mcache.put", "mcache.fail",
                                      "mcache.delete" };
    for (size_t i = 0; i < sizeof mc / sizeof mc[0]; i++)
        expect_op(mc[i], &pw_binding_memory_cache);
    expect_op("queue.send", &pw_binding_queue);
    expect_op("queue.send_batch", &pw_binding_queue);
    expect_op("disk.fetch", &pw_binding_disk);
    static const char *const dos[] = { "do.call", "dos.get", "dos.write", "dos.list", "dos.sql",
                                       "dos.txn", "dos.size", "dos.alarm" };
    for (size_t i = 0; i < sizeof dos / sizeof dos[0]; i++)
        expect_op(dos[i], &pw_binding_do);
    expect_op("ws.connect", &pw_binding_websocket);
    static const char *const d1[] = { "d1.query", "d1.batch", "d1.exec", "d1.dump" };
    for (size_t i = 0; i < sizeof d1 / sizeof d1[0]; i++)
        expect_op(d1[i], &pw_binding_d1);
    expect_op("socket.connect", &pw_binding_socket);
    expect_op("socket.starttls", &pw_binding_socket);
}

TEST(the_table_lists_each_kind_once)
{
    CHECK(pw_binding_kind_count() == 12);
    CHECK(pw_binding_kind_count() <= PW_BINDING_MAX_KINDS);
    for (size_t i = 0; i < pw_binding_kind_count(); i++)
        for (size_t j = i + 1; j < pw_binding_kind_count(); j++)
            CHECK(pw_binding_kind_at(i) != pw_binding_kind_at(j));
    CHECK(pw_binding_kind_at(pw_binding_kind_count()) == NULL);
}

TEST(unknown_ops_go_to_the_group_of_their_prefix)
{
    pw_binding_route_t r;
    pw_binding_route(B("kv.nope"), &r);
    CHECK(!r.op && kind_of(&r) == &pw_binding_kv);
    CHECK_STR(r.group->unknown_op, "unknown binding operation \"%.*s\"");
    pw_binding_route(B("wf.nope"), &r);
    CHECK(!r.op && kind_of(&r) == &pw_binding_workflows);
    CHECK_STR(r.group->unknown_op, "unknown workflow operation \"%.*s\"");
    pw_binding_route(B("wf.step.nope"), &r);       /* the longest prefix wins */
    CHECK(!r.op && kind_of(&r) == &pw_binding_workflows);
    CHECK_STR(r.group->unknown_op, "bad workflow step call");
    pw_binding_route(B("queue.nope"), &r);
    CHECK(!r.op && kind_of(&r) == &pw_binding_queue);
    CHECK_STR(r.group->unknown_op, "unknown queue operation \"%.*s\"");
    pw_binding_route(B("d1.nope"), &r);
    CHECK(!r.op && kind_of(&r) == &pw_binding_d1);
    CHECK_STR(r.group->unknown_op, "unknown D1 operation \"%.*s\"");
    pw_binding_route(B("socket.nope"), &r);
    CHECK(!r.op && kind_of(&r) == &pw_binding_socket);
    CHECK(pw_binding_socket.per_loop == 1);     /* a socket lives on its isolate's loop */
    pw_binding_route(B("kv."), &r);                 /* a bare prefix is no op of its group */
    CHECK(!r.op && kind_of(&r) == &pw_binding_service);
}

TEST(ops_of_no_known_prefix_are_answered_as_service_calls)
{
    static const char *const names[] = { "", "nope", "fetchx", "kv", "KV.get", "svc.nope" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        pw_binding_route_t r;
        pw_binding_route(B(names[i]), &r);
        CHECK(!r.op && kind_of(&r) == &pw_binding_service && !r.group->unnamed);
        CHECK_STR(r.group->unknown_op, "unknown binding operation \"%.*s\"");
    }
}

TEST(rows_carry_the_arity_and_its_message)
{
    pw_binding_route_t r;
    pw_binding_route(B("kv.get"), &r);
    CHECK(r.op->min_fields == 3 && r.op->max_fields == 4);
    CHECK_STR(r.op->arity_error, "kv.get takes one key and an optional cacheTtl");
    pw_binding_route(B("kv.put"), &r);
    CHECK(r.op->min_fields == 7 && r.op->max_fields == 7);
    CHECK_STR(r.op->arity_error, "kv.put takes key, value and options");
    pw_binding_route(B("svc.call"), &r);
    CHECK(r.op->min_fields == 4 && r.op->max_fields == 4 && r.op->holds);
    pw_binding_route(B("fetch"), &r);
    CHECK(r.op->min_fields == 6 && r.op->max_fields == 6 && r.op->holds && r.group->unnamed);
    CHECK_STR(r.op->arity_error, "fetch(): invalid request (headers or arguments).");
    pw_binding_route(B("wf.create"), &r);           /* a wrong count is an unknown operation */
    CHECK(r.op->min_fields == 4 && r.op->max_fields == 4 && !r.op->arity_error);
    pw_binding_route(B("kv.list"), &r);
    CHECK(!r.op->holds);                            /* a backend's subrequests count themselves */
    pw_binding_route(B("r2.put"), &r);              /* key, options, data, more */
    CHECK(r.op->min_fields == 6 && r.op->max_fields == 6 && r.op->holds);
    pw_binding_route(B("r2.close"), &r);            /* answered at once, never refused */
    CHECK(r.op->min_fields == 3 && !r.op->holds);
    pw_binding_route(B("r2.nope"), &r);
    CHECK(!r.op && kind_of(&r) == &pw_binding_r2);
    CHECK_STR(r.group->unknown_op, "unknown R2 operation \"%.*s\"");
    pw_binding_route(B("disk.fetch"), &r);          /* answered at once, from the host */
    CHECK(r.op->min_fields == 3 && r.op->max_fields == 3 && !r.op->holds);
    pw_binding_route(B("ws.connect"), &r);
    CHECK(r.op->min_fields == 3 && r.op->max_fields == 3 && r.op->holds && r.group->unnamed);
    pw_binding_route(B("ws.nope"), &r);
    CHECK(!r.op && kind_of(&r) == &pw_binding_websocket);
    pw_binding_route(B("d1.query"), &r);            /* mode and statements */
    CHECK(r.op->min_fields == 4 && r.op->max_fields == 4 && !r.op->holds);
    CHECK_STR(r.op->arity_error, "d1.query takes a mode and one statement");
    pw_binding_route(B("d1.batch"), &r);
    CHECK(r.op->min_fields == 3 && r.op->max_fields == 3);
}

TEST(durable_object_ops_are_main_loop_only_and_unknown_ones_stay_in_their_group)
{
    pw_binding_route_t r;
    CHECK(!pw_binding_do.per_loop);     /* one owner per object: forwarded from other loops */
    pw_binding_route(B("dos.nope"), &r);
    CHECK(!r.op && kind_of(&r) == &pw_binding_do && !r.group->unnamed);
    pw_binding_route(B("do.nope"), &r);
    CHECK(!r.op && kind_of(&r) == &pw_binding_do);
    pw_binding_route(B("do.call"), &r);
    CHECK(r.op->min_fields == 6 && r.op->max_fields == 6 && r.op->holds);
    pw_binding_route(B("dos.get"), &r);
    CHECK(r.op->min_fields == 3 && r.op->max_fields == 3 + 128 && !r.op->holds);
}

int main(void)
{
    RUN(every_kind_registers_its_ops);
    RUN(the_table_lists_each_kind_once);
    RUN(unknown_ops_go_to_the_group_of_their_prefix);
    RUN(ops_of_no_known_prefix_are_answered_as_service_calls);
    RUN(rows_carry_the_arity_and_its_message);
    RUN(durable_object_ops_are_main_loop_only_and_unknown_ones_stay_in_their_group);
    return UNIT_DONE();
}
