/* loop_templates.c — every host loop's worker templates, asked of the zygote at once (host
 * process, main thread at start-up; see loop_templates.h). */
#include "host/loop_templates.h"

#include "base/err.h"
#include <stdlib.h>
#include <unistd.h>

/* The (loop, service) pairs to load, in loop order (the main loop's first, so a worker that
 * fails is reported as the main loop's). */
typedef struct {
    const char **services, **spec_paths;
    size_t *slot;           /* where each one's fd goes in t->fds */
    int *fds;
    size_t n;
} batch_t;

static void batch_free(batch_t *b)
{
    free(b->services);
    free(b->spec_paths);
    free(b->slot);
    free(b->fds);
}

static int batch_plan(batch_t *b, const pw_config_t *config, char *const *spec_paths, size_t n_loops)
{
    size_t most = n_loops * config->n_services + 1;
    b->services = calloc(most, sizeof *b->services);
    b->spec_paths = calloc(most, sizeof *b->spec_paths);
    b->slot = calloc(most, sizeof *b->slot);
    b->fds = calloc(most, sizeof *b->fds);
    if (!b->services || !b->spec_paths || !b->slot || !b->fds)
        return -1;
    for (size_t k = 0; k < n_loops; k++)
        for (size_t i = 0; i < config->n_services; i++) {
            if (!spec_paths[i])
                continue;
            b->services[b->n] = config->services[i].name;
            b->spec_paths[b->n] = spec_paths[i];
            b->slot[b->n++] = k * config->n_services + i;
        }
    return 0;
}

static int report_failure(const batch_t *b, size_t failed, size_t n_services, const char *why,
                          char *err, size_t err_len)
{
    size_t loop = b->slot[failed] / n_services;
    if (loop == 0)
        return pw_err_set(err, err_len, "service %s: the worker failed to load:\n%s",
                          b->services[failed], why);
    return pw_err_set(err, err_len, "service %s: the worker failed to load for host thread %zu:\n%s",
                      b->services[failed], loop, why);
}

int pw_loop_templates_load(pw_loop_templates_t *t, pw_zygote_t *zygote, const pw_config_t *config,
                           char *const *spec_paths, size_t n_loops, char *err, size_t err_len)
{
    t->n_loops = n_loops;
    t->n_services = config->n_services;
    t->fds = malloc((n_loops * config->n_services + 1) * sizeof *t->fds);
    batch_t b = { 0 };
    if (!t->fds || batch_plan(&b, config, spec_paths, n_loops) < 0) {
        batch_free(&b);
        return pw_err_set(err, err_len, "out of memory while starting the workers");
    }
    for (size_t j = 0; j < n_loops * config->n_services; j++)
        t->fds[j] = -1;
    static char why[PW_ERR_TEXT_MAX];
    size_t failed;
    int rc = pw_zygote_create_templates(zygote, b.n, b.services, b.spec_paths, b.fds, &failed,
                                        why, sizeof why);
    if (rc < 0)
        report_failure(&b, failed, config->n_services, why, err, err_len);
    for (size_t j = 0; rc == 0 && j < b.n; j++)
        t->fds[b.slot[j]] = b.fds[j];
    batch_free(&b);
    return rc;
}

int pw_loop_templates_take(pw_loop_templates_t *t, size_t loop, size_t service)
{
    if (!t->fds || loop >= t->n_loops || service >= t->n_services)
        return -1;
    int fd = t->fds[loop * t->n_services + service];
    t->fds[loop * t->n_services + service] = -1;
    return fd;
}

void pw_loop_templates_free(pw_loop_templates_t *t)
{
    for (size_t j = 0; t->fds && j < t->n_loops * t->n_services; j++)
        if (t->fds[j] >= 0)
            close(t->fds[j]);
    free(t->fds);
    t->fds = NULL;
}
