/* cli.c — parses `pyworkerd <command> [options]` into a pw_cli_t (host process, first thing in
 * main). Option syntax and usage errors follow workerd's (kj::MainBuilder): `--opt=v`,
 * `--opt v`, `-sX`, `-s X`, `--` ends options, and a usage error reads
 * "pyworkerd serve: <detail>\nTry 'pyworkerd serve --help' for more information.".
 * Every option is one row of options[] (as redis's static_configs[]): its names, the commands
 * that take it, its argument, the typed setter that stores it and its help; the parse loop
 * and the option list of `pyworkerd help serve` are generic over the table, so an option is
 * added by adding its row (and its pw_cli_t field).
 * Nothing here prints or exits; strings in the result point into argv or into the pw_cli_t.
 */
#include "config/cli.h"
#include "config/compat_flags.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The help texts up to their option lists, which options[] fills in. */
static const char top_usage[] =
    "Usage: pyworkerd <command> [<arg>...]\n"
    "\n"
    "Runs Cloudflare-style Python Workers from a workerd config, with native CPython.\n"
    "\n"
    "Commands:\n"
    "  serve    Run the server.\n"
    "  test     Run the workers' test handlers.\n"
    "  help     Show help for a command.\n"
    "  dev      Run a Cloudflare Python Workers project (wrangler.toml) for development.\n"
    "  config   Print a wrangler project's config as a workerd config.\n"
    "  init     Create a new Python Workers project.\n"
    "  d1       Run SQL on a project's local D1 database (execute, migrations list|apply).\n"
    "\n"
    "See 'pyworkerd help <command>' for more information on a specific command.\n"
    "\n"
    "Options:";

static const char serve_usage[] =
    "Usage: pyworkerd serve [<option>...] <config-file> [<const-name>]\n"
    "\n"
    "Serves the Python Workers of a workerd config. <config-file> is a Cap'n Proto text file\n"
    "that imports \"/workerd/workerd.capnp\" and defines a constant of type Config;\n"
    "<const-name> names it when the file defines more than one.\n"
    "\n"
    "Options:";

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

static const char dev_usage[] =
    "Usage: pyworkerd dev [<option>...]\n"
    "\n"
    "Runs the Cloudflare Python Workers project in the current directory (wrangler.json,\n"
    "wrangler.jsonc or wrangler.toml, .dev.vars) as `wrangler dev` does: on\n"
    "http://localhost:8787, state under .wrangler/state, reloaded when its files change.\n"
    "Takes the options of `pyworkerd serve` too.\n"
    "\n"
    "Options:";

static const char config_usage[] =
    "Usage: pyworkerd config [<option>...] [<wrangler-file>]\n"
    "\n"
    "Prints the workerd config (Cap'n Proto text) that pyworkerd runs for a wrangler project.\n"
    "\n"
    "Options:";

static const char init_usage[] =
    "Usage: pyworkerd init <name>\n"
    "\n"
    "Creates the directory <name> with a minimal Python Workers project (pyproject.toml,\n"
    "wrangler.toml, src/entry.py with a test handler) that `pyworkerd dev` runs and\n"
    "pywrangler deploys.";

/* ---- results and errors ------------------------------------------------------------------- */

/* "pyworkerd serve" or "pyworkerd test": the command whose options are being parsed. */
static const char *command_prog(const pw_cli_t *cli)
{
    switch (cli->cmd) {
    case PW_CMD_TEST: return "pyworkerd test";
    case PW_CMD_DEV: return "pyworkerd dev";
    case PW_CMD_CONFIG: return "pyworkerd config";
    case PW_CMD_INIT: return "pyworkerd init";
    case PW_CMD_D1: return "pyworkerd d1";
    default: return "pyworkerd serve";
    }
}

/* Formats a usage error for `prog` ("pyworkerd" or command_prog()) and returns -1. */
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

/* A usage error about `written` (an option as written) whose value was `value`. */
static int value_error(pw_cli_t *cli, const char *written, const char *expected, const char *value)
{
    return usage_error(cli, command_prog(cli), "%s: expected %s, got \"%s\"", written, expected, value);
}

static int set_output(pw_cli_t *cli, pw_cmd_t cmd, const char *text)
{
    cli->cmd = cmd;
    snprintf(cli->output, sizeof cli->output, "%s", text);
    return 0;
}

