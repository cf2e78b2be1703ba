/* test_cli.c — pw_cli_parse: commands, option forms, defaults, workerd-style usage errors, and
 * that every option of the table (config/cli.c) parses in each of its forms. */
#include "unit.h"
#include "config/cli.h"

static pw_cli_t cli;

#define ARGV(...) ((char *[]){ "pyworkerd", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "pyworkerd", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(...) pw_cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &cli)

TEST(serve_defaults)
{
    CHECK(PARSE("serve", "config.capnp") == 0);
    CHECK(cli.cmd == PW_CMD_SERVE);
    CHECK_STR(cli.config_path, "config.capnp");
    CHECK(cli.const_name == NULL);
    CHECK(cli.access_log == 1 && cli.verbose == 0 && cli.isolates == 1);
    CHECK(cli.drain_timeout_s == 10);
    CHECK(cli.snapshot == PW_SNAPSHOT_PACKAGE);
    CHECK(cli.n_import_paths == 0 && cli.n_socket_overrides == 0);
}

TEST(serve_all_option_forms)
{
    CHECK(PARSE("serve", "-shttp=*:8080", "-s", "admin=127.0.0.1:9", "--socket-addr=x=unix:/s",
                "--socket-addr", "y=[::1]:80", "-Iinc", "-I", "inc2", "--import-path=inc3",
                "--verbose", "--no-access-log", "--isolates=4", "--drain-timeout", "2.5",
                "config.capnp", "myConfig") == 0);
    CHECK(cli.cmd == PW_CMD_SERVE);
    CHECK(cli.n_socket_overrides == 4);
    CHECK_STR(cli.socket_overrides[0].name, "http");
    CHECK_STR(cli.socket_overrides[0].address, "*:8080");
    CHECK_STR(cli.socket_overrides[1].name, "admin");
    CHECK_STR(cli.socket_overrides[2].name, "x");
    CHECK_STR(cli.socket_overrides[2].address, "unix:/s");
    CHECK_STR(cli.socket_overrides[3].address, "[::1]:80");
    CHECK(cli.n_import_paths == 3);
    CHECK_STR(cli.import_paths[0], "inc");
    CHECK_STR(cli.import_paths[1], "inc2");
    CHECK_STR(cli.import_paths[2], "inc3");
    CHECK(cli.verbose == 1 && cli.access_log == 0 && cli.isolates == 4);
    CHECK(cli.drain_timeout_s == 2.5);
    CHECK_STR(cli.config_path, "config.capnp");
    CHECK_STR(cli.const_name, "myConfig");
}

TEST(workerd_serve_overrides)
{
    CHECK(PARSE("serve", "-Shttp=3", "--socket-fd", "admin=4", "-dkv=/var/kv", "--directory-path=b=rel",
                "-e", "api=127.0.0.1:9000", "--control-fd=5", "--experimental", "-w", "c.capnp") == 0);
    CHECK(cli.n_socket_fds == 2 && cli.n_directory_overrides == 2 && cli.n_external_overrides == 1);
    CHECK_STR(cli.socket_fds[0].name, "http");
    CHECK_STR(cli.socket_fds[0].address, "3");
    CHECK_STR(cli.socket_fds[1].name, "admin");
    CHECK_STR(cli.directory_overrides[0].name, "kv");
    CHECK_STR(cli.directory_overrides[0].address, "/var/kv");
    CHECK_STR(cli.directory_overrides[1].address, "rel");
    CHECK_STR(cli.external_overrides[0].name, "api");
    CHECK_STR(cli.external_overrides[0].address, "127.0.0.1:9000");
    CHECK(cli.control_fd == 5 && cli.watch == 1);
    CHECK(PARSE("serve", "c.capnp") == 0 && cli.control_fd == -1 && cli.n_socket_fds == 0);
    CHECK(PARSE("serve", "-S", "http=x", "c.capnp") < 0);
    CHECK(strstr(cli.output, "-S: expected <name>=<file descriptor number>, got \"http=x\"") != NULL);
    CHECK(PARSE("serve", "-d", "nokey", "c.capnp") < 0);
    CHECK(strstr(cli.output, "-d: Expected <name>=<value>") != NULL);
    CHECK(PARSE("serve", "--control-fd=-1", "c.capnp") < 0);
    CHECK(PARSE("serve", "-wx", "c.capnp") < 0);
    CHECK(strstr(cli.output, "-w: option does not take an argument") != NULL);
}

