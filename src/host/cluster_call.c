/* cluster_call.c — a POST to another node's internal port (host process, the main loop; see
 * cluster_call.h).
 */
#include "host/cluster_call.h"
#include "wire/frame.h"

#include <errno.h>
#include <stdio.h>

int pw_cluster_put_fields(pw_buf_t *out, const pw_bytes_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (pw_frame_put_bytes(out, f[i].base ? f[i].base : (const uint8_t *)"", f[i].len) < 0)
            return -ENOMEM;
    return 0;
}

pw_fetch_transfer_t *pw_cluster_post(pw_fetch_t *fetch, const char *secret, pw_bytes_t address,
                                     const char *path, const pw_bytes_t *fields, size_t n,
                                     pw_fetch_done_cb done, void *arg)
{
    char url[400];
    pw_buf_t body, headers;
    pw_fetch_transfer_t *t = NULL;
    pw_buf_init(&body);
    pw_buf_init(&headers);
    snprintf(url, sizeof url, "http://%.*s%s", (int)(address.len < 256 ? address.len : 256), address.base,
             path);
    if (pw_cluster_put_fields(&body, fields, n) == 0 &&
        pw_buf_printf(&headers, "x-pyworkerd-secret\n%s\ncontent-type\napplication/octet-stream\n",
                      secret) == 0)
        t = pw_fetch_request(fetch, url, "POST", (pw_bytes_t){ headers.data, headers.len },
                             (pw_bytes_t){ body.data, body.len }, done, arg);
    pw_buf_free(&body);
    pw_buf_free(&headers);
    return t;
}
