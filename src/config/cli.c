/* cli.c — parses `pyworkerd <command> [options]` into a pw_cli_t (host process, first thing in
 * main). Option syntax and usage errors follow workerd's (kj::MainBuilder): `--opt=v`,
 * `--opt v`, `-sX`, `-s X`, `--` ends options, and a usage error reads
 * "pyworkerd serve: <detail>\nTry 'pyworkerd serve --help' for more information.".
 * Nothing here prints or exits; strings in the result point into argv or into the pw_cli_t.
 */
#include "config/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char top_help[] =
    "Usage: pyworkerd <command> [<arg>...]\n"
    "\n"
    "Runs Cloudflare-style Python Workers from a workerd config, with native CPython.\n"
    "\n"
    "Commands:\n"
    "  serve    Run the server.\n"
    "  test     Run the workers' test handlers.\n"
    "  help     Show help for a command.\n"
    "\n"
    "See 'pyworkerd help <command>' for more information on a specific command.\n"
    "\n"
    "Options:\n"
    "    --version\n"
    "        Print version information and exit.\n"
    "    --help\n"
    "        Display this help text and exit.";

static const char serve_help[] =
    "Usage: pyworkerd serve [<option>...] <config-file> [<const-name>]\n"
    "\n"
    "Serves the Python Workers of a workerd config. <config-file> is a Cap'n Proto text file\n"
    "that imports \"/workerd/workerd.capnp\" and defines a constant of type Config;\n"
    "<const-name> names it when the file defines more than one.\n"
    "\n"
    "Options:\n"
    "    -s<name>=<addr>, --socket-addr=<name>=<addr>\n"
    "        Override the address of the socket <name> in the config (e.g. http=*:8080).\n"
    "    -S<name>=<fd>, --socket-fd=<name>=<fd>\n"
    "        Serve the socket <name> on the listening socket <fd> (inherited, e.g. from\n"
    "        systemd) instead of its address.\n"
    "    -d<name>=<path>, --directory-path=<name>=<path>\n"
    "        Override the path of the disk service <name> in the config.\n"
    "    -e<name>=<addr>, --external-addr=<name>=<addr>\n"
    "        Override the address of the external service <name> in the config.\n"
    "    --control-fd=<fd>\n"
    "        Write a JSON line {\"event\":\"listen\",\"socket\":<name>,\"port\":<n>} to <fd> for\n"
    "        each socket once it listens (useful with port 0).\n"
    "    --experimental\n"
    "        Accepted for workerd compatibility (pyworkerd gates no feature behind it).\n"
    "    -I<dir>, --import-path=<dir>\n"
    "        Add <dir> to the directories searched for imports starting with '/'.\n"
    "    --isolates=<n>\n"
    "        Start <n> isolates per worker (default 1).\n"
    "    --min-isolates=<n>\n"
    "        Keep at least <n> isolates per worker serving, even when idle (default 1; 0\n"
    "        scales an idle worker to zero). --isolates=<n> is the same.\n"
    "    --max-isolates=<n>\n"
    "        Grow up to <n> isolates per worker while every isolate has 8 or more requests\n"
    "        in flight (default: the minimum, no growth).\n"
    "    --spare-isolates=<n>\n"
    "        Keep <n> pre-forked isolates per worker ready for growth and replacement\n"
    "        (default 1).\n"
    "    --idle-timeout=<seconds>\n"
    "        Stop an isolate above the minimum after <seconds> without requests (default 30).\n"
    "    -w, --watch\n"
    "        Rebuild a worker when its files or the config change, and swap the new version\n"
    "        in; a version that fails to load is logged and the previous one keeps serving.\n"
    "    --no-snapshot\n"
    "        Start every isolate cold: a new process that starts Python and imports the\n"
    "        worker (no fork of a worker template; for measuring start types).\n"
    "    --drain-timeout=<seconds>\n"
    "        On SIGTERM, wait up to <seconds> for requests in flight and for the isolates'\n"
    "        shutdown (ASGI lifespan) (default 10); a retired isolate that takes longer to\n"
    "        exit is killed.\n"
    "    --memory-limit=<MiB>\n"
    "        Memory an isolate may allocate beyond its template (default 128; 0: no limit).\n"
    "        Past it, Python raises MemoryError.\n"
    "    --cpu-limit-ms=<ms>\n"
    "        CPU time a request may use (default 30000; 0: no limit). An isolate that exceeds\n"
    "        it is killed and replaced; its requests get 503.\n"
    "    --request-timeout=<seconds>\n"
    "        Wall-clock time a request may take (default 0: no limit); then 504.\n"
    "    --max-concurrent-requests=<n>\n"
    "        Requests one isolate handles at once (default 0: no limit); others wait.\n"
    "    --persist-dir=<dir>\n"
    "        Keep state (KV namespaces of relative disk paths) under <dir>; \":memory:\" keeps\n"
    "        nothing on disk.\n"
    "    --fetch-timeout=<seconds>\n"
    "        Time an outbound fetch() may take, redirects included (default 30).\n"
    "    --no-sandbox\n"
    "        Run isolates without namespaces, seccomp, Landlock, rlimits and the audit hook\n"
    "        (only where user namespaces are unavailable; workers can then reach the host).\n"
    "    --no-access-log\n"
    "        Do not log one line per request.\n"
    "    --verbose\n"
    "        Log informational messages to stderr.\n"
    "    --version\n"
    "        Print version information and exit.\n"
    "    --help\n"
    "        Display this help text and exit.";

