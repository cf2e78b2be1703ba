/* do_alarm.c — Durable Object alarms (host process, the main loop; see do_objects.h). Each
 * namespace stores its objects' alarm times (storage/do_backend.h's alarm_*), read back at
 * start-up, so an alarm set before a restart still runs. The objects with an alarm wait in
 * one list, soonest first, behind one timer. A due alarm is an "__alarm__" event with
 * {"retryCount", "isRetry"}; at most one runs per object. When it succeeds the stored alarm
 * is deleted, unless the handler set a new one; when it fails it is retried after 2 s, 4 s,
 * ... (PW_DO_ALARM_RETRIES times), then dropped and logged.
 */
#include "host/do_state.h"
#include "base/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void on_alarm_timer(uv_timer_t *timer);

static pw_do_object_t *alarm_first(pw_do_host_t *host)
{
    return pw_list_empty(&host->alarms) ? NULL
                                        : PW_CONTAINER_OF(host->alarms.next, pw_do_object_t, alarm_link);
}

/* The timer waits for the soonest alarm. */
static void rearm(pw_do_host_t *host)
{
    pw_do_object_t *first = alarm_first(host);
    if (host->closing)
        return;
    if (!first) {
        uv_timer_stop(&host->alarm_timer);
        return;
    }
    int64_t delay = first->alarm_due - pw_do_now_ms();
    uv_timer_start(&host->alarm_timer, on_alarm_timer, delay > 0 ? (uint64_t)delay : 0, 0);
}

void pw_do_alarm_queue(pw_do_object_t *obj)
{
    pw_do_host_t *host = obj->ns->host;
    pw_list_remove(&obj->alarm_link);
    if (obj->alarm_due) {
        pw_list_t *pos = &host->alarms;
        PW_LIST_FOR_EACH(node, &host->alarms) {
            if (PW_CONTAINER_OF(node, pw_do_object_t, alarm_link)->alarm_due > obj->alarm_due)
                break;
            pos = node;
        }
        pw_list_insert_after(pos, &obj->alarm_link);
    }
    rearm(host);
}

int pw_do_object_set_alarm(pw_do_object_t *obj, int64_t at_ms, char *err, size_t err_len)
{
    pw_do_backend_t *b = obj->ns->backend;
    if (b->ops->alarm_set(b, obj->id, at_ms, err, err_len) < 0)
        return -1;
    obj->alarm_ms = at_ms;
    obj->alarm_retries = 0;
    if (!obj->alarm_running) {
        obj->alarm_due = at_ms;
        pw_do_alarm_queue(obj);
    }
    return 0;
}

int64_t pw_do_object_alarm(const pw_do_object_t *obj)
{
    return obj->alarm_ms;
}

/* The stored alarm is gone (it ran, or gave up). */
static void alarm_clear(pw_do_object_t *obj)
{
    char err[256];
    pw_do_backend_t *b = obj->ns->backend;
    if (b->ops->alarm_set(b, obj->id, 0, err, sizeof err) < 0)
        pw_log_error("Durable Object %s %s: %s", obj->ns->class_name, obj->id, err);
    obj->alarm_ms = 0;
    obj->alarm_due = 0;
}

static void alarm_done(void *arg, const pw_worker_answer_t *a)
{
    pw_do_object_t *obj = arg;
    int ok = !a->error_status && a->status == 200;
    obj->alarm_running = 0;
    if (obj->alarm_ms != obj->alarm_fired) {
        obj->alarm_due = obj->alarm_ms;     /* the handler set (or deleted) the next one */
        obj->alarm_retries = 0;
    } else if (ok) {
        obj->alarm_retries = 0;
        alarm_clear(obj);
    } else if (++obj->alarm_retries > PW_DO_ALARM_RETRIES) {
        pw_log_error("Durable Object %s %s: alarm() failed %d times; giving it up", obj->ns->class_name,
                     obj->id, PW_DO_ALARM_RETRIES + 1);
        obj->alarm_retries = 0;
        alarm_clear(obj);
    } else {
        obj->alarm_due = pw_do_now_ms() + ((int64_t)PW_DO_ALARM_BACKOFF_MS << (obj->alarm_retries - 1));
    }
    pw_do_alarm_queue(obj);
    pw_do_object_unhold(obj);
}

static void alarm_run(pw_do_object_t *obj)
{
    char payload[96];
    snprintf(payload, sizeof payload, "{\"retryCount\":%u,\"isRetry\":%s}", obj->alarm_retries,
             obj->alarm_retries ? "true" : "false");
    obj->alarm_running = 1;
    obj->alarm_fired = obj->alarm_ms;
    pw_do_object_hold(obj);     /* released by alarm_done */
    if (pw_do_event_internal(obj, "__alarm__", pw_bytes_of(payload), alarm_done, obj) < 0) {
        pw_worker_answer_t a = { .error_status = 500, .error_text = "out of memory" };
        alarm_done(obj, &a);
    }
}

static void on_alarm_timer(uv_timer_t *timer)
{
    pw_do_host_t *host = timer->data;
    int64_t now = pw_do_now_ms();
    pw_do_object_t *obj;
    while ((obj = alarm_first(host)) && obj->alarm_due <= now) {
        pw_list_remove(&obj->alarm_link);
        obj->alarm_due = 0;
        alarm_run(obj);
    }
    rearm(host);
}

static void alarm_found(void *arg, const char *id_hex, int64_t at_ms)
{
    pw_do_object_t *obj = pw_do_object(arg, id_hex, 1);
    if (!obj)
        return;
    obj->alarm_ms = obj->alarm_due = at_ms;
    pw_do_alarm_queue(obj);
}

void pw_do_alarm_load(pw_do_ns_t *ns)
{
    if (ns->backend->ops->alarm_scan(ns->backend, alarm_found, ns) < 0)
        pw_log_error("Durable Object namespace %s: its stored alarms could not be read", ns->class_name);
}

void pw_do_alarms_init(pw_do_host_t *host)
{
    uv_timer_init(host->opts.loop, &host->alarm_timer);
    host->alarm_timer.data = host;
    uv_unref((uv_handle_t *)&host->alarm_timer);
}

void pw_do_alarms_close(pw_do_host_t *host, uv_close_cb closed)
{
    uv_close((uv_handle_t *)&host->alarm_timer, closed);
}
