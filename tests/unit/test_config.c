/* test_config.c — pw_config_load: capnp evaluation, constant choice, building the structs and
 * every check with workerd's wording. Each test writes its config into a fresh temp directory
 * (with a worker.py next to it) and loads it against the repo's schema/.
 */
#include <dirent.h>
#include <limits.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "config/compat_flags.h"
#include "config/config.h"

static char dir[256];
static char config_path[512];
static char err[8192];

#define HEAD "using Workerd = import \"/workerd/workerd.capnp\";\n"

/* A config with one Python worker "main" served on socket "http"; %s slots: extra worker fields,
 * extra Config fields. */
#define SIMPLE HEAD \
    "const config :Workerd.Config = (\n" \
    "  services = [ (name = \"main\", worker = .w) ],\n" \
    "  sockets = [ (name = \"http\", address = \"*:8080\", http = (), service = \"main\") ],\n" \
    "%s);\n" \
    "const w :Workerd.Worker = (\n" \
    "  modules = [ (name = \"worker.py\", pythonModule = embed \"worker.py\") ],\n" \
    "  compatibilityDate = \"2024-01-01\",\n" \
    "  compatibilityFlags = [\"python_workers\"],\n" \
    "%s);\n"

static void write_file(const char *name, const char *text, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(text, 1, len, f);
    fclose(f);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Removes the previous test's directory and makes a new one. */
static void fresh_dir(void)
{
    if (dir[0]) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    snprintf(dir, sizeof dir, "/tmp/pw-test-config-XXXXXX");
    if (!mkdtemp(dir)) abort();
    snprintf(config_path, sizeof config_path, "%s/config.capnp", dir);
    const char *py = "from workers import WorkerEntrypoint\n";
    write_file("worker.py", py, strlen(py));
}

static void write_config(const char *fmt, ...)
{
    char text[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    fresh_dir();
    write_file("config.capnp", text, strlen(text));
}

typedef struct {
    const char *const_name;
    const char *const *imports;
    size_t n_imports;
    const pw_socket_override_t *overrides;
    size_t n_overrides;
} extra_t;

static pw_config_t *load_with(const extra_t *x)
{
    pw_config_options_t o = {
        .config_path = config_path,
        .const_name = x ? x->const_name : NULL,
        .import_paths = x ? x->imports : NULL,
        .n_import_paths = x ? x->n_imports : 0,
        .schema_dir = "schema",
        .socket_overrides = x ? x->overrides : NULL,
        .n_socket_overrides = x ? x->n_overrides : 0,
        .today = "2026-08-22",
    };
    pw_config_t *cfg = NULL;
    err[0] = '\0';
    int rc = pw_config_load(&o, &cfg, err, sizeof err);
    if ((rc == 0) != (cfg != NULL)) return NULL;
    return cfg;
}

static pw_config_t *load(void)
{
    return load_with(NULL);
}

static int err_has(const char *needle)
{
    if (strstr(err, needle)) return 1;
    fprintf(stderr, "  error was: %s\n  expected to contain: %s\n", err, needle);
    return 0;
}

/* Loads and expects a failure whose message contains `needle`. */
static int fails_with(const char *needle)
{
    pw_config_t *cfg = load();
    if (cfg) {
        pw_config_free(cfg);
        fprintf(stderr, "  config loaded, expected: %s\n", needle);
        return 0;
    }
    return err_has(needle);
}

static int no_temp_files_left(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int clean = 1;
    while (d && (e = readdir(d))) {
        if (strstr(e->d_name, "pyworkerd-")) clean = 0;
    }
    if (d) closedir(d);
    return clean;
}

/* ---- loading ------------------------------------------------------------------------------ */

TEST(seed_config_loads)
{
    write_config(SIMPLE, "", "");
    pw_config_t *cfg = load();
    CHECK(cfg != NULL);
    if (!cfg) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    const pw_service_t *main_svc = pw_config_service(cfg, "main");
    CHECK(main_svc && main_svc->kind == PW_SERVICE_WORKER);
    CHECK(main_svc && main_svc->worker.n_modules == 1);
    if (main_svc && main_svc->worker.n_modules == 1) {
        CHECK_STR(main_svc->worker.modules[0].name, "worker.py");
        CHECK(main_svc->worker.modules[0].kind == PW_MODULE_PYTHON);
        CHECK_STR(main_svc->worker.modules[0].content, "from workers import WorkerEntrypoint\n");
        CHECK_STR(main_svc->worker.compat_date, "2024-01-01");
        CHECK(pw_worker_has_flag(&main_svc->worker, "python_workers"));
        CHECK(!pw_worker_has_flag(&main_svc->worker, "experimental"));
    }
    const pw_service_t *internet = pw_config_service(cfg, "internet");
    CHECK(internet && internet->kind == PW_SERVICE_NETWORK && internet->n_network_allow == 1);
    CHECK(pw_config_service(cfg, "nope") == NULL);
    CHECK(cfg->n_sockets == 1);
    CHECK_STR(cfg->sockets[0].name, "http");
    CHECK_STR(cfg->sockets[0].address, "*:8080");
    CHECK_STR(cfg->sockets[0].service, "main");
    CHECK(no_temp_files_left());
    pw_config_free(cfg);
}

TEST(file_with_id_and_explicit_designators_loads)
{
    write_config("@0xd7483f9a98101054;\n" HEAD
                 "const config :Workerd.Config = (\n"
                 "  services = [ (name = \"main\", worker = (modules = [(name = \"worker.py\", "
                 "pythonModule = embed \"worker.py\")], compatibilityDate = \"2024-01-01\", "
                 "compatibilityFlags = [\"python_workers\"])) ],\n"
                 "  sockets = [ (name = \"http\", address = \"*:1\", service = (name = \"main\")) ]);\n");
    pw_config_t *cfg = load();
    CHECK(cfg != NULL);
    if (!cfg) fprintf(stderr, "  %s\n", err);
    pw_config_free(cfg);
}

TEST(modules_and_bindings_decode)
{
    fresh_dir();
    write_file("blob.bin", "\x00\x01\xff", 3);
    const char *text = SIMPLE;
    char conf[8192];
    snprintf(conf, sizeof conf, text, "",
             "  bindings = [ (name = \"T\", text = \"hello\"), (name = \"D\", data = \"hi\\n\"),\n"
             "    (name = \"J\", json = \"{\\\"a\\\": [1]}\"), (name = \"E\", fromEnvironment = \"PW_TEST_ENV\"),\n"
             "    (name = \"U\", fromEnvironment = \"PW_TEST_UNSET_ENV\") ],\n");
    /* add data and text modules after the main one */
    char *mods = strstr(conf, "embed \"worker.py\")");
    if (!mods) return;
    char rest[8192];
    snprintf(rest, sizeof rest, "%s", mods + strlen("embed \"worker.py\")"));
    snprintf(mods, sizeof conf - (size_t)(mods - conf),
             "embed \"worker.py\"), (name = \"blob.bin\", data = embed \"blob.bin\"),"
             " (name = \"x.txt\", text = \"t\"), (name = \"pkg/c.json\", json = \"[1,2]\")%s", rest);
    write_file("config.capnp", conf, strlen(conf));
    setenv("PW_TEST_ENV", "from-env", 1);
    unsetenv("PW_TEST_UNSET_ENV");
    pw_config_t *cfg = load();
    CHECK(cfg != NULL);
    if (!cfg) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    const pw_worker_t *w = &pw_config_service(cfg, "main")->worker;
    CHECK(w->n_modules == 4);
    if (w->n_modules == 4) {
        CHECK(w->modules[1].kind == PW_MODULE_DATA && w->modules[1].content_len == 3 &&
              memcmp(w->modules[1].content, "\x00\x01\xff", 3) == 0);
        CHECK(w->modules[2].kind == PW_MODULE_TEXT);
        CHECK_STR(w->modules[2].content, "t");
        CHECK(w->modules[3].kind == PW_MODULE_JSON);
        CHECK_STR(w->modules[3].name, "pkg/c.json");
    }
    CHECK(w->n_bindings == 5);
    if (w->n_bindings == 5) {
        CHECK(w->bindings[0].kind == PW_BINDING_TEXT);
        CHECK_STR(w->bindings[0].value, "hello");
        CHECK(w->bindings[1].kind == PW_BINDING_DATA && w->bindings[1].value_len == 3);
        CHECK_STR(w->bindings[1].value, "hi\n");
        CHECK(w->bindings[2].kind == PW_BINDING_JSON);
        CHECK_STR(w->bindings[2].value, "{\"a\": [1]}");
        CHECK(w->bindings[3].kind == PW_BINDING_FROM_ENV);
        CHECK_STR(w->bindings[3].value, "from-env");
        CHECK(w->bindings[4].kind == PW_BINDING_FROM_ENV && w->bindings[4].value == NULL);
    }
    pw_config_free(cfg);
}

TEST(other_service_kinds_load)
{
    write_config(HEAD "const config :Workerd.Config = (services = [\n"
                 "  (name = \"internet\", network = (allow = [\"public\", \"private\"], deny = [\"10.0.0.0/8\"])),\n"
                 "  (name = \"backend\", external = (address = \"127.0.0.1:9000\", http = ())),\n"
                 "  (name = \"files\", disk = (path = \"/tmp\", writable = true)) ]);\n");
    pw_config_t *cfg = load();
    CHECK(cfg != NULL);
    if (!cfg) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    CHECK(cfg->n_services == 3);
    const pw_service_t *s = pw_config_service(cfg, "internet");
    CHECK(s && s->n_network_allow == 2 && s->n_network_deny == 1);
    s = pw_config_service(cfg, "backend");
    CHECK(s && s->kind == PW_SERVICE_EXTERNAL);
    CHECK_STR(s ? s->external_address : NULL, "127.0.0.1:9000");
    s = pw_config_service(cfg, "files");
    CHECK(s && s->kind == PW_SERVICE_DISK && s->disk_writable && !s->disk_allow_dotfiles);
    pw_config_free(cfg);
}

/* A service binding to a disk service is the host's static files (PW_BINDING_DISK); one to a
 * worker stays a service binding; an entrypoint on a disk service is refused with file:line. */
TEST(service_bindings_to_disk_services_are_disk_bindings)
{
    static const char *const conf = HEAD
        "const config :Workerd.Config = (services = [\n"
        "  (name = \"main\", worker = .w), (name = \"other\", worker = .w),\n"
        "  (name = \"assets\", disk = (path = \"public\")) ]);\n"
        "const w :Workerd.Worker = (\n"
        "  modules = [ (name = \"worker.py\", pythonModule = embed \"worker.py\") ],\n"
        "  compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"python_workers\"],\n"
        "  bindings = [ (name = \"ASSETS\", service = \"assets\"), (name = \"SVC\", service = \"other\") ]);\n";
    write_config("%s", conf);
    pw_config_t *cfg = load();
    CHECK(cfg != NULL);
    if (!cfg) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    const pw_worker_t *w = &pw_config_service(cfg, "main")->worker;
    CHECK(w->n_bindings == 2 && w->bindings[0].kind == PW_BINDING_DISK && w->bindings[1].kind == PW_BINDING_SERVICE);
    CHECK_STR(w->bindings[0].value, "assets");
    pw_config_free(cfg);
    write_config(HEAD
        "const config :Workerd.Config = (services = [\n"
        "  (name = \"main\", worker = .w), (name = \"assets\", disk = (path = \"public\")) ]);\n"
        "const w :Workerd.Worker = (\n"
        "  modules = [ (name = \"worker.py\", pythonModule = embed \"worker.py\") ],\n"
        "  compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"python_workers\"],\n"
        "  bindings = [ (name = \"ASSETS\", service = (name = \"assets\", entrypoint = \"Files\")) ]);\n");
    CHECK(load() == NULL);
    CHECK(err_has("config.capnp:7:") && err_has("\"assets\" is a disk service, so does not have any named entrypoints"));
}

TEST(network_tls_options_decode)
{
    write_config(HEAD "const config :Workerd.Config = (services = [\n"
                 "  (name = \"plain\", network = (allow = [\"public\"])),\n"
                 "  (name = \"ca\", network = (tlsOptions = (trustedCertificates = [\"A\", \"B\"], "
                 "minVersion = tls1Dot3))),\n"
                 "  (name = \"both\", network = (tlsOptions = (trustBrowserCas = true))) ]);\n");
    pw_config_t *cfg = load();
    CHECK(cfg != NULL);
    if (!cfg) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    const pw_service_t *s = pw_config_service(cfg, "plain");
    CHECK(s && s->network_tls.trust_system && !s->network_tls.trusted_pem);
    s = pw_config_service(cfg, "ca");
    CHECK(s && !s->network_tls.trust_system && s->network_tls.min_version == PW_TLS_MIN_1_3);
    CHECK_STR(s ? s->network_tls.trusted_pem : NULL, "A\nB\n");
    s = pw_config_service(cfg, "both");
    CHECK(s && s->network_tls.trust_system && !s->network_tls.trusted_pem);
    s = pw_config_service(cfg, "internet");     /* implied: trustBrowserCas = true */
    CHECK(s && s->network_tls.trust_system);
    pw_config_free(cfg);
}

TEST(import_path_is_searched)
{
    write_config(HEAD "using W = import \"/shared/w.capnp\";\n"
                 "const config :Workerd.Config = (services = [(name = \"main\", worker = W.w)]);\n");
    char inc[512];
    snprintf(inc, sizeof inc, "%s/inc", dir);
    mkdir(inc, 0755);
    char shared[600];
    snprintf(shared, sizeof shared, "%s/shared", inc);
    mkdir(shared, 0755);
    const char *w = "@0xe1b2c3d4e5f60718;\n" HEAD
        "const w :Workerd.Worker = (modules = [(name = \"a.py\", pythonModule = \"x = 1\")],"
        " compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"python_workers\"]);\n";
    write_file("inc/shared/w.capnp", w, strlen(w));
    const char *imports[] = { inc };
    extra_t x = { .imports = imports, .n_imports = 1 };
    pw_config_t *cfg = load_with(&x);
    CHECK(cfg != NULL);
    if (!cfg) fprintf(stderr, "  %s\n", err);
    pw_config_free(cfg);

    const char *bad[] = { "/nonexistent-pw-dir" };
    extra_t y = { .imports = bad, .n_imports = 1 };
    CHECK(load_with(&y) == NULL && err_has("/nonexistent-pw-dir: No such directory."));
}

TEST(socket_override_applies)
{
    write_config(SIMPLE, "", "");
    pw_socket_override_t ov[] = { { "http", "127.0.0.1:9999" } };
    extra_t x = { .overrides = ov, .n_overrides = 1 };
    pw_config_t *cfg = load_with(&x);
    CHECK(cfg && cfg->n_sockets == 1);
    if (cfg) CHECK_STR(cfg->sockets[0].address, "127.0.0.1:9999");
    pw_config_free(cfg);

    pw_socket_override_t bad[] = { { "nope", "127.0.0.1:1" } };
    extra_t y = { .overrides = bad, .n_overrides = 1 };
    CHECK(load_with(&y) == NULL && err_has("Config did not define any socket named \"nope\" to "
                                           "match the override provided on the command line."));
}

TEST(socket_without_address_needs_override)
{
    write_config(HEAD "const config :Workerd.Config = (\n"
                 "  services = [ (name = \"main\", worker = .w) ],\n"
                 "  sockets = [ (name = \"web\", http = (), service = \"main\") ]);\n"
                 "const w :Workerd.Worker = (modules = [(name = \"worker.py\", pythonModule = embed "
                 "\"worker.py\")], compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"python_workers\"]);\n");
    CHECK(fails_with("Socket \"web\" has no address in the config, so must be specified on the "
                     "command line with `--socket-addr`."));
    CHECK(err_has(":4: Socket"));
    pw_socket_override_t ov[] = { { "web", "*:8081" } };
    extra_t x = { .overrides = ov, .n_overrides = 1 };
    pw_config_t *cfg = load_with(&x);
    CHECK(cfg != NULL);
    pw_config_free(cfg);
}

/* ---- capnp errors ------------------------------------------------------------------------- */

TEST(syntax_error_names_file_line_col)
{
    write_config(HEAD "const config :Workerd.Config = (\n  services = [ (name = \"main\" worker = .w) ]);\n");
    CHECK(load() == NULL);
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s:3:", config_path);
    CHECK(strncmp(err, prefix, strlen(prefix)) == 0);
    CHECK(err_has("Parse error"));
    CHECK(strstr(err, "does not declare an ID") == NULL);
}

TEST(errors_after_shorthand_keep_original_columns)
{
    write_config(HEAD "const config :Workerd.Config = (\n"
                 "  sockets = [ (name = \"a\", service = \"main\"), (name = \"b\", service = 5) ]);\n");
    CHECK(load() == NULL);
    /* `5` is at column 70 of line 3 in the original, whatever the rewritten copy holds. */
    char expect[600];
    snprintf(expect, sizeof expect, "%s:3:70-71: Type mismatch; expected Text.", config_path);
    CHECK_STR(err, expect);
    CHECK(no_temp_files_left());
}

TEST(missing_embed_is_reported)
{
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"main\", worker = (modules = "
                 "[(name = \"worker.py\", pythonModule = embed \"missing.py\")], compatibilityDate = "
                 "\"2024-01-01\", compatibilityFlags = [\"python_workers\"]))]);\n");
    CHECK(fails_with("Couldn't read file for embed: missing.py"));
    CHECK(err_has(":2:"));
}

TEST(config_file_not_found)
{
    fresh_dir();
    CHECK(fails_with("/config.capnp: No such file."));
}

/* ---- choosing the constant ---------------------------------------------------------------- */

TEST(no_config_constant)
{
    write_config(HEAD "const other :Text = \"x\";\n");
    CHECK(fails_with("The config file does not define any top-level constants of type 'Config'."));
}

TEST(several_config_constants)
{
    write_config(HEAD "const a :Workerd.Config = ();\nconst b :Workerd.Config = ();\n");
    CHECK(fails_with("The config file defines multiple top-level constants of type 'Config', so "
                     "you must specify which one to use. The options are: a, b"));
    extra_t x = { .const_name = "b" };
    pw_config_t *cfg = load_with(&x);
    CHECK(cfg != NULL && cfg->n_services == 1);     /* only the implied "internet" */
    pw_config_free(cfg);
}

TEST(bad_constant_names)
{
    write_config(HEAD "const config :Workerd.Config = ();\nconst t :Text = \"x\";\n"
                 "struct S { x @0 :Text; }\nstruct Outer { const inner :Workerd.Config = (); }\n");
    extra_t x = { .const_name = "nope" };
    CHECK(load_with(&x) == NULL && err_has("No such constant is defined in the config file."));
    x.const_name = "S";
    CHECK(load_with(&x) == NULL && err_has("Symbol is not a constant."));
    x.const_name = "t";
    CHECK(load_with(&x) == NULL && err_has("Constant is not of type 'Config'."));
    x.const_name = "Nope.inner";
    CHECK(load_with(&x) == NULL && err_has("(the parent scope 'Nope' does not exist)"));
    x.const_name = "Outer.inner";
    pw_config_t *cfg = load_with(&x);
    CHECK(cfg != NULL);
    pw_config_free(cfg);
}

/* ---- compatibility ------------------------------------------------------------------------ */

static void worker_config(const char *date_and_flags)
{
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"main\", worker = (\n"
                 "  modules = [(name = \"worker.py\", pythonModule = embed \"worker.py\")],\n"
                 "  %s))]);\n", date_and_flags);
}

