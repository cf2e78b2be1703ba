/* test_child_log.c — what the host makes of a worker process's fd 1/2 output
 * (host/child_log.h): each line tagged with its process, control characters escaped, long
 * lines split, partial lines kept until their newline, floods dropped beyond the window's
 * budget with one note per window; and the reader on a real pipe and loop, which ends by
 * itself at end of file. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>
#include "unit.h"
#include "host/child_log.h"

static char got[1 << 20];
static size_t got_len;
static int got_lines;

static void collect(void *arg, const char *text, size_t len)
{
    if (got_len + len < sizeof got) {
        memcpy(got + got_len, text, len);
        got_len += len;
        got[got_len] = '\0';
    }
    got_lines++;
}

static void start(pw_child_lines_t *lines, const char *role, int pid)
{
    got_len = 0;
    got[0] = '\0';
    got_lines = 0;
    pw_child_lines_init(lines, "main", role, pid, collect, NULL);
    lines->window_start_ms = 1000;
}

TEST(every_line_is_tagged_with_its_process)
{
    pw_child_lines_t lines;
    start(&lines, "iso", 1234);
    const char *text = "hello\n2026-12-04T00:00:00.000Z main GET / 200 0 1.000ms\n\n";
    pw_child_lines_feed(&lines, text, strlen(text), 1000);
    CHECK_STR(got, "[main iso 1234] hello\n"
                   "[main iso 1234] 2026-12-04T00:00:00.000Z main GET / 200 0 1.000ms\n"
                   "[main iso 1234] \n");
    start(&lines, "tpl", 0);
    pw_child_lines_feed(&lines, "top\n", 4, 1000);
    CHECK_STR(got, "[main tpl] top\n");
}

TEST(control_characters_cannot_hide_the_tag)
{
    pw_child_lines_t lines;
    start(&lines, "iso", 7);
    const char text[] = "a\rpyworkerd: fake\x1b[2K\ttab\x7f\n";
    pw_child_lines_feed(&lines, text, sizeof text - 1, 1000);
    CHECK_STR(got, "[main iso 7] a\\x0dpyworkerd: fake\\x1b[2K\ttab\\x7f\n");
    start(&lines, "iso", 7);
    pw_child_lines_feed(&lines, "nul\0byte\n", 9, 1000);
    CHECK_STR(got, "[main iso 7] nul\\x00byte\n");
}

TEST(partial_lines_wait_for_their_newline_and_go_out_at_the_end)
{
    pw_child_lines_t lines;
    start(&lines, "iso", 7);
    pw_child_lines_feed(&lines, "hel", 3, 1000);
    CHECK(got_len == 0);
    pw_child_lines_feed(&lines, "lo\nwor", 6, 1000);
    CHECK_STR(got, "[main iso 7] hello\n");
    pw_child_lines_finish(&lines, 1000);
    CHECK_STR(got, "[main iso 7] hello\n[main iso 7] wor\n");
}

TEST(long_lines_are_split)
{
    pw_child_lines_t lines;
    start(&lines, "iso", 7);
    size_t n = PW_CHILD_LOG_MAX_LINE * 2 + 10;
    char *text = malloc(n + 1);
    memset(text, 'x', n);
    text[n] = '\n';
    pw_child_lines_feed(&lines, text, 100, 1000);           /* a partial line first */
    pw_child_lines_feed(&lines, text + 100, n + 1 - 100, 1000);
    CHECK(got_lines == 3);
    CHECK(got_len == 3 * strlen("[main iso 7] ") + n + 3);
    /* exactly the maximum: one line, no empty one after it */
    start(&lines, "iso", 7);
    text[PW_CHILD_LOG_MAX_LINE] = '\n';
    pw_child_lines_feed(&lines, text, PW_CHILD_LOG_MAX_LINE + 1, 1000);
    CHECK(got_lines == 1);
    start(&lines, "iso", 7);
    pw_child_lines_feed(&lines, text, 10, 1000);
    pw_child_lines_feed(&lines, text + 10, PW_CHILD_LOG_MAX_LINE - 10 + 1, 1000);
    CHECK(got_lines == 1);
    free(text);
}