/* "pyworkerd serve" or "pyworkerd test": the command whose options are being parsed. */
static const char *command_name = "pyworkerd serve";

static const char test_help[] =
    "Usage: pyworkerd test [<option>...] <config-file> [<filter>]\n"
    "\n"
    "Runs the test handlers of the Python Workers of a workerd config, as `workerd test` does:\n"
    "`test(self, ctrl)` on the default and named WorkerEntrypoint classes (and a top-level\n"
    "`test(ctrl, env, ctx)` where top-level handlers are allowed). <filter> selects them:\n"
    "`service`, `service:Entrypoint` or `const:service:Entrypoint`, each part a glob (default\n"
    "`*`; the default entry point is named `default`). Prints `[ TEST ]`, then `[ PASS ]` or\n"
    "`[ FAIL ]` (with the traceback) per test; exits 0 when at least one test passed and none\n"
    "failed. Takes the options of `pyworkerd serve` (see `pyworkerd help serve`).";

/* Formats a usage error for `prog` ("pyworkerd" or command_name) and returns -1. */
static int usage_error(pw_cli_t *cli, const char *prog, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(cli->output, sizeof cli->output,
             "%s: %s\nTry '%s --help' for more information.", prog, detail, prog);
    return -1;
}

static int set_output(pw_cli_t *cli, pw_cmd_t cmd, const char *text)
{
    cli->cmd = cmd;
    snprintf(cli->output, sizeof cli->output, "%s", text);
    return 0;
}

static int set_version(pw_cli_t *cli)
{
    return set_output(cli, PW_CMD_VERSION, "pyworkerd " PW_VERSION);
}

/* ---- option values ---------------------------------------------------------------------- */

/* "<name>=<value>" into list[*n] (names[*n] holds the name). */
static int parse_override(pw_cli_t *cli, const char *opt, const char *value,
                          pw_socket_override_t *list, size_t *n, char (*names)[256])
{
    const char *eq = strchr(value, '=');
    if (!eq) return usage_error(cli, command_name, "%s: Expected <name>=<value>", opt);
    size_t len = (size_t)(eq - value);
    if (*n >= PW_CLI_MAX_LIST) return usage_error(cli, command_name, "%s: too many", opt);
    if (len >= sizeof names[*n]) {
        return usage_error(cli, command_name, "%s: name too long", opt);
    }
    memcpy(names[*n], value, len);
    names[*n][len] = '\0';
    list[*n].name = names[*n];
    list[*n].address = eq + 1;
    (*n)++;
    return 0;
}


