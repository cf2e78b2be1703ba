/* wakeup_cost.c — what one hop between two processes costs on this machine (bench/wakeup_cost;
 * issue 16's "µs per hop"). Runs as one process and a forked child, nothing of pyworkerd.
 *
 * A WebSocket echo through pyworkerd crosses four processes' waits per message (client →
 * host → isolate → host → client), a single-process server two. This measures, on the same
 * machine: one system call (poll with a zero timeout), and a 1-byte ping-pong over a Unix
 * socketpair, the way host and isolate talk, in three forms: both sides sleep in poll(2)
 * (two wake-ups per round trip), the child spins on poll(0) instead (one), both spin (none).
 * Prints wall µs per round trip and each side's CPU µs per round trip (getrusage).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static double cpu_us(int who)
{
    struct rusage r;
    getrusage(who, &r);
    return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
}

/* Waits until fd is readable: sleeping in poll(2), or spinning on poll with a zero timeout. */
static int wait_readable(int fd, int spin)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    int n;
    do
        n = poll(&pfd, 1, spin ? 0 : -1);
    while (n == 0 || (n < 0 && errno == EINTR));
    return n < 0 ? -1 : 0;
}

/* One byte there and back `rounds` times; returns -1 on an I/O error. */
static int bounce(int fd, int rounds, int spin, int first)
{
    char c = 'x';
    for (int i = 0; i < rounds; i++) {
        if (first && write(fd, &c, 1) != 1)
            return -1;
        if (wait_readable(fd, spin) < 0 || read(fd, &c, 1) != 1)
            return -1;
        if (!first && write(fd, &c, 1) != 1)
            return -1;
    }
    return 0;
}

static int ping_pong(const char *name, int rounds, int parent_spins, int child_spins)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(sv[0]);
        _exit(bounce(sv[1], rounds, child_spins, 0) < 0);
    }
    close(sv[1]);
    double cpu0 = cpu_us(RUSAGE_SELF), child0 = cpu_us(RUSAGE_CHILDREN);
    uint64_t t0 = now_ns();
    int rc = bounce(sv[0], rounds, parent_spins, 1);
    uint64_t wall = now_ns() - t0;
    int status;
    waitpid(pid, &status, 0);
    close(sv[0]);
    if (rc < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    printf("%-40s %7.1f us per round trip; CPU %5.1f us (parent) + %5.1f us (child)\n", name,
           wall / 1e3 / rounds, (cpu_us(RUSAGE_SELF) - cpu0) / rounds,
           (cpu_us(RUSAGE_CHILDREN) - child0) / rounds);
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 20000;
    int calls = 200000;
    struct pollfd pfd = { .fd = 0, .events = POLLIN };
    uint64_t t0 = now_ns();
    for (int i = 0; i < calls; i++)
        poll(&pfd, 1, 0);
    printf("%-40s %7.2f us\n", "one system call (poll, zero timeout)", (now_ns() - t0) / 1e3 / calls);
    if (ping_pong("ping-pong, both sleep (2 wake-ups)", rounds, 0, 0) < 0 ||
        ping_pong("ping-pong, child spins (1 wake-up)", rounds, 0, 1) < 0 ||
        ping_pong("ping-pong, both spin (no wake-up)", rounds, 1, 1) < 0) {
        perror("ping-pong");
        return 1;
    }
    return 0;
}
