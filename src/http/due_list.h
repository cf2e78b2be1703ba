/* due_list.h — "run on the next loop turn" for accepted connections (host process, each loop
 * thread). read_park.c hands held bytes over and write_now.c runs write callbacks this way: an
 * entry is put on its loop thread's list, and the thread's idle handle runs it before the loop
 * next polls. The idle handle stays active one extra turn after the list empties, so that what
 * a callback starts (the next pipelined request, sent to an isolate by the pool's check handle)
 * does not wait for the poll to time out; it never keeps the loop alive (unreferenced).
 * Invariant: an entry is on at most one list, its loop thread's; forget() it before the memory
 * that holds it goes away.
 */
#ifndef PW_DUE_LIST_H
#define PW_DUE_LIST_H

#include "base/list.h"

#include <uv.h>

typedef struct pw_due pw_due_t;
typedef void (*pw_due_fn)(pw_due_t *due);

/* Inside the object it runs for (zeroed: not due). */
struct pw_due {
    pw_list_t link;             /* on its loop thread's list */
    pw_due_fn run;              /* called once, unlinked first */
};

/* Runs run(due) on loop's next turn; an entry already due keeps its place. */
void pw_due_soon(uv_loop_t *loop, pw_due_t *due, pw_due_fn run);
/* No longer due (one that is not does nothing). */
void pw_due_forget(pw_due_t *due);
int pw_due_is_due(const pw_due_t *due);

#endif
