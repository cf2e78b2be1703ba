/* due_list.c — each loop thread's list of entries to run on the next turn, and its idle handle
 * (host process, each loop thread; see due_list.h).
 * Invariant: the idle handle belongs to the first loop that used it on this thread (one loop
 * per thread) and is active while the list is not empty, plus one turn.
 */
#include "http/due_list.h"

static __thread pw_list_t due_anchor;
static __thread uv_idle_t due_idle;
static __thread uv_loop_t *due_loop;

/* Runs before the loop polls; stays active (the poll does not block) until a turn finds
 * nothing to run. Entries made due while it runs are run in the same turn. */
static void on_due_idle(uv_idle_t *idle)
{
    pw_list_t *anchor = pw_list_lazy(&due_anchor);
    if (pw_list_empty(anchor))
        uv_idle_stop(idle);
    while (!pw_list_empty(anchor)) {
        pw_due_t *due = PW_CONTAINER_OF(anchor->next, pw_due_t, link);
        pw_list_remove(&due->link);
        due->run(due);
    }
}

void pw_due_soon(uv_loop_t *loop, pw_due_t *due, pw_due_fn run)
{
    if (due_loop != loop) {             /* first use on this thread */
        uv_idle_init(loop, &due_idle);
        uv_unref((uv_handle_t *)&due_idle);
        due_loop = loop;
    }
    due->run = run;
    if (!pw_list_linked(&due->link))
        pw_list_push_back(pw_list_lazy(&due_anchor), &due->link);
    uv_idle_start(&due_idle, on_due_idle);
}

void pw_due_forget(pw_due_t *due)
{
    pw_list_remove(&due->link);
}

int pw_due_is_due(const pw_due_t *due)
{
    return pw_list_linked(&due->link);
}