static int parse_positive_int(const char *s, int max, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > max) return -1;
    *out = (int)v;
    return 0;
}

static int parse_count(const char *s, int max, int *out)
{
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    return parse_positive_int(s, max, out);
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 86400 * 365) return -1;
    *out = v;
    return 0;
}

static int parse_snapshot(const char *s, pw_cli_snapshot_t *out)
{
    static const char *const names[] = { "package", "baseline", "none" };
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (pw_cli_snapshot_t)i;
            return 0;
        }
    return -1;
}

static int parse_fd(const char *s, int *fd)
{
    if (strcmp(s, "0") == 0) {
        *fd = 0;
        return 0;
    }
    return parse_positive_int(s, INT_MAX, fd);
}

/* ---- serve -------------------------------------------------------------------------------- */

typedef enum { OPT_SOCKET, OPT_IMPORT, OPT_ISOLATES, OPT_DRAIN, OPT_VERBOSE, OPT_NO_ACCESS_LOG,
               OPT_NO_SNAPSHOT, OPT_SNAPSHOT, OPT_MIN_ISOLATES, OPT_MAX_ISOLATES, OPT_SPARE_ISOLATES,
               OPT_IDLE_TIMEOUT, OPT_WATCH,
               OPT_HELP, OPT_VERSION, OPT_MEMORY, OPT_CPU, OPT_TIMEOUT, OPT_MAX_CONCURRENT,
               OPT_NO_SANDBOX, OPT_PERSIST_DIR, OPT_FETCH_TIMEOUT, OPT_SOCKET_FD, OPT_DIRECTORY,
               OPT_EXTERNAL, OPT_CONTROL_FD, OPT_EXPERIMENTAL } opt_id_t;

typedef struct {
    char short_name;        /* 0: none */
    const char *long_name;
    int takes_value;
    opt_id_t id;
} opt_t;

static const opt_t serve_opts[] = {
    { 's', "socket-addr", 1, OPT_SOCKET },
    { 'S', "socket-fd", 1, OPT_SOCKET_FD },
    { 'd', "directory-path", 1, OPT_DIRECTORY },
    { 'e', "external-addr", 1, OPT_EXTERNAL },
    { 0, "control-fd", 1, OPT_CONTROL_FD },
    { 0, "experimental", 0, OPT_EXPERIMENTAL },
    { 'I', "import-path", 1, OPT_IMPORT },
    { 0, "isolates", 1, OPT_ISOLATES },
    { 0, "drain-timeout", 1, OPT_DRAIN },
    { 0, "verbose", 0, OPT_VERBOSE },
    { 0, "no-access-log", 0, OPT_NO_ACCESS_LOG },
    { 0, "no-snapshot", 0, OPT_NO_SNAPSHOT },
    { 0, "min-isolates", 1, OPT_MIN_ISOLATES },
    { 0, "max-isolates", 1, OPT_MAX_ISOLATES },
    { 0, "spare-isolates", 1, OPT_SPARE_ISOLATES },
    { 0, "idle-timeout", 1, OPT_IDLE_TIMEOUT },
    { 'w', "watch", 0, OPT_WATCH },
    { 0, "snapshot", 1, OPT_SNAPSHOT },     /* hidden (bench): package, baseline or none */
    { 0, "memory-limit", 1, OPT_MEMORY },
    { 0, "cpu-limit-ms", 1, OPT_CPU },
    { 0, "request-timeout", 1, OPT_TIMEOUT },
    { 0, "max-concurrent-requests", 1, OPT_MAX_CONCURRENT },
    { 0, "no-sandbox", 0, OPT_NO_SANDBOX },
    { 0, "persist-dir", 1, OPT_PERSIST_DIR },
    { 0, "fetch-timeout", 1, OPT_FETCH_TIMEOUT },
    { 0, "help", 0, OPT_HELP },
    { 0, "version", 0, OPT_VERSION },
};

