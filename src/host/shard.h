/* shard.h — one more host event loop, on a thread of its own (host process): --threads N runs
 * the main loop (main.c) and N-1 shards. A shard has what a loop needs to serve requests on
 * its own: its listeners (joined to the main loop's sockets: SO_REUSEPORT, or the one accept
 * queue of an inherited socket), a pool of isolates per worker (from a worker template of its
 * own), its outbound HTTP client and service routing (to its own pools). Binding kinds that
 * keep state run on the main loop (host/rpc_forward.h): one owner per object.
 *
 * The main loop creates shards after its own workers and listeners are up (pw_shard_start
 * returns once the shard serves or failed), and drives its shutdown with messages: drain (stop
 * accepting; on_idle once no request is in flight), retire (isolates run their shutdown hooks;
 * on_retired), stop (everything closes; on_exited; then pw_shard_join). The callbacks run on the
 * main loop. Nothing else is shared: the config, the zygote and the templates' spec files are
 * read-only while shards run.
 */
#ifndef PW_SHARD_H
#define PW_SHARD_H

#include "config/config.h"
#include "host/mailbox.h"
#include "host/pool.h"
#include "host/rpc.h"
#include "http/server.h"

typedef struct pw_shard pw_shard_t;

typedef struct {
    size_t index;                       /* 1..N-1, for logs */
    const pw_config_t *config;
    /* Per service (config->n_services): a worker's pool options with a template of this
     * shard's own (the shard owns template_fd from now on), or .name NULL for other services. */
    const pw_pool_options_t *pools;
    /* Bindings: the main loop's, where stateful kinds run. */
    pw_rpc_host_t *owner_rpc;
    pw_mailbox_t *owner_mailbox;
    const char *persist_dir;
    unsigned fetch_timeout_ms;
    /* Listeners: the main loop's specs with .share set (.worker is replaced by the shard's
     * pool of the same service, given as the service's index in .worker_index; SIZE_MAX: a
     * disk service's files, served by every loop from the spec's own .worker). */
    const pw_listener_spec_t *listeners;
    const size_t *worker_index;
    size_t n_listeners;
    pw_http_options_t http;             /* on_idle is the shard's own */
    /* Main-loop callbacks. */
    void (*on_idle)(void *arg, pw_shard_t *shard);
    void (*on_retired)(void *arg, pw_shard_t *shard);
    void (*on_exited)(void *arg, pw_shard_t *shard);
    void *arg;
} pw_shard_options_t;

/* Starts the thread and waits until the shard serves. Returns 0, or -1 with the reason in err
 * (the thread has then ended and *out is NULL). */
int pw_shard_start(const pw_shard_options_t *opts, pw_shard_t **out, char *err, size_t err_len);
/* From the main loop. */
void pw_shard_drain(pw_shard_t *shard);
void pw_shard_retire(pw_shard_t *shard);
void pw_shard_stop(pw_shard_t *shard);
size_t pw_shard_index(const pw_shard_t *shard);
/* After on_exited: joins the thread and frees the shard. */
void pw_shard_join(pw_shard_t *shard);

#endif