TEST(python_needs_python_workers_flag)
{
    worker_config("compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"experimental\"]");
    CHECK(fails_with("service main: The python_workers compatibility flag is required to use Python."));
    worker_config("compatibilityDate = \"2024-01-01\"");
    CHECK(fails_with("service main: The python_workers compatibility flag is required to use Python."));
}

TEST(compatibility_date_checks)
{
    worker_config("compatibilityFlags = [\"python_workers\"]");
    CHECK(fails_with("service main: Worker must specify compatibilityDate."));
    worker_config("compatibilityDate = \"2024-13-01\", compatibilityFlags = [\"python_workers\"]");
    CHECK(fails_with("service main: Invalid compatibility date: 2024-13-01"));
    CHECK(err_has(":4: service main"));
    worker_config("compatibilityDate = \"yesterday\", compatibilityFlags = [\"python_workers\"]");
    CHECK(fails_with("Invalid compatibility date: yesterday"));
    worker_config("compatibilityDate = \"2026-08-23\", compatibilityFlags = [\"python_workers\"]");
    CHECK(fails_with("service main: Can't set compatibility date in the future: \"2026-08-23\". "
                     "Today's date (UTC) is \"2026-08-22\"."));
    worker_config("compatibilityDate = \"2026-08-22\", compatibilityFlags = [\"python_workers\"]");
    pw_config_t *cfg = load();
    CHECK(cfg != NULL);
    pw_config_free(cfg);
}

