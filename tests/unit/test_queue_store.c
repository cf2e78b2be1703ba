/* test_queue_store.c — queue messages in SQLite (storage/queue_sqlite.c) through the backend
 * vtable: sends all or nothing, delivery order and visibility (delays), taking and settling
 * (ack, retry with an attempt counted, release without one, dead-letter), depth for the
 * batching decision, and what survives reopening the file (taken messages come back). */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "unit.h"
#include "storage/queue_sqlite.h"

static pw_bytes_t B(const char *s) { pw_bytes_t b = { (const uint8_t *)s, strlen(s) }; return b; }

typedef struct {
    int n;
    int64_t seq[16];
    char body[16][32];
    unsigned attempts[16];
} taken_t;

static void on_msg(void *arg, const pw_queue_msg_t *m)
{
    taken_t *t = arg;
    t->seq[t->n] = m->seq;
    snprintf(t->body[t->n], sizeof t->body[0], "%.*s", (int)m->body.len, (const char *)m->body.base);
    t->attempts[t->n] = m->attempts;
    t->n++;
}

/* The SQLite backend is done before each call returns: its rc, as the call's result. */
static int last_rc;
static void note_rc(void *arg, int rc) { (void)arg; last_rc = rc; }

static int sync_send(pw_queue_backend_t *b, pw_bytes_t q, const pw_queue_new_t *m, size_t n, int64_t now)
{
    last_rc = -99;
    b->ops->send(b, q, m, n, now, note_rc, NULL);
    return last_rc;
}

static int sync_take(pw_queue_backend_t *b, pw_bytes_t q, int64_t now, size_t max, pw_queue_msg_cb cb, void *arg)
{
    last_rc = -99;
    b->ops->take(b, q, now, max, cb, note_rc, arg);
    return last_rc;
}

static int sync_depth(pw_queue_backend_t *b, pw_bytes_t q, int64_t now, size_t max, pw_queue_depth_t *d)
{
    last_rc = -99;
    b->ops->depth(b, q, now, max, d, note_rc, NULL);
    return last_rc;
}

static int sync_settle(pw_queue_backend_t *b, const pw_queue_settle_t *s, size_t n, pw_bytes_t dlq, int64_t now)
{
    last_rc = -99;
    b->ops->settle(b, s, n, dlq, now, note_rc, NULL);
    return last_rc;
}

static pw_queue_backend_t *open_at(const char *dir)
{
    pw_queue_backend_t *b = NULL;
    char err[256];
    CHECK(pw_queue_sqlite_open(dir, &b, err, sizeof err) == 0);
    return b;
}

static int send_one(pw_queue_backend_t *b, const char *queue, const char *body, int64_t visible)
{
    pw_queue_new_t m = { B("0123456789abcdef0123456789abcdef"), B(body), B("text"), visible };
    return sync_send(b, B(queue), &m, 1, 1000);
}

TEST(messages_are_taken_oldest_first_when_visible)
{
    pw_queue_backend_t *b = open_at(NULL);
    CHECK(send_one(b, "q", "a", 1000) == 0);
    CHECK(send_one(b, "q", "later", 5000) == 0);
    CHECK(send_one(b, "q", "b", 1000) == 0);
    CHECK(send_one(b, "other", "x", 1000) == 0);
    pw_queue_depth_t d;
    CHECK(sync_depth(b, B("q"), 2000, 10, &d) == 0 && d.ready == 2 && d.first_visible_ms == 1000);
    CHECK(sync_depth(b, B("q"), 2000, 1, &d) == 0 && d.ready == 1);     /* counted up to max */
    taken_t t = { 0 };
    CHECK(sync_take(b, B("q"), 2000, 10, on_msg, &t) == 2);
    CHECK(t.n == 2 && strcmp(t.body[0], "a") == 0 && strcmp(t.body[1], "b") == 0 && t.attempts[0] == 0);
    CHECK(sync_depth(b, B("q"), 2000, 10, &d) == 0 && d.ready == 0 && d.first_visible_ms == 5000);
    CHECK(sync_take(b, B("q"), 2000, 10, on_msg, &t) == 0);             /* taken: not again */
    CHECK(sync_take(b, B("q"), 5000, 10, on_msg, &t) == 1 && strcmp(t.body[2], "later") == 0);
    CHECK(pw_queue_sqlite_count(b, B("q")) == 3 && pw_queue_sqlite_count(b, B("other")) == 1);
    CHECK(sync_depth(b, B("empty"), 2000, 10, &d) == 0 && d.ready == 0 && d.first_visible_ms == -1);
    b->ops->close(b);
}

