/* stdio.h — a worker process's standard descriptors (template and isolate, right after
 * fork): fds 1 and 2 become the write end of a pipe of its own that the host reads and tags
 * (host/child_log.h), never the host's stdout/stderr.
 */
#ifndef PW_STDIO_H
#define PW_STDIO_H

/* Makes fd (a pipe's write end, passed by the host) this process's fds 1 and 2 and closes
 * it; fd < 0 (none passed) makes them /dev/null. *keep (the process's socket, or NULL) is
 * moved above 2 first if it is 1 or 2 (a parent whose worker code closed its own fds 1/2
 * receives descriptors there). Python's sys.stdout/sys.stderr, which write to fds 1/2, go
 * to the pipe from then on. Returns 0 or -errno (the process must then exit: it may still
 * hold the host's descriptors). */
int pw_stdio_adopt(int fd, int *keep);

#endif
