/* dev.c — a wrangler project's settings and start banner (host process; see dev.h). */
#include "host/dev.h"

#include "base/log.h"
#include "config/wrangler.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char address[300];
static char persist[PATH_MAX];
static pw_wrangler_info_t info;

int pw_dev_is_wrangler(const pw_cli_t *cli)
{
    return cli->cmd == PW_CMD_DEV || pw_wrangler_is_file(cli->config_path);
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -ENAMETOOLONG;
    for (char *p = buf + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) < 0 && errno != EEXIST)
            return -errno;
        *p = c;
        if (!c)
            return 0;
    }
}

/* <the first wrangler file's directory>/.wrangler/state */
static const char *default_state_dir(const pw_cli_t *cli)
{
    const char *first = cli->wrangler.n_configs ? cli->wrangler.configs[0] : NULL;
    const char *slash = first ? strrchr(first, '/') : NULL;
    if (slash)
        snprintf(persist, sizeof persist, "%.*s/.wrangler/state",
                 slash == first ? 1 : (int)(slash - first), first);
    else
        snprintf(persist, sizeof persist, ".wrangler/state");
    return persist;
}

static int set_state_dir(pw_cli_t *cli, const char *chosen)
{
    const char *dir = chosen ? chosen : default_state_dir(cli);
    if (strcmp(dir, ":memory:") != 0) {
        int rc = make_dirs(dir);
        if (rc < 0) {
            fprintf(stderr, "cannot make the state directory %s: %s\n", dir, strerror(-rc));
            return -1;
        }
    }
    cli->persist_dir = dir;
    return 0;
}

int pw_dev_prepare(pw_cli_t *cli)
{
    if (cli->cmd != PW_CMD_DEV) {
        /* serve/test wrangler.toml: the file first among the project's configs */
        memmove(&cli->wrangler.configs[1], &cli->wrangler.configs[0],
                sizeof cli->wrangler.configs[0] * (PW_WRANGLER_MAX_LIST - 1));
        cli->wrangler.configs[0] = cli->config_path;
        if (cli->wrangler.n_configs < PW_WRANGLER_MAX_LIST)
            cli->wrangler.n_configs++;
        cli->wrangler.address = "*:8787";
        return set_state_dir(cli, cli->persist_dir);
    }
    cli->watch = cli->live_reload;
    snprintf(address, sizeof address, strchr(cli->dev_ip, ':') ? "[%s]:%d" : "%s:%d",
             cli->dev_ip, cli->dev_port);
    cli->wrangler.address = address;
    cli->wrangler.https = cli->dev_https;
    return set_state_dir(cli, cli->persist_to ? cli->persist_to : cli->persist_dir);
}

int pw_dev_load_config(const pw_cli_t *cli, const pw_config_options_t *opts, pw_config_t **out,
                       char *err, size_t err_len)
{
    pw_wrangler_info_t next = { 0 };
    int rc = pw_wrangler_load(&cli->wrangler, opts, out, &next, err, err_len);
    if (rc == 0) {
        pw_wrangler_info_free(&info);
        info = next;
    }
    return rc;
}

void pw_dev_banner(const pw_cli_t *cli, const pw_http_server_t *http)
{
    const char *name;
    int port = pw_http_server_listeners(http) ? pw_http_server_port(http, 0, &name) : -1;
    const char *host = strcmp(cli->dev_ip, "127.0.0.1") == 0 || strcmp(cli->dev_ip, "*") == 0 ||
                       strcmp(cli->dev_ip, "0.0.0.0") == 0 ? "localhost" : cli->dev_ip;
    fprintf(stderr, "pyworkerd dev: %s (%s)\n", info.name ? info.name : "?",
            info.source ? info.source : "?");
    if (info.bindings && info.bindings[0])
        fprintf(stderr, "Your worker has access to the following bindings:\n%s", info.bindings);
    fprintf(stderr, "State: %s%s\n", cli->persist_dir ? cli->persist_dir : ".",
            cli->watch ? "; reloading on file changes" : "");
    fprintf(stderr, strchr(host, ':') ? "Ready on %s://[%s]:%d\n" : "Ready on %s://%s:%d\n",
            cli->dev_https ? "https" : "http", host, port);
    fflush(stderr);
}

void pw_dev_free(void)
{
    pw_wrangler_info_free(&info);
}
