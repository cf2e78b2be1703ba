/* stdio.h — a worker process's standard descriptors (template and isolate, right after
 * fork): fds 1 and 2 become the write end of a pipe of its own that the host reads and tags
 * (host/child_log.h), never the host's stdout/stderr.
 */
#ifndef PW_STDIO_H
#define PW_STDIO_H

/* Makes fd (a pipe's write end, passed by the host) this process's fds 1 and 2 and closes
 * it; fd < 0 (none passed) makes them /dev/null. Python's sys.stdout/sys.stderr, which
 * write to fds 1/2, go there from then on. Returns 0 or -errno (the process must then
 * exit: it would still hold the host's descriptors). */
int pw_stdio_adopt(int fd);

#endif
