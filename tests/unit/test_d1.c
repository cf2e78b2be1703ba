/* test_d1.c — D1's host side below the binding: the statement format an isolate sends
 * (storage/d1_statements: every malformed shape refused), the JSON results are written in
 * (storage/d1_json: exact integers, reals that stay reals, invalid UTF-8, BLOBs), and the
 * SQLite backend in memory (storage/d1_sqlite: a batch is all or nothing, the statement
 * cache, refused statements, the time limit, exec's line numbers, the connection never left
 * in a transaction; a cluster's hooks: statements encoded again as they came, the database as
 * an image restored elsewhere, the version that says a write ran). */
#include "unit.h"
#include "storage/d1_json.h"
#include "storage/d1_sqlite.h"
#include "storage/d1_statements.h"

#include <math.h>
#include <stdlib.h>

/* ---- building statements as the SDK does ---- */

static void put_u32(pw_buf_t *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    pw_buf_append(b, x, 4);
}

static void put_statement(pw_buf_t *b, const char *sql, uint32_t n_params, const void *params, size_t len)
{
    put_u32(b, (uint32_t)strlen(sql));
    put_u32(b, n_params);
    pw_buf_append(b, sql, strlen(sql));
    pw_buf_append(b, params, len);
}

static pw_bytes_t bytes_of(const pw_buf_t *b)
{
    return (pw_bytes_t){ b->data, b->len };
}

TEST(statements_decode)
{
    pw_buf_t b;
    pw_buf_init(&b);
    put_u32(&b, 2);
    static const uint8_t params[] = { 'n', 'i', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
                                      't', 2, 0, 0, 0, 'h', 'i', 'b', 0, 0, 0, 0 };
    put_statement(&b, "SELECT ?, ?, ?, ?", 4, params, sizeof params);
    put_statement(&b, "SELECT 1", 0, "", 0);
    pw_d1_statement_t st[2];
    size_t n;
    CHECK(pw_d1_statements_count(bytes_of(&b)) == 2);
    CHECK(pw_d1_statements_decode(bytes_of(&b), st, 2, &n) == 0 && n == 2);
    CHECK(pw_bytes_is(st[0].sql, "SELECT ?, ?, ?, ?") && st[0].n_params == 4);
    pw_bytes_t p = st[0].params;
    pw_d1_value_t v;
    CHECK(pw_d1_value_next(&p, &v) == 0 && v.type == PW_D1_NULL);
    CHECK(pw_d1_value_next(&p, &v) == 0 && v.type == PW_D1_INT && v.i == INT64_MAX);
    CHECK(pw_d1_value_next(&p, &v) == 0 && v.type == PW_D1_TEXT && pw_bytes_is(v.bytes, "hi"));
    CHECK(pw_d1_value_next(&p, &v) == 0 && v.type == PW_D1_BLOB && v.bytes.len == 0);
    CHECK(pw_d1_value_next(&p, &v) < 0);
    CHECK(pw_bytes_is(st[1].sql, "SELECT 1") && st[1].n_params == 0);
    CHECK(pw_d1_statements_decode(bytes_of(&b), st, 1, &n) < 0);        /* more than max */
    for (size_t cut = 0; cut < b.len; cut++)                             /* every truncation */
        CHECK(pw_d1_statements_decode((pw_bytes_t){ b.data, cut }, st, 2, &n) < 0);
    pw_buf_append(&b, "x", 1);                                          /* trailing bytes */
    CHECK(pw_d1_statements_decode(bytes_of(&b), st, 2, &n) < 0);
    pw_buf_free(&b);
}

TEST(statements_refuse_bad_values_and_counts)
{
    pw_buf_t b;
    pw_buf_init(&b);
    put_u32(&b, 1);
    put_statement(&b, "SELECT ?", 1, "x", 1);                           /* unknown type */
    pw_d1_statement_t st[1];
    size_t n;
    CHECK(pw_d1_statements_decode(bytes_of(&b), st, 1, &n) < 0);
    pw_buf_free(&b);
    pw_buf_init(&b);
    put_u32(&b, 1);
    put_statement(&b, "SELECT ?", 1, "t\xff\xff\xff\x7f", 5);           /* a length past the end */
    CHECK(pw_d1_statements_decode(bytes_of(&b), st, 1, &n) < 0);
    pw_buf_free(&b);
    pw_buf_init(&b);
    put_u32(&b, 0x7fffffff);                                            /* a count it cannot hold */
    CHECK(pw_d1_statements_count(bytes_of(&b)) == 0);
    pw_buf_free(&b);
}

/* ---- JSON ---- */

static const char *json_text(pw_d1_json_t *j)
{
    pw_buf_append(&j->buf, "", 1);
    return (const char *)j->buf.data;
}

