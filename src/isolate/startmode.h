/* startmode.h — the baseline and cold start types (template and cold isolate processes):
 * see startmode.c. */
#ifndef PW_STARTMODE_H
#define PW_STARTMODE_H

#include <stddef.h>
#include <stdint.h>

/* Loads the worker in a throwaway child (fenced like a template when `fence`). Returns 0, or
 * -1 with the traceback in err (give it PW_ERR_TEXT_MAX bytes). */
int pw_startmode_probe_worker(const char *spec_path, int fence, char *err, size_t err_len);
/* Starts a cold isolate serving on isolate_fd, with stdio_fd (when >= 0) as its fds 1 and 2;
 * returns its pid or -errno. */
int pw_startmode_spawn_cold(int isolate_fd, int stdio_fd, const char *spec_path);
/* A cold isolate's process: exec'd by a template, loads the worker, then serves fd. */
int pw_cold_isolate_main(int fd, const char *spec_path, int trace, uint64_t since_ns);

#endif
