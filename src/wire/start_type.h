/* start_type.h — where a new isolate starts from (DESIGN.md §1; the seed's three start
 * types), as the host's CLI takes it and the zygote's command line carries it
 * (--snapshot=package|baseline|none). Shared by both sides: the host names it, the child
 * parses it.
 */
#ifndef PW_START_TYPE_H
#define PW_START_TYPE_H

typedef enum {
    PW_SNAPSHOT_PACKAGE,    /* fork of the worker template (default) */
    PW_SNAPSHOT_BASELINE,   /* fork of the zygote's state, then import the worker (bench) */
    PW_SNAPSHOT_NONE,       /* --no-snapshot: exec, start CPython, import everything */
} pw_snapshot_t;

/* "package", "baseline" or "none". */
const char *pw_snapshot_name(pw_snapshot_t snapshot);
/* The start type called `name`: 0, or -1 when there is none. */
int pw_snapshot_parse(const char *name, pw_snapshot_t *out);

#endif
