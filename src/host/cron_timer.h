/* cron_timer.h — Cron Triggers (host process): every worker's `pyworkerd.crons` schedules
 * (config/cron.h, UTC) on one timer of the host's loop. When a schedule comes due its
 * worker's scheduled() handler runs, as a "__scheduled__" CALL of its default entrypoint
 * with {"cron", "scheduledTime"} (host/worker_call.h); a run that fails is run again up to
 * three times unless the handler called controller.noRetry(). Only ticks that come while
 * the host runs fire: one missed while it was stopped is not run later, and when the loop
 * falls behind, a schedule fires once for the latest tick it missed.
 * Tests run the clock faster (--test-cron-speed): an every-minute schedule then fires every
 * 60/speed seconds of wall-clock time, with scheduledTime in the fast clock's time.
 */
#ifndef PW_CRON_TIMER_H
#define PW_CRON_TIMER_H

#include <stddef.h>
#include <uv.h>

#include "config/config.h"
#include "host/pool.h"

typedef struct pw_cron_timer pw_cron_timer_t;
typedef pw_pool_t *(*pw_cron_lookup_cb)(void *arg, const char *service);

/* Starts the timer for every schedule in config (*out = NULL when there is none); `speed`
 * is the clock's rate (1: real time). Returns 0, or -1 with a message in err. */
int pw_cron_timer_start(uv_loop_t *loop, const pw_config_t *config, unsigned speed,
                        pw_cron_lookup_cb lookup, void *lookup_arg, pw_cron_timer_t **out,
                        char *err, size_t err_len);
/* A cluster's nodes each run the same schedules: before a tick runs, claim() asks whether
 * this node is the one to run it (the first to record it in the shared state); claimed(arg,
 * won) answers later (won: 1 run it, 0 another node did, -1 unknown: skipped). It returns a
 * handle for cancel(), or NULL when it could not ask (the tick is skipped). With a sped-up
 * clock the nodes' clocks are lined up on the start of the UTC day, so that their ticks are
 * the same ticks. */
typedef void (*pw_cron_claimed_cb)(void *arg, int won);
typedef struct {
    void *(*claim)(void *arg, const char *service, const char *cron, int64_t tick_ms,
                   pw_cron_claimed_cb claimed, void *claimed_arg);
    void (*cancel)(void *handle);
    void *arg;
} pw_cron_claim_t;
void pw_cron_timer_set_claim(pw_cron_timer_t *t, const pw_cron_claim_t *claim);

/* No more runs: the timer stops and runs in flight are cancelled (before pools close). */
void pw_cron_timer_stop(pw_cron_timer_t *t);
/* Frees it (stopping it first); its handle is closed when the loop runs again. */
void pw_cron_timer_free(pw_cron_timer_t *t);

#endif
