/* binding_r2.c — the R2 binding kind (host process, loop thread): `r2Bucket` bindings, each
 * a bucket on a writable disk service (storage/r2_disk.h, shared by every binding naming it).
 * Every op decodes its arguments (host/r2_json.h) on the loop, runs the backend on libuv's
 * thread pool (a job: the disk may block, fsync takes long) and answers from the loop.
 * Bodies stream in chunks of at most R2_CHUNK bytes, a binding call each (host/r2_stream.h):
 * a put larger than one chunk leaves a writer open (r2.write sends the rest), a get larger
 * than one chunk leaves a reader open (r2.read takes the rest), so no object is ever whole in
 * the host's memory.
 * Invariant: each call is answered once, when its job ends; when the isolate dies first the
 * job finishes unanswered and whatever it opened is closed.
 */
#include "host/binding.h"
#include "host/port.h"
#include "host/r2_json.h"
#include "host/r2_stream.h"
#include "storage/r2_disk.h"
#include "storage/r2_rules.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The buckets of disk services, opened once for the whole host. */
typedef struct store {
    struct store *next;
    const pw_service_t *disk;
    pw_r2_backend_t *be;
} store_t;

typedef struct {
    const pw_binding_env_t *env;
    pthread_mutex_t lock;       /* guards stores */
    store_t *stores;
} r2_host_t;

typedef struct {
    const char *name;
    pw_r2_backend_t *be;
} r2_binding_t;

typedef struct {
    r2_binding_t *bindings;
    size_t n_bindings;
    pw_r2_streams_t *streams;
} r2_worker_t;

/* One binding call at work on the thread pool. */
typedef struct job job_t;
typedef void (*job_fn)(job_t *j);
struct job {
    pw_port_watch_t watch;      /* first: gone() gets this pointer */
    uv_work_t work;
    r2_worker_t *w;
    pw_r2_backend_t *be;
    pw_port_t *port;
    uint32_t id;
    int dead;                   /* the isolate is gone: nothing answers */
    const char *action;         /* R2's name of the operation, for errors ("put") */
    job_fn run, answer;         /* on the pool; on the loop */
    pw_r2_code_t code;
    char *key, *upload_id;
    unsigned part_number;
    pw_r2_put_args_t put;
    pw_r2_get_args_t get;
    pw_r2_list_args_t list;
    char **keys;
    size_t n_keys;
    pw_r2_part_ref_t *parts;
    size_t n_parts;
    uint8_t *data;              /* the chunk written, or read */
    size_t len;
    int more;                   /* written: more chunks follow; read: more remain */
    pw_r2_stream_t *stream;     /* the stream the job works on (held busy) */
    pw_r2_writer_t *writer;
    pw_r2_reader_t *reader;
    uint64_t left;              /* a new reader's bytes after the first chunk */
    pw_r2_object_t obj;
    pw_r2_listing_t listing;
    char etag[48], upload[65];
};

/* ---- jobs ---- */

static void job_free(job_t *j)
{
    if (j->reader)
        j->be->ops->close_reader(j->reader);
    if (j->writer)
        j->be->ops->abort(j->writer);
    free(j->key);
    free(j->upload_id);
    pw_r2_put_args_clear(&j->put);
    pw_r2_get_args_clear(&j->get);
    pw_r2_list_args_clear(&j->list);
    free(j->keys);
    free(j->parts);
    free(j->data);
    pw_r2_object_clear(&j->obj);
    pw_r2_listing_clear(&j->listing);
    free(j);
}

static job_t *job_new(const pw_binding_call_t *c, const char *action)
{
    job_t *j = calloc(1, sizeof *j);
    if (!j) {
        pw_port_reply_error(c->port, c->id, "Error", "%s: out of memory", action);
        return NULL;
    }
    j->w = c->state;
    j->be = ((r2_binding_t *)c->binding)->be;
    j->port = c->port;
    j->id = c->id;
    j->action = action;
    return j;
}

