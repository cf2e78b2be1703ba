/* test_memory_cache.c — the memoryCache store (storage/memory_cache.h, in-memory backend):
 * workerd's limits (max keys, max value size, total size), LRU eviction with expired entries
 * first, expiration on read, values over the limit dropped with the key's old value, and the
 * effective limits as the largest each binding suggests (a 0 suggests none). The cases follow
 * workerd's memory-cache-test.js (evictionsHappen, evictionsHappenValueSize). */
#include "unit.h"
#include "storage/memory_cache.h"

#include <stdlib.h>

static pw_bytes_t B(const char *s)
{
    return (pw_bytes_t){ (const uint8_t *)s, strlen(s) };
}

static pw_mcache_t *open_with(uint32_t keys, uint32_t value, uint64_t total)
{
    pw_mcache_t *c = NULL;
    CHECK(pw_mcache_memory_open(&c) == 0);
    pw_mcache_limits_t l = { keys, value, total };
    CHECK(c->ops->suggest(c, &l, 1, 0) == 0);
    return c;
}

/* The value of key as a string ("" when absent: tests use non-empty values). */
static const char *get(pw_mcache_t *c, const char *key, double now)
{
    static char out[2048];
    pw_buf_t buf;
    pw_buf_init(&buf);
    int rc = c->ops->get(c, B(key), now, &buf);
    snprintf(out, sizeof out, "%.*s", rc == 1 ? (int)buf.len : 0, rc == 1 ? (const char *)buf.data : "");
    pw_buf_free(&buf);
    return out;
}

static int put(pw_mcache_t *c, const char *key, const char *value, const double *exp, double now)
{
    return c->ops->put(c, B(key), B(value), exp, now);
}

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

TEST(least_recently_used_is_evicted_past_max_keys)
{
    pw_mcache_t *c = open_with(2, 1024, 2056);
    CHECK(put(c, "foo", "foo", NULL, 0) == 0);
    CHECK(put(c, "bar", "bar", NULL, 0) == 0);
    CHECK_STR(get(c, "bar", 0), "bar");
    CHECK_STR(get(c, "foo", 0), "foo");     /* foo is now the most recent */
    CHECK(put(c, "baz", "baz", NULL, 0) == 0);
    CHECK_STR(get(c, "bar", 0), "");
    CHECK_STR(get(c, "foo", 0), "foo");
    CHECK_STR(get(c, "baz", 0), "baz");
    c->ops->close(c);
}

TEST(values_over_the_limit_are_dropped_with_the_old_value)
{
    pw_mcache_t *c = open_with(2, 500, 600);
    char *v495 = repeat('a', 495), *v500 = repeat('a', 500), *v501 = repeat('a', 501);
    CHECK(put(c, "foo", v495, NULL, 0) == 0);
    CHECK_STR(get(c, "foo", 0), v495);
    CHECK(put(c, "bar", v500, NULL, 0) == 0);   /* fits alone: foo goes (total 600) */
    CHECK_STR(get(c, "foo", 0), "");
    CHECK_STR(get(c, "bar", 0), v500);
    CHECK(put(c, "bar", v501, NULL, 0) == 1);   /* over max_value_size: dropped, old one too */
    CHECK_STR(get(c, "bar", 0), "");
    size_t n;
    uint64_t bytes;
    c->ops->usage(c, &n, &bytes);
    CHECK(n == 0 && bytes == 0);
    free(v495);
    free(v500);
    free(v501);
    c->ops->close(c);
}

TEST(total_size_evicts_until_the_value_fits)
{
    pw_mcache_t *c = open_with(10, 100, 250);
    char *v = repeat('x', 100);
    CHECK(put(c, "1", v, NULL, 0) == 0);
    CHECK(put(c, "2", v, NULL, 0) == 0);
    CHECK(put(c, "3", v, NULL, 0) == 0);        /* 300 > 250: "1" goes */
    CHECK_STR(get(c, "1", 0), "");
    CHECK_STR(get(c, "2", 0), v);
    size_t n;
    uint64_t bytes;
    c->ops->usage(c, &n, &bytes);
    CHECK(n == 2 && bytes == 200);
    free(v);
    c->ops->close(c);
}

