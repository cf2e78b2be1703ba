/* test_limits.c — the host's CPU accounting of isolates (credit per request, work after the
 * response, burning isolates) and how an isolate's end is described, plus the pidfd that
 * tells it (host/limits.h). */
#include "unit.h"
#include "host/limits.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIMIT 1000
#define TICK 100

/* A little model of an isolate: its CPU time, requests in flight and sent. */
typedef struct {
    pw_cpu_account_t a;
    uint64_t cpu, calls;
    size_t inflight;
} model_t;

static int tick(model_t *m, uint64_t used, int running)
{
    m->cpu += used;
    return pw_cpu_account_tick(&m->a, m->cpu, running, m->inflight, m->calls, LIMIT, TICK);
}

static model_t fresh(void)
{
    model_t m = { .cpu = 5000 };
    CHECK(tick(&m, 0, 0) == PW_CPU_OK);     /* the first sample: its start is not charged */
    return m;
}

TEST(stuck_request_is_over_after_its_limit)
{
    model_t m = fresh();
    m.calls = 1, m.inflight = 1;
    int over = PW_CPU_OK, ticks = 0;
    while (over == PW_CPU_OK && ticks < 100) {
        over = tick(&m, TICK, 1);
        ticks++;
    }
    CHECK(over == PW_CPU_OVER_BUSY);
    CHECK(ticks == 11);     /* 1000 ms is still within the limit, 1100 ms is not */
}

TEST(busy_isolate_serving_short_requests_is_never_over)
{
    model_t m = fresh();
    for (int i = 0; i < 1000; i++) {
        m.calls += 50;          /* 50 requests of 2 ms per tick, one always in flight */
        m.inflight = 1;
        CHECK(tick(&m, TICK, 1) == PW_CPU_OK);
        CHECK(!m.a.burning);
    }
}

TEST(work_after_the_response_uses_what_its_request_left)
{
    model_t m = fresh();
    m.calls = 1;                /* a 20 ms request, answered within the tick */
    CHECK(tick(&m, 20, 1) == PW_CPU_OK);
    CHECK(!m.a.burning);        /* the request was in this tick */
    int over = PW_CPU_OK, ticks = 0;
    uint64_t burnt = 0;
    while (over == PW_CPU_OK && ticks < 100) {
        over = tick(&m, TICK, 1);   /* then waitUntil() burns */
        burnt += TICK;
        ticks++;
        if (over == PW_CPU_OK)
            CHECK(m.a.busy_idle && m.a.burning == (ticks >= 2));
    }
    CHECK(over == PW_CPU_OVER_IDLE);
    CHECK(burnt + 20 > LIMIT && burnt + 20 <= LIMIT + TICK);
}

TEST(leftover_of_many_requests_is_capped_at_one_limit)
{
    model_t m = fresh();
    m.calls = 100, m.inflight = 1;
    CHECK(tick(&m, 10, 1) == PW_CPU_OK);
    m.inflight = 0;             /* 100 short requests left 99 limits unused */
    CHECK(tick(&m, 0, 0) == PW_CPU_OK);
    CHECK(m.a.credit_ms <= LIMIT);
    uint64_t burnt = 0;
    while (tick(&m, TICK, 1) == PW_CPU_OK && burnt < 100 * LIMIT)
        burnt += TICK;
    CHECK(burnt <= LIMIT);
}

TEST(next_request_of_a_quiet_isolate_starts_from_nothing)
{
    model_t m = fresh();
    m.calls = 1;
    CHECK(tick(&m, 100, 0) == PW_CPU_OK);   /* leaves 900 */
    CHECK(tick(&m, 0, 0) == PW_CPU_OK);     /* quiet */
    m.calls = 2, m.inflight = 1;            /* a stuck request: its own limit, no more */
    int ticks = 0;
    while (tick(&m, TICK, 1) == PW_CPU_OK && ticks < 100)
        ticks++;
    CHECK(ticks == 10);
}

TEST(a_drip_with_nothing_in_flight_is_over_once_the_leftover_is_used)
{
    model_t m = fresh();
    int over = PW_CPU_OK, ticks = 0;
    while (over == PW_CPU_OK && ticks < 10000) {
        over = tick(&m, 10, 0);     /* 10 % of a core, never sampled running */
        ticks++;
        CHECK(!m.a.burning);
    }
    CHECK(over == PW_CPU_OVER_IDLE);
    CHECK(ticks == 101);
}

TEST(burning_needs_two_whole_idle_ticks_of_a_running_isolate)
{
    model_t m = fresh();
    m.calls = 1, m.inflight = 1;
    CHECK(tick(&m, 50, 1) == PW_CPU_OK);
    CHECK(!m.a.burning);            /* a request in flight */
    m.inflight = 0;
    CHECK(tick(&m, 50, 1) == PW_CPU_OK);
    CHECK(!m.a.burning);            /* it was in flight at the start of this tick */
    CHECK(tick(&m, 50, 0) == PW_CPU_OK);
    CHECK(!m.a.burning);            /* sleeping now */
    CHECK(tick(&m, 10, 1) == PW_CPU_OK);
    CHECK(m.a.busy_idle && !m.a.burning);   /* one tick: a blip */
    CHECK(tick(&m, 10, 1) == PW_CPU_OK);
    CHECK(m.a.burning);             /* two in a row */
    CHECK(tick(&m, 0, 1) == PW_CPU_OK);
    CHECK(!m.a.burning && !m.a.busy_idle);  /* no CPU used */
}

