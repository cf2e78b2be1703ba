/* static_handler.h — a socket whose service is a disk service (host process, on the loop of
 * the listener that took the request): each request is answered from the directory by the
 * host itself, with h2o, without any worker (static_answer.h decides; this file sends).
 */
#ifndef PW_STATIC_HANDLER_H
#define PW_STATIC_HANDLER_H

#include <h2o.h>
#include <stdint.h>

#include "http/call.h"
#include "http/static_dir.h"

/* A listener serving a directory takes these ops and the pw_static_dir_t as its `worker`;
 * only name() is ever called (the server hands such a listener's requests to
 * pw_static_serve, not to submit()). */
extern const pw_http_worker_ops_t pw_static_files_ops;

/* For the access line written when the response is complete. */
typedef struct {
    int access_log;
    uint64_t request_id;
    uint64_t start_ns;          /* uv_hrtime() when the request arrived */
} pw_static_serve_t;

/* Answers req (its URL as the worker would see it: scheme://host/path?query) from dir. A
 * file's body is sent in pieces as the client takes them, never read whole into memory. */
void pw_static_serve(const pw_static_dir_t *dir, h2o_req_t *req, h2o_iovec_t url,
                     const pw_static_serve_t *how);

#endif