#define N_SERVE_OPTS (sizeof serve_opts / sizeof serve_opts[0])

static const opt_t *find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < N_SERVE_OPTS; i++) {
        if (strlen(serve_opts[i].long_name) == len && strncmp(serve_opts[i].long_name, name, len) == 0) {
            return &serve_opts[i];
        }
    }
    return NULL;
}

static const opt_t *find_short(char c)
{
    for (size_t i = 0; i < N_SERVE_OPTS; i++) {
        if (serve_opts[i].short_name && serve_opts[i].short_name == c) return &serve_opts[i];
    }
    return NULL;
}

static int parse_pool_size(pw_cli_t *cli, opt_id_t id, const char *as_written, const char *value)
{
    int n;
    if (parse_count(value, 4096, &n) < 0 || (id == OPT_MAX_ISOLATES && n == 0)) {
        return usage_error(cli, command_name, "%s: expected a%s integer, got \"%s\"", as_written,
                           id == OPT_MAX_ISOLATES ? " positive" : " non-negative", value);
    }
    if (id == OPT_MIN_ISOLATES)
        cli->isolates = n;
    else if (id == OPT_MAX_ISOLATES)
        cli->max_isolates = n;
    else
        cli->spare_isolates = n;
    return 0;
}

/* Applies one option. Returns 1 when parsing should stop with success (--help, --version). */
static int apply_option(pw_cli_t *cli, const opt_t *o, const char *as_written, const char *value)
{
    const char *prog = command_name;
    switch (o->id) {
    case OPT_SOCKET:
        return parse_override(cli, as_written, value, cli->socket_overrides,
                              &cli->n_socket_overrides, cli->socket_names);
    case OPT_SOCKET_FD: {
        int fd;
        size_t n = cli->n_socket_fds;
        if (parse_override(cli, as_written, value, cli->socket_fds, &cli->n_socket_fds,
                           cli->socket_fd_names) < 0) {
            return -1;
        }
        if (parse_fd(cli->socket_fds[n].address, &fd) < 0) {
            return usage_error(cli, prog, "%s: expected <name>=<file descriptor number>, got \"%s\"",
                               as_written, value);
        }
        return 0;
    }
    case OPT_DIRECTORY:
        return parse_override(cli, as_written, value, cli->directory_overrides,
                              &cli->n_directory_overrides, cli->directory_names);
    case OPT_EXTERNAL:
        return parse_override(cli, as_written, value, cli->external_overrides,
                              &cli->n_external_overrides, cli->external_names);
    case OPT_CONTROL_FD:
        if (parse_fd(value, &cli->control_fd) < 0) {
            return usage_error(cli, prog, "%s: expected a file descriptor number, got \"%s\"",
                               as_written, value);
        }
        return 0;
    case OPT_EXPERIMENTAL:
        return 0;   /* workerd's gate for experimental features: pyworkerd has none to gate */
    case OPT_IMPORT:
        if (cli->n_import_paths >= PW_CLI_MAX_LIST) return usage_error(cli, prog, "%s: too many", as_written);
        cli->import_paths[cli->n_import_paths++] = value;
        return 0;
    case OPT_ISOLATES:
        if (parse_positive_int(value, 4096, &cli->isolates) < 0) {
            return usage_error(cli, prog, "%s: expected a positive integer, got \"%s\"", as_written, value);
        }
        return 0;
    case OPT_DRAIN:
        if (parse_seconds(value, &cli->drain_timeout_s) < 0) {
            return usage_error(cli, prog, "%s: expected a number of seconds, got \"%s\"", as_written, value);
        }
        return 0;
    case OPT_MEMORY:
    case OPT_CPU:
    case OPT_MAX_CONCURRENT: {
        int *field = o->id == OPT_MEMORY ? &cli->memory_limit_mib
                   : o->id == OPT_CPU ? &cli->cpu_limit_ms : &cli->max_concurrent;
        if (parse_count(value, o->id == OPT_MEMORY ? 1 << 20 : INT_MAX, field) < 0) {
            return usage_error(cli, prog, "%s: expected a non-negative integer, got \"%s\"", as_written, value);
        }
        return 0;
    }
    case OPT_TIMEOUT:
        if (parse_seconds(value, &cli->request_timeout_s) < 0) {
            return usage_error(cli, prog, "%s: expected a number of seconds, got \"%s\"", as_written, value);
        }
        return 0;
    case OPT_NO_SANDBOX:
        cli->sandbox = 0;
        return 0;
    case OPT_PERSIST_DIR:
        if (!*value) return usage_error(cli, prog, "%s: expected a directory", as_written);
        cli->persist_dir = value;
        return 0;
    case OPT_FETCH_TIMEOUT:
        if (parse_seconds(value, &cli->fetch_timeout_s) < 0 || cli->fetch_timeout_s <= 0) {
            return usage_error(cli, prog, "%s: expected a number of seconds, got \"%s\"", as_written, value);
        }
        return 0;
    case OPT_VERBOSE:
        cli->verbose = 1;
        return 0;
    case OPT_NO_ACCESS_LOG:
        cli->access_log = 0;
        return 0;
    case OPT_MIN_ISOLATES:
    case OPT_MAX_ISOLATES:
    case OPT_SPARE_ISOLATES:
        return parse_pool_size(cli, o->id, as_written, value);
    case OPT_IDLE_TIMEOUT:
        if (parse_seconds(value, &cli->idle_timeout_s) < 0) {
            return usage_error(cli, prog, "%s: expected a number of seconds, got \"%s\"", as_written, value);
        }
        return 0;
    case OPT_WATCH:
        cli->watch = 1;
        return 0;
    case OPT_NO_SNAPSHOT:
        cli->snapshot = PW_CLI_SNAPSHOT_NONE;
        return 0;
    case OPT_SNAPSHOT:
        if (parse_snapshot(value, &cli->snapshot) < 0) {
            return usage_error(cli, prog, "%s: expected package, baseline or none, got \"%s\"",
                               as_written, value);
        }
        return 0;
    case OPT_HELP:
        set_output(cli, PW_CMD_HELP, cli->cmd == PW_CMD_TEST ? test_help : serve_help);
        return 1;
    case OPT_VERSION:
        set_version(cli);
        return 1;
    }
    return 0;
}