TEST(compatibility_flag_checks)
{
    worker_config("compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"python_workers\", \"no_such_flag\"]");
    CHECK(fails_with("service main: No such compatibility flag: no_such_flag"));
    char expect[600];
    snprintf(expect, sizeof expect, "%s:4: service main: No such compatibility flag: no_such_flag",
             config_path);
    CHECK_STR(err, expect);
    worker_config("compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"python_workers\", \"python_workers\"]");
    CHECK(fails_with("service main: Compatibility flag specified multiple times: python_workers"));
    worker_config("compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"python_workers\", "
                  "\"python_workflows\", \"disable_python_workflows\"]");
    CHECK(fails_with("Compatibility flags are mutually contradictory: python_workflows vs "
                     "disable_python_workflows"));
}

/* The resolution the SDK's _cloudflare_compat_flags module shows (issue 15): a flag given is
 * on, its disable flag given turns it off, else its enable date decides. */
TEST(compat_flags_resolve_by_date_and_flags)
{
    int disable = 0;
    const pw_compat_flag_t *files = pw_compat_flag_find("formdata_parser_supports_files", &disable);
    const pw_compat_flag_t *workflows = pw_compat_flag_find("python_workflows", &disable);
    CHECK(files && workflows);
    if (!files || !workflows) return;
    char *given[] = {"python_workflows"};
    char *off[] = {"formdata_parser_converts_files_to_strings"};
    CHECK(pw_compat_flag_on(files, "2024-01-01", NULL, 0) == 1);     /* date 2021-11-03 reached */
    CHECK(pw_compat_flag_on(files, "2021-11-02", NULL, 0) == 0);
    CHECK(pw_compat_flag_on(files, NULL, NULL, 0) == 0);
    CHECK(pw_compat_flag_on(files, "2024-01-01", off, 1) == 0);      /* its disable flag wins */
    CHECK(pw_compat_flag_on(workflows, "2099-01-01", NULL, 0) == 0); /* no date: only by flag */
    CHECK(pw_compat_flag_on(workflows, "2000-01-01", given, 1) == 1);
    size_t rows = 0;
    while (pw_compat_flag_at(rows)) rows++;
    CHECK(rows > 100 && pw_compat_flag_at(rows) == NULL);
}