/* Answers with R2's error for j->code: "put: <R2's message> (<code>)". */
static void reply_code(job_t *j)
{
    const char *text = pw_r2_error_text(j->code);
    if (j->code == PW_R2_BAD_DIGEST && j->put.opts.has_hash)
        pw_port_reply_error(j->port, j->id, "Error", "%s: The %s checksum you specified did not match "
                            "what we received. (%d)", j->action, pw_r2_hash_label(j->put.opts.hash), j->code);
    else
        pw_port_reply_error(j->port, j->id, "Error", "%s: %s (%d)", j->action, text, j->code);
}

static void job_gone(pw_port_watch_t *watch)
{
    job_t *j = (job_t *)watch;
    j->dead = 1;
    pw_port_unwatch(j->port, &j->watch);
}

static void job_work(uv_work_t *work)
{
    job_t *j = work->data;
    j->run(j);
}

static void job_done(uv_work_t *work, int status)
{
    job_t *j = work->data;
    if (!j->dead) {
        if (status < 0)
            pw_port_reply_error(j->port, j->id, "Error", "%s: cancelled", j->action);
        else
            j->answer(j);       /* the stream, still held, may be finished: freed below */
        pw_port_unwatch(j->port, &j->watch);
    }
    if (j->stream)
        pw_r2_stream_release(j->stream);
    job_free(j);
}

/* Runs j->run on the thread pool, then j->answer on the loop. */
static void job_start(job_t *j, const pw_binding_env_t *env, job_fn run, job_fn answer)
{
    j->run = run;
    j->answer = answer;
    j->work.data = j;
    pw_port_watch(j->port, &j->watch, job_gone);
    int rc = uv_queue_work(env->loop, &j->work, job_work, job_done);
    if (rc < 0) {
        pw_port_reply_error(j->port, j->id, "Error", "%s: %s", j->action, uv_strerror(rc));
        pw_port_unwatch(j->port, &j->watch);
        if (j->stream)
            pw_r2_stream_release(j->stream);
        job_free(j);
    }
}

static const pw_binding_env_t *env_of(const job_t *j);

/* ---- answers ---- */

static void reply_fields(job_t *j, const pw_bytes_t *f, size_t n)
{
    pw_port_reply(j->port, j->id, f, n);
}

static void reply_empty(job_t *j)
{
    pw_bytes_t f[1] = { pw_bytes_of("") };
    reply_fields(j, f, 1);
}

static void reply_text(job_t *j, const char *text)
{
    pw_bytes_t f[2] = { pw_bytes_of(""), pw_bytes_of(text) };
    reply_fields(j, f, 2);
}

/* "", the object's JSON */
static void reply_object(job_t *j)
{
    char *json = pw_r2_encode_object(&j->obj);
    if (!json) {
        j->code = PW_R2_INTERNAL;
        reply_code(j);
        return;
    }
    reply_text(j, json);
    free(json);
}

/* ---- streams ---- */

/* Whether opening a stream failed (rc < 0, or no JSON to answer with); answered then. */
static int open_failed(job_t *j, int rc)
{
    if (rc == -EMFILE)
        pw_port_reply_error(j->port, j->id, "Error", "%s: too many R2 bodies and uploads open at "
                            "once in this isolate (%d): read bodies to their end", j->action,
                            PW_R2_MAX_STREAMS);
    else if (rc < 0) {
        j->code = PW_R2_INTERNAL;
        reply_code(j);
    }
    return rc < 0;
}

/* The calling isolate's idle stream named by field f (a reader or a writer), or NULL once
 * answered. */
static pw_r2_stream_t *stream_of(const pw_binding_call_t *c, pw_bytes_t f, int writer)
{
    r2_worker_t *w = c->state;
    pw_r2_stream_t *s = pw_r2_stream_find(w->streams, c->port, f);
    if (!s || pw_r2_stream_is_writer(s) != writer) {
        pw_port_reply_error(c->port, c->id, "TypeError", writer ? "This R2 upload is no longer open."
                            : "This R2 body is no longer readable (closed, or read to its end).");
        return NULL;
    }
    if (pw_r2_stream_busy(s)) {
        pw_port_reply_error(c->port, c->id, "TypeError", "This R2 stream is already being %s.",
                            writer ? "written" : "read");
        return NULL;
    }
    return s;
}

/* ---- reading ---- */

