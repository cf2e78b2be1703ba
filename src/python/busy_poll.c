/* busy_poll.c — an isolate's wait for its socket: a short poll window under load, then
 * sleep (isolate process; busy_poll.h says why).
 */
#include "python/busy_poll.h"
#include "base/log.h"

#include <errno.h>
#include <poll.h>

#define PAUSES_PER_POLL 32

static void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

void pw_busy_poll_init(pw_busy_poll_t *bp, uint64_t window_ns)
{
    bp->window_ns = window_ns;
    bp->warm = 0;
    bp->busy = 0;
    bp->last_wait_end_ns = 0;
}

int pw_busy_poll_will_poll(const pw_busy_poll_t *bp)
{
    return bp->warm && bp->busy >= PW_BUSY_POLL_MIN_BUSY;
}

/* Folds one work period (from the end of the last wait to the start of this one) and this
 * wait into the moving average `busy`, weight 1/8. */
static void note_wait(pw_busy_poll_t *bp, uint64_t started, uint64_t ended)
{
    if (bp->last_wait_end_ns) {
        double work = (double)(started - bp->last_wait_end_ns);
        double total = work + (double)(ended - started);
        if (total > 0)
            bp->busy += (work / total - bp->busy) / 8;
    }
    bp->last_wait_end_ns = ended;
    bp->warm = ended - started <= bp->window_ns;
}

/* 1 when fd is ready now, 0 when not, -1 on an error of poll(2) itself. */
static int ready_now(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    int n = poll(&pfd, 1, 0);
    return n < 0 && errno != EINTR ? -1 : n > 0;
}

/* Polls until fd is ready or `until` passes: 1 ready, 0 not, -1 error. */
static int poll_until(int fd, uint64_t until)
{
    do {
        int ready = ready_now(fd);
        if (ready != 0)
            return ready;
        for (int i = 0; i < PAUSES_PER_POLL; i++)
            cpu_pause();
    } while (pw_trace_clock() < until);
    return 0;
}

static int sleep_until_ready(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    while (poll(&pfd, 1, -1) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

int pw_busy_poll_wait(pw_busy_poll_t *bp, int fd)
{
    uint64_t started = pw_trace_clock();
    int ready = pw_busy_poll_will_poll(bp) ? poll_until(fd, started + bp->window_ns) : 0;
    if (ready < 0 || (ready == 0 && sleep_until_ready(fd) < 0))
        return -1;
    note_wait(bp, started, pw_trace_clock());
    return 0;
}
