/* kv_disk.c — KV operations on SQLite (host process, loop thread; see kv_disk.h). Each
 * operation runs its statements and calls done() before returning; answers are laid out as
 * storage/kv_backend.h says. Values from SQLite are only valid until the next statement, so a
 * bulk get or a listing copies them into one buffer first.
 * Invariant: done() runs exactly once per operation, before the operation returns.
 */
#include "storage/kv_disk.h"
#include "storage/kv.h"
#include "storage/kv_common.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pw_kv_backend_t head;       /* first: the vtable's pointer */
    pw_kv_t *kv;
} disk_t;

static void answer(pw_kv_done_cb done, void *arg, const pw_bytes_t *fields, size_t n)
{
    pw_kv_result_t r = { .fields = fields, .n_fields = n };
    done(arg, &r);
}

static void fail(pw_kv_done_cb done, void *arg, const char *fmt, const char *why)
{
    char msg[1024];
    snprintf(msg, sizeof msg, fmt, why);
    pw_kv_result_t r = { .error_name = "Error", .error = msg };
    done(arg, &r);
}

static void ok(pw_kv_done_cb done, void *arg)
{
    pw_bytes_t f[1] = { pw_bytes_of("") };
    answer(done, arg, f, 1);
}

static void disk_get(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                     pw_kv_pending_t **pending)
{
    disk_t *d = (disk_t *)b;
    pw_kv_entry_t e;
    *pending = NULL;
    int rc = pw_kv_get(d->kv, a->keys[0], a->now, &e);
    if (rc < 0)
        return fail(done, arg, "KV GET failed: 500 %s", pw_kv_error(d->kv));
    if (rc == 0)
        return ok(done, arg);
    char exp[24];
    snprintf(exp, sizeof exp, "%" PRId64, e.expiration);
    pw_bytes_t out[4] = { pw_bytes_of(""), e.value, e.metadata, pw_bytes_of(e.expiration ? exp : "") };
    answer(done, arg, out, 4);
}

/* Bulk get: values are copied into one buffer (SQLite's pointers live until the next call). */
static void disk_get_many(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                          pw_kv_pending_t **pending)
{
    disk_t *d = (disk_t *)b;
    *pending = NULL;
    pw_buf_t data;
    pw_buf_init(&data);
    size_t offs[PW_KV_MAX_BULK][3];     /* value start, value end, metadata end; SIZE_MAX: missing */
    for (size_t i = 0; i < a->n_keys; i++) {
        pw_kv_entry_t e;
        int rc = pw_kv_get(d->kv, a->keys[i], a->now, &e);
        offs[i][0] = rc == 1 ? data.len : SIZE_MAX;
        if (rc == 1 && (pw_buf_append(&data, e.value.base, e.value.len) < 0 ||
                        (offs[i][1] = data.len, pw_buf_append(&data, e.metadata.base, e.metadata.len) < 0)))
            rc = -ENOMEM;
        offs[i][2] = data.len;
        if (rc < 0) {
            pw_buf_free(&data);
            return fail(done, arg, "KV GET failed: 500 %s", "internal error");
        }
    }
    pw_bytes_t out[1 + 3 * PW_KV_MAX_BULK];
    out[0] = pw_bytes_of("");
    for (size_t i = 0; i < a->n_keys; i++) {
        int found = offs[i][0] != SIZE_MAX;
        out[1 + 3 * i] = pw_bytes_of(found ? "1" : "");
        out[2 + 3 * i] = found ? (pw_bytes_t){ data.data + offs[i][0], offs[i][1] - offs[i][0] } : pw_bytes_of("");
        out[3 + 3 * i] = found ? (pw_bytes_t){ data.data + offs[i][1], offs[i][2] - offs[i][1] } : pw_bytes_of("");
    }
    answer(done, arg, out, 1 + 3 * a->n_keys);
    pw_buf_free(&data);
}

static void disk_put(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                     pw_kv_pending_t **pending)
{
    disk_t *d = (disk_t *)b;
    *pending = NULL;
    if (pw_kv_put(d->kv, a->keys[0], a->value, a->expiration, a->metadata, a->now) < 0)
        return fail(done, arg, "KV PUT failed: 500 %s", pw_kv_error(d->kv));
    ok(done, arg);
}

static void disk_delete(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                        pw_kv_pending_t **pending)
{
    disk_t *d = (disk_t *)b;
    *pending = NULL;
    if (pw_kv_delete(d->kv, a->keys[0]) < 0)
        return fail(done, arg, "KV DELETE failed: 500 %s", pw_kv_error(d->kv));
    ok(done, arg);
}