/* Reads up to R2_CHUNK bytes (no more than `left`) into j->data. */
static void read_chunk(job_t *j, pw_r2_reader_t *r, uint64_t left)
{
    size_t want = left < PW_R2_CHUNK ? (size_t)left : PW_R2_CHUNK;
    j->data = malloc(want ? want : 1);
    if (!j->data) {
        j->code = PW_R2_INTERNAL;
        return;
    }
    while (j->len < want) {
        long n = j->be->ops->read(r, j->data + j->len, want - j->len);
        if (n <= 0) {
            j->code = PW_R2_INTERNAL;   /* the body ended before its length */
            return;
        }
        j->len += (size_t)n;
    }
}

static void run_head(job_t *j)
{
    j->code = j->be->ops->head(j->be, j->key, &j->obj);
}

/* "" when missing; "", object */
static void answer_head(job_t *j)
{
    if (j->code == PW_R2_NO_SUCH_KEY)
        reply_empty(j);
    else if (j->code != PW_R2_OK)
        reply_code(j);
    else
        reply_object(j);
}

static void run_get(job_t *j)
{
    j->code = j->be->ops->get(j->be, j->key, j->get.has_cond ? &j->get.cond : NULL, &j->get.range,
                              &j->obj, &j->reader);
    if (j->code != PW_R2_OK)
        return;
    read_chunk(j, j->reader, j->obj.range_length);
    j->left = j->obj.range_length - j->len;
    j->more = j->left > 0;
}

/* "" when missing; "", object, "412" when onlyIf failed; "", object, "", first chunk, stream
 * id ("" when the chunk is the whole body) */
static void answer_get(job_t *j)
{
    int failed = j->code == PW_R2_PRECONDITION_FAILED;
    char *json = j->code == PW_R2_OK || failed ? pw_r2_encode_object(&j->obj) : NULL;
    char sid[16] = "";
    if (j->code == PW_R2_NO_SUCH_KEY)
        reply_empty(j);
    else if (j->code != PW_R2_OK && !failed)
        reply_code(j);
    else if (open_failed(j, !json ? -ENOMEM : !j->more ? 0
                            : pw_r2_stream_open_reader(j->w->streams, j->port, j->be, j->reader, j->left, sid)))
        ;
    else {
        if (j->more)
            j->reader = NULL;           /* the stream's now */
        pw_bytes_t f[5] = { pw_bytes_of(""), pw_bytes_of(json), pw_bytes_of(failed ? "412" : ""),
                            { j->data, j->len }, pw_bytes_of(sid) };
        reply_fields(j, f, failed ? 3 : 5);
    }
    free(json);
}

static void run_read(job_t *j)
{
    uint64_t left = pw_r2_stream_left(j->stream);
    read_chunk(j, pw_r2_stream_reader(j->stream), left);
    if (j->code == PW_R2_OK)
        pw_r2_stream_consumed(j->stream, j->len);
    j->more = j->code == PW_R2_OK && left > j->len;
}

/* "", chunk, "1" when more follows (the stream closes after its last chunk) */
static void answer_read(job_t *j)
{
    if (!j->more)
        pw_r2_stream_finish(j->stream);
    if (j->code != PW_R2_OK) {
        reply_code(j);
        return;
    }
    pw_bytes_t f[3] = { pw_bytes_of(""), { j->data, j->len }, pw_bytes_of(j->more ? "1" : "") };
    reply_fields(j, f, 3);
}

/* ---- writing ---- */

/* Writes the job's chunk; the last one ends the writer (its object or part etag). */
static void write_and_finish(job_t *j, pw_r2_writer_t **w)
{
    if (j->code == PW_R2_OK && j->len)
        j->code = j->be->ops->write(*w, j->data, j->len);
    if (j->code != PW_R2_OK) {
        j->be->ops->abort(*w);
        *w = NULL;
    } else if (!j->more) {
        j->code = j->be->ops->finish(*w, &j->obj, j->etag);
        *w = NULL;
    }
}

static void run_put(job_t *j)
{
    j->code = j->be->ops->begin_put(j->be, j->key, &j->put.opts, &j->writer);
    if (j->code == PW_R2_OK)
        write_and_finish(j, &j->writer);
}