TEST(test_command)
{
    CHECK(PARSE("test", "--persist-dir=:memory:", "c.capnp", "main:Admin") == 0);
    CHECK(cli.cmd == PW_CMD_TEST);
    CHECK_STR(cli.config_path, "c.capnp");
    CHECK_STR(cli.test_filter, "main:Admin");
    CHECK(cli.const_name == NULL);
    CHECK(PARSE("test", "c.capnp", "a", "b") < 0);
    CHECK(strstr(cli.output, "pyworkerd test: b: too many arguments") != NULL);
    CHECK(PARSE("test", "--help") == 0 && cli.cmd == PW_CMD_HELP);
    CHECK(strstr(cli.output, "Usage: pyworkerd test") != NULL);
    CHECK(PARSE("help", "test") == 0 && strstr(cli.output, "Usage: pyworkerd test") != NULL);
}

TEST(snapshot_modes)
{
    CHECK(PARSE("serve", "--no-snapshot", "c.capnp") == 0 && cli.snapshot == PW_SNAPSHOT_NONE);
    CHECK(PARSE("serve", "--snapshot=baseline", "c.capnp") == 0 && cli.snapshot == PW_SNAPSHOT_BASELINE);
    CHECK(PARSE("serve", "--snapshot", "package", "c.capnp") == 0 && cli.snapshot == PW_SNAPSHOT_PACKAGE);
    CHECK(PARSE("serve", "--snapshot=warm", "c.capnp") < 0);
}

TEST(pool_sizes)
{
    CHECK(PARSE("serve", "c.capnp") == 0);
    CHECK(cli.isolates == 1 && cli.max_isolates == 0 && cli.spare_isolates == 1 && cli.idle_timeout_s == 30);
    CHECK(PARSE("serve", "--min-isolates=0", "--max-isolates", "4", "--spare-isolates=0",
                "--idle-timeout=0.5", "c.capnp") == 0);
    CHECK(cli.isolates == 0 && cli.max_isolates == 4 && cli.spare_isolates == 0 && cli.idle_timeout_s == 0.5);
    CHECK(PARSE("serve", "--max-isolates=0", "c.capnp") < 0);
    CHECK(strstr(cli.output, "--max-isolates: expected a positive integer") != NULL);
    CHECK(PARSE("serve", "--min-isolates=-1", "c.capnp") < 0);
    CHECK(PARSE("serve", "--isolates=0", "c.capnp") < 0);
}

TEST(sandbox_and_limit_options)
{
    CHECK(PARSE("serve", "c.capnp") == 0);
    CHECK(cli.sandbox == 1 && cli.memory_limit_mib == 128 && cli.cpu_limit_ms == 30000);
    CHECK(cli.request_timeout_s == 0 && cli.max_concurrent == 0);
    CHECK(PARSE("serve", "--no-sandbox", "--memory-limit=64", "--cpu-limit-ms", "500",
                "--request-timeout=2.5", "--max-concurrent-requests=8", "c.capnp") == 0);
    CHECK(cli.sandbox == 0 && cli.memory_limit_mib == 64 && cli.cpu_limit_ms == 500);
    CHECK(cli.request_timeout_s == 2.5 && cli.max_concurrent == 8);
    CHECK(PARSE("serve", "--memory-limit=0", "--cpu-limit-ms=0", "c.capnp") == 0);
    CHECK(cli.memory_limit_mib == 0 && cli.cpu_limit_ms == 0);
    CHECK(PARSE("serve", "--memory-limit=lots", "c.capnp") < 0);
    CHECK(strstr(cli.output, "--memory-limit: expected a non-negative integer") != NULL);
    CHECK(PARSE("serve", "--request-timeout=-1", "c.capnp") < 0);
    CHECK(strstr(cli.output, "--request-timeout: expected a number of seconds") != NULL);
}

TEST(double_dash_ends_options)
{
    CHECK(PARSE("serve", "--", "-weird.capnp") == 0);
    CHECK_STR(cli.config_path, "-weird.capnp");
}

