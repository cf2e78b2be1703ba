/* spec_settings.c — reading the worker spec's C-side fields (guard and template processes).
 * See spec_settings.h.
 */
#include "isolate/spec_settings.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/fd.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int pw_spec_settings_read(const char *spec_path, pw_spec_settings_t *out, char *err, size_t err_len)
{
    /* The whole file, however large: binding values make it as large as the config allows. */
    pw_buf_t text = { 0 };
    int fd = open(spec_path, O_RDONLY | O_CLOEXEC);
    int rc = fd < 0 ? -errno : pw_fd_read_to_end(fd, &text);
    if (fd >= 0)
        close(fd);
    if (rc < 0) {
        pw_buf_free(&text);
        return pw_err_errno(err, err_len, -rc, "cannot read the worker spec %s", spec_path);
    }
    cJSON *spec = cJSON_Parse(pw_buf_text(&text));
    pw_buf_free(&text);
    const cJSON *dir = cJSON_GetObjectItemCaseSensitive(spec, "dir");
    if (!cJSON_IsString(dir)) {
        snprintf(err, err_len, "cannot read the worker spec %s", spec_path);
        cJSON_Delete(spec);
        return -1;
    }
    snprintf(out->dir, sizeof out->dir, "%s", dir->valuestring);
    const cJSON *config_dir = cJSON_GetObjectItemCaseSensitive(spec, "config_dir");
    snprintf(out->config_dir, sizeof out->config_dir, "%s",
             cJSON_IsString(config_dir) ? config_dir->valuestring : "");
    out->sandbox = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(spec, "sandbox"));
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(spec, "memory_limit_mib");
    out->memory_limit_mib = cJSON_IsNumber(mem) ? mem->valuedouble : 0;
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(spec, "cpu_limit_ms");
    out->cpu_limit_ms = cJSON_IsNumber(cpu) && cpu->valuedouble > 0 ? (unsigned)cpu->valuedouble : 0;
    cJSON_Delete(spec);
    return 0;
}

int pw_template_guard_settings(const char *spec_path, int *sandbox, unsigned *cpu_limit_ms)
{
    char err[256];
    pw_spec_settings_t settings;
    if (pw_spec_settings_read(spec_path, &settings, err, sizeof err) < 0)
        return -1;
    *sandbox = settings.sandbox;
    *cpu_limit_ms = settings.cpu_limit_ms;
    return 0;
}