static void run_part(job_t *j)
{
    j->code = j->be->ops->begin_part(j->be, j->key, j->upload_id, j->part_number, &j->writer);
    if (j->code == PW_R2_OK)
        write_and_finish(j, &j->writer);
}

/* The end of a put or part: "", object | "" (onlyIf failed) | "", part etag. */
static void answer_written(job_t *j, int part)
{
    if (!part && j->code == PW_R2_PRECONDITION_FAILED)
        reply_empty(j);
    else if (j->code != PW_R2_OK)
        reply_code(j);
    else if (part)
        reply_text(j, j->etag);
    else
        reply_object(j);
}

/* A first chunk: the end as answer_written, or "", the id of the writer left open. */
static void answer_begun(job_t *j, int part)
{
    char sid[16];
    if (!j->more || j->code != PW_R2_OK) {
        answer_written(j, part);
        return;
    }
    if (open_failed(j, pw_r2_stream_open_writer(j->w->streams, j->port, j->be, j->writer, part, sid)))
        return;
    j->writer = NULL;                   /* the stream's now */
    reply_text(j, sid);
}

static void answer_put(job_t *j)
{
    answer_begun(j, 0);
}

static void answer_part(job_t *j)
{
    answer_begun(j, 1);
}

static void run_write(job_t *j)
{
    pw_r2_writer_t *w = pw_r2_stream_writer(j->stream);
    write_and_finish(j, &w);
    if (!w)
        pw_r2_stream_writer_gone(j->stream);
}

/* "" while more follows; the last chunk's answer is the put's or the part's */
static void answer_write(job_t *j)
{
    int part = pw_r2_stream_is_part(j->stream);
    if (!j->more || j->code != PW_R2_OK)
        pw_r2_stream_finish(j->stream);
    if (j->more && j->code == PW_R2_OK)
        reply_empty(j);
    else
        answer_written(j, part);
}

/* ---- the rest ---- */

static void run_delete(job_t *j)
{
    j->code = j->be->ops->delete(j->be, (const char *const *)j->keys, j->n_keys);
}

static void answer_done(job_t *j)
{
    if (j->code != PW_R2_OK)
        reply_code(j);
    else
        reply_empty(j);
}

static void run_list(job_t *j)
{
    j->code = j->be->ops->list(j->be, &j->list.opts, &j->listing);
}

static void answer_list(job_t *j)
{
    char *json = j->code == PW_R2_OK ? pw_r2_encode_listing(&j->listing) : NULL;
    if (j->code == PW_R2_OK && !json)
        j->code = PW_R2_INTERNAL;
    if (j->code != PW_R2_OK)
        reply_code(j);
    else
        reply_text(j, json);
    free(json);
}

static void run_create(job_t *j)
{
    j->code = j->be->ops->create_upload(j->be, j->key, &j->put.opts, j->upload);
}

static void answer_create(job_t *j)
{
    if (j->code != PW_R2_OK)
        reply_code(j);
    else
        reply_text(j, j->upload);
}

static void run_complete(job_t *j)
{
    j->code = j->be->ops->complete_upload(j->be, j->key, j->upload_id, j->parts, j->n_parts, &j->obj);
}

static void answer_complete(job_t *j)
{
    if (j->code != PW_R2_OK)
        reply_code(j);
    else
        reply_object(j);
}

static void run_abort(job_t *j)
{
    j->code = j->be->ops->abort_upload(j->be, j->key, j->upload_id);
}

/* ---- the ops ---- */

static const pw_binding_env_t *env_of(const job_t *j)
{
    return pw_r2_streams_env(j->w->streams);
}

/* The key of field f into j->key: 0, or -1 once answered and j freed (a NUL byte is no
 * valid name). */
static int take_key(job_t *j, pw_bytes_t f)
{
    if ((j->key = pw_r2_field_string(f)))
        return 0;
    j->code = PW_R2_INVALID_OBJECT_NAME;
    reply_code(j);
    job_free(j);
    return -1;
}

/* A TypeError about the call's arguments; the job is dropped. */
static void refuse(job_t *j, const char *why)
{
    pw_port_reply_error(j->port, j->id, "TypeError", "%s", why);
    job_free(j);
}

