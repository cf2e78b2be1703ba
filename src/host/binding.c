/* binding.c — the binding-kind table and the route from an op's name to its row (host
 * process, loop thread; see binding.h). The rows of every kind are indexed once, sorted by
 * name, and found by binary search; ops without a row go to the group of the longest prefix
 * they have, else to the service bindings' group.
 * Invariant: op names are unique across kinds (pw_binding_route would pick one arbitrarily).
 */
#include "host/binding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const pw_binding_kind_impl_t *const kinds[] = {
    &pw_binding_kv, &pw_binding_service, &pw_binding_fetch, &pw_binding_workflows,
    &pw_binding_r2,
    &pw_binding_memory_cache,
    &pw_binding_queue,
    &pw_binding_disk,
    &pw_binding_do,
    &pw_binding_websocket,
    &pw_binding_d1,
    &pw_binding_socket,
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])
#define MAX_ROWS 256

_Static_assert(N_KINDS <= PW_BINDING_MAX_KINDS, "raise PW_BINDING_MAX_KINDS");

typedef struct {
    const char *name;
    size_t len;
    pw_binding_route_t route;
} row_t;

static row_t index_rows[MAX_ROWS];
static size_t n_index_rows;

size_t pw_binding_kind_count(void)
{
    return N_KINDS;
}

const pw_binding_kind_impl_t *pw_binding_kind_at(size_t i)
{
    return i < N_KINDS ? kinds[i] : NULL;
}

static int compare_names(const char *a, size_t a_len, const char *b, size_t b_len)
{
    int c = memcmp(a, b, a_len < b_len ? a_len : b_len);
    return c ? c : (a_len > b_len) - (a_len < b_len);
}

static int compare_rows(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    return compare_names(x->name, x->len, y->name, y->len);
}

static void build_index(void)
{
    for (size_t k = 0; k < N_KINDS; k++)
        for (size_t g = 0; g < kinds[k]->n_groups; g++) {
            const pw_binding_group_t *group = &kinds[k]->groups[g];
            for (size_t o = 0; o < group->n_ops && n_index_rows < MAX_ROWS; o++) {
                const pw_binding_op_t *op = &group->ops[o];
                index_rows[n_index_rows++] = (row_t){ op->name, strlen(op->name), { k, group, op } };
            }
        }
    qsort(index_rows, n_index_rows, sizeof index_rows[0], compare_rows);
}

static const row_t *find_row(pw_bytes_t op)
{
    size_t lo = 0, hi = n_index_rows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare_names((const char *)op.base, op.len, index_rows[mid].name, index_rows[mid].len);
        if (c == 0)
            return &index_rows[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static int has_prefix(pw_bytes_t op, const char *prefix)
{
    size_t len = prefix ? strlen(prefix) : 0;
    return len && op.len > len && memcmp(op.base, prefix, len) == 0;
}

/* The group of the longest prefix op has; the service bindings' group when none. */
static void route_by_prefix(pw_bytes_t op, pw_binding_route_t *out)
{
    size_t best = 0;
    *out = (pw_binding_route_t){ 0, NULL, NULL };
    for (size_t k = 0; k < N_KINDS; k++)
        for (size_t g = 0; g < kinds[k]->n_groups; g++) {
            const pw_binding_group_t *group = &kinds[k]->groups[g];
            if (has_prefix(op, group->prefix) && strlen(group->prefix) > best) {
                best = strlen(group->prefix);
                *out = (pw_binding_route_t){ k, group, NULL };
            }
        }
    for (size_t k = 0; !out->group && k < N_KINDS; k++)
        if (kinds[k] == &pw_binding_service)
            *out = (pw_binding_route_t){ k, &kinds[k]->groups[0], NULL };
}

void pw_binding_index(void)
{
    if (n_index_rows == 0)
        build_index();
}

void pw_binding_route(pw_bytes_t op, pw_binding_route_t *out)
{
    pw_binding_index();
    const row_t *row = find_row(op);
    if (row)
        *out = row->route;
    else
        route_by_prefix(op, out);
}

const char *pw_binding_state_dir(const pw_binding_env_t *env)
{
    const char *base = env->persist_dir ? env->persist_dir : ".";
    return strcmp(base, ":memory:") ? base : NULL;
}

int pw_binding_attach_caller(void *host_state, const pw_binding_env_t *env,
                             const pw_service_t *service, void **state, char *err, size_t err_len)
{
    pw_binding_caller_t *w = calloc(1, sizeof *w);
    *state = w;
    if (!w) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    w->engine = host_state;
    w->caller = service;
    return 0;
}