TEST(burning_for_the_after_response_time_is_over_whatever_the_credit)
{
    pw_cpu_account_t a = { 0 };
    uint64_t cpu = 0;
    /* an endless credit: a huge limit; it burns 10 % of a core, sampled running each tick */
    CHECK(pw_cpu_account_tick(&a, cpu, 0, 0, 0, 1000000000, TICK) == PW_CPU_OK);
    int over = PW_CPU_OK, ticks = 0;
    while (over == PW_CPU_OK && ticks < 1000) {
        cpu += 10;
        over = pw_cpu_account_tick(&a, cpu, 1, 0, 0, 1000000000, TICK);
        ticks++;
    }
    CHECK(over == PW_CPU_OVER_IDLE);
    CHECK(ticks == PW_CPU_AFTER_RESPONSE_MS / TICK);
}

TEST(cpu_of_this_process_is_read)
{
    uint64_t ms = 0;
    int running = 0;
    CHECK(pw_limits_cpu_ms(getpid(), &ms, &running) == 0);
    CHECK(running == 1);
    CHECK(pw_limits_cpu_ms(-5, &ms, NULL) < 0);
    CHECK(pw_limits_exiting(getpid()) == 0);
    CHECK(pw_limits_exiting(-5) == 1);
}

TEST(exit_descriptions)
{
    char buf[128];
    CHECK_STR(pw_exit_describe(7 << 8, buf, sizeof buf), "it exited with status 7");
    CHECK_STR(pw_exit_describe(SIGSYS, buf, sizeof buf),
              "it was killed by SIGSYS: a forbidden system call");
    CHECK_STR(pw_exit_describe(SIGSEGV | 0x80, buf, sizeof buf),
              "it was killed by SIGSEGV: segmentation fault: an invalid memory access");
    CHECK_STR(pw_exit_describe(SIGUSR1, buf, sizeof buf), "it was killed by SIGUSR1");
}

/* A grandchild whose parent ignores SIGCHLD (as a template's isolates): the kernel reaps it
 * at once, and its pidfd still tells how it ended (Linux 6.15 and later). */
TEST(pidfd_tells_how_a_process_that_is_not_our_child_ended)
{
    int up[2], down[2];     /* up: the pid to us; down: "go" to the grandchild */
    CHECK(pipe(up) == 0 && pipe(down) == 0);
    pid_t mid = fork();
    if (mid == 0) {
        signal(SIGCHLD, SIG_IGN);
        pid_t child = fork();
        if (child == 0) {
            char go;
            if (read(down[0], &go, 1) == 1)
                raise(SIGSYS);
            _exit(3);
        }
        if (write(up[1], &child, sizeof child) != (ssize_t)sizeof child)
            _exit(1);
        pause();
        _exit(0);
    }
    pid_t child = 0;
    CHECK(read(up[0], &child, sizeof child) == (ssize_t)sizeof child);
    int pidfd = pw_exit_pidfd_open(child);
    CHECK(pidfd >= 0);
    int status = -1;
    CHECK(pw_exit_status(pidfd, &status) == 0);     /* still running */
    CHECK(write(down[1], "x", 1) == 1);
    int rc = 0;
    for (int i = 0; i < 1000 && (rc = pw_exit_status(pidfd, &status)) == 0; i++)
        usleep(1000);
    if (rc < 0) {
        fprintf(stderr, "  (this kernel cannot tell a pidfd's exit status: %d)\n", rc);
    } else {
        CHECK(rc == 1);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
    }
    close(pidfd);
    kill(mid, SIGKILL);
    waitpid(mid, NULL, 0);
    for (int i = 0; i < 2; i++) {
        close(up[i]);
        close(down[i]);
    }
}

int main(void)
{
    RUN(stuck_request_is_over_after_its_limit);
    RUN(busy_isolate_serving_short_requests_is_never_over);
    RUN(work_after_the_response_uses_what_its_request_left);
    RUN(leftover_of_many_requests_is_capped_at_one_limit);
    RUN(next_request_of_a_quiet_isolate_starts_from_nothing);
    RUN(a_drip_with_nothing_in_flight_is_over_once_the_leftover_is_used);
    RUN(burning_needs_two_whole_idle_ticks_of_a_running_isolate);
    RUN(burning_for_the_after_response_time_is_over_whatever_the_credit);
    RUN(cpu_of_this_process_is_read);
    RUN(exit_descriptions);
    RUN(pidfd_tells_how_a_process_that_is_not_our_child_ended);
    return UNIT_DONE();
}
