/* list.h — one intrusive doubly-linked list for every process: a node lives inside the
 * object it links, an anchor (a node of its own) heads each list, and a node knows whether
 * it is linked. No allocation; unlinking is O(1) from the node alone.
 *
 *     typedef struct { ...; pw_list_t link; } conn_t;
 *     static pw_list_t conns = PW_LIST_INIT(conns);
 *     pw_list_push_front(&conns, &c->link);
 *     PW_LIST_FOR_EACH(node, &conns) { conn_t *c = PW_CONTAINER_OF(node, conn_t, link); ... }
 */
#ifndef PW_BASE_LIST_H
#define PW_BASE_LIST_H

#include <stddef.h>

typedef struct pw_list {
    struct pw_list *next, *prev;    /* NULL in a node that is on no list (zeroed memory) */
} pw_list_t;

#define PW_LIST_INIT(anchor) { &(anchor), &(anchor) }
#define PW_CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

/* Walks a list; the loop body may unlink (or free) the node it is at. */
#define PW_LIST_FOR_EACH(node, anchor)                                                   \
    for (pw_list_t *node = (anchor)->next, *node##_next_ = node->next; node != (anchor); \
         node = node##_next_, node##_next_ = node->next)

static inline void pw_list_init(pw_list_t *anchor)
{
    anchor->next = anchor->prev = anchor;
}

/* An anchor that starts zeroed (a thread-local one: PW_LIST_INIT is not a constant there),
 * initialised on first use. */
static inline pw_list_t *pw_list_lazy(pw_list_t *anchor)
{
    if (!anchor->next)
        pw_list_init(anchor);
    return anchor;
}

static inline int pw_list_empty(const pw_list_t *anchor)
{
    return anchor->next == anchor;
}

static inline int pw_list_linked(const pw_list_t *node)
{
    return node->next != NULL;
}

static inline void pw_list_insert_after(pw_list_t *pos, pw_list_t *node)
{
    node->prev = pos;
    node->next = pos->next;
    pos->next->prev = node;
    pos->next = node;
}

static inline void pw_list_push_front(pw_list_t *anchor, pw_list_t *node)
{
    pw_list_insert_after(anchor, node);
}

static inline void pw_list_push_back(pw_list_t *anchor, pw_list_t *node)
{
    pw_list_insert_after(anchor->prev, node);
}

/* Unlinks a node; unlinking one that is on no list does nothing. */
static inline void pw_list_remove(pw_list_t *node)
{
    if (!node->next)
        return;
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->next = node->prev = NULL;
}

#endif