TEST(a_flood_is_dropped_beyond_the_window_with_one_note)
{
    pw_child_lines_t lines;
    start(&lines, "iso", 42);
    for (int i = 0; i < PW_CHILD_LOG_LINES + 500; i++)
        pw_child_lines_feed(&lines, "spam\n", 5, 1000 + (uint64_t)i % 10);
    CHECK(got_lines == PW_CHILD_LOG_LINES);
    uint64_t wait = pw_child_lines_tick(&lines, 1500);
    CHECK(wait == 500);
    CHECK(got_lines == PW_CHILD_LOG_LINES);
    CHECK(pw_child_lines_tick(&lines, 2000) == 0);         /* the window ends: its note */
    CHECK(got_lines == PW_CHILD_LOG_LINES + 1);
    CHECK(strstr(got, "\npyworkerd: service main: isolate 42: 500 lines of output dropped") != NULL);
    pw_child_lines_feed(&lines, "again\n", 6, 2001);         /* a new window has room */
    CHECK(got_lines == PW_CHILD_LOG_LINES + 2);
    CHECK(pw_child_lines_tick(&lines, 5000) == 0);
    CHECK(got_lines == PW_CHILD_LOG_LINES + 2);             /* nothing dropped: no note */
}

TEST(bytes_are_limited_too)
{
    pw_child_lines_t lines;
    start(&lines, "iso", 42);
    char line[PW_CHILD_LOG_MAX_LINE + 1];
    memset(line, 'y', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    int fit = PW_CHILD_LOG_BYTES / (int)sizeof line;
    for (int i = 0; i < fit + 20; i++)
        pw_child_lines_feed(&lines, line, sizeof line, 1000);
    CHECK(got_lines == fit);
    pw_child_lines_finish(&lines, 1001);
    CHECK(strstr(got, "isolate 42: 20 lines of output dropped") != NULL);
}

TEST(the_reader_tags_a_pipe_and_ends_at_end_of_file)
{
    int p[2], err[2];
    CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
    CHECK(pipe2(err, O_CLOEXEC | O_NONBLOCK) == 0);
    int saved = dup(STDERR_FILENO);
    dup2(err[1], STDERR_FILENO);
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_timer_t alive;               /* the reader never keeps a loop running by itself */
    uv_timer_init(&loop, &alive);
    uv_timer_start(&alive, (uv_timer_cb)abort, 60000, 0);
    pw_child_log_t *log = pw_child_log_open(&loop, p[0], "svc", "iso", 99);
    CHECK(log != NULL);
    CHECK(write(p[1], "one\ntw", 6) == 6);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(write(p[1], "o\n", 2) == 2);
    close(p[1]);
    for (int i = 0; i < 10; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    dup2(saved, STDERR_FILENO);
    close(saved);
    uv_close((uv_handle_t *)&alive, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    char buf[256] = "";
    ssize_t n = read(err[0], buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    CHECK_STR(buf, "[svc iso 99] one\n[svc iso 99] two\n");
    CHECK(uv_loop_close(&loop) == 0);       /* the reader closed its handles and freed itself */
    close(err[0]);
    close(err[1]);
}

int main(void)
{
    RUN(every_line_is_tagged_with_its_process);
    RUN(control_characters_cannot_hide_the_tag);
    RUN(partial_lines_wait_for_their_newline_and_go_out_at_the_end);
    RUN(long_lines_are_split);
    RUN(a_flood_is_dropped_beyond_the_window_with_one_note);
    RUN(bytes_are_limited_too);
    RUN(the_reader_tags_a_pipe_and_ends_at_end_of_file);
    return UNIT_DONE();
}
