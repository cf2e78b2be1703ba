/* queues.h — the host's queues (host process): Cloudflare Queues on one machine. Producers
 * are `queue = "NAME"` bindings (host/binding_queue.c sends through pw_queues_send); the
 * messages are stored durably (storage/queue_backend.h: SQLite under the persist
 * directory, or PostgreSQL with --storage) before the send is answered; consumers are the workers whose
 * `pyworkerd.queueConsumers` name the queue. The engine delivers batches to a consumer as
 * `__queue__` CALLs of its default entrypoint (host/worker_call.h): a batch goes when it
 * holds max_batch_size messages or its oldest has waited max_batch_timeout, at most
 * max_concurrency at once; the consumer's answer (host/queue_answer.h) acknowledges,
 * retries (after a delay, counting an attempt) or, past max_retries, moves each message to
 * the dead-letter queue or drops it. Delivery is at least once: what was in flight when the
 * host stopped is delivered again by the next one.
 * One engine per host, owned by the loop that runs it (its state is all in pw_queues_t).
 */
#ifndef PW_QUEUES_H
#define PW_QUEUES_H

#include <stddef.h>
#include <uv.h>

#include "config/config.h"
#include "host/pool.h"
#include "storage/pg_pool.h"
#include "storage/queue_backend.h"

#define PW_QUEUE_MAX_MESSAGE 128000         /* bytes of one message's body (Cloudflare: 128 KB) */
#define PW_QUEUE_MAX_SEND 256000            /* bytes of one sendBatch() (256 KB) */

typedef struct pw_queues pw_queues_t;
typedef pw_pool_t *(*pw_queues_lookup_cb)(void *arg, const char *service);

/* The engine of every queue in config; *out = NULL when no worker names one. Its store is
 * PostgreSQL through `pg` when given (shared by every node), else `dir`/queues.sqlite3 (dir
 * NULL: in memory). Delivery starts once the loop runs. Returns 0, or -1 with a message in
 * err. */
int pw_queues_create(uv_loop_t *loop, const pw_config_t *config, const char *dir,
                     pw_pg_pool_t *pg, pw_queues_lookup_cb lookup, void *lookup_arg, pw_queues_t **out, char *err,
                     size_t err_len);
void pw_queues_free(pw_queues_t *q);

/* error: NULL once the messages are stored, else the store's words (valid during the call);
 * unavailable: 1 when the store cannot be reached now (the caller answers 503). */
typedef void (*pw_queues_sent_cb)(void *arg, const char *error, int unavailable);

/* Stores n checked messages in `queue` (their ids are set here: each msgs[i].id must have
 * room for PW_QUEUE_ID_LEN bytes in id_space[i]; both are read before this returns), then
 * calls sent (at once or later, from the loop) and wakes the queue's consumer. */
void pw_queues_send(pw_queues_t *q, pw_bytes_t queue, pw_queue_new_t *msgs, size_t n,
                    char (*id_space)[PW_QUEUE_ID_LEN], pw_queues_sent_cb sent, void *arg);

/* The wall clock in milliseconds. */
int64_t pw_queues_now_ms(void);

#endif