TEST(settling_acks_retries_releases_and_dead_letters)
{
    pw_queue_backend_t *b = open_at(NULL);
    for (int i = 0; i < 4; i++)
        CHECK(send_one(b, "q", i == 0 ? "ack" : i == 1 ? "retry" : i == 2 ? "release" : "dead", 1000) == 0);
    taken_t t = { 0 };
    CHECK(sync_take(b, B("q"), 1000, 10, on_msg, &t) == 4);
    pw_queue_settle_t s[4] = {
        { t.seq[0], PW_QUEUE_ACK, 0 }, { t.seq[1], PW_QUEUE_RETRY, 3000 },
        { t.seq[2], PW_QUEUE_RELEASE, 1000 }, { t.seq[3], PW_QUEUE_DEAD, 0 },
    };
    CHECK(sync_settle(b, s, 4, B("dlq"), 2000) == 0);
    CHECK(pw_queue_sqlite_count(b, B("q")) == 2 && pw_queue_sqlite_count(b, B("dlq")) == 1);
    taken_t u = { 0 };
    CHECK(sync_take(b, B("q"), 2000, 10, on_msg, &u) == 1);
    CHECK(strcmp(u.body[0], "release") == 0 && u.attempts[0] == 0);
    CHECK(sync_take(b, B("q"), 3000, 10, on_msg, &u) == 1);
    CHECK(strcmp(u.body[1], "retry") == 0 && u.attempts[1] == 1);
    CHECK(sync_take(b, B("dlq"), 2000, 10, on_msg, &u) == 1 && strcmp(u.body[2], "dead") == 0);
    /* a dead-letter without a queue to go to is refused, and nothing of the batch changes */
    pw_queue_settle_t bad[2] = { { u.seq[0], PW_QUEUE_ACK, 0 }, { u.seq[1], PW_QUEUE_DEAD, 0 } };
    CHECK(sync_settle(b, bad, 2, B(""), 2000) < 0);
    CHECK(pw_queue_sqlite_count(b, B("q")) == 2);
    b->ops->close(b);
}

TEST(a_batch_of_a_hundred_is_one_send)
{
    pw_queue_backend_t *b = open_at(NULL);
    pw_queue_new_t m[100];
    char bodies[100][16];
    for (int i = 0; i < 100; i++) {
        snprintf(bodies[i], sizeof bodies[i], "%d", i);
        m[i] = (pw_queue_new_t){ B("0123456789abcdef0123456789abcdef"), B(bodies[i]), B("json"), 0 };
    }
    CHECK(sync_send(b, B("q"), m, 100, 1000) == 0);
    CHECK(pw_queue_sqlite_count(b, B("q")) == 100);
    taken_t t = { 0 };
    CHECK(sync_take(b, B("q"), 1000, 10, on_msg, &t) == 10 && strcmp(t.body[9], "9") == 0);
    b->ops->close(b);
}

TEST(messages_survive_reopening_and_taken_ones_come_back)
{
    char dir[] = "/tmp/pw-test-queue-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    pw_queue_backend_t *b = open_at(dir);
    CHECK(send_one(b, "q", "one", 1000) == 0 && send_one(b, "q", "two", 1000) == 0);
    taken_t t = { 0 };
    CHECK(sync_take(b, B("q"), 1000, 1, on_msg, &t) == 1);   /* in flight when "killed" */
    b->ops->close(b);
    b = open_at(dir);
    taken_t u = { 0 };
    CHECK(sync_take(b, B("q"), 1000, 10, on_msg, &u) == 2);
    CHECK(strcmp(u.body[0], "one") == 0 && u.attempts[0] == 0);
    b->ops->close(b);
    char path[512];
    snprintf(path, sizeof path, "rm -rf %s", dir);
    CHECK(system(path) == 0);
}

TEST(a_second_host_on_the_same_store_is_refused)
{
    char dir[] = "/tmp/pw-test-queue-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    pw_queue_backend_t *b = open_at(dir), *other = NULL;
    char err[256] = "";
    CHECK(pw_queue_sqlite_open(dir, &other, err, sizeof err) < 0 && other == NULL);
    CHECK(strstr(err, "locked") != NULL);
    b->ops->close(b);
    char path[512];
    snprintf(path, sizeof path, "rm -rf %s", dir);
    CHECK(system(path) == 0);
}

int main(void)
{
    RUN(messages_are_taken_oldest_first_when_visible);
    RUN(settling_acks_retries_releases_and_dead_letters);
    RUN(a_batch_of_a_hundred_is_one_send);
    RUN(messages_survive_reopening_and_taken_ones_come_back);
    RUN(a_second_host_on_the_same_store_is_refused);
    return UNIT_DONE();
}
