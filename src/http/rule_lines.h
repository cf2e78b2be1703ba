/* rule_lines.h — reading `_redirects` and `_headers` a line at a time (host process): each
 * line without its line ending and its surrounding white space, numbered from 1; empty lines
 * and comment lines ('#' first) are skipped, as Cloudflare reads both files.
 */
#ifndef PW_RULE_LINES_H
#define PW_RULE_LINES_H

#include <stddef.h>
#include <string.h>

typedef struct {
    const char *p, *end;
    int number;                 /* the last line's, from 1 */
    int indented;               /* the last line began with white space */
} pw_rule_lines_t;

static inline int pw_rule_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* The next line that is neither empty nor a comment: 1 with it in [*line, *line + *len), or
 * 0 at the end. */
static inline int pw_rule_lines_next(pw_rule_lines_t *r, const char **line, size_t *len)
{
    while (r->p < r->end) {
        const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
        const char *b = r->p, *e = nl ? nl : r->end;
        r->p = nl ? nl + 1 : r->end;
        r->number++;
        r->indented = b < e && pw_rule_space(*b);
        while (b < e && pw_rule_space(*b))
            b++;
        while (e > b && pw_rule_space(e[-1]))
            e--;
        if (b < e && *b != '#') {
            *line = b;
            *len = (size_t)(e - b);
            return 1;
        }
    }
    return 0;
}

#endif