/* r2.head BUCKET key */
static void r2_head(const pw_binding_call_t *c)
{
    job_t *j = job_new(c, "head");
    if (j && take_key(j, c->f[2]) == 0)
        job_start(j, env_of(j), run_head, answer_head);
}

/* r2.get BUCKET key options */
static void r2_get(const pw_binding_call_t *c)
{
    char err[256];
    job_t *j = job_new(c, "get");
    if (!j || take_key(j, c->f[2]) < 0)
        return;
    if (pw_r2_decode_get(c->f[3], &j->get, err, sizeof err) < 0)
        return refuse(j, err);
    job_start(j, env_of(j), run_get, answer_get);
}

/* r2.read BUCKET stream */
static void r2_read(const pw_binding_call_t *c)
{
    pw_r2_stream_t *s = stream_of(c, c->f[2], 0);
    job_t *j = s ? job_new(c, "get") : NULL;
    if (!j)
        return;
    j->stream = s;
    pw_r2_stream_hold(s);
    job_start(j, env_of(j), run_read, answer_read);
}

/* r2.close BUCKET stream: drops an open body or upload (nothing when already closed) */
static void r2_close(const pw_binding_call_t *c)
{
    r2_worker_t *w = c->state;
    pw_r2_stream_t *s = pw_r2_stream_find(w->streams, c->port, c->f[2]);
    if (s && pw_r2_stream_busy(s)) {
        pw_port_reply_error(c->port, c->id, "TypeError", "This R2 stream is in use.");
        return;
    }
    if (s)
        pw_r2_stream_finish(s);
    pw_bytes_t f[1] = { pw_bytes_of("") };
    pw_port_reply(c->port, c->id, f, 1);
}

/* A chunk field and the flag saying more follow, copied into the job. */
static int take_chunk(job_t *j, pw_bytes_t data, pw_bytes_t more)
{
    j->more = pw_bytes_is(more, "1");
    if (data.len && !(j->data = malloc(data.len))) {
        j->code = PW_R2_INTERNAL;
        reply_code(j);
        job_free(j);
        return -1;
    }
    if (data.len)
        memcpy(j->data, data.base, data.len);
    j->len = data.len;
    return 0;
}

/* r2.put BUCKET key options data more */
static void r2_put(const pw_binding_call_t *c)
{
    char err[256];
    job_t *j = job_new(c, "put");
    if (!j || take_key(j, c->f[2]) < 0)
        return;
    if (pw_r2_decode_put(c->f[3], &j->put, err, sizeof err) < 0)
        return refuse(j, err);
    if (take_chunk(j, c->f[4], c->f[5]) == 0)
        job_start(j, env_of(j), run_put, answer_put);
}

/* r2.write BUCKET stream data more */
static void r2_write(const pw_binding_call_t *c)
{
    pw_r2_stream_t *s = stream_of(c, c->f[2], 1);
    job_t *j = s ? job_new(c, pw_r2_stream_is_part(s) ? "uploadPart" : "put") : NULL;
    if (!j)
        return;
    j->stream = s;
    pw_r2_stream_hold(s);
    if (take_chunk(j, c->f[3], c->f[4]) == 0)
        job_start(j, env_of(j), run_write, answer_write);
    else
        pw_r2_stream_release(s);
}

/* r2.delete BUCKET ["key", ...] */
static void r2_delete(const pw_binding_call_t *c)
{
    char err[256];
    job_t *j = job_new(c, "delete");
    if (!j)
        return;
    if (pw_r2_decode_keys(c->f[2], &j->keys, &j->n_keys, err, sizeof err) < 0)
        return refuse(j, err);
    job_start(j, env_of(j), run_delete, answer_done);
}

/* r2.list BUCKET options */
static void r2_list(const pw_binding_call_t *c)
{
    char err[256];
    job_t *j = job_new(c, "list");
    if (!j)
        return;
    if (pw_r2_decode_list(c->f[2], &j->list, err, sizeof err) < 0)
        return refuse(j, err);
    if (j->list.opts.limit == 0) {
        j->code = PW_R2_INVALID_MAX_KEYS;
        reply_code(j);
        job_free(j);
        return;
    }
    job_start(j, env_of(j), run_list, answer_list);
}