TEST(expired_entries_are_gone_and_evicted_first)
{
    pw_mcache_t *c = open_with(2, 100, 1000);
    double soon = 1100, later = 5000;
    CHECK(put(c, "a", "A", &soon, 1000) == 0);
    CHECK(put(c, "b", "B", &later, 1000) == 0);
    CHECK_STR(get(c, "a", 1050), "A");
    CHECK_STR(get(c, "a", 1200), "");           /* expired on read */
    CHECK(put(c, "a", "A", &soon, 1000) == 0);
    CHECK_STR(get(c, "a", 1000), "A");          /* a is the most recently used ... */
    CHECK(put(c, "c", "C", NULL, 1200) == 0);   /* ... but expired: evicted before b */
    CHECK_STR(get(c, "b", 1200), "B");
    CHECK_STR(get(c, "c", 1200), "C");
    double past = 10;
    CHECK(put(c, "b", "B2", &past, 1200) == 1); /* already expired: not stored, old one gone */
    CHECK_STR(get(c, "b", 1200), "");
    c->ops->close(c);
}

TEST(effective_limits_are_the_largest_suggested)
{
    pw_mcache_t *c = open_with(1, 10, 10);
    pw_mcache_limits_t big = { 3, 100, 1000 }, zero = { 0, 100, 100 };
    CHECK(put(c, "a", "1", NULL, 0) == 0);
    CHECK(put(c, "b", "2", NULL, 0) == 0);
    CHECK_STR(get(c, "a", 0), "");              /* one key only */
    CHECK(c->ops->suggest(c, &zero, 1, 0) == 0);    /* a 0 suggests nothing */
    CHECK(put(c, "a", "1", NULL, 0) == 0);
    CHECK_STR(get(c, "b", 0), "");
    CHECK(c->ops->suggest(c, &big, 1, 0) == 0);
    CHECK(put(c, "b", "2", NULL, 0) == 0);
    CHECK(put(c, "c", "3", NULL, 0) == 0);
    CHECK_STR(get(c, "a", 0), "1");
    CHECK(c->ops->suggest(c, &big, 0, 0) == 0);     /* back to one key: shrunk to fit */
    size_t n;
    uint64_t bytes;
    c->ops->usage(c, &n, &bytes);
    CHECK(n == 1);
    pw_mcache_limits_t small = { 1, 10, 10 };
    CHECK(c->ops->suggest(c, &small, 0, 0) == 0);   /* nobody uses it: empty */
    c->ops->usage(c, &n, &bytes);
    CHECK(n == 0 && bytes == 0);
    CHECK(put(c, "a", "1", NULL, 0) == 1);
    c->ops->close(c);
}

TEST(many_keys_grow_the_table_and_stay_found)
{
    pw_mcache_t *c = open_with(1000, 16, 16000);
    char key[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK(put(c, key, key, NULL, 0) == 0);
    }
    for (int i = 0; i < 1000; i += 97) {
        snprintf(key, sizeof key, "k%d", i);
        CHECK_STR(get(c, key, 0), key);
    }
    c->ops->remove(c, B("k0"));
    CHECK_STR(get(c, "k0", 0), "");
    c->ops->close(c);
}

int main(void)
{
    RUN(least_recently_used_is_evicted_past_max_keys);
    RUN(values_over_the_limit_are_dropped_with_the_old_value);
    RUN(total_size_evicts_until_the_value_fits);
    RUN(expired_entries_are_gone_and_evicted_first);
    RUN(effective_limits_are_the_largest_suggested);
    RUN(many_keys_grow_the_table_and_stay_found);
    return UNIT_DONE();
}
