/* pool_pin.h — keeping a caller's calls on one isolate of a pool (host process, the loop
 * thread of the pool). A Durable Object lives in the memory of one isolate: every event for it
 * must reach that isolate while it lives, and a new one only once it is gone. A pin is that
 * tie: a call submitted with a free pin goes where the pool sends it (now, or when it leaves
 * the queue) and the pin takes that isolate; later calls with the pin go to it directly. When
 * the isolate dies or begins to retire, lost() runs and the pin is free again (calls already
 * on the isolate finish there, or fail with it). An isolate holding pins is never retired for
 * being idle.
 * Invariant: a held pin's isolate is live and not retiring.
 */
#ifndef PW_POOL_PIN_H
#define PW_POOL_PIN_H

#include "base/list.h"
#include "host/pool.h"

typedef struct pw_pool_pin pw_pool_pin_t;
struct pw_pool_pin {
    pw_list_t link;             /* in its isolate's pins while held */
    struct pw_child *child;     /* the isolate; NULL: free */
    void (*lost)(pw_pool_pin_t *pin);   /* the isolate died or retires; the pin is free */
    int died;                   /* in lost(): the isolate died (it did not retire) */
};

void pw_pool_pin_init(pw_pool_pin_t *pin, void (*lost)(pw_pool_pin_t *pin));
/* Submits call to the pin's isolate, or (a free pin) as pw_pool_submit does, the pin taking
 * the isolate the call goes to. */
void pw_pool_submit_pinned(pw_pool_t *pool, pw_pool_pin_t *pin, pw_call_t *call);
/* Frees a held pin (lost() does not run). */
void pw_pool_unpin(pw_pool_pin_t *pin);
/* The pid of a held pin's isolate, or 0. */
int pw_pool_pin_pid(const pw_pool_pin_t *pin);
/* The binding-call port of a held pin's isolate (host/port.h), or NULL. */
const pw_port_t *pw_pool_pin_port(const pw_pool_pin_t *pin);

#endif