/* r2.mpu.create BUCKET key options */
static void r2_mpu_create(const pw_binding_call_t *c)
{
    char err[256];
    job_t *j = job_new(c, "createMultipartUpload");
    if (!j || take_key(j, c->f[2]) < 0)
        return;
    if (pw_r2_decode_put(c->f[3], &j->put, err, sizeof err) < 0)
        return refuse(j, err);
    job_start(j, env_of(j), run_create, answer_create);
}

/* The upload id of field f into j->upload_id; -1 once answered. */
static int upload_of(job_t *j, pw_bytes_t f)
{
    if (f.len && f.len <= 128 && (j->upload_id = pw_r2_field_string(f)))
        return 0;
    j->code = PW_R2_NO_SUCH_UPLOAD;
    reply_code(j);
    job_free(j);
    return -1;
}

/* r2.mpu.part BUCKET key upload_id part_number data more */
static void r2_mpu_part(const pw_binding_call_t *c)
{
    int64_t number;
    job_t *j = job_new(c, "uploadPart");
    if (!j || take_key(j, c->f[2]) < 0 || upload_of(j, c->f[3]) < 0)
        return;
    if (pw_bytes_to_i64(c->f[4], &number) < 0 || number < 1 || number > PW_R2_MAX_PARTS)
        return refuse(j, "Part number must be between 1 and 10000 (inclusive).");
    j->part_number = (unsigned)number;
    if (take_chunk(j, c->f[5], c->f[6]) == 0)
        job_start(j, env_of(j), run_part, answer_part);
}

/* r2.mpu.complete BUCKET key upload_id [{"partNumber", "etag"}...] */
static void r2_mpu_complete(const pw_binding_call_t *c)
{
    char err[256];
    job_t *j = job_new(c, "completeMultipartUpload");
    if (!j || take_key(j, c->f[2]) < 0 || upload_of(j, c->f[3]) < 0)
        return;
    if (pw_r2_decode_parts(c->f[4], &j->parts, &j->n_parts, err, sizeof err) < 0)
        return refuse(j, err);
    job_start(j, env_of(j), run_complete, answer_complete);
}

/* r2.mpu.abort BUCKET key upload_id */
static void r2_mpu_abort(const pw_binding_call_t *c)
{
    job_t *j = job_new(c, "abortMultipartUpload");
    if (j && take_key(j, c->f[2]) == 0 && upload_of(j, c->f[3]) == 0)
        job_start(j, env_of(j), run_abort, answer_done);
}

static void *r2_resolve(const pw_binding_call_t *c)
{
    r2_worker_t *w = c->state;
    for (size_t i = 0; i < w->n_bindings; i++)
        if (pw_bytes_is(c->f[1], w->bindings[i].name))
            return &w->bindings[i];
    pw_port_reply_error(c->port, c->id, "TypeError", "this worker has no %s binding named \"%.*s\"", "R2",
                        (int)(c->f[1].len < 200 ? c->f[1].len : 200), c->f[1].base);
    return NULL;
}

/* ---- host and worker state ---- */

static int r2_open(const pw_binding_env_t *env, void **state, char *err, size_t err_len)
{
    r2_host_t *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    h->env = env;
    pthread_mutex_init(&h->lock, NULL);
    *state = h;
    return 0;
}

static void r2_close_host(void *state)
{
    r2_host_t *h = state;
    while (h && h->stores) {
        store_t *s = h->stores;
        h->stores = s->next;
        s->be->ops->close(s->be);
        free(s);
    }
    if (h)
        pthread_mutex_destroy(&h->lock);
    free(h);
}

/* Where a disk service's bucket lives: its path, relocated under --persist-dir when
 * relative; NULL (nothing persisted) with --persist-dir=:memory:. */
static const char *store_dir(const r2_host_t *h, const pw_service_t *disk, char *buf, size_t len)
{
    const char *base = h->env->persist_dir;
    if (base && strcmp(base, ":memory:") == 0)
        return NULL;
    if (!base || disk->disk_path[0] == '/')
        return disk->disk_path;
    snprintf(buf, len, "%s/%s", base, disk->disk_path);
    return buf;
}

