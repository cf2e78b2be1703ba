/* static_answer.c — a disk service's answer to one request (host process; see
 * static_answer.h): the method picks read, write or remove; a read opens the path beneath the
 * directory, then conditionals (If-None-Match, If-Modified-Since) and Range decide between
 * 304, 206, 416 and 200. The body of a file is never read here: the answer names the file
 * and the byte span, and its sender reads it in pieces.
 * Invariant: every path to the file system goes through pw_static_path, then static_dir.c.
 */
#include "http/static_answer.h"
#include "http/byte_range.h"
#include "http/mime_types.h"
#include "http/static_assets.h"
#include "http/static_path.h"

#include <errno.h>
#include <stdlib.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEXT_PLAIN "text/plain; charset=utf-8"

static int method_is(pw_bytes_t m, const char *name)
{
    return pw_bytes_is(m, name);
}

const char *pw_static_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 304: return "Not Modified";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 416: return "Range Not Satisfiable";
    case 501: return "Not Implemented";
    default: return "Internal Server Error";
    }
}

/* An error status with its words as a plain-text body. */
static void fail(pw_static_answer_t *a, int status)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    a->status = status;
    a->content_type = TEXT_PLAIN;
    a->text.len = 0;
    const char *words = pw_static_reason(status);
    if (pw_buf_append(&a->text, words, strlen(words)) < 0)
        a->text.len = 0;
    a->length = a->text.len;
}

/* ---- validators ---- */

static void set_validators(pw_static_answer_t *a, const struct stat *st)
{
    uint64_t mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
    snprintf(a->etag, sizeof a->etag, "\"%" PRIx64 "-%" PRIx64 "\"", mtime_ns, (uint64_t)st->st_size);
    pw_http_date_format(st->st_mtim.tv_sec, a->last_modified);
}

static void skip_list_space(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t' || **p == ','))
        (*p)++;
}

int pw_static_etag_matches(pw_bytes_t value, const char *etag)
{
    const char *p = (const char *)value.base, *end = p + value.len;
    size_t etag_len = strlen(etag);
    for (skip_list_space(&p, end); p < end; skip_list_space(&p, end)) {
        if (*p == '*')
            return 1;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
            p += 2;
        if (p == end || *p != '"')
            return 0;
        const char *close_quote = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (!close_quote)
            return 0;
        size_t len = (size_t)(close_quote - p + 1);
        if (len == etag_len && memcmp(p, etag, len) == 0)
            return 1;
        p = close_quote + 1;
    }
    return 0;
}

/* If-None-Match, else If-Modified-Since (RFC 9110 §13.2.2): whether to answer 304. */
static int not_modified(const pw_static_request_t *req, const pw_static_answer_t *a, time_t mtime)
{
    time_t since;
    if (req->if_none_match.base)
        return pw_static_etag_matches(req->if_none_match, a->etag);
    return req->if_modified_since.base &&
           pw_http_date_parse((const char *)req->if_modified_since.base, req->if_modified_since.len,
                              &since) == 0 && mtime <= since;
}

/* If-Range: the Range applies only while the file is the one the client names (its ETag,
 * compared strongly, or its Last-Modified date). */
static int range_applies(const pw_static_request_t *req, const pw_static_answer_t *a, time_t mtime)
{
    pw_bytes_t v = req->if_range;
    time_t date;
    if (!v.base)
        return 1;
    if (v.len && v.base[0] == '"')
        return pw_bytes_is(v, a->etag);
    return pw_http_date_parse((const char *)v.base, v.len, &date) == 0 && date == mtime;
}

/* ---- reads ---- */

static void answer_range(const pw_static_request_t *req, pw_static_answer_t *a, uint64_t size)
{
    pw_byte_range_t r;
    pw_range_result_t result = pw_byte_range_parse((const char *)req->range.base, req->range.len,
                                                   size, &r);
    if (result == PW_RANGE_UNSATISFIABLE) {
        fail(a, 416);
        snprintf(a->content_range, sizeof a->content_range, "bytes */%" PRIu64, size);
    } else if (result == PW_RANGE_PART) {
        a->status = 206;
        a->offset = r.first;
        a->length = r.last - r.first + 1;
        snprintf(a->content_range, sizeof a->content_range, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64,
                 r.first, r.last, size);
    }
}

