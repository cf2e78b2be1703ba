/* link.h — the host's end of one isolate's socket (host process): frames queued in `out`
 * are written without blocking (what the socket cannot take yet waits for it to drain), and
 * bytes the isolate sends are appended to `in` as they come.
 *
 * Reading is woken by the socket until the isolate's first frame passes its doorbell
 * (wire/doorbell.h), and by the doorbell from then on; the socket then only reports its
 * end. The owner parses `in` in on_read (with pw_frame_parse_from_isolate) and consumes
 * what it used.
 * A frame larger than PW_FRAME_MAX_INLINE (a binding call with a big body) is read only
 * with a share of a host-wide budget (PW_LINK_BIG_BUDGET): while others hold it, the link
 * stops reading (the isolate's writes wait) until a share is free; a link that holds a share
 * longer than PW_LINK_BIG_HOLD_MS without finishing its frame fails.
 * Invariant: after on_error the link calls nothing but on_closed; the owner closes it.
 */
#ifndef PW_LINK_H
#define PW_LINK_H

#include <uv.h>

#include "wire/frame.h"

typedef struct pw_link pw_link_t;

#define PW_LINK_BIG_BUDGET (64u * 1024 * 1024)
#define PW_LINK_BIG_HOLD_MS 5000

struct pw_link {
    uv_poll_t sock_poll;
    uv_poll_t bell_poll;
    int fd;
    int bell;                   /* the isolate's doorbell, or -1 until it sent one */
    int watching;               /* uv_poll events of sock_poll */
    int failed;                 /* on_error was called */
    int closing_handles;
    size_t big;                 /* host-wide budget held for the large frame being received */
    int big_waiting;            /* its large frame waits for budget: reading is paused */
    uint64_t big_since;         /* uv_now() when it took the budget */
    pw_link_t *big_next;        /* the links holding or waiting for budget */
    pw_buf_t in;
    pw_buf_t out;               /* frames not yet written */
    void *data;
    void (*on_read)(pw_link_t *link);                   /* `in` grew */
    void (*on_error)(pw_link_t *link, const char *why); /* the isolate exited, or an error */
    void (*on_closed)(pw_link_t *link);
    /* A descriptor the isolate passed beside its bytes (not its doorbell): the owner takes
     * it (NULL: closed). It comes before the frame it belongs to is parsed. */
    void (*on_fd)(pw_link_t *link, int fd);
};

/* The `why` of on_error when the isolate closed its end (it exited): compare the pointer. */
extern const char pw_link_exited[];

/* Starts reading `fd` (the link owns it from now on, also on failure). on_read and on_error
 * must be set. Returns 0 or a libuv error. After an error, link->fd tells what is left: -1,
 * nothing (the descriptor is closed); else the link is open but dead (on_error is not
 * called): close it with pw_link_close. */
int pw_link_open(pw_link_t *link, uv_loop_t *loop, int fd);

/* Writes `out` as far as the socket takes it; the rest follows when it drains. A write error
 * is reported through on_error. */
void pw_link_flush(pw_link_t *link);

/* Stops reading and writing, closes the descriptors and calls on_closed once done. */
void pw_link_close(pw_link_t *link, void (*on_closed)(pw_link_t *link));

/* Frees the buffers (after on_closed, or for a link never opened). */
void pw_link_free(pw_link_t *link);

/* Bytes received from isolates and not yet used by their owners, all links together: at
 * most one frame (pw_frame_max_from_isolate) plus 256 KiB per link. */
size_t pw_link_buffered(void);

#endif