/* ---- listing ---- */

typedef struct {
    pw_buf_t data;
    size_t offs[PW_KV_MAX_LIST + 1][4]; /* name start, name end, expiration end, metadata end */
    size_t count;
    int failed;
} listing_t;

static void on_listed(void *arg, pw_bytes_t key, int64_t expiration, pw_bytes_t metadata)
{
    listing_t *l = arg;
    char exp[24] = "";
    if (expiration)
        snprintf(exp, sizeof exp, "%" PRId64, expiration);
    size_t *o = l->offs[l->count++];
    o[0] = l->data.len;
    l->failed |= pw_buf_append(&l->data, key.base, key.len) < 0;
    o[1] = l->data.len;
    l->failed |= pw_buf_append(&l->data, exp, strlen(exp)) < 0;
    o[2] = l->data.len;
    l->failed |= pw_buf_append(&l->data, metadata.base, metadata.len) < 0;
    o[3] = l->data.len;
}

/* "", complete, cursor (the hex of the last name when more follow), (name, expiration, metadata)... */
static void answer_listing(const listing_t *l, int more, pw_kv_done_cb done, void *arg)
{
    static pw_bytes_t out[3 + 3 * PW_KV_MAX_LIST];
    char cursor[2 * PW_KV_MAX_KEY + 1] = "";
    if (more && l->count) {
        const size_t *o = l->offs[l->count - 1];
        pw_kv_cursor_encode((pw_bytes_t){ l->data.data + o[0], o[1] - o[0] }, cursor);
    }
    out[0] = pw_bytes_of("");
    out[1] = pw_bytes_of(more ? "" : "1");
    out[2] = pw_bytes_of(cursor);
    for (size_t i = 0; i < l->count; i++) {
        const size_t *o = l->offs[i];
        out[3 + 3 * i] = (pw_bytes_t){ l->data.data + o[0], o[1] - o[0] };
        out[4 + 3 * i] = (pw_bytes_t){ l->data.data + o[1], o[2] - o[1] };
        out[5 + 3 * i] = (pw_bytes_t){ l->data.data + o[2], o[3] - o[2] };
    }
    answer(done, arg, out, 3 + 3 * l->count);
}

static void disk_list(pw_kv_backend_t *b, const pw_kv_args_t *a, pw_kv_done_cb done, void *arg,
                      pw_kv_pending_t **pending)
{
    disk_t *d = (disk_t *)b;
    uint8_t after[PW_KV_MAX_KEY];
    size_t after_len = 0;
    *pending = NULL;
    if (pw_kv_cursor_decode(a->cursor, after, &after_len) < 0)
        return fail(done, arg, "KV GET failed: 400 %s", "Invalid cursor.");
    listing_t *l = calloc(1, sizeof *l);
    if (!l)
        return fail(done, arg, "KV GET failed: 500 %s", "out of memory");
    int more;
    int rc = pw_kv_list(d->kv, a->prefix, (pw_bytes_t){ after, after_len }, a->limit, a->now,
                        on_listed, l, &more);
    if (rc >= 0 && !l->failed)
        answer_listing(l, more, done, arg);
    else
        fail(done, arg, "KV GET failed: 500 %s", pw_kv_error(d->kv));
    pw_buf_free(&l->data);
    free(l);
}

static void disk_cancel(pw_kv_pending_t *pending)
{
    (void)pending;              /* nothing is ever pending */
}

static void disk_close(pw_kv_backend_t *b)
{
    disk_t *d = (disk_t *)b;
    if (!d)
        return;
    pw_kv_close(d->kv);
    free(d->head.refuse_put);
    free(d->head.refuse_delete);
    free(d);
}

static const pw_kv_backend_ops_t disk_ops = {
    .get = disk_get, .get_many = disk_get_many, .put = disk_put, .delete = disk_delete,
    .list = disk_list, .cancel = disk_cancel, .close = disk_close,
};

int pw_kv_disk_open(const char *dir, const char *service, int writable, pw_kv_backend_t **out,
                    char *err, size_t err_len)
{
    disk_t *d = calloc(1, sizeof *d);
    if (!d || (!writable && pw_kv_refuse_writes(&d->head, service) < 0)) {
        if (d)
            disk_close(&d->head);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    d->head.ops = &disk_ops;
    if (pw_kv_open(dir, &d->kv, err, err_len) < 0) {
        disk_close(&d->head);
        return -1;
    }
    *out = &d->head;
    return 0;
}
