/* cluster_ship.c — one save at a time per thing, commits coalesced, waiters told (host
 * process, the main loop; see cluster_ship.h).
 * Invariant: a waiter on `now` is covered by the save in flight (it started after the
 * waiter's commit); one on `next` waits for a save not started yet.
 */
#include "host/cluster_ship.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    pw_list_t link;
    pw_ship_told_cb told;
    void *arg;
} waiter_t;

static void save_start(pw_ship_t *sh);

void pw_ship_init(pw_ship_t *sh, const pw_ship_ops_t *ops)
{
    sh->ops = ops;
    sh->in_flight = 0;
    pw_list_init(&sh->now);
    pw_list_init(&sh->next);
}

int pw_ship_busy(const pw_ship_t *sh)
{
    return sh->in_flight || !pw_list_empty(&sh->next);
}

static void wait_on(pw_ship_t *sh, pw_list_t *list, pw_ship_told_cb told, void *arg)
{
    waiter_t *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(sh->error, sizeof sh->error, "%s: out of memory shipping the write", sh->ops->what);
        return told(arg, sh->error);
    }
    w->told = told;
    w->arg = arg;
    pw_list_push_back(list, &w->link);
}

static void tell_all(pw_list_t *list, const char *error)
{
    while (!pw_list_empty(list)) {
        waiter_t *w = PW_CONTAINER_OF(list->next, waiter_t, link);
        pw_list_remove(&w->link);
        w->told(w->arg, error);
        free(w);
    }
}

/* Both lists told `error`; the owner is told it lost the thing, then that nothing is pending. */
static void fail_all(pw_ship_t *sh, const char *error)
{
    sh->in_flight = 0;
    sh->ops->lost(sh);
    tell_all(&sh->now, error);
    tell_all(&sh->next, error);
    sh->ops->idle(sh);
}

static void saved(void *arg, const pw_pg_result_t *res)
{
    pw_ship_t *sh = arg;
    sh->in_flight = 0;
    if (pw_pg_status(res) != PW_PG_OK) {
        snprintf(sh->error, sizeof sh->error, "%s: the write could not be stored in PostgreSQL "
                 "(unreachable); it is not kept", sh->ops->what);
        return fail_all(sh, sh->error);
    }
    if (pw_pg_affected(res) != 1) {
        snprintf(sh->error, sizeof sh->error, "%s: this node no longer holds it (it moved to another "
                 "node); the write is not kept", sh->ops->what);
        return fail_all(sh, sh->error);
    }
    tell_all(&sh->now, NULL);
    if (sh->in_flight)          /* a waiter told committed again: its save started */
        return;
    if (!pw_list_empty(&sh->next))
        return save_start(sh);
    sh->ops->idle(sh);
}

static void save_start(pw_ship_t *sh)
{
    while (!pw_list_empty(&sh->next)) {
        pw_list_t *n = sh->next.next;
        pw_list_remove(n);
        pw_list_push_back(&sh->now, n);
    }
    sh->in_flight = 1;
    if (!sh->ops->save(sh, saved, sh)) {
        snprintf(sh->error, sizeof sh->error, "%s: out of memory shipping the write", sh->ops->what);
        fail_all(sh, sh->error);
    }
}

void pw_ship_commit(pw_ship_t *sh, pw_ship_told_cb told, void *arg)
{
    wait_on(sh, &sh->next, told, arg);
    if (!sh->in_flight && !pw_list_empty(&sh->next))
        save_start(sh);
}

int pw_ship_gate(pw_ship_t *sh, pw_ship_told_cb told, void *arg)
{
    if (!pw_ship_busy(sh))
        return 0;
    wait_on(sh, pw_list_empty(&sh->next) ? &sh->now : &sh->next, told, arg);
    return 1;
}