static void answer_file(const pw_static_request_t *req, pw_static_answer_t *a, int fd,
                        const struct stat *st, const char *name)
{
    a->fd = fd;
    a->status = 200;
    a->content_type = pw_mime_type(name);
    a->accept_ranges = 1;
    a->length = (uint64_t)st->st_size;
    set_validators(a, st);
    if (not_modified(req, a, st->st_mtim.tv_sec)) {
        a->status = 304;
        a->no_body = 1;
        a->length = 0;
        return;
    }
    if (method_is(req->method, "GET") && req->range.base && range_applies(req, a, st->st_mtim.tv_sec))
        answer_range(req, a, (uint64_t)st->st_size);
}

static void answer_listing(const pw_static_dir_t *dir, pw_static_answer_t *a, int fd,
                           const struct stat *st)
{
    int rc = pw_static_dir_list(dir, fd, &a->text);
    close(fd);
    if (rc < 0) {
        fail(a, 500);
        return;
    }
    a->status = 200;
    a->content_type = "application/json";
    a->length = a->text.len;
    pw_http_date_format(st->st_mtim.tv_sec, a->last_modified);
}

/* A directory: its index.html when it has one (a regular file), else its listing. */
static void answer_directory(const pw_static_dir_t *dir, const pw_static_request_t *req,
                             pw_static_answer_t *a, const char *rel, int fd, const struct stat *st)
{
    char index[PW_STATIC_PATH_MAX + 16];
    struct stat ist;
    snprintf(index, sizeof index, "%s%sindex.html", rel, rel[0] ? "/" : "");
    int ifd = pw_static_dir_open_file(dir, index);
    if (ifd >= 0 && fstat(ifd, &ist) == 0 && S_ISREG(ist.st_mode)) {
        close(fd);
        answer_file(req, a, ifd, &ist, index);
        return;
    }
    if (ifd >= 0)
        close(ifd);
    answer_listing(dir, a, fd, st);
}

static void answer_read(const pw_static_dir_t *dir, const pw_static_request_t *req,
                        pw_static_answer_t *a, const char *rel)
{
    struct stat st;
    int fd = pw_static_dir_open_file(dir, rel);
    if (fd < 0) {
        fail(a, fd == -EACCES ? 403 : 404);
        return;
    }
    if (fstat(fd, &st) < 0) {
        close(fd);
        fail(a, 500);
    } else if (S_ISREG(st.st_mode)) {
        answer_file(req, a, fd, &st, rel);
    } else if (S_ISDIR(st.st_mode)) {
        answer_directory(dir, req, a, rel, fd, &st);
    } else {
        close(fd);
        fail(a, 406);
    }
}

/* ---- assets (static_assets.h) ---- */

/* A redirect to location (sent as it is), with status. */
static void answer_location(pw_static_answer_t *a, int status, const char *location)
{
    if (!(a->location = strdup(location))) {
        fail(a, 500);
        return;
    }
    a->status = status;
    a->no_body = 1;
}

/* html_handling's 307 to dest (decoded): percent-encoded, the query kept. */
static void answer_redirect(pw_static_answer_t *a, const char *dest, pw_bytes_t query)
{
    size_t room = strlen(dest) * 3 + query.len + 4;
    a->location = malloc(room);
    if (!a->location || pw_static_assets_location(dest, query, a->location, room) < 0) {
        free(a->location);
        a->location = NULL;
        fail(a, 500);
        return;
    }
    a->status = 307;
    a->no_body = 1;
}

static void answer_asset(const pw_static_dir_t *dir, const pw_static_request_t *req,
                         pw_static_answer_t *a)
{
    pw_static_route_t route;
    struct stat st;
    pw_static_assets_route(dir, req->path, req->query, &route);
    pw_assets_intent_t *intent = &route.intent;
    if (route.rule_status && route.rule_status != 200) {
        answer_location(a, route.rule_status, route.location);
        return;
    }
    if (intent->action == PW_ASSETS_REDIRECT) {
        answer_redirect(a, intent->path, req->query);
        return;
    }
    int fd = intent->action == PW_ASSETS_SERVE ? pw_static_dir_open_file(dir, intent->path + 1) : -ENOENT;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        fail(a, 404);
        return;
    }
    if (intent->status == 404) {            /* a 404 page: no 304, no range */
        pw_static_request_t plain = { .method = req->method };
        answer_file(&plain, a, fd, &st, intent->path);
        a->status = 404;
        a->accept_ranges = 0;
        return;
    }
    answer_file(req, a, fd, &st, intent->path);
}

/* _headers' rules for this request, kept with the answer (assets_headers.h). */
static void edit_headers(const pw_static_dir_t *dir, const pw_static_request_t *req,
                         pw_static_answer_t *a)
{
    const pw_header_rules_t *rules = pw_assets_files_headers(pw_static_dir_rules_files(dir));
    if (rules && pw_header_rules_apply(rules, (const char *)req->host.base, req->host.len,
                                       (const char *)req->path.base, req->path.len, &a->edits) < 0)
        fail(a, 500);
}