static int add_positional(pw_cli_t *cli, const char *arg)
{
    if (!cli->config_path) {
        cli->config_path = arg;
    } else if (cli->cmd == PW_CMD_TEST && !cli->test_filter) {
        cli->test_filter = arg;
    } else if (cli->cmd == PW_CMD_SERVE && !cli->const_name) {
        cli->const_name = arg;
    } else {
        return usage_error(cli, command_name, "%s: too many arguments", arg);
    }
    return 0;
}

/* Parses "--name[=value]" at argv[*i]; may consume argv[*i + 1]. */
static int parse_long(pw_cli_t *cli, int argc, char **argv, int *i)
{
    const char *arg = argv[*i], *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const opt_t *o = find_long(name, len);
    char written[128];
    snprintf(written, sizeof written, "--%.*s", (int)len, name);
    if (!o) return usage_error(cli, command_name, "%s: unrecognized option", written);
    if (!o->takes_value) {
        if (eq) return usage_error(cli, command_name, "%s: option does not take an argument", written);
        return apply_option(cli, o, written, NULL);
    }
    const char *value = eq ? eq + 1 : NULL;
    if (!value) {
        if (*i + 1 >= argc) return usage_error(cli, command_name, "%s: missing argument", written);
        value = argv[++*i];
    }
    return apply_option(cli, o, written, value);
}