TEST(known_flags_are_accepted)
{
    static const char *flags[] = {
        "experimental", "python_workers", "python_workers_20250116", "python_workers_20260610",
        "python_no_global_handlers", "disable_python_no_global_handlers", "python_workflows",
        "disable_python_workflows", "python_workflows_implicit_dependencies",
        "python_dedicated_snapshot", "python_workers_force_new_vendor_path",
        "enable_python_external_sdk", "python_check_rng_state",
        "python_request_headers_preserve_commas", "python_process_pth_files", "nodejs_compat",
        "nodejs_compat_v2", "url_standard", "global_navigator", "python_workers_development",
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (!pw_compat_flag_find(flags[i], NULL)) fprintf(stderr, "  unknown: %s\n", flags[i]);
        CHECK(pw_compat_flag_find(flags[i], NULL) != NULL);
    }
    CHECK(pw_compat_flag_find("python_workerz", NULL) == NULL);
    CHECK(pw_compat_date_valid("2024-01-01"));
    CHECK(!pw_compat_date_valid("1999-01-01"));
    CHECK(!pw_compat_date_valid("2024-1-01"));
    CHECK(!pw_compat_date_valid("2024-01-32"));
    worker_config("compatibilityDate = \"2025-01-01\", compatibilityFlags = [\"python_workers\", "
                  "\"python_workers_20250116\", \"python_no_global_handlers\", \"nodejs_compat\"]");
    pw_config_t *cfg = load();
    CHECK(cfg != NULL);
    if (!cfg) fprintf(stderr, "  %s\n", err);
    pw_config_free(cfg);
}