TEST(json_values)
{
    pw_d1_json_t j;
    pw_d1_json_init(&j);
    pw_d1_json_int(&j, INT64_MIN);
    pw_d1_json_raw(&j, ",");
    pw_d1_json_real(&j, 2.0);
    pw_d1_json_raw(&j, ",");
    pw_d1_json_real(&j, 0.1);
    pw_d1_json_raw(&j, ",");
    pw_d1_json_real(&j, INFINITY);
    pw_d1_json_raw(&j, ",");
    pw_d1_json_string(&j, pw_bytes_of("a\"\\\n\x01\xc3\xa9\xff\xed\xa0\x80\xe2\x98"));
    pw_d1_json_raw(&j, ",");
    pw_d1_json_blob(&j, (pw_bytes_t){ (const uint8_t *)"\x00\xff\x10\x20", 4 });
    CHECK_STR(json_text(&j), "-9223372036854775808,2.0,0.10000000000000001,Infinity,"
                             "\"a\\\"\\\\\\n\\u0001\xc3\xa9\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\","
                             "{\"$blob\":\"AP8QIA==\"}");
    CHECK(!j.failed);
    pw_d1_json_free(&j);
}

/* ---- the SQLite backend ---- */

typedef struct {
    int error;
    char text[4096];
} answer_t;

static void done(void *arg, const pw_d1_result_t *r)
{
    answer_t *a = arg;
    a->error = r->error_name != NULL;
    if (a->error)
        snprintf(a->text, sizeof a->text, "%s", r->error);
    else
        snprintf(a->text, sizeof a->text, "%.*s", (int)r->fields[1].len, (const char *)r->fields[1].base);
}

static answer_t run(pw_d1_backend_t *d1, int batch, unsigned limit_ms, const char *const *sql, size_t n)
{
    pw_buf_t b;
    pw_buf_init(&b);
    put_u32(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        put_statement(&b, sql[i], 0, "", 0);
    pw_d1_statement_t st[8];
    size_t got;
    answer_t a = { 0 };
    pw_d1_pending_t *pending;
    if (pw_d1_statements_decode(bytes_of(&b), st, 8, &got) == 0) {
        pw_d1_query_t q = { .statements = st, .n = got, .batch = batch, .limit_ms = limit_ms };
        d1->ops->query(d1, &q, done, &a, &pending);
    }
    pw_buf_free(&b);
    return a;
}

static answer_t one(pw_d1_backend_t *d1, const char *sql)
{
    return run(d1, 0, 5000, &sql, 1);
}

static answer_t exec_sql(pw_d1_backend_t *d1, const char *sql)
{
    answer_t a = { 0 };
    pw_d1_pending_t *pending;
    d1->ops->exec(d1, pw_bytes_of(sql), 5000, done, &a, &pending);
    return a;
}

static pw_d1_backend_t *open_memory(void)
{
    pw_d1_backend_t *d1 = NULL;
    char err[256];
    if (pw_d1_sqlite_open(NULL, &d1, err, sizeof err) < 0)
        fprintf(stderr, "  open: %s\n", err);
    return d1;
}

TEST(a_batch_is_all_or_nothing)
{
    pw_d1_backend_t *d1 = open_memory();
    CHECK(d1 != NULL);
    if (!d1)
        return;
    CHECK(!exec_sql(d1, "CREATE TABLE t (k TEXT PRIMARY KEY);\nINSERT INTO t VALUES ('a')").error);
    static const char *const failing[] = { "INSERT INTO t VALUES ('b')", "INSERT INTO t VALUES ('a')" };
    answer_t a = run(d1, 1, 5000, failing, 2);
    CHECK(a.error && strstr(a.text, "D1_ERROR: UNIQUE constraint failed: t.k: SQLITE_CONSTRAINT"));
    a = one(d1, "SELECT count(*) AS c FROM t");
    CHECK(!a.error && strstr(a.text, "\"rows\":[[1]]"));
    static const char *const good[] = { "INSERT INTO t VALUES ('b')", "SELECT k FROM t ORDER BY k" };
    a = run(d1, 1, 5000, good, 2);
    CHECK(!a.error && strstr(a.text, "\"rows\":[[\"a\"],[\"b\"]]"));
    a = one(d1, "SELECT count(*) FROM t");          /* the same text again: from the cache */
    CHECK(!a.error && strstr(a.text, "[[2]]"));
    a = one(d1, "SELECT count(*) FROM t");
    CHECK(!a.error && strstr(a.text, "[[2]]"));
    d1->ops->close(d1);
}

TEST(refused_statements_leave_no_transaction_open)
{
    pw_d1_backend_t *d1 = open_memory();
    if (!d1)
        return;
    static const char *const refused[] = { "BEGIN", "SAVEPOINT x", "ATTACH ':memory:' AS m",
                                           "PRAGMA journal_mode=DELETE", "DETACH m" };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        answer_t a = one(d1, refused[i]);
        CHECK(a.error && strstr(a.text, "SQLITE_AUTH"));
    }
    CHECK(!one(d1, "PRAGMA foreign_keys").error);                        /* on D1's list */
    CHECK(strstr(one(d1, "PRAGMA foreign_keys").text, "[[1]]"));        /* on, as D1 has it */
    CHECK(!exec_sql(d1, "CREATE TABLE t (x)").error);
    static const char *const batch[] = { "INSERT INTO t VALUES (1)", "COMMIT" };
    CHECK(run(d1, 1, 5000, batch, 2).error);
    CHECK(strstr(one(d1, "SELECT count(*) FROM t").text, "[[0]]"));
    static const char *const again[] = { "INSERT INTO t VALUES (1)" };
    CHECK(!run(d1, 1, 5000, again, 1).error);                           /* no transaction was left */
    d1->ops->close(d1);
}

