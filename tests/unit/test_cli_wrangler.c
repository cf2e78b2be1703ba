/* test_cli_wrangler.c — pw_cli_parse for wrangler projects: `dev` (wrangler dev's options and
 * defaults, and serve's options), `config`, `init`, and --env/--var on `serve wrangler.toml`;
 * -e means --env for dev and config but --external-addr for serve, as each tool has it. */
#include "unit.h"
#include "config/cli.h"
#include "config/wrangler.h"

static pw_cli_t cli;

#define ARGV(...) ((char *[]){ "pyworkerd", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "pyworkerd", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(...) pw_cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &cli)

TEST(dev_defaults)
{
    CHECK(PARSE("dev") == 0);
    CHECK(cli.cmd == PW_CMD_DEV);
    CHECK(cli.config_path == NULL && cli.wrangler.n_configs == 0 && cli.wrangler.env == NULL);
    CHECK(cli.dev_port == 8787 && cli.live_reload == 1 && cli.dev_https == 0);
    CHECK_STR(cli.dev_ip, "127.0.0.1");
    CHECK(cli.persist_to == NULL);
}

TEST(dev_options)
{
    CHECK(PARSE("dev", "-c", "a/wrangler.toml", "--config=b/wrangler.jsonc", "-e", "staging",
                "--var", "A:1", "--var=B:x:y", "--port", "0", "--ip", "*", "--local-protocol",
                "https", "--persist-to", "/tmp/s", "--no-live-reload", "--test-scheduled",
                "--max-isolates", "4") == 0);
    CHECK(cli.wrangler.n_configs == 2);
    CHECK_STR(cli.wrangler.configs[0], "a/wrangler.toml");
    CHECK_STR(cli.wrangler.configs[1], "b/wrangler.jsonc");
    CHECK_STR(cli.wrangler.env, "staging");
    CHECK(cli.wrangler.n_vars == 2);
    CHECK_STR(cli.wrangler.vars[1], "B:x:y");
    CHECK(cli.dev_port == 0 && cli.dev_https == 1 && cli.live_reload == 0);
    CHECK_STR(cli.dev_ip, "*");
    CHECK_STR(cli.persist_to, "/tmp/s");
    CHECK(cli.test_scheduled == 1 && cli.max_isolates == 4);    /* serve's options too */
}

TEST(dev_usage_errors)
{
    CHECK(PARSE("dev", "src/entry.py") == -1);
    CHECK(strstr(cli.output, "pyworkerd dev: src/entry.py: pyworkerd dev takes no script") != NULL);
    CHECK(strstr(cli.output, "Try 'pyworkerd dev --help'") != NULL);
    CHECK(PARSE("dev", "--port", "70000") == -1);
    CHECK(PARSE("dev", "--local-protocol", "ftp") == -1);
    CHECK(strstr(cli.output, "--local-protocol: expected http or https, got \"ftp\"") != NULL);
    CHECK(PARSE("dev", "--var", "NOCOLON") == -1);
    CHECK(strstr(cli.output, "--var: expected KEY:VALUE") != NULL);
    CHECK(PARSE("dev", "--env", "") == -1);
}

TEST(env_short_option_per_command)
{
    CHECK(PARSE("serve", "-e", "api=127.0.0.1:9", "--env", "prod", "--var", "K:V", "wrangler.toml") == 0);
    CHECK(cli.n_external_overrides == 1);
    CHECK_STR(cli.wrangler.env, "prod");
    CHECK(cli.wrangler.n_vars == 1);
    CHECK(PARSE("dev", "-e", "prod") == 0);
    CHECK_STR(cli.wrangler.env, "prod");
    CHECK(PARSE("serve", "--port", "1", "c.capnp") == -1);     /* dev's options are dev's */
}

TEST(config_and_init)
{
    CHECK(PARSE("config") == 0 && cli.cmd == PW_CMD_CONFIG && cli.wrangler.n_configs == 0);
    CHECK(PARSE("config", "--env", "staging", "x/wrangler.json") == 0);
    CHECK(cli.wrangler.n_configs == 1);
    CHECK_STR(cli.wrangler.configs[0], "x/wrangler.json");
    CHECK(PARSE("init", "my-worker") == 0 && cli.cmd == PW_CMD_INIT);
    CHECK_STR(cli.config_path, "my-worker");
    CHECK(PARSE("init") == -1);
    CHECK(strstr(cli.output, "pyworkerd init: missing argument <name>") != NULL);
    CHECK(PARSE("init", "a", "b") == -1);
}

TEST(help_of_the_new_commands)
{
    CHECK(PARSE("help") == 0 && strstr(cli.output, "  dev      Run a Cloudflare") != NULL);
    CHECK(PARSE("help", "dev") == 0 && strstr(cli.output, "--persist-to") != NULL &&
          strstr(cli.output, "--socket-addr") != NULL && strstr(cli.output, "--external-addr") == NULL);
    CHECK(PARSE("dev", "--help") == 0 && cli.cmd == PW_CMD_HELP && strstr(cli.output, "--no-live-reload"));
    CHECK(PARSE("help", "config") == 0 && strstr(cli.output, "--env") && !strstr(cli.output, "--port"));
    CHECK(PARSE("help", "init") == 0 && strstr(cli.output, "Usage: pyworkerd init <name>"));
}

TEST(wrangler_file_names)
{
    CHECK(pw_wrangler_is_file("wrangler.toml") && pw_wrangler_is_file("a/wrangler.jsonc") &&
          pw_wrangler_is_file("x.json"));
    CHECK(!pw_wrangler_is_file("config.capnp") && !pw_wrangler_is_file(NULL));
}

int main(void)
{
    RUN(dev_defaults);
    RUN(dev_options);
    RUN(dev_usage_errors);
    RUN(env_short_option_per_command);
    RUN(config_and_init);
    RUN(help_of_the_new_commands);
    RUN(wrangler_file_names);
    return UNIT_DONE();
}