/* ---- option values ---------------------------------------------------------------------- */

/* "<name>=<value>" into list[*n] (names[*n] holds the name). */
static int parse_override(pw_cli_t *cli, const char *opt, const char *value,
                          pw_socket_override_t *list, size_t *n, char (*names)[256])
{
    const char *prog = command_prog(cli);
    const char *eq = strchr(value, '=');
    if (!eq) return usage_error(cli, prog, "%s: Expected <name>=<value>", opt);
    size_t len = (size_t)(eq - value);
    if (*n >= PW_CLI_MAX_LIST) return usage_error(cli, prog, "%s: too many", opt);
    if (len >= sizeof names[*n]) {
        return usage_error(cli, prog, "%s: name too long", opt);
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

static int parse_fd(const char *s, int *fd)
{
    return parse_count(s, INT_MAX, fd);
}

/* ---- the option table --------------------------------------------------------------------- */

/* Which commands take an option (top level: `pyworkerd --help`). */
enum { CLI_TOP = 1, CLI_SERVE = 2, CLI_TEST = 4, CLI_DEV = 8, CLI_CONFIG = 16, CLI_INIT = 32 };

typedef struct cli_option cli_option_t;

/* Stores option `o`'s value (NULL when it takes none) in `cli`; `written` is the option as
 * the user wrote it ("-s", "--socket-addr"), for messages. Returns 0, 1 when parsing ends
 * with success (--help, --version), or -1 with the usage error in cli->output. */
typedef int (*cli_setter_t)(pw_cli_t *cli, const cli_option_t *o, const char *written,
                            const char *value);

struct cli_option {
    const char *long_name;
    char short_name;        /* 0: none */
    unsigned commands;      /* CLI_*: the commands that take it */
    const char *arg;        /* its argument as the help names it; NULL: takes none */
    cli_setter_t set;
    size_t field;           /* offsetof(pw_cli_t, ...): what a generic setter writes */
    int max;                /* set_count, set_positive: the largest value accepted */
    const char *help;       /* its help, lines separated by '\n'; NULL: hidden */
};

#define FIELD(cli, o, type) ((type *)((char *)(cli) + (o)->field))

/* ---- setters: generic over a field ---- */

static int set_on(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    *FIELD(cli, o, int) = 1;
    return 0;
}

static int set_off(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    *FIELD(cli, o, int) = 0;
    return 0;
}

static int set_count(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    if (parse_count(value, o->max, FIELD(cli, o, int)) < 0)
        return value_error(cli, written, "a non-negative integer", value);
    return 0;
}

static int set_positive(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    if (parse_positive_int(value, o->max, FIELD(cli, o, int)) < 0)
        return value_error(cli, written, "a positive integer", value);
    return 0;
}

static int set_seconds(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    if (parse_seconds(value, FIELD(cli, o, double)) < 0)
        return value_error(cli, written, "a number of seconds", value);
    return 0;
}

/* A time limit that cannot be 0. */
static int set_positive_seconds(pw_cli_t *cli, const cli_option_t *o, const char *written,
                                const char *value)
{
    double *seconds = FIELD(cli, o, double);
    if (parse_seconds(value, seconds) < 0 || *seconds <= 0)
        return value_error(cli, written, "a number of seconds", value);
    return 0;
}

static int set_fd(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    if (parse_fd(value, FIELD(cli, o, int)) < 0)
        return value_error(cli, written, "a file descriptor number", value);
    return 0;
}

static int set_directory(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    if (!*value) return usage_error(cli, command_prog(cli), "%s: expected a directory", written);
    *FIELD(cli, o, const char *) = value;
    return 0;
}

/* ---- setters of one option each ---- */

static int set_socket_addr(pw_cli_t *cli, const cli_option_t *o, const char *written,
                           const char *value)
{
    return parse_override(cli, written, value, cli->socket_overrides, &cli->n_socket_overrides,
                          cli->socket_names);
}

static int set_socket_fd(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    int fd;
    size_t n = cli->n_socket_fds;
    if (parse_override(cli, written, value, cli->socket_fds, &cli->n_socket_fds,
                       cli->socket_fd_names) < 0) {
        return -1;
    }
    if (parse_fd(cli->socket_fds[n].address, &fd) < 0)
        return value_error(cli, written, "<name>=<file descriptor number>", value);
    return 0;
}

static int set_directory_path(pw_cli_t *cli, const cli_option_t *o, const char *written,
                              const char *value)
{
    return parse_override(cli, written, value, cli->directory_overrides,
                          &cli->n_directory_overrides, cli->directory_names);
}

static int set_external_addr(pw_cli_t *cli, const cli_option_t *o, const char *written,
                             const char *value)
{
    return parse_override(cli, written, value, cli->external_overrides,
                          &cli->n_external_overrides, cli->external_names);
}

static int set_import_path(pw_cli_t *cli, const cli_option_t *o, const char *written,
                           const char *value)
{
    if (cli->n_import_paths >= PW_CLI_MAX_LIST)
        return usage_error(cli, command_prog(cli), "%s: too many", written);
    cli->import_paths[cli->n_import_paths++] = value;
    return 0;
}

static int set_compat_date(pw_cli_t *cli, const cli_option_t *o, const char *written,
                           const char *value)
{
    if (!pw_compat_date_valid(value))
        return value_error(cli, written, "a date YYYY-MM-DD", value);
    cli->compat_date = value;
    return 0;
}

/* --storage: where state lives when it is not the embedded SQLite; a PostgreSQL URL. */
static int set_storage(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    if (strncmp(value, "postgresql://", 13) != 0 && strncmp(value, "postgres://", 11) != 0)
        return value_error(cli, written, "a postgresql://[user[:password]@]host[:port]/dbname URL", value);
    cli->storage = value;
    return 0;
}

/* A workerd option that means nothing here (its Pyodide caches and snapshot files): the host
 * says so once it starts (main.c). */
static int set_ignored(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    if (cli->n_ignored < PW_CLI_MAX_LIST)
        cli->ignored[cli->n_ignored++] = o->long_name;
    return 0;
}

/* workerd's gate for experimental features: pyworkerd has none to gate. */
static int set_nothing(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    return 0;
}

static int set_snapshot(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    if (pw_snapshot_parse(value, &cli->snapshot) < 0)
        return value_error(cli, written, "package, baseline or none", value);
    return 0;
}

static int set_no_snapshot(pw_cli_t *cli, const cli_option_t *o, const char *written,
                           const char *value)
{
    cli->snapshot = PW_SNAPSHOT_NONE;
    return 0;
}

static int set_help(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value);

/* ---- setters of the wrangler options ---- */

static int set_wrangler_config(pw_cli_t *cli, const cli_option_t *o, const char *written,
                               const char *value)
{
    if (cli->wrangler.n_configs >= PW_WRANGLER_MAX_LIST)
        return usage_error(cli, command_prog(cli), "%s: too many", written);
    cli->wrangler.configs[cli->wrangler.n_configs++] = value;
    return 0;
}

static int set_wrangler_env(pw_cli_t *cli, const cli_option_t *o, const char *written,
                            const char *value)
{
    if (!*value) return usage_error(cli, command_prog(cli), "%s: expected an environment name", written);
    cli->wrangler.env = value;
    return 0;
}

static int set_wrangler_var(pw_cli_t *cli, const cli_option_t *o, const char *written,
                            const char *value)
{
    if (!strchr(value, ':') || value[0] == ':')
        return value_error(cli, written, "KEY:VALUE", value);
    if (cli->wrangler.n_vars >= PW_WRANGLER_MAX_LIST)
        return usage_error(cli, command_prog(cli), "%s: too many", written);
    cli->wrangler.vars[cli->wrangler.n_vars++] = value;
    return 0;
}

static int set_local_protocol(pw_cli_t *cli, const cli_option_t *o, const char *written,
                              const char *value)
{
    if (strcmp(value, "http") != 0 && strcmp(value, "https") != 0)
        return value_error(cli, written, "http or https", value);
    cli->dev_https = strcmp(value, "https") == 0;
    return 0;
}

static int set_text(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    if (!*value) return value_error(cli, written, "a value", value);
    *FIELD(cli, o, const char *) = value;
    return 0;
}

static int set_version(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    set_output(cli, PW_CMD_VERSION, "pyworkerd " PW_VERSION);
    return 1;
}

#define SERVE (CLI_SERVE | CLI_TEST | CLI_DEV)  /* `test` and `dev` take serve's options */
#define ANY (CLI_TOP | CLI_SERVE | CLI_TEST | CLI_DEV | CLI_CONFIG | CLI_INIT)
#define WRANGLER (CLI_DEV | CLI_CONFIG)
#define AT(name) offsetof(pw_cli_t, name)

/* In the order `pyworkerd help serve` lists them. */
static const cli_option_t options[] = {
    /* long name, short, commands, argument, setter, field, max, help */
    { "socket-addr", 's', SERVE, "<name>=<addr>", set_socket_addr, 0, 0,
      "Override the address of the socket <name> in the config (e.g. http=*:8080)." },
    { "socket-fd", 'S', SERVE, "<name>=<fd>", set_socket_fd, 0, 0,
      "Serve the socket <name> on the listening socket <fd> (inherited, e.g. from\n"
      "systemd) instead of its address." },
    { "directory-path", 'd', SERVE, "<name>=<path>", set_directory_path, 0, 0,
      "Override the path of the disk service <name> in the config." },
    { "external-addr", 'e', CLI_SERVE | CLI_TEST, "<name>=<addr>", set_external_addr, 0, 0,
      "Override the address of the external service <name> in the config." },
    { "control-fd", 0, SERVE, "<fd>", set_fd, AT(control_fd), 0,
      "Write a JSON line {\"event\":\"listen\",\"socket\":<name>,\"port\":<n>} to <fd> for\n"
      "each socket once it listens (useful with port 0)." },
    { "experimental", 0, SERVE, NULL, set_nothing, 0, 0,
      "Accepted for workerd compatibility (pyworkerd gates no feature behind it)." },
    { "compat-date", 0, SERVE, "<YYYY-MM-DD>", set_compat_date, 0, 0,
      "The compatibility date of workers whose config gives none (as workerd's)." },
    /* workerd's Python and autogate options: accepted, said to be ignored, not in the help */
    { "all-autogates", 0, SERVE, NULL, set_ignored, 0, 0, NULL },
    { "pyodide-bundle-disk-cache-dir", 0, SERVE, "<path>", set_ignored, 0, 0, NULL },
    { "pyodide-package-disk-cache-dir", 0, SERVE, "<path>", set_ignored, 0, 0, NULL },
    { "python-snapshot-dir", 0, SERVE, "<path>", set_ignored, 0, 0, NULL },
    { "python-save-snapshot", 0, SERVE, NULL, set_ignored, 0, 0, NULL },
    { "python-save-baseline-snapshot", 0, SERVE, NULL, set_ignored, 0, 0, NULL },
    { "python-load-snapshot", 0, SERVE, "<path>", set_ignored, 0, 0, NULL },
    { "import-path", 'I', SERVE, "<dir>", set_import_path, 0, 0,
      "Add <dir> to the directories searched for imports starting with '/'." },
    { "threads", 0, SERVE, "<n>", set_positive, AT(threads), 256,
      "Run <n> host event loops, each on its own thread with its own listeners on the\n"
      "same sockets and its own isolates of every worker (default: half the CPUs,\n"
      "1 below 4). The isolate counts below are then totals, shared out over the loops\n"
      "(at least one each)." },
    { "isolates", 0, SERVE, "<n>", set_positive, AT(isolates), 4096,
      "Start <n> isolates per worker (default 1)." },
    { "min-isolates", 0, SERVE, "<n>", set_count, AT(isolates), 4096,
      "Keep at least <n> isolates per worker serving, even when idle (default 1; 0\n"
      "scales an idle worker to zero). --isolates=<n> is the same." },
    { "max-isolates", 0, SERVE, "<n>", set_positive, AT(max_isolates), 4096,
      "Grow up to <n> isolates per worker while every isolate has 8 or more requests\n"
      "in flight (default: the minimum, no growth)." },
    { "spare-isolates", 0, SERVE, "<n>", set_count, AT(spare_isolates), 4096,
      "Keep <n> pre-forked isolates per worker ready for growth and replacement\n"
      "(default 1)." },
    { "idle-timeout", 0, SERVE, "<seconds>", set_seconds, AT(idle_timeout_s), 0,
      "Stop an isolate above the minimum after <seconds> without requests (default 30)." },
    { "watch", 'w', SERVE, NULL, set_on, AT(watch), 0,
      "Rebuild a worker when its files or the config change, and swap the new version\n"
      "in; a version that fails to load is logged and the previous one keeps serving." },
    { "no-snapshot", 0, SERVE, NULL, set_no_snapshot, 0, 0,
      "Start every isolate cold: a new process that starts Python and imports the\n"
      "worker (no fork of a worker template; for measuring start types)." },
    /* hidden (bench): package, baseline or none */
    { "snapshot", 0, SERVE, "<mode>", set_snapshot, 0, 0, NULL },
    { "drain-timeout", 0, SERVE, "<seconds>", set_seconds, AT(drain_timeout_s), 0,
      "On SIGTERM, wait up to <seconds> for requests in flight and for the isolates'\n"
      "shutdown (ASGI lifespan) (default 10); a retired isolate that takes longer to\n"
      "exit is killed." },
    { "memory-limit", 0, SERVE, "<MiB>", set_count, AT(memory_limit_mib), 1 << 20,
      "Memory an isolate may allocate beyond its template (default 128; 0: no limit).\n"
      "Past it, Python raises MemoryError." },
    { "cpu-limit-ms", 0, SERVE, "<ms>", set_count, AT(cpu_limit_ms), INT_MAX,
      "CPU time a request may use (default 30000; 0: no limit). An isolate that exceeds\n"
      "it is killed and replaced; its requests get 503." },
    { "request-timeout", 0, SERVE, "<seconds>", set_seconds, AT(request_timeout_s), 0,
      "Wall-clock time a request may take (default 0: no limit); then 504." },
    { "max-concurrent-requests", 0, SERVE, "<n>", set_count, AT(max_concurrent), INT_MAX,
      "Requests one isolate handles at once (default 0: no limit); others wait." },
    { "persist-dir", 0, SERVE, "<dir>", set_directory, AT(persist_dir), 0,
      "Keep state (KV namespaces of relative disk paths) under <dir>; \":memory:\" keeps\n"
      "nothing on disk." },
    { "fetch-timeout", 0, SERVE, "<seconds>", set_positive_seconds, AT(fetch_timeout_s), 0,
      "Time an outbound fetch() may take, redirects included (default 30)." },
    { "durable-object-idle-timeout", 0, SERVE, "<seconds>", set_positive_seconds,
      AT(do_idle_timeout_s), 0,
      "A Durable Object with no event for <seconds> leaves memory; its storage stays\n"
      "(default 70, as Cloudflare's 70-140 s)." },
    { "no-sandbox", 0, SERVE, NULL, set_off, AT(sandbox), 0,
      "Run isolates without namespaces, seccomp, Landlock, rlimits and the audit hook\n"
      "(only where user namespaces are unavailable; workers can then reach the host)." },
    { "no-access-log", 0, SERVE, NULL, set_off, AT(access_log), 0,
      "Do not log one line per request." },
    { "verbose", 0, SERVE, NULL, set_on, AT(verbose), 0,
      "Log informational messages to stderr." },
    { "test-scheduled", 0, SERVE, NULL, set_on, AT(test_scheduled), 0,
      "Answer wrangler's test paths on every HTTP socket: /__scheduled?cron=<cron>\n"
      "and /cdn-cgi/handler/scheduled?cron=<cron>&time=<ms> run the worker's\n"
      "scheduled() handler (Cron Triggers) at once." },
    /* hidden (tests): the cron clock runs <n> times as fast as the wall clock */
    { "test-cron-speed", 0, SERVE, "<n>", set_positive, AT(test_cron_speed), 1000000, NULL },
    /* wrangler projects: `dev`, `config`, and `serve` of a wrangler file */
    { "config", 'c', WRANGLER, "<file>", set_wrangler_config, 0, 0,
      "The wrangler file (default: wrangler.json, wrangler.jsonc or wrangler.toml in the\n"
      "current directory). Given again: more workers, reachable by service bindings." },
    { "env", 'e', WRANGLER, "<name>", set_wrangler_env, 0, 0,
      "Use the [env.<name>] section of the wrangler file, with wrangler's inheritance." },
    { "env", 0, CLI_SERVE | CLI_TEST, "<name>", set_wrangler_env, 0, 0,
      "With a wrangler file: use its [env.<name>] section." },
    { "var", 0, WRANGLER | CLI_SERVE | CLI_TEST, "<key>:<value>", set_wrangler_var, 0, 0,
      "With a wrangler file: the variable <key> is <value> (over vars and .dev.vars)." },
    { "port", 0, CLI_DEV, "<port>", set_count, AT(dev_port), 65535,
      "Listen on <port> (default 8787; 0: any free port)." },
    { "ip", 0, CLI_DEV, "<ip>", set_text, AT(dev_ip), 0,
      "Listen on <ip> (default 127.0.0.1; * for every address)." },
    { "local-protocol", 0, CLI_DEV, "http|https", set_local_protocol, 0, 0,
      "Serve HTTPS with a self-signed certificate made for localhost (kept in\n"
      ".wrangler/local-cert) instead of HTTP." },
    { "persist-to", 0, CLI_DEV, "<dir>", set_directory, AT(persist_to), 0,
      "Keep local state (KV, D1, R2, Durable Objects, queues) under <dir> (default\n"
      ".wrangler/state in the project)." },
    { "live-reload", 0, CLI_DEV, NULL, set_on, AT(live_reload), 0,
      "Reload the worker when its files change (the default)." },
    { "no-live-reload", 0, CLI_DEV, NULL, set_off, AT(live_reload), 0,
      "Do not reload the worker when its files change." },
    { "storage", 0, SERVE, "<url>", set_storage, 0, 0,
      "Keep every binding's state (KV, Queues, cron ticks) in the PostgreSQL database at\n"
      "<url> (postgresql://user:password@host:port/db) instead of SQLite files, so that\n"
      "several pyworkerd nodes behind a load balancer share it. The schema is created\n"
      "and migrated on start; an unreachable server is an error then, and a 503 for\n"
      "the calls that need it while it is down later." },
    { "cluster-address", 0, SERVE, "<host:port>", set_text, AT(cluster_address), 0,
      "With --storage: this node's internal address (bound here, registered in\n"
      "PostgreSQL): other nodes forward calls of the Durable Objects it holds to it.\n"
      "Requests to it must carry --cluster-secret." },
    { "cluster-secret", 0, SERVE, "<secret>", set_text, AT(cluster_secret), 0,
      "The secret every node of the cluster shares (default: $PYWORKERD_CLUSTER_SECRET);\n"
      "the internal port refuses requests without it." },
    { "durable-object-lease", 0, SERVE, "<seconds>", set_positive_seconds, AT(do_lease_s), 0,
      "With --storage: how long a node's hold on a Durable Object lasts unless renewed\n"
      "(default 10): a dead node's objects move to another node within this time." },
    { "version", 0, ANY, NULL, set_version, 0, 0,
      "Print version information and exit." },
    { "help", 0, ANY, NULL, set_help, 0, 0,
      "Display this help text and exit." },
};

#define N_OPTIONS (sizeof options / sizeof options[0])

/* ---- help --------------------------------------------------------------------------------- */

/* Appends to cli->output, which stays terminated when the text does not fit. */
static void append(pw_cli_t *cli, size_t *len, const char *fmt, ...)
{
    if (*len >= sizeof cli->output - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cli->output + *len, sizeof cli->output - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

/* "    -s<name>=<addr>, --socket-addr=<name>=<addr>" and its help, each line indented. */
static void append_option_help(pw_cli_t *cli, size_t *len, const cli_option_t *o)
{
    const char *arg = o->arg ? o->arg : "";
    append(cli, len, "\n    ");
    if (o->short_name)
        append(cli, len, "-%c%s, ", o->short_name, arg);
    append(cli, len, "--%s%s%s", o->long_name, o->arg ? "=" : "", arg);
    for (const char *line = o->help; *line;) {
        size_t n = strcspn(line, "\n");
        append(cli, len, "\n        %.*s", (int)n, line);
        line += n + (line[n] == '\n');
    }
}

/* `usage`, then the help of each option `command` (CLI_*) takes, as PW_CMD_HELP's output. */
static int set_help_text(pw_cli_t *cli, const char *usage, unsigned command)
{
    size_t len = 0;
    cli->cmd = PW_CMD_HELP;
    cli->output[0] = '\0';
    append(cli, &len, "%s", usage);
    for (size_t i = 0; i < N_OPTIONS; i++)
        if ((options[i].commands & command) && options[i].help)
            append_option_help(cli, &len, &options[i]);
    return 0;
}

/* --help: the help of the command being parsed (none yet: the top level's). */
static int set_help(pw_cli_t *cli, const cli_option_t *o, const char *written, const char *value)
{
    if (cli->cmd == PW_CMD_TEST)
        set_output(cli, PW_CMD_HELP, test_help);
    else if (cli->cmd == PW_CMD_DEV)
        set_help_text(cli, dev_usage, CLI_DEV);
    else if (cli->cmd == PW_CMD_CONFIG)
        set_help_text(cli, config_usage, CLI_CONFIG);
    else if (cli->cmd == PW_CMD_INIT)
        set_output(cli, PW_CMD_HELP, init_usage);
    else if (cli->cmd == PW_CMD_SERVE)
        set_help_text(cli, serve_usage, CLI_SERVE);
    else
        set_help_text(cli, top_usage, CLI_TOP);
    return 1;
}

/* ---- the parse loop ----------------------------------------------------------------------- */

static const cli_option_t *find_long(const char *name, size_t len, unsigned command)
{
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const cli_option_t *o = &options[i];
        if ((o->commands & command) && strlen(o->long_name) == len && strncmp(o->long_name, name, len) == 0)
            return o;
    }
    return NULL;
}

static const cli_option_t *find_short(char c, unsigned command)
{
    for (size_t i = 0; i < N_OPTIONS; i++)
        if ((options[i].commands & command) && options[i].short_name && options[i].short_name == c)
            return &options[i];
    return NULL;
}

/* Applies option `o` (NULL: not found) as written `written`, with `inline_value` (the text
 * after "--name=" or "-X"; NULL: none) or else argv[*i + 1] as its value if it takes one. */
static int take_option(pw_cli_t *cli, const cli_option_t *o, const char *written,
                       const char *inline_value, int argc, char **argv, int *i)
{
    const char *prog = command_prog(cli);
    if (!o) return usage_error(cli, prog, "%s: unrecognized option", written);
    if (!o->arg) {
        if (inline_value) return usage_error(cli, prog, "%s: option does not take an argument", written);
        return o->set(cli, o, written, NULL);
    }
    const char *value = inline_value;
    if (!value) {
        if (*i + 1 >= argc) return usage_error(cli, prog, "%s: missing argument", written);
        value = argv[++*i];
    }
    return o->set(cli, o, written, value);
}

/* Parses "--name[=value]" at argv[*i] for `command`; may consume argv[*i + 1]. */
static int parse_long(pw_cli_t *cli, unsigned command, int argc, char **argv, int *i)
{
    const char *name = argv[*i] + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    char written[128];
    snprintf(written, sizeof written, "--%.*s", (int)len, name);
    return take_option(cli, find_long(name, len, command), written, eq ? eq + 1 : NULL, argc, argv, i);
}

/* Parses "-X[value]" at argv[*i] for `command`; may consume argv[*i + 1]. */
static int parse_short(pw_cli_t *cli, unsigned command, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    char written[3] = { '-', arg[1], '\0' };
    return take_option(cli, find_short(arg[1], command), written, arg[2] ? arg + 2 : NULL, argc, argv, i);
}

static int add_positional(pw_cli_t *cli, const char *arg)
{
    if (cli->cmd == PW_CMD_DEV) {
        return usage_error(cli, command_prog(cli), "%s: pyworkerd dev takes no script: set `main` "
                           "in the wrangler file", arg);
    }
    if (cli->cmd == PW_CMD_CONFIG && !cli->config_path) {
        cli->config_path = arg;
        return set_wrangler_config(cli, NULL, arg, arg);
    }
    if (!cli->config_path) {
        cli->config_path = arg;
    } else if (cli->cmd == PW_CMD_TEST && !cli->test_filter) {
        cli->test_filter = arg;
    } else if (cli->cmd == PW_CMD_SERVE && !cli->const_name) {
        cli->const_name = arg;
    } else {
        return usage_error(cli, command_prog(cli), "%s: too many arguments", arg);
    }
    return 0;
}

/* `serve` and `test` (cmd): their options and positional arguments from argv[first]. */
static int parse_command(pw_cli_t *cli, int argc, char **argv, int first, pw_cmd_t cmd)
{
    unsigned command = cmd == PW_CMD_TEST ? CLI_TEST : cmd == PW_CMD_DEV ? CLI_DEV
                     : cmd == PW_CMD_CONFIG ? CLI_CONFIG : cmd == PW_CMD_INIT ? CLI_INIT : CLI_SERVE;
    int options_done = 0;
    cli->cmd = cmd;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        int rc = 0;
        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            rc = add_positional(cli, arg);
        } else if (strcmp(arg, "--") == 0) {
            options_done = 1;
        } else if (arg[1] == '-') {
            rc = parse_long(cli, command, argc, argv, &i);
        } else {
            rc = parse_short(cli, command, argc, argv, &i);
        }
        if (rc < 0) return -1;
        if (rc > 0) return 0;
    }
    if (cmd == PW_CMD_INIT && !cli->config_path)
        return usage_error(cli, command_prog(cli), "missing argument <name>");
    if (!cli->config_path && (cmd == PW_CMD_SERVE || cmd == PW_CMD_TEST)) {
        return usage_error(cli, command_prog(cli), "missing argument <config-file>");
    }
    return 0;
}

/* ---- top level ---------------------------------------------------------------------------- */

static int parse_help(pw_cli_t *cli, int argc, char **argv)
{
    if (argc < 3) return set_help_text(cli, top_usage, CLI_TOP);
    if (strcmp(argv[2], "serve") == 0) return set_help_text(cli, serve_usage, CLI_SERVE);
    if (strcmp(argv[2], "test") == 0) return set_output(cli, PW_CMD_HELP, test_help);
    if (strcmp(argv[2], "help") == 0) return set_help_text(cli, top_usage, CLI_TOP);
    if (strcmp(argv[2], "dev") == 0) return set_help_text(cli, dev_usage, CLI_DEV);
    if (strcmp(argv[2], "config") == 0) return set_help_text(cli, config_usage, CLI_CONFIG);
    if (strcmp(argv[2], "init") == 0) return set_output(cli, PW_CMD_HELP, init_usage);
    return usage_error(cli, "pyworkerd", "help: %s: no such command", argv[2]);
}

/* `pyworkerd --help` or `--version` (exactly: nothing follows is parsed). */
static int parse_top_option(pw_cli_t *cli, const char *arg)
{
    const cli_option_t *o = arg[1] == '-' ? find_long(arg + 2, strlen(arg + 2), CLI_TOP) : NULL;
    if (o)
        return o->set(cli, o, arg, NULL) < 0 ? -1 : 0;
    const char *eq = strchr(arg, '=');
    return usage_error(cli, "pyworkerd", "%.*s: unrecognized option",
                       (int)(eq ? eq - arg : (long)strlen(arg)), arg);
}

static void set_defaults(pw_cli_t *cli)
{
    memset(cli, 0, sizeof *cli);
    cli->access_log = 1;
    cli->control_fd = -1;
    cli->isolates = 1;
    cli->spare_isolates = 1;
    cli->idle_timeout_s = 30;
    cli->drain_timeout_s = 10;
    cli->fetch_timeout_s = 30;
    cli->do_idle_timeout_s = 70;
    cli->do_lease_s = 10;
    cli->sandbox = 1;
    cli->memory_limit_mib = 128;
    cli->cpu_limit_ms = 30000;
    cli->dev_port = 8787;
    cli->dev_ip = "127.0.0.1";
    cli->live_reload = 1;
}

int pw_cli_parse(int argc, char **argv, pw_cli_t *cli)
{
    set_defaults(cli);
    if (argc < 2) return usage_error(cli, "pyworkerd", "missing command");
    const char *cmd = argv[1];
    if (strcmp(cmd, "serve") == 0) return parse_command(cli, argc, argv, 2, PW_CMD_SERVE);
    if (strcmp(cmd, "test") == 0) return parse_command(cli, argc, argv, 2, PW_CMD_TEST);
    if (strcmp(cmd, "help") == 0) return parse_help(cli, argc, argv);
    if (strcmp(cmd, "dev") == 0) return parse_command(cli, argc, argv, 2, PW_CMD_DEV);
    if (strcmp(cmd, "config") == 0) return parse_command(cli, argc, argv, 2, PW_CMD_CONFIG);
    if (strcmp(cmd, "init") == 0) return parse_command(cli, argc, argv, 2, PW_CMD_INIT);
    if (strcmp(cmd, "d1") == 0) {
        /* the translator parses these as wrangler's d1 commands do (tools/wrangler/wr_d1.py) */
        cli->cmd = PW_CMD_D1;
        cli->d1_argv = argv + 2;
        cli->d1_argc = argc - 2;
        return 0;
    }
    if (cmd[0] == '-') return parse_top_option(cli, cmd);
    return usage_error(cli, "pyworkerd", "%s: no such command", cmd);
}