/* ---- references and names ----------------------------------------------------------------- */

TEST(unknown_service_reference)
{
    write_config(HEAD "const config :Workerd.Config = (\n"
                 "  sockets = [ (name = \"http\", address = \"*:8080\", http = (), service = \"nope\") ]);\n");
    CHECK(fails_with("Socket \"http\" refers to a service \"nope\", but no such service is defined."));
    char expect[600];
    snprintf(expect, sizeof expect, "%s:3: Socket", config_path);
    CHECK(strncmp(err, expect, strlen(expect)) == 0);
}

TEST(duplicate_service_names)
{
    write_config(HEAD "const config :Workerd.Config = (services = [\n"
                 "  (name = \"d\", disk = (path = \"/tmp\")), (name = \"d\", disk = (path = \"/\")) ]);\n");
    CHECK(fails_with("Config defines multiple services named \"d\"."));
}

TEST(service_without_kind)
{
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"empty\")]);\n");
    CHECK(fails_with("Service named \"empty\" does not specify what to serve."));
}

TEST(main_module_must_be_python)
{
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"main\", worker = (\n"
                 "  modules = [(name = \"a.txt\", text = \"hi\"), (name = \"worker.py\", pythonModule = \"\")],\n"
                 "  compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"python_workers\"]))]);\n");
    CHECK(fails_with("service main: pyworkerd runs Python workers only: the main (first) module "
                     "must be a pythonModule, but \"a.txt\" is a text module."));
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"main\", worker = (\n"
                 "  modules = [(name = \"worker.js\", esModule = \"export default {}\")],\n"
                 "  compatibilityDate = \"2024-01-01\"))]);\n");
    CHECK(fails_with("service main: pyworkerd runs Python workers only: the main (first) module "
                     "must be a pythonModule, but \"worker.js\" is a esModule."));
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"main\", worker = (\n"
                 "  modules = [], compatibilityDate = \"2024-01-01\"))]);\n");
    CHECK(fails_with("service main: Worker has no modules."));
}

TEST(unsafe_module_names_rejected)
{
    static const char *names[] = { "/etc/passwd.py", "../up.py", "a/../../b.py", "./x.py", "a//b.py", "" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        write_config(HEAD "const config :Workerd.Config = (services = [(name = \"main\", worker = (\n"
                     "  modules = [(name = \"worker.py\", pythonModule = \"\"), (name = \"%s\", text = \"\")],\n"
                     "  compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"python_workers\"]))]);\n",
                     names[i]);
        CHECK(fails_with("is not allowed: module names must be relative paths"));
    }
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"main\", worker = (\n"
                 "  modules = [(name = \"worker.py\", pythonModule = \"\"), (name = \"worker.py\", text = \"\")],\n"
                 "  compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"python_workers\"]))]);\n");
    CHECK(fails_with("service main: Module \"worker.py\" is defined more than once."));
}

/* ---- unsupported features ----------------------------------------------------------------- */

TEST(unsupported_top_level_fields)
{
    write_config(SIMPLE, "  v8Flags = [\"--expose-gc\"],\n", "");
    CHECK(fails_with("not supported by pyworkerd: v8Flags"));
    CHECK(strncmp(err, "service", 7) != 0);
    write_config(SIMPLE, "  structuredLogging = true,\n", "");
    CHECK(fails_with("not supported by pyworkerd: structuredLogging"));
    write_config(SIMPLE, "  logging = (stdoutPrefix = \"out: \"),\n", "");
    CHECK(fails_with("not supported by pyworkerd: logging.stdoutPrefix"));
    write_config(SIMPLE, "  extensions = [(modules = [(name = \"a:b\", esModule = \"\")])],\n", "");
    CHECK(fails_with("not supported by pyworkerd: extensions"));
    write_config(SIMPLE, "  v8Flags = [], autogates = [\"workerd-autogate-builtin-wasm-modules\"],\n", "");
    pw_config_t *cfg = load();
    CHECK(cfg != NULL);     /* empty lists and autogates are fine */
    pw_config_free(cfg);
}

