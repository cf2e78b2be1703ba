/* test_child_args.c — pw_child_args_parse: the zygote's and cold isolate's hidden command
 * line, as isolate/child_command.h's callers build it (host/supervisor.c, isolate/startmode.c). */
#include "unit.h"
#include "isolate/child_args.h"

static pw_child_args_t args;
static char err[512];

#define ARGV(...) ((char *[]){ "pyworkerd", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "pyworkerd", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(...) pw_child_args_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), &args, err, sizeof err)

TEST(zygote_mode)
{
    CHECK(PARSE("--zygote", "7") == 0);
    CHECK(args.mode == PW_CHILD_ZYGOTE && args.fd == 7 && args.trace == 0);
    CHECK(args.snapshot == PW_SNAPSHOT_PACKAGE);
    CHECK(PARSE("--zygote", "0") == 0 && args.fd == 0);
    /* what host/supervisor.c passes */
    CHECK(PARSE("--zygote", "7", "--snapshot=baseline", "--trace") == 0);
    CHECK(args.fd == 7 && args.trace == 1 && args.snapshot == PW_SNAPSHOT_BASELINE);
    CHECK(PARSE("--zygote", "7", "--snapshot=none") == 0 && args.snapshot == PW_SNAPSHOT_NONE);
    CHECK(PARSE("--zygote", "7", "--snapshot=package") == 0 && args.snapshot == PW_SNAPSHOT_PACKAGE);
}

TEST(cold_isolate_mode)
{
    /* what isolate/startmode.c passes */
    CHECK(PARSE("--isolate", "3", "/r/main/spec.json", "--since=123", "--trace") == 0);
    CHECK(args.mode == PW_CHILD_ISOLATE && args.fd == 3 && args.trace == 1);
    CHECK_STR(args.spec_path, "/r/main/spec.json");
    CHECK(args.since_ns == 123);
    CHECK(PARSE("--isolate", "3", "/s.json") == 0 && args.trace == 0 && args.since_ns == 0);
}

TEST(usage_errors)
{
    CHECK(PARSE("--zygote") < 0);
    CHECK_STR(err, "pyworkerd: --zygote: expected a file descriptor\n"
                   "Try 'pyworkerd --help' for more information.");
    CHECK(PARSE("--zygote", "x") < 0);
    CHECK(PARSE("--zygote", "-1") < 0);
    CHECK(PARSE("--zygote", "7", "--bogus") < 0);
    CHECK(strstr(err, "pyworkerd: --zygote: --bogus: unrecognized option") != NULL);
    CHECK(PARSE("--zygote", "7", "--snapshot=sideways") < 0);
    CHECK(strstr(err, "--zygote: --snapshot=sideways: unrecognized option") != NULL);
    CHECK(PARSE("--isolate", "3") < 0);
    CHECK_STR(err, "pyworkerd: --isolate: expected a file descriptor and a spec path\n"
                   "Try 'pyworkerd --help' for more information.");
    CHECK(PARSE("--isolate", "3", "/s.json", "--since=12x") < 0);
    CHECK(strstr(err, "pyworkerd: --isolate: --since=12x: expected nanoseconds") != NULL);
    CHECK(PARSE("--isolate", "3", "/s.json", "--since=") < 0);
}

TEST(other_commands_are_no_child_mode)
{
    CHECK(PARSE("serve", "c.capnp") == 1);
    CHECK(PARSE("--help") == 1);
    char *argv[] = { "pyworkerd", NULL };
    CHECK(pw_child_args_parse(1, argv, &args, err, sizeof err) == 1);
}

int main(void)
{
    RUN(zygote_mode);
    RUN(cold_isolate_mode);
    RUN(usage_errors);
    RUN(other_commands_are_no_child_mode);
    return UNIT_DONE();
}