/* Parses "-X[value]" at argv[*i]; may consume argv[*i + 1]. */
static int parse_short(pw_cli_t *cli, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    char written[3] = { '-', arg[1], '\0' };
    const opt_t *o = find_short(arg[1]);
    if (!o) return usage_error(cli, command_name, "%s: unrecognized option", written);
    if (!o->takes_value) {
        if (arg[2]) return usage_error(cli, command_name, "%s: option does not take an argument", written);
        return apply_option(cli, o, written, NULL);
    }
    const char *value = arg[2] ? arg + 2 : NULL;
    if (!value) {
        if (*i + 1 >= argc) return usage_error(cli, command_name, "%s: missing argument", written);
        value = argv[++*i];
    }
    return apply_option(cli, o, written, value);
}

/* `serve` and `test` (cmd) take the same options. */
static int parse_serve(pw_cli_t *cli, int argc, char **argv, int first, pw_cmd_t cmd)
{
    int options_done = 0;
    cli->cmd = cmd;
    command_name = cmd == PW_CMD_TEST ? "pyworkerd test" : "pyworkerd serve";
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        int rc = 0;
        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            rc = add_positional(cli, arg);
        } else if (strcmp(arg, "--") == 0) {
            options_done = 1;
        } else if (arg[1] == '-') {
            rc = parse_long(cli, argc, argv, &i);
        } else {
            rc = parse_short(cli, argc, argv, &i);
        }
        if (rc < 0) return -1;
        if (rc > 0) return 0;
    }
    if (!cli->config_path) {
        return usage_error(cli, command_name, "missing argument <config-file>");
    }
    return 0;
}

/* ---- top level ---------------------------------------------------------------------------- */

static int parse_help(pw_cli_t *cli, int argc, char **argv)
{
    if (argc < 3) return set_output(cli, PW_CMD_HELP, top_help);
    if (strcmp(argv[2], "serve") == 0) return set_output(cli, PW_CMD_HELP, serve_help);
    if (strcmp(argv[2], "test") == 0) return set_output(cli, PW_CMD_HELP, test_help);
    if (strcmp(argv[2], "help") == 0) return set_output(cli, PW_CMD_HELP, top_help);
    return usage_error(cli, "pyworkerd", "help: %s: no such command", argv[2]);
}

int pw_cli_parse(int argc, char **argv, pw_cli_t *cli)
{
    memset(cli, 0, sizeof *cli);
    cli->access_log = 1;
    cli->control_fd = -1;
    cli->isolates = 1;
    cli->spare_isolates = 1;
    cli->idle_timeout_s = 30;
    cli->drain_timeout_s = 10;
    cli->fetch_timeout_s = 30;
    cli->sandbox = 1;
    cli->memory_limit_mib = 128;
    cli->cpu_limit_ms = 30000;
    if (argc < 2) return usage_error(cli, "pyworkerd", "missing command");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0) return set_output(cli, PW_CMD_HELP, top_help);
    if (strcmp(cmd, "--version") == 0) return set_version(cli);
    if (strcmp(cmd, "serve") == 0) return parse_serve(cli, argc, argv, 2, PW_CMD_SERVE);
    if (strcmp(cmd, "test") == 0) return parse_serve(cli, argc, argv, 2, PW_CMD_TEST);
    if (strcmp(cmd, "help") == 0) return parse_help(cli, argc, argv);
    if (cmd[0] == '-') {
        const char *eq = strchr(cmd, '=');
        return usage_error(cli, "pyworkerd", "%.*s: unrecognized option",
                           (int)(eq ? eq - cmd : (long)strlen(cmd)), cmd);
    }
    return usage_error(cli, "pyworkerd", "%s: no such command", cmd);
}