TEST(unsupported_sockets)
{
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"d\", disk = (path = \"/tmp\"))],\n"
                 "  sockets = [ (name = \"s\", address = \"*:443\", https = (), service = \"d\") ]);\n");
    CHECK(fails_with("Socket \"s\" is https but has no tlsOptions.keypair"));
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"d\", disk = (path = \"/tmp\"))],\n"
                 "  sockets = [ (name = \"s\", address = \"*:1\", tcp = (), service = \"d\") ]);\n");
    CHECK(fails_with("not supported by pyworkerd: sockets[\"s\"].tcp"));
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"d\", disk = (path = \"/tmp\"))],\n"
                 "  sockets = [ (name = \"s\", address = \"*:1\", http = (style = proxy), service = \"d\") ]);\n");
    CHECK(fails_with("not supported by pyworkerd: sockets[\"s\"].http.style = proxy"));
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"d\", disk = (path = \"/tmp\"))],\n"
                 "  sockets = [ (name = \"s\", address = \"*:1\", http = (injectRequestHeaders = "
                 "[(name = \"a\", value = \"b\")]), service = \"d\") ]);\n");
    CHECK(fails_with("not supported by pyworkerd: sockets[\"s\"].http.injectRequestHeaders"));
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"d\", disk = (path = \"/tmp\"))],\n"
                 "  sockets = [ (name = \"s\", address = \"*:1\", service = (name = \"d\", entrypoint = \"E\")) ]);\n");
    CHECK(fails_with("not supported by pyworkerd: sockets[\"s\"].service.entrypoint"));
}

TEST(workflow_bindings_load)
{
    write_config(SIMPLE, "", "  bindings = [(name = \"WF\", wrapped = (moduleName = "
                 "\"cloudflare-internal:workflows-api\", innerBindings = [(name = \"fetcher\", "
                 "service = (name = \"main\", entrypoint = \"MyWorkflow\"))]))],\n");
    pw_config_t *cfg = load();
    CHECK(cfg != NULL);
    const pw_binding_t *b = cfg ? &cfg->services[0].worker.bindings[0] : NULL;
    CHECK(b && b->kind == PW_BINDING_WORKFLOW);
    CHECK_STR(b ? b->value : NULL, "main");
    CHECK_STR(b ? b->entrypoint : NULL, "MyWorkflow");
    pw_config_free(cfg);
    write_config(SIMPLE, "", "  bindings = [(name = \"WF\", wrapped = (moduleName = \"x:y\"))],\n");
    CHECK(fails_with("not supported by pyworkerd: worker.bindings[\"WF\"].wrapped.moduleName \"x:y\""));
    write_config(SIMPLE, "", "  bindings = [(name = \"WF\", wrapped = (moduleName = "
                 "\"cloudflare-internal:workflows-api\", innerBindings = [(name = \"f\", "
                 "service = \"main\")]))],\n");
    CHECK(fails_with("Workflow binding \"WF\": innerBindings must hold exactly one service binding"));
}

TEST(durable_object_config_loads)
{
    write_config(SIMPLE, "", "  durableObjectNamespaces = [(className = \"C\", uniqueKey = \"k\", "
                 "enableSql = true, preventEviction = true)],\n  durableObjectStorage = (inMemory = void),\n"
                 "  bindings = [(name = \"DO\", durableObjectNamespace = \"C\"), (name = \"D2\", "
                 "durableObjectNamespace = (className = \"C\", serviceName = \"main\"))],\n");
    pw_config_t *cfg = load();
    CHECK(cfg != NULL);
    const pw_worker_t *w = cfg ? &cfg->services[0].worker : NULL;
    CHECK(w && w->n_do_namespaces == 1 && w->do_storage == PW_DO_STORAGE_MEMORY);
    CHECK(w && w->do_namespaces[0].enable_sql && w->do_namespaces[0].prevent_eviction);
    CHECK_STR(w ? w->do_namespaces[0].unique_key : NULL, "k");
    CHECK(w && w->bindings[0].kind == PW_BINDING_DURABLE_OBJECT && w->bindings[1].kind == PW_BINDING_DURABLE_OBJECT);
    CHECK_STR(w ? w->bindings[0].value : NULL, "main");
    CHECK_STR(w ? w->bindings[1].entrypoint : NULL, "C");
    CHECK_STR(w ? w->bindings[1].unique_key : NULL, "k");
    pw_config_free(cfg);
}

TEST(d1_bindings_load)
{
    write_config(SIMPLE, "", "  bindings = [(name = \"DB\", wrapped = (moduleName = "
                 "\"cloudflare-internal:d1-api\", innerBindings = [(name = \"fetcher\", "
                 "service = \"main\")]))],\n");
    CHECK(fails_with("naming service \"main\", which is not a disk service"));   /* a worker */
    write_config(SIMPLE, "", "  bindings = [(name = \"DB\", wrapped = (moduleName = "
                 "\"cloudflare-internal:d1-api\", innerBindings = []))],\n");
    CHECK(fails_with("D1 binding \"DB\": innerBindings must hold exactly one service binding"));
}

