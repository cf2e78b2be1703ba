/* watch_list.h — the list of binding calls watching an isolate's port (host process): a
 * circular doubly-linked list with a sentinel, so a call can unlink itself in O(1) and the
 * isolate's death can tell every watcher once. Used by port.c.
 */
#ifndef PW_WATCH_LIST_H
#define PW_WATCH_LIST_H

#include "host/port.h"

/* An empty list: the sentinel points at itself. */
void pw_watch_list_init(pw_port_watch_t *sentinel);
void pw_watch_list_add(pw_port_watch_t *sentinel, pw_port_watch_t *watch);
/* Unlinks watch if it is linked (no-op otherwise). */
void pw_watch_list_remove(pw_port_watch_t *watch);
/* Unlinks every watcher and calls its gone(), one at a time: gone() may unlink others. */
void pw_watch_list_notify_all(pw_port_watch_t *sentinel);

#endif
