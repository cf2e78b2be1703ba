/* r2_stream.h — the R2 bodies an isolate reads or writes over several binding calls (host
 * process, loop thread): a get larger than one chunk leaves a reader open, a put or part
 * larger than one chunk leaves a writer open, each known to the isolate by a small id. A
 * stream belongs to the isolate that opened it (its port): another isolate naming its id
 * finds nothing. A stream is held busy while a job (host/binding_r2.c) uses it on the thread
 * pool; finishing or losing the isolate while busy only marks it, and release() frees it.
 * An isolate keeps at most PW_R2_MAX_STREAMS open: opening one more closes its least
 * recently used idle reader (a body never read to its end), or fails when none is.
 * Invariant: a stream's reader or writer is touched by one thread at a time — the loop, or
 * the one job holding it.
 */
#ifndef PW_R2_STREAM_H
#define PW_R2_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "host/binding.h"
#include "host/port.h"
#include "storage/r2_backend.h"

/* The bytes of a body in one binding call: a frame under PW_FRAME_MAX_INLINE with room for
 * its other fields (larger frames are read from a shared budget). */
#define PW_R2_CHUNK (1024u * 1024 - 64 * 1024)
#define PW_R2_MAX_STREAMS 64

typedef struct pw_r2_streams pw_r2_streams_t;
typedef struct pw_r2_stream pw_r2_stream_t;

/* One worker's streams (NULL when out of memory); freeing closes them all. */
pw_r2_streams_t *pw_r2_streams_new(const pw_binding_env_t *env);
void pw_r2_streams_free(pw_r2_streams_t *streams);
const pw_binding_env_t *pw_r2_streams_env(const pw_r2_streams_t *streams);

/* Registers a reader with `left` bytes still to read, or a writer, as the port's; its id
 * (decimal) into sid. 0, or -EMFILE (too many open) / -ENOMEM: nothing is taken then. */
int pw_r2_stream_open_reader(pw_r2_streams_t *streams, pw_port_t *port, pw_r2_backend_t *be,
                             pw_r2_reader_t *reader, uint64_t left, char sid[16]);
int pw_r2_stream_open_writer(pw_r2_streams_t *streams, pw_port_t *port, pw_r2_backend_t *be,
                             pw_r2_writer_t *writer, int part, char sid[16]);
/* The port's stream with the id in `id`, or NULL. */
pw_r2_stream_t *pw_r2_stream_find(pw_r2_streams_t *streams, const pw_port_t *port, pw_bytes_t id);

int pw_r2_stream_is_writer(const pw_r2_stream_t *s);
int pw_r2_stream_is_part(const pw_r2_stream_t *s);
int pw_r2_stream_busy(const pw_r2_stream_t *s);

/* A job takes the stream / gives it back (then a finished or orphaned stream is freed). */
void pw_r2_stream_hold(pw_r2_stream_t *s);
void pw_r2_stream_release(pw_r2_stream_t *s);
/* The stream is done: freed now, or at its release when busy. */
void pw_r2_stream_finish(pw_r2_stream_t *s);

/* For the job holding it (any thread). */
pw_r2_reader_t *pw_r2_stream_reader(pw_r2_stream_t *s);
uint64_t pw_r2_stream_left(const pw_r2_stream_t *s);
void pw_r2_stream_consumed(pw_r2_stream_t *s, uint64_t n);
pw_r2_writer_t *pw_r2_stream_writer(pw_r2_stream_t *s);
/* The writer was ended (finished or aborted) by the job. */
void pw_r2_stream_writer_gone(pw_r2_stream_t *s);

#endif
