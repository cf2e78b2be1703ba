/* pool_pin.c — pins: calls kept on one isolate (host process, the pool's loop thread; see
 * pool_pin.h). The pool's dispatch sends a pinned call to its pin's isolate; child.c attaches
 * a free pin when it sends a call carrying one, and tells the pins when the isolate ends.
 */
#include "host/pool_pin.h"
#include "host/child.h"
#include "host/pool_state.h"

void pw_pool_pin_init(pw_pool_pin_t *pin, void (*lost)(pw_pool_pin_t *pin))
{
    pin->link.next = pin->link.prev = NULL;
    pin->child = NULL;
    pin->lost = lost;
}

void pw_pool_submit_pinned(pw_pool_t *pool, pw_pool_pin_t *pin, pw_call_t *call)
{
    call->pin = pin;
    pw_pool_submit_call(pool, call);
}

void pw_pool_unpin(pw_pool_pin_t *pin)
{
    if (!pin->child)
        return;
    pw_list_remove(&pin->link);
    pin->child = NULL;
}

int pw_pool_pin_pid(const pw_pool_pin_t *pin)
{
    return pin->child ? pin->child->pid : 0;
}

const pw_port_t *pw_pool_pin_port(const pw_pool_pin_t *pin)
{
    return pin->child ? pin->child->port : NULL;
}

void pw_child_pin_attach(pw_child_t *child, pw_pool_pin_t *pin)
{
    if (pin->child)
        return;
    pin->child = child;
    pw_list_push_back(&child->pins, &pin->link);
}

void pw_child_pins_lost(pw_child_t *child)
{
    while (!pw_list_empty(&child->pins)) {
        pw_pool_pin_t *pin = PW_CONTAINER_OF(child->pins.next, pw_pool_pin_t, link);
        pw_pool_unpin(pin);
        pin->died = child->state == PW_CHILD_DEAD;
        pin->lost(pin);
    }
}
