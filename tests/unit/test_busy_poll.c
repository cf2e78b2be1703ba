/* test_busy_poll.c — an isolate's wait for its socket (python/busy_poll.h) over a real
 * socketpair: it returns when bytes or the end arrive; it polls only when warm (the last wait
 * was short) and busy (little time between work spent waiting); a long wait makes it cold,
 * and waits long against the work make it not busy. Whether it polled is read from the
 * thread's CPU time: a poll window burns CPU, a sleep does not. */
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "unit.h"
#include "python/busy_poll.h"

#define WINDOW_NS 2000000       /* 2 ms: long enough to see in CPU time under a sanitizer */

typedef struct {
    int fd;
    unsigned delay_ms;
} late_write_t;

static void *write_late(void *arg)
{
    late_write_t *w = arg;
    usleep(w->delay_ms * 1000);
    CHECK(write(w->fd, "x", 1) == 1);
    return NULL;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Waits on sv[0] while another thread writes to sv[1] after delay_ms; returns the CPU time
 * this thread used meanwhile, and drains the byte. */
static uint64_t wait_for_late_byte(pw_busy_poll_t *bp, int sv[2], unsigned delay_ms)
{
    late_write_t w = { sv[1], delay_ms };
    pthread_t writer;
    CHECK(pthread_create(&writer, NULL, write_late, &w) == 0);
    uint64_t before = thread_cpu_ns();
    CHECK(pw_busy_poll_wait(bp, sv[0]) == 0);
    uint64_t used = thread_cpu_ns() - before;
    pthread_join(writer, NULL);
    char c;
    CHECK(read(sv[0], &c, 1) == 1);
    return used;
}

/* The least CPU time of three 30 ms waits, each from the state `warm` and `busy`: a wait that
 * sleeps shows next to nothing in at least one of them (on a shared VM, time the hypervisor
 * took from the vCPU can be counted to the thread: CI once saw > 0.5 ms for a sleep), while a
 * wait that polls its window shows it in every one. */
static uint64_t least_cpu_of_three_waits(pw_busy_poll_t *bp, int sv[2], int warm, double busy)
{
    uint64_t least = UINT64_MAX;
    for (int i = 0; i < 3; i++) {
        bp->warm = warm;
        bp->busy = busy;
        uint64_t used = wait_for_late_byte(bp, sv, 30);
        if (used < least)
            least = used;
    }
    return least;
}

/* A socketpair, and a wait state for its sv[0] end that is `warm` and `busy` as given. */
static void open_pair(int sv[2], pw_busy_poll_t *bp, int warm, double busy)
{
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    pw_busy_poll_init(bp, WINDOW_NS);
    bp->warm = warm;
    bp->busy = busy;
}

static void close_pair(int sv[2])
{
    close(sv[0]);
    close(sv[1]);
}

TEST(returns_at_once_when_bytes_wait_and_turns_warm)
{
    int sv[2];
    pw_busy_poll_t bp;
    open_pair(sv, &bp, 0, 0);
    CHECK(bp.warm == 0);
    CHECK(write(sv[1], "x", 1) == 1);
    CHECK(pw_busy_poll_wait(&bp, sv[0]) == 0);
    CHECK(bp.warm == 1);
    close_pair(sv);
}

TEST(a_cold_wait_sleeps_and_a_long_one_stays_cold)
{
    int sv[2];
    pw_busy_poll_t bp;
    open_pair(sv, &bp, 0, 0);
    CHECK(least_cpu_of_three_waits(&bp, sv, 0, 0) < WINDOW_NS / 4);
    CHECK(bp.warm == 0);
    close_pair(sv);
}

TEST(a_warm_busy_wait_polls_then_sleeps_and_turns_cold)
{
    int sv[2];
    pw_busy_poll_t bp;
    open_pair(sv, &bp, 1, 0.95);
    CHECK(pw_busy_poll_will_poll(&bp));
    uint64_t used = wait_for_late_byte(&bp, sv, 30);
    CHECK(used >= WINDOW_NS / 4);       /* it polled for (most of) its window */
    CHECK(used < 20000000);             /* and then slept through the rest of the 30 ms */
    CHECK(bp.warm == 0);
    close_pair(sv);
}

TEST(an_isolate_with_slack_never_polls)
{
    int sv[2];
    pw_busy_poll_t bp;
    open_pair(sv, &bp, 1, 0.4);
    CHECK(!pw_busy_poll_will_poll(&bp));
    CHECK(least_cpu_of_three_waits(&bp, sv, 1, 0.4) < WINDOW_NS / 4);
    close_pair(sv);
}

/* Work of `work_ms` between waits of about `wait_ms` (the byte comes that late), n times. */
static void work_and_wait(pw_busy_poll_t *bp, int sv[2], unsigned work_ms, unsigned wait_ms, int n)
{
    for (int i = 0; i < n; i++) {
        usleep(work_ms * 1000);
        wait_for_late_byte(bp, sv, wait_ms);
    }
}

TEST(busy_follows_the_share_of_time_spent_working)
{
    int sv[2];
    pw_busy_poll_t bp;
    open_pair(sv, &bp, 0, 0);
    wait_for_late_byte(&bp, sv, 0);             /* the first wait only starts the clock */
    CHECK(bp.busy == 0);
    work_and_wait(&bp, sv, 40, 1, 30);          /* ~97 % working */
    CHECK(bp.busy > PW_BUSY_POLL_MIN_BUSY);
    work_and_wait(&bp, sv, 1, 40, 30);          /* ~3 % */
    CHECK(bp.busy < PW_BUSY_POLL_MIN_BUSY);
    CHECK(!pw_busy_poll_will_poll(&bp));
    close_pair(sv);
}

TEST(the_peers_end_and_a_closed_descriptor_end_the_wait)
{
    int sv[2];
    pw_busy_poll_t bp;
    open_pair(sv, &bp, 0, 0);
    close(sv[1]);
    CHECK(pw_busy_poll_wait(&bp, sv[0]) == 0);  /* readable: the read that follows sees 0 */
    char c;
    CHECK(read(sv[0], &c, 1) == 0);
    close(sv[0]);
    bp.warm = 1;
    bp.busy = 1;
    CHECK(pw_busy_poll_wait(&bp, sv[0]) == 0);  /* POLLNVAL: the read that follows fails */
    CHECK(read(sv[0], &c, 1) < 0);
}

int main(void)
{
    RUN(returns_at_once_when_bytes_wait_and_turns_warm);
    RUN(a_cold_wait_sleeps_and_a_long_one_stays_cold);
    RUN(a_warm_busy_wait_polls_then_sleeps_and_turns_cold);
    RUN(an_isolate_with_slack_never_polls);
    RUN(busy_follows_the_share_of_time_spent_working);
    RUN(the_peers_end_and_a_closed_descriptor_end_the_wait);
    return UNIT_DONE();
}
