/* startup_limits.h — bounds on a worker's top-level code (template process). While the
 * template imports the worker, its CPU time is capped by RLIMIT_CPU (the worker's CPU limit)
 * and its wall-clock time by alarm(); past either, a TEMPLATE_FAILED message saying which
 * limit was hit is sent to the host from the signal handler, and the template exits, so an
 * endless loop at top level fails `serve` with a message instead of hanging it.
 */
#ifndef PW_STARTUP_LIMITS_H
#define PW_STARTUP_LIMITS_H

/* Arms the limits for loading (cpu_limit_ms 0: none). The messages are built here, so the
 * signal handlers only send and exit. */
void pw_startup_limits_arm(int ctl_fd, unsigned cpu_limit_ms);
/* Disarms them once the worker is loaded: the template then only forks isolates, which set
 * their own limits. */
void pw_startup_limits_disarm(void);
/* The wall-clock bound for a CPU limit: twice it, at least 60 s (0 when there is no limit).
 * The guard (guard.c) enforces it too, a few seconds later, from outside the template. */
unsigned pw_startup_wall_limit_s(unsigned cpu_limit_ms);

#endif
