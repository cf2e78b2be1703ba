/* cli.h — command-line parsing for `pyworkerd` (host process), with workerd's names and
 * usage-error format ("pyworkerd serve: <detail>\nTry 'pyworkerd serve --help' for more
 * information."). Parsing never exits: main.c decides what to print and the exit code.
 * The child processes' hidden modes (--zygote, --isolate) are not parsed here but by the
 * child itself (isolate/child_args.h).
 */
#ifndef PW_CLI_H
#define PW_CLI_H

#include "config/config.h"
#include "config/wrangler.h"
#include "wire/start_type.h"

#include <stddef.h>

#define PW_CLI_MAX_LIST 64
#define PW_VERSION "0.1.0"

typedef enum {
    PW_CMD_NONE,        /* no command given */
    PW_CMD_SERVE,
    PW_CMD_TEST,        /* `pyworkerd test`: serve's options, runs test handlers, exits */
    PW_CMD_HELP,        /* --help / help [cmd]: print cli->output, exit 0 */
    PW_CMD_VERSION,     /* --version: print cli->output, exit 0 */
    PW_CMD_DEV,         /* `pyworkerd dev`: serve a wrangler project with wrangler dev's defaults */
    PW_CMD_CONFIG,      /* `pyworkerd config [wrangler file]`: print it as a workerd config */
    PW_CMD_INIT,        /* `pyworkerd init NAME`: write a new project (config_path = NAME) */
    PW_CMD_D1,          /* `pyworkerd d1 ...`: wrangler's d1 commands (d1_argv, d1_argc) */
} pw_cmd_t;


typedef struct {
    pw_cmd_t cmd;
    const char *config_path;
    const char *const_name;
    const char *test_filter;    /* PW_CMD_TEST: [const:]service[:entrypoint] globs, or NULL */
    const char *import_paths[PW_CLI_MAX_LIST];
    size_t n_import_paths;
    pw_socket_override_t socket_overrides[PW_CLI_MAX_LIST];
    size_t n_socket_overrides;
    pw_socket_override_t socket_fds[PW_CLI_MAX_LIST];          /* -S name=fd (fd as text) */
    size_t n_socket_fds;
    pw_socket_override_t directory_overrides[PW_CLI_MAX_LIST]; /* -d name=path */
    size_t n_directory_overrides;
    pw_socket_override_t external_overrides[PW_CLI_MAX_LIST];  /* -e name=addr */
    size_t n_external_overrides;
    int control_fd;             /* --control-fd: JSON "listen" events (-1: none) */
    int verbose;
    int watch;                  /* --watch: rebuild and swap in workers whose files change */
    int access_log;             /* 1 unless --no-access-log */
    int threads;                /* --threads N: host event loops (0: half the CPUs, 1 below 4) */
    int isolates;               /* --isolates/--min-isolates N: serving isolates kept (default 1) */
    int max_isolates;           /* --max-isolates N: grow up to N under load (0: = min) */
    int spare_isolates;         /* --spare-isolates N: pre-forked isolates held back (default 1) */
    double idle_timeout_s;      /* --idle-timeout S: retire idle isolates above min (default 30) */
    double drain_timeout_s;     /* --drain-timeout S (default 10) */
    int sandbox;                /* 1 unless --no-sandbox */
    int memory_limit_mib;       /* --memory-limit MiB per isolate (default 128; 0: none) */
    int cpu_limit_ms;           /* --cpu-limit-ms per request (default 30000; 0: none) */
    double request_timeout_s;   /* --request-timeout S wall clock (default 0: none) */
    int max_concurrent;         /* --max-concurrent-requests N per isolate (default 0: any) */
    const char *persist_dir;    /* --persist-dir DIR or ":memory:" (default NULL: the CWD) */
    double fetch_timeout_s;     /* --fetch-timeout S for outbound fetch() (default 30) */
    double do_idle_timeout_s;   /* --durable-object-idle-timeout S (default 70) */
    pw_snapshot_t snapshot;     /* --no-snapshot, hidden --snapshot=package|baseline|none;
                                 * also passed to the zygote */
    const char *compat_date;    /* --compat-date DATE: for workers whose config gives none */
    const char *ignored[PW_CLI_MAX_LIST];   /* workerd options accepted and ignored, as written */
    size_t n_ignored;
    char output[8192];          /* help/version text, or the usage error */
    char socket_names[PW_CLI_MAX_LIST][256];    /* storage for socket_overrides[i].name */
    char socket_fd_names[PW_CLI_MAX_LIST][256];
    char directory_names[PW_CLI_MAX_LIST][256];
    char external_names[PW_CLI_MAX_LIST][256];
    int test_scheduled;         /* --test-scheduled: /__scheduled and /cdn-cgi/handler/scheduled */
    int test_cron_speed;        /* hidden --test-cron-speed N: the cron clock runs N times as
                                 * fast (tests; 0: real time) */
    /* wrangler projects (dev, config, and serve of a wrangler file) */
    pw_wrangler_options_t wrangler;     /* -c/--config, --env, --var */
    char **d1_argv;             /* PW_CMD_D1: the words after `d1`, passed on as they are */
    int d1_argc;
    int dev_port;               /* dev --port (default 8787; 0: any free port) */
    const char *dev_ip;         /* dev --ip (default 127.0.0.1; wrangler's "localhost") */
    int dev_https;              /* dev --local-protocol https */
    const char *persist_to;     /* dev --persist-to DIR (default <project>/.wrangler/state) */
    int live_reload;            /* dev: 1 unless --no-live-reload */
    const char *storage;        /* --storage postgresql://...: state in PostgreSQL (NULL: SQLite) */
    const char *cluster_address;    /* --cluster-address HOST:PORT: this node's internal port */
    const char *cluster_secret;     /* --cluster-secret S (or $PYWORKERD_CLUSTER_SECRET) */
    double do_lease_s;          /* --durable-object-lease S (default 10) */
} pw_cli_t;

/* Returns 0 on success, or -1 with the full usage error in cli->output. */
int pw_cli_parse(int argc, char **argv, pw_cli_t *cli);

#endif