TEST(the_time_limit_stops_a_query)
{
    pw_d1_backend_t *d1 = open_memory();
    if (!d1)
        return;
    static const char *const forever[] = {
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c" };
    answer_t a = run(d1, 0, 50, forever, 1);
    CHECK(a.error && strstr(a.text, "exceeded timeout") && strstr(a.text, "50 ms"));
    CHECK(!one(d1, "SELECT 1").error);              /* the next one runs under its own limit */
    d1->ops->close(d1);
}

TEST(exec_counts_statements_and_names_the_failing_line)
{
    pw_d1_backend_t *d1 = open_memory();
    if (!d1)
        return;
    answer_t a = exec_sql(d1, "CREATE TABLE t (x);\n\n-- a comment\nINSERT INTO t VALUES (1);\n");
    CHECK(!a.error && strcmp(a.text, "2") == 0);
    a = exec_sql(d1, "INSERT INTO t VALUES (2);\nINSERT INTO t VALUES (3);\nSELEC 1;");
    CHECK(a.error && strstr(a.text, "D1_EXEC_ERROR: Error in line 3: SELEC 1;: near \"SELEC\": syntax error"));
    CHECK(strstr(one(d1, "SELECT count(*) FROM t").text, "[[3]]"));
    CHECK(strcmp(exec_sql(d1, "  \n -- nothing\n").text, "0") == 0);
    d1->ops->close(d1);
}

TEST(statements_encode_as_they_were_decoded)
{
    pw_buf_t b, again;
    pw_buf_init(&b);
    pw_buf_init(&again);
    put_u32(&b, 2);
    static const uint8_t params[] = { 'i', 7, 0, 0, 0, 0, 0, 0, 0, 't', 1, 0, 0, 0, 'x' };
    put_statement(&b, "SELECT ?, ?", 2, params, sizeof params);
    put_statement(&b, "SELECT 1", 0, "", 0);
    pw_d1_statement_t st[2];
    size_t n;
    CHECK(pw_d1_statements_decode(bytes_of(&b), st, 2, &n) == 0 && n == 2);
    CHECK(pw_d1_statements_encode(st, n, &again) == 0);
    CHECK(again.len == b.len && memcmp(again.data, b.data, b.len) == 0);
    pw_buf_free(&b);
    pw_buf_free(&again);
}

TEST(an_image_restores_the_database_elsewhere_and_writes_bump_the_version)
{
    pw_d1_backend_t *a = open_memory(), *b = open_memory();
    CHECK(a && b);
    if (!a || !b)
        return;
    uint64_t v0 = pw_d1_sqlite_version(a);
    CHECK(!exec_sql(a, "CREATE TABLE t (x); INSERT INTO t VALUES (41), (42);").error);
    uint64_t v1 = pw_d1_sqlite_version(a);
    CHECK(v1 != v0);
    CHECK(!one(a, "SELECT count(*) FROM t").error && pw_d1_sqlite_version(a) == v1);    /* a read */
    pw_buf_t image;
    pw_buf_init(&image);
    char err[256];
    CHECK(pw_d1_sqlite_image(a, &image) == 0 && image.len > 0);
    CHECK(!one(b, "CREATE TABLE old (y)").error);       /* replaced by the image */
    CHECK(strstr(one(b, "SELECT count(*) FROM old").text, "[[0]]"));   /* cached, then stale */
    CHECK(pw_d1_sqlite_restore(b, bytes_of(&image), err, sizeof err) == 0);
    CHECK(strstr(one(b, "SELECT sum(x) FROM t").text, "[[83]]"));
    CHECK(one(b, "SELECT count(*) FROM old").error);
    CHECK(pw_d1_sqlite_restore(b, (pw_bytes_t){ NULL, 0 }, err, sizeof err) == 0);   /* empty */
    CHECK(one(b, "SELECT count(*) FROM t").error);
    pw_buf_free(&image);
    a->ops->close(a);
    b->ops->close(b);
}

int main(void)
{
    RUN(statements_decode);
    RUN(statements_refuse_bad_values_and_counts);
    RUN(json_values);
    RUN(a_batch_is_all_or_nothing);
    RUN(refused_statements_leave_no_transaction_open);
    RUN(the_time_limit_stops_a_query);
    RUN(exec_counts_statements_and_names_the_failing_line);
    RUN(statements_encode_as_they_were_decoded);
    RUN(an_image_restores_the_database_elsewhere_and_writes_bump_the_version);
    return UNIT_DONE();
}