/* The bucket of a disk service (mutex held): opened once, shared by every binding. */
static pw_r2_backend_t *open_store(r2_host_t *h, const pw_service_t *disk, char *err, size_t err_len)
{
    for (store_t *s = h->stores; s; s = s->next)
        if (s->disk == disk)
            return s->be;
    store_t *s = calloc(1, sizeof *s);
    char dir[4096], why[1024];
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    if (pw_r2_disk_open(store_dir(h, disk, dir, sizeof dir), &s->be, why, sizeof why) < 0) {
        snprintf(err, err_len, "service %s: cannot open its R2 bucket: %s", disk->name, why);
        free(s);
        return NULL;
    }
    s->disk = disk;
    s->next = h->stores;
    h->stores = s;
    return s->be;
}

static int bind_bucket(r2_host_t *h, const pw_binding_t *b, r2_binding_t *rb, char *err, size_t err_len)
{
    const pw_service_t *disk = pw_config_service(h->env->config, b->value);
    rb->name = b->name;
    if (!disk || disk->kind != PW_SERVICE_DISK) {
        snprintf(err, err_len, "R2 binding %s names no disk service \"%s\"", b->name, b->value);
        return -1;
    }
    pthread_mutex_lock(&h->lock);
    rb->be = open_store(h, disk, err, err_len);
    pthread_mutex_unlock(&h->lock);
    return rb->be ? 0 : -1;
}

static void r2_detach(void *state)
{
    r2_worker_t *w = state;
    if (!w)
        return;
    pw_r2_streams_free(w->streams);
    free(w->bindings);
    free(w);
}

static int r2_attach(void *host_state, const pw_binding_env_t *env, const pw_service_t *service,
                     void **state, char *err, size_t err_len)
{
    const pw_worker_t *wc = &service->worker;
    r2_worker_t *w = calloc(1, sizeof *w);
    *state = w;
    if (!w || !(w->bindings = calloc(wc->n_bindings ? wc->n_bindings : 1, sizeof *w->bindings)) ||
        !(w->streams = pw_r2_streams_new(env))) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < wc->n_bindings; i++)
        if (wc->bindings[i].kind == PW_BINDING_R2 &&
            bind_bucket(host_state, &wc->bindings[i], &w->bindings[w->n_bindings++], err, err_len) < 0)
            return -1;
    return 0;
}

static const pw_binding_op_t r2_ops[] = {
    { "r2.head", 3, 3, "r2.head takes one key", 1, r2_head },
    { "r2.get", 4, 4, "r2.get takes a key and options", 1, r2_get },
    { "r2.read", 3, 3, "r2.read takes a stream", 1, r2_read },
    { "r2.close", 3, 3, "r2.close takes a stream", 0, r2_close },
    { "r2.put", 6, 6, "r2.put takes key, options, data and more", 1, r2_put },
    { "r2.write", 5, 5, "r2.write takes stream, data and more", 1, r2_write },
    { "r2.delete", 3, 3, "r2.delete takes a list of keys", 1, r2_delete },
    { "r2.list", 3, 3, "r2.list takes options", 1, r2_list },
    { "r2.mpu.create", 4, 4, "r2.mpu.create takes a key and options", 1, r2_mpu_create },
    { "r2.mpu.part", 7, 7, "r2.mpu.part takes key, upload, part number, data and more", 1, r2_mpu_part },
    { "r2.mpu.complete", 5, 5, "r2.mpu.complete takes key, upload and parts", 1, r2_mpu_complete },
    { "r2.mpu.abort", 4, 4, "r2.mpu.abort takes key and upload", 1, r2_mpu_abort },
};

static const pw_binding_group_t r2_groups[] = {
    { .prefix = "r2.", .resolve = r2_resolve, .unknown_op = "unknown R2 operation \"%.*s\"",
      .ops = r2_ops, .n_ops = sizeof r2_ops / sizeof r2_ops[0] },
};

const pw_binding_kind_impl_t pw_binding_r2 = {
    .name = "R2", .open = r2_open, .close = r2_close_host, .attach = r2_attach, .detach = r2_detach,
    .groups = r2_groups, .n_groups = 1,
};
