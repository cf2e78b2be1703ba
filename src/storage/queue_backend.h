/* queue_backend.h — what stores the messages of the host's queues (host process): the
 * vtable behind host/queues.c, the one front, which checks every message against
 * Cloudflare's limits before it gets here. Backends: SQLite under the persist directory
 * (storage/queue_sqlite.h); later PostgreSQL, for several hosts sharing queues.
 * A message is stored once sent; taken while a batch holding it is delivered; then settled:
 * deleted (acknowledged or dropped), made deliverable again later (retried: one more
 * attempt counted), or moved to a dead-letter queue. What a stopped host had taken is
 * deliverable again when the next one opens the store: delivery is at least once.
 * Every operation reports through its done(arg, rc) exactly once: SQLite before the call
 * returns, PostgreSQL later, from the loop (never blocking it); a write is durable when rc is
 * 0. After close() no done() runs.
 */
#ifndef PW_QUEUE_BACKEND_H
#define PW_QUEUE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define PW_QUEUE_ID_LEN 32          /* hex characters of a message id */

/* A message to store; bytes are borrowed during the call. */
typedef struct {
    pw_bytes_t id;
    pw_bytes_t body;
    pw_bytes_t content_type;    /* "json", "text", "bytes" or "v8" */
    int64_t visible_ms;         /* deliverable from (Unix ms: now + delaySeconds) */
} pw_queue_new_t;

/* A message taken for delivery; bytes valid during the callback. */
typedef struct {
    int64_t seq;                /* the store's handle of it */
    pw_bytes_t id;
    pw_bytes_t body;
    pw_bytes_t content_type;
    int64_t sent_ms;
    unsigned attempts;          /* deliveries before this one */
} pw_queue_msg_t;

typedef void (*pw_queue_msg_cb)(void *arg, const pw_queue_msg_t *msg);

/* What is waiting in a queue (not taken). */
typedef struct {
    size_t ready;               /* deliverable now, counted up to the caller's max */
    int64_t first_visible_ms;   /* the earliest visible time; -1: the queue is empty */
} pw_queue_depth_t;

typedef enum {
    PW_QUEUE_ACK,               /* delete: done (acknowledged, or dropped after its retries) */
    PW_QUEUE_RETRY,             /* deliverable again at visible_ms, one more attempt counted */
    PW_QUEUE_RELEASE,           /* deliverable again at visible_ms, no attempt counted */
    PW_QUEUE_DEAD,              /* moved to the dead-letter queue, attempts from 0 */
} pw_queue_fate_t;

typedef struct {
    int64_t seq;
    pw_queue_fate_t fate;
    int64_t visible_ms;         /* RETRY, RELEASE */
} pw_queue_settle_t;

typedef struct pw_queue_backend pw_queue_backend_t;

/* rc: 0 (or the count taken) on success, -1 on failure (the backend's error() says why), or
 * PW_QUEUE_UNAVAILABLE when the store cannot be reached now (a shared one that is down). */
#define PW_QUEUE_UNAVAILABLE (-2)
typedef void (*pw_queue_done_cb)(void *arg, int rc);

typedef struct {
    /* Stores the n messages in `queue`: all of them, or none (-1). */
    void (*send)(pw_queue_backend_t *b, pw_bytes_t queue, const pw_queue_new_t *msgs, size_t n,
                 int64_t now_ms, pw_queue_done_cb done, void *arg);
    /* Takes up to max messages deliverable at now_ms (oldest first) and calls cb for each,
     * then done with how many. */
    void (*take)(pw_queue_backend_t *b, pw_bytes_t queue, int64_t now_ms, size_t max,
                 pw_queue_msg_cb cb, pw_queue_done_cb done, void *arg);
    /* Fills *out (which lives until done) with what waits in `queue`. */
    void (*depth)(pw_queue_backend_t *b, pw_bytes_t queue, int64_t now_ms, size_t max,
                  pw_queue_depth_t *out, pw_queue_done_cb done, void *arg);
    /* Settles taken messages in one transaction; DEAD ones move to dead_letter (which is
     * then not empty). done may be NULL. */
    void (*settle)(pw_queue_backend_t *b, const pw_queue_settle_t *s, size_t n,
                   pw_bytes_t dead_letter, int64_t now_ms, pw_queue_done_cb done, void *arg);
    /* The last error, for a log line. */
    const char *(*error)(pw_queue_backend_t *b);
    /* Operations not finished are dropped (their done() never runs). */
    void (*close)(pw_queue_backend_t *b);
} pw_queue_backend_ops_t;

/* The head of every backend. */
struct pw_queue_backend {
    const pw_queue_backend_ops_t *ops;
    /* How often a consumer looks again at a queue it found empty, in ms; 0: only when this
     * host sends to it (the store has no other writer). Shared stores have other writers. */
    int64_t poll_ms;
};

#endif
