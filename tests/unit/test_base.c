/* test_base.c — src/base/: buffers and slices, the intrusive list, fd helpers, the error
 * convention, libraries loaded at first use. */
#include "base/buf.h"
#include "base/err.h"
#include "base/fd.h"
#include "base/lazy_lib.h"
#include "base/list.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

TEST(buf_append_consume_and_text)
{
    pw_buf_t b = { 0 };
    CHECK_STR(pw_buf_text(&b), "");
    CHECK(pw_buf_append_text(&b, "hello", 5) == 0);
    CHECK(pw_buf_printf(&b, ", %s %d", "world", 42) == 0);
    CHECK_STR(pw_buf_text(&b), "hello, world 42");
    CHECK(b.len == 15);
    pw_buf_consume(&b, 7);
    CHECK_STR(pw_buf_text(&b), "world 42");
    pw_buf_consume(&b, 100);
    CHECK(b.len == 0);
    pw_buf_free(&b);
    CHECK(b.data == NULL && b.cap == 0);
}

TEST(buf_printf_longer_than_any_stack_buffer)
{
    pw_buf_t b = { 0 };
    char big[20000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(pw_buf_printf(&b, "<%s>", big) == 0);
    CHECK(b.len == sizeof big + 1);
    CHECK(b.data[0] == '<' && b.data[b.len - 1] == '>' && b.data[b.len] == '\0');
    pw_buf_free(&b);
}

TEST(bytes_compare)
{
    pw_bytes_t op = { (const uint8_t *)"kv.get", 6 };
    CHECK(pw_bytes_is(op, "kv.get"));
    CHECK(!pw_bytes_is(op, "kv.ge"));
    CHECK(!pw_bytes_is(op, "kv.gets"));
    CHECK(pw_bytes_starts(op, "kv."));
    CHECK(!pw_bytes_starts(op, "wf."));
    int64_t v = 0;
    CHECK(pw_bytes_to_i64((pw_bytes_t){ (const uint8_t *)"-42", 3 }, &v) == 0 && v == -42);
    CHECK(pw_bytes_to_i64((pw_bytes_t){ (const uint8_t *)"42x", 3 }, &v) == -1);
    CHECK(pw_bytes_to_i64((pw_bytes_t){ (const uint8_t *)"99999999999999999999", 20 }, &v) == -1);
    CHECK(pw_bytes_to_i64((pw_bytes_t){ (const uint8_t *)"", 0 }, &v) == -1);
    pw_bytes_t empty = { NULL, 0 };
    CHECK(pw_bytes_is(empty, ""));
    CHECK(pw_bytes_equal(empty, empty));
}

typedef struct {
    int value;
    pw_list_t link;
} item_t;

TEST(list_push_iterate_remove)
{
    pw_list_t items = PW_LIST_INIT(items);
    item_t a = { 1, { 0 } }, b = { 2, { 0 } }, c = { 3, { 0 } };
    CHECK(pw_list_empty(&items) && !pw_list_linked(&a.link));
    pw_list_push_back(&items, &a.link);
    pw_list_push_back(&items, &b.link);
    pw_list_push_front(&items, &c.link);
    int order[3], n = 0;
    PW_LIST_FOR_EACH(node, &items)
        order[n++] = PW_CONTAINER_OF(node, item_t, link)->value;
    CHECK(n == 3 && order[0] == 3 && order[1] == 1 && order[2] == 2);
    PW_LIST_FOR_EACH(node, &items) {        /* unlinking the node the walk is at */
        item_t *it = PW_CONTAINER_OF(node, item_t, link);
        if (it->value != 2)
            pw_list_remove(&it->link);
    }
    CHECK(!pw_list_linked(&a.link) && pw_list_linked(&b.link) && !pw_list_linked(&c.link));
    pw_list_remove(&a.link);                /* twice: nothing happens */
    pw_list_remove(&b.link);
    CHECK(pw_list_empty(&items));
}

TEST(fd_whole_reads_and_writes)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    CHECK(pw_fd_write_all(fds[1], "abcdef", 6) == 0);
    char got[4] = { 0 };
    CHECK(pw_fd_read_exact(fds[0], got, 3) == 0);
    CHECK(memcmp(got, "abc", 3) == 0);
    close(fds[1]);
    pw_buf_t rest = { 0 };
    CHECK(pw_fd_read_to_end(fds[0], &rest) == 0);
    CHECK_STR(pw_buf_text(&rest), "def");
    CHECK(pw_fd_read_exact(fds[0], got, 1) == -EPIPE);
    close(fds[0]);
    pw_buf_free(&rest);
    CHECK(pw_fd_write_all(-1, "x", 1) == -EBADF);
}

TEST(fd_flags)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    CHECK(pw_fd_set_nonblock(fds[0], 1) == 0);
    CHECK(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
    CHECK(pw_fd_set_nonblock(fds[0], 0) == 0);
    CHECK(!(fcntl(fds[0], F_GETFL) & O_NONBLOCK));
    CHECK(pw_fd_set_cloexec(fds[1], 1) == 0);
    CHECK(fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
    CHECK(pw_fd_set_cloexec(fds[1], 0) == 0);
    CHECK(!(fcntl(fds[1], F_GETFD) & FD_CLOEXEC));
    CHECK(pw_fd_set_cloexec(-1, 1) == -EBADF);
    close(fds[0]);
    close(fds[1]);
}

TEST(err_messages)
{
    char err[16];
    CHECK(pw_err_set(err, sizeof err, "bad %s", "value") == -1);
    CHECK_STR(err, "bad value");
    pw_err_set(err, sizeof err, "a message longer than the buffer");
    CHECK(strlen(err) == sizeof err - 1);
    char long_err[128];
    CHECK(pw_err_errno(long_err, sizeof long_err, ENOENT, "open %s", "x") == -ENOENT);
    CHECK_STR(long_err, "open x: No such file or directory");
    CHECK(pw_err_set(NULL, 0, "nowhere") == -1);
}

static pw_lazy_lib_t libm = PW_LAZY_LIB("libm.so.6");
static pw_lazy_lib_t missing = PW_LAZY_LIB("libpyworkerd-missing.so.0");

/* A wrapper as curl_lazy.c and pq_lazy.c define them, of a library that is not there */
PW_LAZY_FN(missing, int, lazy_test_missing, (int x), (x), -7)

TEST(lazy_lib_loads_at_first_use_or_fails_cleanly)
{
    CHECK(pw_lazy_sym(&libm, "cbrt") != NULL);
    CHECK(pw_lazy_sym(&libm, "no_such_function") == NULL);
    CHECK(pw_lazy_sym(&missing, "anything") == NULL);      /* logged once, not fatal */
    CHECK(pw_lazy_sym(&missing, "anything") == NULL);
    CHECK(lazy_test_missing(3) == -7);
}

int main(void)
{
    RUN(buf_append_consume_and_text);
    RUN(buf_printf_longer_than_any_stack_buffer);
    RUN(bytes_compare);
    RUN(list_push_iterate_remove);
    RUN(fd_whole_reads_and_writes);
    RUN(fd_flags);
    RUN(err_messages);
    RUN(lazy_lib_loads_at_first_use_or_fails_cleanly);
    return UNIT_DONE();
}
