/* mailbox.h — work handed from one host loop thread to another (host process). With
 * --threads N the host runs N event loops (host/shard.h); they share no mutable state and
 * talk only by posting a function and its argument to each other's mailbox, which runs it on
 * the receiving loop's thread, in the order posted.
 * Invariant: a posted function always runs exactly once: on its loop, or — when the mailbox
 * is closed first — from pw_mailbox_close, on the closing thread, with `closed` set.
 */
#ifndef PW_MAILBOX_H
#define PW_MAILBOX_H

#include <uv.h>

typedef struct pw_mailbox pw_mailbox_t;
typedef void (*pw_mail_cb)(void *arg, int closed);

/* A mailbox served on `loop` (call on that loop's thread); it keeps the loop running until it
 * is closed. NULL when out of memory. */
pw_mailbox_t *pw_mailbox_create(uv_loop_t *loop);
/* From any thread. Returns 0, or -ENOMEM (fn is not called). */
int pw_mailbox_post(pw_mailbox_t *box, pw_mail_cb fn, void *arg);
/* On the mailbox's own thread: runs what is left with closed = 1 and frees it once libuv
 * has closed its handle. Nothing may post to it afterwards. */
void pw_mailbox_close(pw_mailbox_t *box);

#endif