TEST(serve_usage_errors)
{
    CHECK(PARSE("serve") < 0);
    CHECK_STR(cli.output, "pyworkerd serve: missing argument <config-file>\n"
                          "Try 'pyworkerd serve --help' for more information.");
    CHECK(PARSE("serve", "--bogus", "c.capnp") < 0);
    CHECK_STR(cli.output, "pyworkerd serve: --bogus: unrecognized option\n"
                          "Try 'pyworkerd serve --help' for more information.");
    CHECK(PARSE("serve", "-x", "c.capnp") < 0);
    CHECK(strstr(cli.output, "-x: unrecognized option") != NULL);
    CHECK(PARSE("serve", "-s", "http", "c.capnp") < 0);
    CHECK_STR(cli.output, "pyworkerd serve: -s: Expected <name>=<value>\n"
                          "Try 'pyworkerd serve --help' for more information.");
    CHECK(PARSE("serve", "--socket-addr=http", "c.capnp") < 0);
    CHECK(strstr(cli.output, "Expected <name>=<value>") != NULL);
    CHECK(PARSE("serve", "c.capnp", "-s") < 0);
    CHECK(strstr(cli.output, "-s: missing argument") != NULL);
    CHECK(PARSE("serve", "--isolates=0", "c.capnp") < 0);
    CHECK(strstr(cli.output, "--isolates: expected a positive integer") != NULL);
    CHECK(PARSE("serve", "--drain-timeout=soon", "c.capnp") < 0);
    CHECK(strstr(cli.output, "--drain-timeout: expected a number of seconds") != NULL);
    CHECK(PARSE("serve", "--verbose=1", "c.capnp") < 0);
    CHECK(PARSE("serve", "a.capnp", "b", "c") < 0);
    CHECK(strstr(cli.output, "c: too many arguments") != NULL);
}

TEST(help_and_version)
{
    CHECK(PARSE("--version") == 0 && cli.cmd == PW_CMD_VERSION);
    CHECK_STR(cli.output, "pyworkerd " PW_VERSION);
    CHECK_STR(cli.output, "pyworkerd 0.1.0");
    CHECK(PARSE("serve", "--version") == 0 && cli.cmd == PW_CMD_VERSION);
    CHECK(PARSE("serve", "--help") == 0 && cli.cmd == PW_CMD_HELP);
    CHECK(strstr(cli.output, "Usage: pyworkerd serve") != NULL);
    CHECK(strstr(cli.output, "--socket-addr") != NULL);
    CHECK(PARSE("serve", "c.capnp", "--help") == 0 && cli.cmd == PW_CMD_HELP);
    CHECK(PARSE("--help") == 0 && cli.cmd == PW_CMD_HELP);
    CHECK(strstr(cli.output, "serve") != NULL);
    CHECK(PARSE("help") == 0 && cli.cmd == PW_CMD_HELP);
    CHECK(PARSE("help", "serve") == 0 && cli.cmd == PW_CMD_HELP);
    CHECK(strstr(cli.output, "Usage: pyworkerd serve") != NULL);
    CHECK(PARSE("help", "nope") < 0);
}

TEST(top_level_errors)
{
    char *argv[] = { "pyworkerd", NULL };
    CHECK(pw_cli_parse(1, argv, &cli) < 0);
    CHECK(cli.cmd == PW_CMD_NONE);
    CHECK_STR(cli.output, "pyworkerd: missing command\nTry 'pyworkerd --help' for more information.");
    CHECK(PARSE("compile", "c.capnp") < 0);
    CHECK_STR(cli.output, "pyworkerd: compile: no such command\n"
                          "Try 'pyworkerd --help' for more information.");
    CHECK(PARSE("--frobnicate") < 0);
    CHECK(strstr(cli.output, "pyworkerd: --frobnicate: unrecognized option") != NULL);
}

TEST(child_modes_are_not_the_hosts)
{
    CHECK(PARSE("--zygote", "7") < 0);
    CHECK_STR(cli.output, "pyworkerd: --zygote: unrecognized option\n"
                          "Try 'pyworkerd --help' for more information.");
    CHECK(PARSE("--isolate", "3", "/r/main/spec.json") < 0);
    CHECK(strstr(cli.output, "pyworkerd: --isolate: unrecognized option") != NULL);
}

/* A valid value for each option that takes one, by long name: every option `help serve`
 * lists must be here, so that a new row of the table gets tested. */
