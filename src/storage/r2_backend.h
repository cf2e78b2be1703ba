/* r2_backend.h — what stores an R2 bucket (host process): the vtable behind `r2Bucket`
 * bindings. host/binding_r2.c is the one front: it decodes and checks every argument's shape
 * and calls a backend with decoded values; the backend applies R2's rules (key and metadata
 * limits, sizes, conditions, ranges, multipart) with storage/r2_rules.h and stores objects.
 * Backends: files and SQLite on a disk service (storage/r2_disk.h), later PostgreSQL.
 *
 * Every function is synchronous and may block on the disk: the front calls them on libuv's
 * thread pool, several at once, so a backend guards its shared state itself (a mutex). An
 * object is written through a writer and read through a reader, a chunk per call; one writer
 * or reader is used by one thread at a time (the front serialises calls on it).
 * Invariant: a put is durable when finish() returns PW_R2_OK (the bytes fsync'd, renamed into
 * place, then the metadata committed); a failed or aborted write leaves nothing behind.
 */
#ifndef PW_R2_BACKEND_H
#define PW_R2_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#define PW_R2_MAX_KEY 1024                              /* bytes of UTF-8 */
#define PW_R2_MAX_CUSTOM_METADATA 2048                  /* keys and values, bytes */
#define PW_R2_MAX_PUT (5368709120ull - 5242880ull)      /* 5 GiB - 5 MiB */
#define PW_R2_MAX_PART 5368709120ull                    /* 5 GiB */
#define PW_R2_MIN_PART (5u * 1024 * 1024)               /* every part but the last */
#define PW_R2_MAX_PARTS 10000
#define PW_R2_MAX_LIST 1000
#define PW_R2_MAX_DELETE 1000
#define PW_R2_LIST_WITH_METADATA 100    /* objects per page when metadata is included */

/* R2's error codes (the v4 codes its messages end with); PW_R2_OK is success. */
typedef enum {
    PW_R2_OK = 0,
    PW_R2_INTERNAL = 10001,
    PW_R2_NO_SUCH_KEY = 10007,
    PW_R2_ENTITY_TOO_SMALL = 10011,
    PW_R2_METADATA_TOO_LARGE = 10012,
    PW_R2_INVALID_OBJECT_NAME = 10020,
    PW_R2_INVALID_MAX_KEYS = 10022,
    PW_R2_NO_SUCH_UPLOAD = 10024,
    PW_R2_INVALID_PART = 10025,
    PW_R2_INVALID_ARGUMENT = 10029,
    PW_R2_PRECONDITION_FAILED = 10031,
    PW_R2_BAD_DIGEST = 10037,
    PW_R2_INVALID_RANGE = 10039,
    PW_R2_BAD_UPLOAD = 10048,
    PW_R2_ENTITY_TOO_LARGE = 100100,
} pw_r2_code_t;

/* The checksums R2 computes when asked (md5 always). */
typedef enum { PW_R2_MD5, PW_R2_SHA1, PW_R2_SHA256, PW_R2_SHA384, PW_R2_SHA512, PW_R2_N_HASHES } pw_r2_hash_t;

/* An object's metadata, as head(), get(), put() and list() give it. Strings are owned
 * (pw_r2_object_clear frees them); the JSON fields are objects' text ("{}" when empty). */
typedef struct {
    char *key;
    char version[33];
    uint64_t size;
    char etag[48];              /* md5 hex, or "<md5 of the parts' md5s>-<parts>" */
    int64_t uploaded_ms;
    char *http_metadata;        /* {"contentType": ..., "cacheExpiry": <ms>, ...} */
    char *custom_metadata;      /* {"name": "value", ...} */
    char *checksums;            /* {"md5": "<hex>", "sha256": "<hex>"...} */
    char storage_class[24];
    int has_range;              /* get: the part of the body returned */
    uint64_t range_offset, range_length;
} pw_r2_object_t;

void pw_r2_object_clear(pw_r2_object_t *o);

/* One entity tag of a condition. */
typedef struct {
    enum { PW_R2_ETAG_STRONG, PW_R2_ETAG_WEAK, PW_R2_ETAG_WILDCARD } type;
    char *value;
} pw_r2_etag_t;

/* onlyIf: each part applies when its `has_` flag is set. */
typedef struct {
    int has_matches, has_not_matches, has_before, has_after;
    pw_r2_etag_t *matches, *not_matches;
    size_t n_matches, n_not_matches;
    int64_t uploaded_before_ms, uploaded_after_ms;
    int seconds_granularity;
} pw_r2_cond_t;

