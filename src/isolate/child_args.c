/* child_args.c — parses the hidden command line of the zygote and cold isolate processes
 * (run by them, first thing: isolate_main.c, python/module.c); child_args.h has its grammar.
 * The host's own options (config/cli.c) are not known here: these processes are only ever
 * started by pyworkerd itself, with exactly what isolate/child_command.h's callers pass.
 */
#include "isolate/child_args.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage_error(char *err, size_t err_len, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(err, err_len, "pyworkerd: %s\nTry 'pyworkerd --help' for more information.", detail);
    return -1;
}

/* A descriptor number: "0", or 1 to INT_MAX in decimal. */
static int parse_fd(const char *s, int *fd)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (strcmp(s, "0") == 0)
        v = 0;
    else if (errno || end == s || *end || v < 1 || v > INT_MAX)
        return -1;
    *fd = (int)v;
    return 0;
}

/* The flags from argv[first] on; `mode` ("--zygote", "--isolate") names it in errors. */
static int parse_flags(int argc, char **argv, int first, const char *mode, pw_child_args_t *args,
                       char *err, size_t err_len)
{
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        char *end;
        if (strcmp(arg, "--trace") == 0) {
            args->trace = 1;
        } else if (strncmp(arg, "--snapshot=", 11) == 0 && pw_snapshot_parse(arg + 11, &args->snapshot) == 0) {
            continue;
        } else if (strncmp(arg, "--since=", 8) == 0 && arg[8]) {
            errno = 0;
            args->since_ns = strtoull(arg + 8, &end, 10);
            if (errno || *end)
                return usage_error(err, err_len, "%s: %s: expected nanoseconds", mode, arg);
        } else {
            return usage_error(err, err_len, "%s: %s: unrecognized option", mode, arg);
        }
    }
    return 0;
}

int pw_child_args_parse(int argc, char **argv, pw_child_args_t *args, char *err, size_t err_len)
{
    memset(args, 0, sizeof *args);
    args->fd = -1;
    if (argc >= 2 && strcmp(argv[1], "--zygote") == 0) {
        if (argc < 3 || parse_fd(argv[2], &args->fd) < 0)
            return usage_error(err, err_len, "--zygote: expected a file descriptor");
        args->mode = PW_CHILD_ZYGOTE;
        return parse_flags(argc, argv, 3, "--zygote", args, err, err_len);
    }
    if (argc >= 2 && strcmp(argv[1], "--isolate") == 0) {
        if (argc < 4 || parse_fd(argv[2], &args->fd) < 0)
            return usage_error(err, err_len, "--isolate: expected a file descriptor and a spec path");
        args->mode = PW_CHILD_ISOLATE;
        args->spec_path = argv[3];
        return parse_flags(argc, argv, 4, "--isolate", args, err, err_len);
    }
    return 1;
}