static const struct { const char *name, *value; } samples[] = {
    { "socket-addr", "http=*:8080" }, { "socket-fd", "http=3" }, { "directory-path", "kv=/d" },
    { "external-addr", "api=127.0.0.1:9" }, { "control-fd", "5" }, { "experimental", NULL },
    { "import-path", "inc" }, { "threads", "2" }, { "isolates", "2" }, { "min-isolates", "0" }, { "max-isolates", "4" },
    { "spare-isolates", "0" }, { "idle-timeout", "0.5" }, { "watch", NULL }, { "no-snapshot", NULL },
    { "drain-timeout", "2" }, { "memory-limit", "64" }, { "cpu-limit-ms", "500" },
    { "request-timeout", "1.5" }, { "max-concurrent-requests", "8" }, { "persist-dir", ":memory:" },
    { "fetch-timeout", "3" }, { "no-sandbox", NULL }, { "no-access-log", NULL }, { "verbose", NULL },
    { "durable-object-idle-timeout", "5" },
    { "version", NULL }, { "help", NULL }, { "compat-date", "2024-01-01" },
    { "test-scheduled", NULL },
    { "env", "staging" }, { "var", "K:V" },
    { "storage", "postgresql://u@127.0.0.1:5432/db" },
    { "cluster-address", "127.0.0.1:9101" },
    { "cluster-secret", "s3cret" },
    { "durable-object-lease", "5" },
};
#define N_SAMPLES (sizeof samples / sizeof samples[0])

