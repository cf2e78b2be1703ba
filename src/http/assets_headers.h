/* assets_headers.h — Cloudflare's `_headers` file for static assets (host process; pure: the
 * caller reads the file). A rule is a URL pattern on a line of its own (a path, or an
 * https:// URL with a host: url_pattern.h), then indented "Name: value" lines to set and
 * "! Name" lines to remove. Every rule that matches a request applies, in file order: a
 * header one rule sets replaces the asset's own of that name; set again by a later rule (or
 * twice in one), the values are joined with ", "; "! Name" removes it, whoever set it.
 * Values may use the pattern's :splat and :placeholders. At most 100 rules and 2,000
 * characters a line. A bad line refuses the file with "file:line: why".
 */
#ifndef PW_ASSETS_HEADERS_H
#define PW_ASSETS_HEADERS_H

#include <stddef.h>

#define PW_HEADERS_MAX_RULES 100
#define PW_HEADERS_MAX_LINE 2000

typedef struct pw_header_rules pw_header_rules_t;

/* What the rules make of one response's headers. */
typedef struct {
    struct { char *name; char *value; } *set;  /* headers to add (names in lower case) */
    size_t n_set;
    char **drop;                /* names of the asset's own headers to leave out */
    size_t n_drop;
} pw_header_edits_t;

int pw_header_rules_parse(const char *text, size_t len, const char *file,
                          pw_header_rules_t **out, char *err, size_t err_len);
void pw_header_rules_free(pw_header_rules_t *rules);
size_t pw_header_rules_count(const pw_header_rules_t *rules);

/* The edits for a request to host (its name, any port is ignored; may be empty) and path
 * (as the request has it, percent-encoded, no query). 0, or -1 out of memory (edits empty). */
int pw_header_rules_apply(const pw_header_rules_t *rules, const char *host, size_t host_len,
                          const char *path, size_t path_len, pw_header_edits_t *edits);
void pw_header_edits_free(pw_header_edits_t *edits);

/* 1 when the edits leave out the asset's header `name` (lower case). */
int pw_header_edits_drops(const pw_header_edits_t *edits, const char *name);

#endif