/* ---- writes ---- */

static int write_status(int rc)
{
    switch (rc) {
    case 0: return 204;
    case -ENOENT: return 404;
    case -EXDEV: case -ELOOP: case -EACCES: case -EPERM: return 403;
    case -EISDIR: case -ENOTDIR: case -EEXIST: case -ENOTEMPTY: return 409;
    default: return 500;
    }
}

static void answer_change(const pw_static_dir_t *dir, const pw_static_request_t *req,
                          pw_static_answer_t *a, const char *rel, int segments)
{
    if (!pw_static_dir_writable(dir)) {
        fail(a, 405);
        a->allow = "GET, HEAD";
        return;
    }
    if (segments <= 0) {
        fail(a, 403);
        return;
    }
    int rc = method_is(req->method, "PUT")
             ? pw_static_dir_write(dir, rel, req->body.base, req->body.len)
             : pw_static_dir_remove(dir, rel);
    if (rc < 0) {
        fail(a, write_status(rc));
        return;
    }
    a->status = 204;
    a->no_body = 1;
}

void pw_static_answer(const pw_static_dir_t *dir, const pw_static_request_t *req,
                      pw_static_answer_t *out)
{
    char rel[PW_STATIC_PATH_MAX];
    memset(out, 0, sizeof *out);
    out->fd = -1;
    int segments = pw_static_path((const char *)req->path.base, req->path.len,
                                  pw_static_dir_dotfiles(dir), rel, sizeof rel);
    if (method_is(req->method, "GET") || method_is(req->method, "HEAD")) {
        if (pw_static_dir_assets(dir))
            answer_asset(dir, req, out);
        else if (segments < 0)
            fail(out, 404);
        else
            answer_read(dir, req, out, rel);
        if (method_is(req->method, "HEAD"))
            out->no_body = 1;
    } else if (method_is(req->method, "PUT") || method_is(req->method, "DELETE")) {
        answer_change(dir, req, out, rel, segments);
    } else {
        fail(out, 501);
    }
    if (pw_static_dir_assets(dir))
        edit_headers(dir, req, out);
}

void pw_static_answer_free(pw_static_answer_t *a)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    free(a->location);
    a->location = NULL;
    pw_buf_free(&a->text);
    pw_header_edits_free(&a->edits);
}

/* The answer's own header number `slot` (0 to OWN_SLOTS - 1), before _headers' edits: 1
 * with *h when the answer has it. */
#define OWN_SLOTS 7
static int own_header(const pw_static_answer_t *a, size_t slot, pw_static_header_t *h)
{
    switch (slot) {
    case 0: *h = (pw_static_header_t){ "content-type", a->content_type };
            return a->content_type && a->status != 304;
    case 1: *h = (pw_static_header_t){ "etag", a->etag }; return a->etag[0] != '\0';
    case 2: *h = (pw_static_header_t){ "last-modified", a->last_modified };
            return a->last_modified[0] != '\0';
    case 3: *h = (pw_static_header_t){ "accept-ranges", "bytes" };
            return a->accept_ranges && a->status != 304;
    case 4: *h = (pw_static_header_t){ "content-range", a->content_range };
            return a->content_range[0] != '\0';
    case 5: *h = (pw_static_header_t){ "allow", a->allow }; return a->allow != NULL;
    default: *h = (pw_static_header_t){ "location", a->location }; return a->location != NULL;
    }
}

/* Headers a _headers file may not set: the framing is the server's. */
static int framing(const char *name)
{
    return !strcmp(name, "content-length") || !strcmp(name, "transfer-encoding") ||
           !strcmp(name, "connection");
}

int pw_static_answer_header(const pw_static_answer_t *a, size_t *cursor, pw_static_header_t *h)
{
    while (*cursor < OWN_SLOTS + a->edits.n_set) {
        size_t i = (*cursor)++;
        if (i < OWN_SLOTS) {
            if (own_header(a, i, h) && !(a->edits.n_drop && pw_header_edits_drops(&a->edits, h->name)))
                return 1;
        } else if (!framing(a->edits.set[i - OWN_SLOTS].name)) {
            *h = (pw_static_header_t){ a->edits.set[i - OWN_SLOTS].name, a->edits.set[i - OWN_SLOTS].value };
            return 1;
        }
    }
    return 0;
}
