/* precheck.h — what pyworkerd checks in a config's text itself, around the `capnp` child
 * (host process, at start-up and on reload). Pure functions on memory: no files, no capnp.
 *
 * Before capnp runs: Debian's capnp 0.9 segfaults on deep nesting, prints 1 KB lines for
 * huge names and takes NUL bytes or bad UTF-8 silently, so each source file is scanned first
 * (pw_precheck_source), and the `embed` / `import` paths it names are listed for the caller to
 * check on disk (capnp_eval.c). After capnp ran: the JSON it printed may hold text that C
 * strings cannot carry (NUL) or that is not UTF-8 (pw_precheck_json). Invariant: a rejected
 * text yields one sentence and its 1-based line and column; nothing here ever crashes or reads
 * outside the given bytes, whatever they hold (tests/fuzz/fuzz_config.c).
 */
#ifndef PW_PRECHECK_H
#define PW_PRECHECK_H

#include <stddef.h>

#define PW_PRECHECK_MAX_NESTING 64      /* ( [ { open at once */
#define PW_PRECHECK_MAX_WORD 256        /* characters of a name or number */
#define PW_PRECHECK_MAX_REFS 4096       /* embeds and imports in one file */

typedef enum { PW_REF_EMBED, PW_REF_IMPORT } pw_ref_kind_t;

/* An `embed "path"` or `import "path"` of the source, the path decoded (escapes applied). */
typedef struct {
    pw_ref_kind_t kind;
    int line, col;          /* of the path's opening quote */
    char *path;
} pw_source_ref_t;

typedef struct {
    pw_source_ref_t *v;
    size_t n, cap;
} pw_source_refs_t;

/* What pw_precheck_json found. */
typedef enum { PW_PRECHECK_OK, PW_PRECHECK_NUL, PW_PRECHECK_BAD_UTF8 } pw_precheck_kind_t;

/* A rejected text: where and why (one sentence, no file name). */
typedef struct {
    int line, col;          /* 0 when unknown */
    pw_precheck_kind_t kind;
    char msg[512];
} pw_precheck_error_t;

/* Scans one capnp source file. Returns 0 with its embeds and imports appended to refs, -1 with
 * *e filled, or -ENOMEM. */
int pw_precheck_source(const char *src, size_t len, pw_source_refs_t *refs,
                       pw_precheck_error_t *e);
void pw_source_refs_free(pw_source_refs_t *refs);

/* Checks capnp's JSON output: every string is UTF-8 without NUL. Returns 0, or -1 with *e
 * (line 0) saying which. */
int pw_precheck_json(const char *json, size_t len, pw_precheck_error_t *e);

/* The line and column of the first string literal of src whose escapes make what `e` (from
 * pw_precheck_json) complains about; 0 when none does. */
int pw_precheck_find_escape(const char *src, size_t len, const pw_precheck_error_t *json_error,
                            int *col);

/* 1 when the relative path climbs above its starting directory with ".." ("../x", "a/../../x");
 * 0 for absolute paths and for those that stay inside. */
int pw_precheck_path_climbs_out(const char *path);

#endif