TEST(unsupported_worker_fields)
{
    write_config(SIMPLE, "", "  durableObjectNamespaces = [(className = \"C\", uniqueKey = \"k\")],\n");
    CHECK(fails_with("service main: Worker service \"main\" implements durable object classes but has "
                     "`durableObjectStorage` set to `none`."));
    write_config(SIMPLE, "", "  durableObjectNamespaces = [(className = \"C\", ephemeralLocal = void)],\n"
                 "  durableObjectStorage = (inMemory = void),\n");
    CHECK(fails_with("not supported by pyworkerd: worker.durableObjectNamespaces.ephemeralLocal"));
    write_config(SIMPLE, "", "  bindings = [(name = \"KV\", kvNamespace = \"internet\")],\n");
    CHECK(fails_with("not supported by pyworkerd: worker.bindings[\"KV\"].kvNamespace naming service "
                     "\"internet\", which is a network service"));
    write_config(SIMPLE, "", "  bindings = [(name = \"DO\", durableObjectNamespace = \"Cls\")],\n");
    CHECK(fails_with("refers to a Durable Object namespace named \"Cls\", but no such Durable Object "
                     "namespace is defined by this Worker."));
    write_config(SIMPLE, "", "  bindings = [(name = \"S\", service = (name = \"main\", props = (json = \"{}\")))],\n");
    CHECK(fails_with("not supported by pyworkerd: worker.bindings[\"S\"].service.props"));
    write_config(SIMPLE, "", "  bindings = [(name = \"X\")],\n");
    CHECK(fails_with("service main: Worker \"main\"'s binding \"X\" does not specify any binding value."));
    write_config(SIMPLE, "", "  globalOutbound = \"main\",\n");
    CHECK(fails_with("not supported by pyworkerd: worker.globalOutbound"));
    write_config(SIMPLE, "", "  globalOutbound = \"internet\", moduleFallback = \"localhost:1\",\n");
    CHECK(fails_with("not supported by pyworkerd: worker.moduleFallback"));
    write_config(SIMPLE, "", "  tails = [\"main\"],\n");
    CHECK(fails_with("not supported by pyworkerd: worker.tails"));
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"main\", worker = (\n"
                 "  modules = [(name = \"worker.py\", pythonModule = \"\"), (name = \"m.wasm\", wasm = 0x\"00\")],\n"
                 "  compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"python_workers\"]))]);\n");
    CHECK(fails_with("service main: not supported by pyworkerd: worker.modules[\"m.wasm\"].wasm"));
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"main\", worker = (\n"
                 "  serviceWorkerScript = \"addEventListener()\", compatibilityDate = \"2024-01-01\"))]);\n");
    CHECK(fails_with("service main: not supported by pyworkerd: worker.serviceWorkerScript"));
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"main\", worker = (\n"
                 "  inherit = \"other\"))]);\n");
    CHECK(fails_with("service main: not supported by pyworkerd: worker.inherit"));
}

TEST(requirement_modules_load)
{
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"main\", worker = (\n"
                 "  modules = [(name = \"worker.py\", pythonModule = \"\"), (name = \"numpy\", pythonRequirement = \"\"),\n"
                 "             (name = \"fastapi\", obsoletePythonRequirement = \">=0.90\")],\n"
                 "  compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"python_workers\"]))]);\n");
    pw_config_t *cfg = load();
    CHECK(cfg != NULL);
    if (!cfg) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    const pw_worker_t *w = &pw_config_service(cfg, "main")->worker;
    CHECK(w->n_modules == 3);
    if (w->n_modules == 3) {
        CHECK(w->modules[1].kind == PW_MODULE_REQUIREMENT);
        CHECK_STR(w->modules[1].name, "numpy");
        CHECK_STR(w->modules[1].content, "");
        CHECK(w->modules[2].kind == PW_MODULE_REQUIREMENT);
        CHECK_STR(w->modules[2].content, ">=0.90");
    }
    char real[512];
    CHECK(realpath(dir, real) != NULL);
    CHECK_STR(cfg->dir, real);
    pw_config_free(cfg);
}

TEST(unsupported_service_options)
{
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"n\", network = (tlsOptions = (requireClientCerts = true)))]);\n");
    CHECK(fails_with("service n: not supported by pyworkerd: network.tlsOptions.requireClientCerts"));
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"e\", external = (address = \"a:1\", https = ()))]);\n");
    CHECK(fails_with("service e: not supported by pyworkerd: external.https"));
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"e\", external = (http = ()))]);\n");
    CHECK(fails_with("External service \"e\" has no address in the config"));
    write_config(HEAD "const config :Workerd.Config = (services = [(name = \"d\", disk = ())]);\n");
    CHECK(fails_with("Directory \"d\" has no path in the config"));
}

TEST(queue_bindings_consumers_and_crons_load)
{
    write_config(SIMPLE, "", "  bindings = [(name = \"JOBS\", queue = \"jobs\")],\n"
                 "  pyworkerd = (queueConsumers = [(queue = \"jobs\", maxBatchSize = 50, maxRetries = 0,\n"
                 "    deadLetterQueue = \"jobs-dlq\", retryDelay = 30), (queue = \"other\")],\n"
                 "    crons = [\"*/5 * * * *\", \"@daily\"]),\n");
    pw_config_t *cfg = load();
    CHECK(cfg != NULL);
    const pw_worker_t *w = cfg ? &cfg->services[0].worker : NULL;
    CHECK(w && w->n_bindings == 1 && w->bindings[0].kind == PW_BINDING_QUEUE);
    CHECK_STR(w ? w->bindings[0].value : NULL, "jobs");
    CHECK(w && w->options.n_queue_consumers == 2 && w->options.n_crons == 2);
    const pw_queue_consumer_t *q = w ? &w->options.queue_consumers[0] : NULL;
    CHECK(q && q->max_batch_size == 50 && q->max_retries == 0 && q->retry_delay_s == 30);
    CHECK(q && q->max_batch_timeout_s == 5 && q->max_concurrency == 0);
    CHECK_STR(q ? q->dead_letter_queue : NULL, "jobs-dlq");
    q = w ? &w->options.queue_consumers[1] : NULL;      /* wrangler's defaults */
    CHECK(q && q->max_batch_size == 10 && q->max_retries == 3 && q->max_batch_timeout_s == 5);
    CHECK(q && q->dead_letter_queue == NULL);
    CHECK_STR(w ? w->options.crons[1] : NULL, "@daily");
    pw_config_free(cfg);
}

