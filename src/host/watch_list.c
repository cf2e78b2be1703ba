/* watch_list.c — the port's watcher list (host process; see watch_list.h). */
#include "host/watch_list.h"

#include <stddef.h>

void pw_watch_list_init(pw_port_watch_t *sentinel)
{
    sentinel->prev = sentinel->next = sentinel;
}

void pw_watch_list_add(pw_port_watch_t *sentinel, pw_port_watch_t *watch)
{
    watch->next = sentinel;
    watch->prev = sentinel->prev;
    sentinel->prev->next = watch;
    sentinel->prev = watch;
}

void pw_watch_list_remove(pw_port_watch_t *watch)
{
    if (!watch->next)
        return;
    watch->prev->next = watch->next;
    watch->next->prev = watch->prev;
    watch->prev = watch->next = NULL;
}

void pw_watch_list_notify_all(pw_port_watch_t *sentinel)
{
    while (sentinel->next != sentinel) {
        pw_port_watch_t *w = sentinel->next;
        pw_watch_list_remove(w);
        w->gone(w);
    }
}
