/* cluster_call.h — calling another node's internal port (host process, the main loop): the
 * client side of host/cluster_port.h, shared by the kinds a node forwards to the holder of a
 * lease (host/do_forward.h, host/d1_cluster.h). A call is a POST of length-prefixed fields
 * (wire/frame.h's u32 + bytes) with the cluster's secret, through the host's curl client.
 */
#ifndef PW_CLUSTER_CALL_H
#define PW_CLUSTER_CALL_H

#include <stddef.h>

#include "base/buf.h"
#include "http/fetch.h"

/* Appends each field as u32 length + bytes. Returns 0 or -ENOMEM. */
int pw_cluster_put_fields(pw_buf_t *out, const pw_bytes_t *fields, size_t n);

/* POSTs the fields to `path` on the node at address ("host:port"). done() runs once unless
 * pw_fetch_abort() comes first. NULL: out of memory (done not called). */
pw_fetch_transfer_t *pw_cluster_post(pw_fetch_t *fetch, const char *secret, pw_bytes_t address,
                                     const char *path, const pw_bytes_t *fields, size_t n,
                                     pw_fetch_done_cb done, void *arg);

#endif