TEST(bad_queue_and_cron_settings_name_the_field)
{
    write_config(SIMPLE, "", "  bindings = [(name = \"Q\", queue = \"Bad Name\")],\n");
    CHECK(fails_with("config.capnp:10: service main: Queue binding \"Q\": \"Bad Name\" is not a valid queue name"));
    write_config(SIMPLE, "", "  bindings = [(name = \"Q\", queue = (name = \"q\", entrypoint = \"E\"))],\n");
    CHECK(fails_with("not supported by pyworkerd: worker.bindings[\"Q\"].queue.entrypoint"));
    write_config(SIMPLE, "", "  bindings = [(name = \"Q\", queue = \"main\")],\n");
    CHECK(fails_with("worker.bindings[\"Q\"].queue naming service \"main\""));
    write_config(SIMPLE, "", "  pyworkerd = (queueConsumers = [(queue = \"q\",\n    maxBatchSize = 101)]),\n");
    CHECK(fails_with("config.capnp:11: service main: pyworkerd.queueConsumers: maxBatchSize is 101; it must be 1 to 100 messages"));
    write_config(SIMPLE, "", "  pyworkerd = (queueConsumers = [(queue = \"q\", maxBatchTimeout = 61)]),\n");
    CHECK(fails_with("maxBatchTimeout is 61; it must be 0 to 60 seconds"));
    write_config(SIMPLE, "", "  pyworkerd = (queueConsumers = [(queue = \"q\", maxRetries = 101)]),\n");
    CHECK(fails_with("maxRetries is 101; it must be 0 to 100"));
    write_config(SIMPLE, "", "  pyworkerd = (queueConsumers = [(queue = \"q\", retryDelay = 86401)]),\n");
    CHECK(fails_with("retryDelay is 86401; it must be 0 to 86400 seconds"));
    write_config(SIMPLE, "", "  pyworkerd = (queueConsumers = [(queue = \"q\", maxConcurrency = 251)]),\n");
    CHECK(fails_with("maxConcurrency is 251"));
    write_config(SIMPLE, "", "  pyworkerd = (queueConsumers = [(queue = \"q\", deadLetterQueue = \"q\")]),\n");
    CHECK(fails_with("queue \"q\" cannot be its own deadLetterQueue"));
    write_config(SIMPLE, "", "  pyworkerd = (queueConsumers = [(queue = \"q\"), (queue = \"q\")]),\n");
    CHECK(fails_with("queue \"q\" is listed twice"));
    write_config(SIMPLE, "", "  pyworkerd = (queueConsumers = [(maxBatchSize = 5)]),\n");
    CHECK(fails_with("queue \"\" is not a valid queue name"));
    write_config(SIMPLE, "", "  pyworkerd = (crons = [\"* * *\"]),\n");
    CHECK(fails_with("config.capnp:10: service main: pyworkerd.crons: \"* * *\" is not a valid cron "
                     "expression: 3 fields where five are needed"));
    write_config(SIMPLE, "", "  pyworkerd = (crons = [\"0 0 30 2 *\"]),\n");
    CHECK(fails_with("\"0 0 30 2 *\" never fires"));
    write_config(HEAD "const config :Workerd.Config = (services = [\n"
                 "  (name = \"a\", worker = .w), (name = \"b\", worker = .w)]);\n"
                 "const w :Workerd.Worker = (\n"
                 "  modules = [ (name = \"worker.py\", pythonModule = embed \"worker.py\") ],\n"
                 "  compatibilityDate = \"2024-01-01\", compatibilityFlags = [\"python_workers\"],\n"
                 "  pyworkerd = (queueConsumers = [(queue = \"shared\")]));\n");
    CHECK(fails_with("service b: queue \"shared\" has two consumers, workers \"a\" and \"b\""));
}

int main(void)
{
    RUN(seed_config_loads);
    RUN(file_with_id_and_explicit_designators_loads);
    RUN(modules_and_bindings_decode);
    RUN(other_service_kinds_load);
    RUN(service_bindings_to_disk_services_are_disk_bindings);
    RUN(network_tls_options_decode);
    RUN(import_path_is_searched);
    RUN(socket_override_applies);
    RUN(socket_without_address_needs_override);
    RUN(syntax_error_names_file_line_col);
    RUN(errors_after_shorthand_keep_original_columns);
    RUN(missing_embed_is_reported);
    RUN(config_file_not_found);
    RUN(no_config_constant);
    RUN(several_config_constants);
    RUN(bad_constant_names);
    RUN(python_needs_python_workers_flag);
    RUN(compatibility_date_checks);
    RUN(compatibility_flag_checks);
    RUN(known_flags_are_accepted);
    RUN(compat_flags_resolve_by_date_and_flags);
    RUN(unknown_service_reference);
    RUN(duplicate_service_names);
    RUN(service_without_kind);
    RUN(main_module_must_be_python);
    RUN(unsafe_module_names_rejected);
    RUN(unsupported_top_level_fields);
    RUN(unsupported_sockets);
    RUN(workflow_bindings_load);
    RUN(d1_bindings_load);
    RUN(unsupported_worker_fields);
    RUN(durable_object_config_loads);
    RUN(requirement_modules_load);
    RUN(unsupported_service_options);
    RUN(queue_bindings_consumers_and_crons_load);
    RUN(bad_queue_and_cron_settings_name_the_field);
    if (dir[0]) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return UNIT_DONE();
}