void pw_r2_cond_clear(pw_r2_cond_t *c);

/* get's range: an offset and/or a length, or a suffix (the last `suffix` bytes). */
typedef struct {
    int has_offset, has_length, has_suffix;
    uint64_t offset, length, suffix;
} pw_r2_range_t;

/* put's and createMultipartUpload's options, decoded; strings borrowed during the call. */
typedef struct {
    const char *http_metadata;      /* JSON object text; NULL: {} */
    const char *custom_metadata;    /* JSON object text; NULL: {} */
    uint64_t custom_metadata_size;  /* its names' and values' bytes */
    const char *storage_class;      /* NULL: "Standard" */
    int has_hash;                   /* a checksum the body must have */
    pw_r2_hash_t hash;
    uint8_t digest[64];
    size_t digest_len;
    const pw_r2_cond_t *cond;       /* NULL: none */
} pw_r2_put_opts_t;

typedef struct {
    const char *prefix, *delimiter, *cursor, *start_after;  /* NULL: none */
    unsigned limit;                 /* 1..PW_R2_MAX_LIST */
    int http_metadata, custom_metadata;     /* include them */
} pw_r2_list_opts_t;

typedef struct {
    pw_r2_object_t *objects;
    size_t n_objects;
    char **prefixes;                /* delimitedPrefixes */
    size_t n_prefixes;
    int truncated;
    char *cursor;                   /* when truncated */
} pw_r2_listing_t;

void pw_r2_listing_clear(pw_r2_listing_t *l);

typedef struct {
    unsigned part_number;
    const char *etag;
} pw_r2_part_ref_t;

typedef struct pw_r2_backend pw_r2_backend_t;
typedef struct pw_r2_writer pw_r2_writer_t;
typedef struct pw_r2_reader pw_r2_reader_t;

typedef struct {
    pw_r2_code_t (*head)(pw_r2_backend_t *b, const char *key, pw_r2_object_t *out);
    /* The object and a reader of the asked range; PW_R2_PRECONDITION_FAILED fills `out`
     * without a reader. */
    pw_r2_code_t (*get)(pw_r2_backend_t *b, const char *key, const pw_r2_cond_t *cond,
                        const pw_r2_range_t *range, pw_r2_object_t *out, pw_r2_reader_t **reader);
    /* Up to len bytes of the body into buf: the count, 0 at its end, -1 on an error. */
    long (*read)(pw_r2_reader_t *r, void *buf, size_t len);
    void (*close_reader)(pw_r2_reader_t *r);

    /* A writer of a whole object (put) or of one part of a multipart upload. */
    pw_r2_code_t (*begin_put)(pw_r2_backend_t *b, const char *key, const pw_r2_put_opts_t *opts,
                              pw_r2_writer_t **w);
    pw_r2_code_t (*begin_part)(pw_r2_backend_t *b, const char *key, const char *upload_id,
                               unsigned part_number, pw_r2_writer_t **w);
    pw_r2_code_t (*write)(pw_r2_writer_t *w, const void *data, size_t len);
    /* Ends a writer (freed, whatever the result): a put's object into `out`
     * (PW_R2_PRECONDITION_FAILED: nothing stored), a part's etag into part_etag. */
    pw_r2_code_t (*finish)(pw_r2_writer_t *w, pw_r2_object_t *out, char part_etag[48]);
    void (*abort)(pw_r2_writer_t *w);

    pw_r2_code_t (*delete)(pw_r2_backend_t *b, const char *const *keys, size_t n);
    pw_r2_code_t (*list)(pw_r2_backend_t *b, const pw_r2_list_opts_t *opts, pw_r2_listing_t *out);

    pw_r2_code_t (*create_upload)(pw_r2_backend_t *b, const char *key, const pw_r2_put_opts_t *opts,
                                  char upload_id[65]);
    pw_r2_code_t (*complete_upload)(pw_r2_backend_t *b, const char *key, const char *upload_id,
                                    const pw_r2_part_ref_t *parts, size_t n, pw_r2_object_t *out);
    pw_r2_code_t (*abort_upload)(pw_r2_backend_t *b, const char *key, const char *upload_id);

    void (*close)(pw_r2_backend_t *b);
} pw_r2_backend_ops_t;

/* The head of every backend. */
struct pw_r2_backend {
    const pw_r2_backend_ops_t *ops;
};

#endif
