/* queue_options.h — the queue and cron parts of a worker's `pyworkerd = (...)` extension
 * (host process, config loading): `queueConsumers` (wrangler's [[queues.consumers]]
 * settings, each checked against Cloudflare's limits), `queueProducers` (a producer
 * binding's delivery_delay) and `crons` (each parsed as
 * config/cron.h does), and the checks across workers: a queue has one consumer, and a
 * queue binding's name must not be a service's. config.c calls these and adds the file and
 * line: every error says which text of the config to point at (*at).
 */
#ifndef PW_QUEUE_OPTIONS_H
#define PW_QUEUE_OPTIONS_H

#include <cJSON.h>
#include <stddef.h>

#include "config/config.h"

/* Reads ext's queueConsumers and crons (ext: the worker's "pyworkerd" object; NULL: none)
 * into o. Returns 0, or -1 with a message in err and *at set to the config text it is about
 * (a string or a field name; *at_field says which). */
int pw_queue_options_load(const cJSON *ext, pw_worker_options_t *o, char *err, size_t err_len,
                          const char **at, int *at_field);
void pw_queue_options_free(pw_worker_options_t *o);

/* The checks across workers. Returns 0, or -1 with a message in err, *service the worker
 * it is about and *at the text to point at. */
int pw_queue_options_check(const pw_config_t *config, char *err, size_t err_len,
                           const char **service, const char **at);

#endif