static int sample_of(const char *name, size_t len)
{
    for (size_t i = 0; i < N_SAMPLES; i++)
        if (strlen(samples[i].name) == len && strncmp(samples[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

/* Parses `serve` or `test` with one option and a config path; 0 or -1. */
static int parse_one(const char *cmd, const char *a, const char *b)
{
    char *argv[] = { "pyworkerd", (char *)cmd, (char *)a, (char *)b, "c.capnp", NULL };
    if (!b) {
        argv[3] = "c.capnp";
        argv[4] = NULL;
    }
    return pw_cli_parse(b ? 5 : 4, argv, &cli);
}

/* The expected command after parsing option `i` of `cmd`: --help and --version end parsing. */
static pw_cmd_t expected_cmd(size_t i, pw_cmd_t cmd)
{
    if (strcmp(samples[i].name, "help") == 0) return PW_CMD_HELP;
    if (strcmp(samples[i].name, "version") == 0) return PW_CMD_VERSION;
    return cmd;
}

/* Every option `help serve` lists, in each form it has ("--o=v", "--o v", "-Xv", "-X v";
 * "--o", "-X" without a value), is accepted by serve and by test. */
TEST(every_option_in_the_table_parses)
{
    static char help[sizeof cli.output];
    CHECK(PARSE("help", "serve") == 0);
    snprintf(help, sizeof help, "%s", cli.output);
    size_t listed = 0;
    for (const char *line = strstr(help, "\n    -"); line; line = strstr(line + 1, "\n    -")) {
        const char *dashes = strstr(line, "--");
        size_t len = strcspn(dashes + 2, "=\n");
        int i = sample_of(dashes + 2, len);
        CHECK(i >= 0);
        if (i < 0) {
            fprintf(stderr, "  no sample for --%.*s\n", (int)len, dashes + 2);
            continue;
        }
        listed++;
        char short_name = line[6] == '-' ? 0 : line[6];
        const char *value = samples[i].value;
        CHECK((dashes[2 + len] == '=') == (value != NULL));     /* help shows its argument */
        for (int c = 0; c < 2; c++) {
            pw_cmd_t cmd = c ? PW_CMD_TEST : PW_CMD_SERVE;
            const char *cmd_name = c ? "test" : "serve";
            char joined[128], flag[64];
            snprintf(flag, sizeof flag, "--%s", samples[i].name);
            snprintf(joined, sizeof joined, value ? "--%s=%s" : "--%s", samples[i].name, value);
            CHECK(parse_one(cmd_name, joined, NULL) == 0 && cli.cmd == expected_cmd(i, cmd));
            if (value)
                CHECK(parse_one(cmd_name, flag, value) == 0 && cli.cmd == cmd);
            if (!short_name)
                continue;
            snprintf(flag, sizeof flag, "-%c", short_name);
            snprintf(joined, sizeof joined, "-%c%s", short_name, value ? value : "");
            CHECK(parse_one(cmd_name, joined, NULL) == 0 && cli.cmd == cmd);
            if (value)
                CHECK(parse_one(cmd_name, flag, value) == 0 && cli.cmd == cmd);
        }
    }
    CHECK(listed == N_SAMPLES);
}

TEST(help_lists_the_table)
{
    CHECK(PARSE("help", "serve") == 0);
    CHECK(strstr(cli.output, "\nOptions:\n    -s<name>=<addr>, --socket-addr=<name>=<addr>\n"
                             "        Override the address of the socket <name> in the config "
                             "(e.g. http=*:8080).\n    -S<name>=<fd>, --socket-fd=<name>=<fd>\n"
                             "        Serve the socket <name> on the listening socket <fd> "
                             "(inherited, e.g. from\n        systemd) instead of its address.\n") != NULL);
    CHECK(strstr(cli.output, "\n    -w, --watch\n        Rebuild") != NULL);
    CHECK(strstr(cli.output, "\n    --control-fd=<fd>\n") != NULL);
    CHECK(strstr(cli.output, "--snapshot=") == NULL);      /* hidden */
    static const char last[] = "\n    --help\n        Display this help text and exit.";
    size_t len = strlen(cli.output);
    CHECK(len > sizeof last && strcmp(cli.output + len - (sizeof last - 1), last) == 0);
    CHECK(PARSE("--help") == 0);
    CHECK(strstr(cli.output, "\nOptions:\n    --version\n        Print version information and exit.\n"
                             "    --help\n        Display this help text and exit.") != NULL);
    CHECK(strstr(cli.output, "--socket-addr") == NULL);
    CHECK(PARSE("--help=x") < 0);
    CHECK(strstr(cli.output, "pyworkerd: --help: unrecognized option") != NULL);
}

TEST(unknown_and_incomplete_options)
{
    CHECK(PARSE("test", "--snapshots=none", "c.capnp") < 0);
    CHECK_STR(cli.output, "pyworkerd test: --snapshots: unrecognized option\n"
                          "Try 'pyworkerd test --help' for more information.");
    CHECK(PARSE("serve", "-W", "c.capnp") < 0);
    CHECK(strstr(cli.output, "pyworkerd serve: -W: unrecognized option") != NULL);
    CHECK(PARSE("serve", "--version=2", "c.capnp") < 0);
    CHECK(strstr(cli.output, "--version: option does not take an argument") != NULL);
    CHECK(PARSE("test", "c.capnp", "--persist-dir") < 0);
    CHECK_STR(cli.output, "pyworkerd test: --persist-dir: missing argument\n"
                          "Try 'pyworkerd test --help' for more information.");
    CHECK(PARSE("serve", "c.capnp", "-I") < 0);
    CHECK(strstr(cli.output, "pyworkerd serve: -I: missing argument") != NULL);
    CHECK(PARSE("serve", "--persist-dir=", "c.capnp") < 0);
    CHECK(strstr(cli.output, "--persist-dir: expected a directory") != NULL);
    CHECK(PARSE("serve", "--fetch-timeout=0", "c.capnp") < 0);
    CHECK(strstr(cli.output, "--fetch-timeout: expected a number of seconds, got \"0\"") != NULL);
    CHECK(PARSE("serve", "--control-fd", "x", "c.capnp") < 0);
    CHECK(strstr(cli.output, "--control-fd: expected a file descriptor number, got \"x\"") != NULL);
    CHECK(PARSE("serve", "--spare-isolates=4097", "c.capnp") < 0);
    CHECK(strstr(cli.output, "--spare-isolates: expected a non-negative integer, got \"4097\"") != NULL);
    CHECK(PARSE("serve", "--memory-limit=1048577", "c.capnp") < 0);
    CHECK(PARSE("serve", "--memory-limit=1048576", "c.capnp") == 0 && cli.memory_limit_mib == 1 << 20);
}

TEST(repeated_options)
{
    /* a value: the last one counts; a list: each adds; a flag: the same twice */
    CHECK(PARSE("serve", "--isolates=2", "--min-isolates", "3", "--drain-timeout=1",
                "--drain-timeout=4", "-Ia", "-I", "b", "-w", "--watch", "--no-sandbox",
                "--no-sandbox", "--persist-dir=x", "--persist-dir=y", "c.capnp") == 0);
    CHECK(cli.isolates == 3 && cli.drain_timeout_s == 4 && cli.watch == 1 && cli.sandbox == 0);
    CHECK(cli.n_import_paths == 2);
    CHECK_STR(cli.import_paths[1], "b");
    CHECK_STR(cli.persist_dir, "y");
    CHECK(PARSE("serve", "--snapshot=baseline", "--no-snapshot", "c.capnp") == 0);
    CHECK(cli.snapshot == PW_SNAPSHOT_NONE);
    CHECK(PARSE("serve", "--no-snapshot", "--snapshot=package", "c.capnp") == 0);
    CHECK(cli.snapshot == PW_SNAPSHOT_PACKAGE);
    char *argv[PW_CLI_MAX_LIST + 4] = { "pyworkerd", "serve" };
    for (int i = 0; i <= PW_CLI_MAX_LIST; i++)
        argv[2 + i] = "-sa=b";
    argv[PW_CLI_MAX_LIST + 3] = "c.capnp";
    CHECK(pw_cli_parse(PW_CLI_MAX_LIST + 3, argv, &cli) < 0);
    CHECK(strstr(cli.output, "pyworkerd serve: -s: too many") != NULL);
    argv[PW_CLI_MAX_LIST + 2] = "c.capnp";      /* one fewer */
    CHECK(pw_cli_parse(PW_CLI_MAX_LIST + 3, argv, &cli) == 0 && cli.n_socket_overrides == PW_CLI_MAX_LIST);
}

/* workerd's --compat-date is checked as a date; its Python and autogate options are taken
 * (with their arguments) and listed for the host to say they are ignored. */
TEST(workerd_options_accepted)
{
    CHECK(PARSE("serve", "--compat-date=2024-05-01", "c.capnp") == 0);
    CHECK_STR(cli.compat_date, "2024-05-01");
    CHECK(PARSE("serve", "--compat-date", "May", "c.capnp") == -1);
    CHECK(strstr(cli.output, "--compat-date") != NULL);
    CHECK(PARSE("test", "--python-load-snapshot", "snapshot.bin", "--all-autogates",
                "--pyodide-bundle-disk-cache-dir=/tmp/b", "c.capnp") == 0);
    CHECK_STR(cli.config_path, "c.capnp");
    CHECK(cli.n_ignored == 3);
    CHECK_STR(cli.ignored[0], "python-load-snapshot");
    CHECK_STR(cli.ignored[2], "pyodide-bundle-disk-cache-dir");
}

TEST(cron_test_options)
{
    CHECK(PARSE("serve", "c.capnp") == 0);
    CHECK(cli.test_scheduled == 0 && cli.test_cron_speed == 0);
    CHECK(PARSE("serve", "--test-scheduled", "--test-cron-speed=60", "c.capnp") == 0);
    CHECK(cli.test_scheduled == 1 && cli.test_cron_speed == 60);
    CHECK(PARSE("serve", "--test-cron-speed=0", "c.capnp") == -1);      /* hidden, but checked */
    CHECK(strstr(cli.output, "--test-cron-speed") != NULL);
    CHECK(PARSE("help", "serve") == 0 && strstr(cli.output, "--test-cron-speed") == NULL);
}

TEST(storage_url)
{
    CHECK(PARSE("serve", "c.capnp") == 0 && cli.storage == NULL);
    CHECK(PARSE("serve", "--storage=postgresql://u:p@db.example:5433/state", "c.capnp") == 0);
    CHECK_STR(cli.storage, "postgresql://u:p@db.example:5433/state");
    CHECK(PARSE("serve", "--storage", "postgres://h/db", "c.capnp") == 0);
    CHECK_STR(cli.storage, "postgres://h/db");
    CHECK(PARSE("serve", "--storage=mysql://h/db", "c.capnp") < 0);
    CHECK(strstr(cli.output, "pyworkerd serve: --storage: expected a "
                             "postgresql://[user[:password]@]host[:port]/dbname URL, got \"mysql://h/db\"")
          != NULL);
    CHECK(PARSE("serve", "--storage=", "c.capnp") < 0);
}

int main(void)
{
    RUN(serve_defaults);
    RUN(serve_all_option_forms);
    RUN(workerd_serve_overrides);
    RUN(test_command);
    RUN(snapshot_modes);
    RUN(pool_sizes);
    RUN(sandbox_and_limit_options);
    RUN(double_dash_ends_options);
    RUN(serve_usage_errors);
    RUN(help_and_version);
    RUN(top_level_errors);
    RUN(child_modes_are_not_the_hosts);
    RUN(every_option_in_the_table_parses);
    RUN(help_lists_the_table);
    RUN(unknown_and_incomplete_options);
    RUN(repeated_options);
    RUN(workerd_options_accepted);
    RUN(cron_test_options);
    RUN(storage_url);
    return UNIT_DONE();
}
