/* assets_headers.c — parsing and applying `_headers` (host process; see assets_headers.h).
 * A line is a URL pattern when it starts with '/' or with a scheme ("x://"), as Cloudflare
 * tells them apart; other lines belong to the pattern above them.
 * Invariant: a parsed rule has at least one header to set or remove, its pattern passes
 * pw_url_pattern_check, and its header names are lower case without white space.
 */
#include "http/assets_headers.h"
#include "base/err.h"
#include "http/rule_lines.h"
#include "http/url_pattern.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char *pattern;
    int line;
    pw_header_edits_t edits;    /* what it sets, and the names it removes ("! Name") */
} rule_t;

struct pw_header_rules {
    rule_t *rules;
    size_t n;
    int any_absolute;           /* a pattern names a host: match "https://host/path" */
};

typedef struct {
    const char *file;
    int line;
    char *err;
    size_t err_len;
} parse_t;

static int fail(const parse_t *ps, const char *why, const char *line, size_t len)
{
    return pw_err_set(ps->err, ps->err_len, "%s:%d: %s: %.*s", ps->file, ps->line, why,
                      (int)(len > 200 ? 200 : len), line);
}

static int oom(const parse_t *ps)
{
    return pw_err_set(ps->err, ps->err_len, "out of memory");
}

static int looks_like_url(const char *line, size_t len)
{
    if (line[0] == '/')
        return 1;
    size_t i = 0;
    while (i < len && !pw_rule_space(line[i]) && line[i] != ':')
        i++;
    return i > 0 && i + 2 < len && memcmp(line + i, "://", 3) == 0;
}

static void free_rule(rule_t *r)
{
    free(r->pattern);
    pw_header_edits_free(&r->edits);
}

/* A pattern line: "/path" or "https://host/path" (no port); a new rule. */
static int start_rule(const parse_t *ps, pw_header_rules_t *rules, const char *line, size_t len)
{
    char why[512];
    int absolute = len > 8 && strncmp(line, "https://", 8) == 0;
    if (!absolute && line[0] != '/')
        return fail(ps, "a URL pattern is a path (starting with '/') or an https:// URL", line, len);
    const char *host_end = absolute ? memchr(line + 8, '/', len - 8) : NULL;
    size_t host_len = absolute ? (size_t)((host_end ? host_end : line + len) - (line + 8)) : 0;
    const char *colon = absolute ? memchr(line + 8, ':', host_len) : NULL;
    if (colon && colon + 1 < line + 8 + host_len && isdigit((unsigned char)colon[1]))
        return fail(ps, "a port in a URL pattern is not supported", line, len);
    if (rules->n == PW_HEADERS_MAX_RULES)
        return fail(ps, "more than 100 rules (Cloudflare's limit) at", line, len);
    rule_t *grown = realloc(rules->rules, (rules->n + 1) * sizeof *grown);
    if (!grown)
        return oom(ps);
    rules->rules = grown;
    rule_t *r = &grown[rules->n];
    memset(r, 0, sizeof *r);
    r->line = ps->line;
    if (!(r->pattern = strndup(line, len)))
        return oom(ps);
    rules->n++;
    rules->any_absolute |= absolute;
    if (pw_url_pattern_check(r->pattern, why, sizeof why) < 0)
        return pw_err_set(ps->err, ps->err_len, "%s:%d: %s", ps->file, ps->line, why);
    return 0;
}

static int add_unset(const parse_t *ps, rule_t *r, const char *name, size_t len)
{
    char **grown = realloc(r->edits.drop, (r->edits.n_drop + 1) * sizeof *grown);
    if (!grown)
        return oom(ps);
    r->edits.drop = grown;
    if (!(grown[r->edits.n_drop] = strndup(name, len)))
        return oom(ps);
    for (char *p = grown[r->edits.n_drop++]; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return 0;
}

/* *value becomes "*value, add" (Cloudflare's joining of a header set twice). 0 or -1. */
static int join_value(char **value, const char *add, size_t len)
{
    size_t old = strlen(*value);
    char *joined = realloc(*value, old + 2 + len + 1);
    if (!joined)
        return -1;
    snprintf(joined + old, 2 + len + 1, ", %.*s", (int)len, add);
    *value = joined;
    return 0;
}

/* name: value, joined to this rule's earlier value of the name. */
static int add_set(const parse_t *ps, rule_t *r, char *name, const char *value, size_t vlen)
{
    for (size_t i = 0; i < r->edits.n_set; i++) {
        if (strcmp(r->edits.set[i].name, name) != 0)
            continue;
        free(name);
        return join_value(&r->edits.set[i].value, value, vlen) < 0 ? oom(ps) : 0;
    }
    void *grown = realloc(r->edits.set, (r->edits.n_set + 1) * sizeof *r->edits.set);
    if (!grown)
        return free(name), oom(ps);
    r->edits.set = grown;
    r->edits.set[r->edits.n_set].name = name;
    if (!(r->edits.set[r->edits.n_set].value = strndup(value, vlen)))
        return free(name), oom(ps);
    r->edits.n_set++;
    return 0;
}

/* RFC 9110's token characters: what a header name is made of. */
static int token_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-.^_`|~", s[i]))
            return 0;
    return len > 0;
}

/* No control character but tab: a value cannot end the header line early. */
static int value_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
            return 0;
    return 1;
}

/* "Name: value" or "! Name" under the current rule. */
static int header_line(const parse_t *ps, pw_header_rules_t *rules, const char *line, size_t len)
{
    rule_t *r = rules->n ? &rules->rules[rules->n - 1] : NULL;
    const char *colon = memchr(line, ':', len);
    if (!r)
        return fail(ps, "a header comes before any URL pattern", line, len);
    if (!colon && line[0] == '!') {
        const char *name = line + 1;
        while (name < line + len && pw_rule_space(*name))
            name++;
        if (name == line + len)
            return fail(ps, "\"!\" names no header to remove", line, len);
        if (!token_chars(name, (size_t)(line + len - name)))
            return fail(ps, "a header name holds a character HTTP does not allow", line, len);
        return add_unset(ps, r, name, (size_t)(line + len - name));
    }
    if (!colon)
        return fail(ps, "expected \"Name: value\" or \"! Name\"", line, len);
    const char *ne = colon, *v = colon + 1, *ve = line + len;
    while (ne > line && pw_rule_space(ne[-1]))
        ne--;
    while (v < ve && pw_rule_space(*v))
        v++;
    for (const char *p = line; p < ne; p++)
        if (pw_rule_space(*p))
            return fail(ps, "a header name cannot hold spaces", line, len);
    if (ne == line)
        return fail(ps, "no header name", line, len);
    if (v == ve)
        return fail(ps, "no header value", line, len);
    if (!token_chars(line, (size_t)(ne - line)))
        return fail(ps, "a header name holds a character HTTP does not allow", line, len);
    if (!value_chars(v, (size_t)(ve - v)))
        return fail(ps, "a header value holds a control character", line, len);
    char *name = strndup(line, (size_t)(ne - line));
    if (!name)
        return oom(ps);
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return add_set(ps, r, name, v, (size_t)(ve - v));
}

/* The last rule has something to do, else the file is refused at its pattern's line. */
static int rule_complete(const parse_t *ps, const pw_header_rules_t *rules)
{
    const rule_t *r = rules->n ? &rules->rules[rules->n - 1] : NULL;
    if (!r || r->edits.n_set || r->edits.n_drop)
        return 0;
    return pw_err_set(ps->err, ps->err_len, "%s:%d: no headers under %s", ps->file, r->line,
                      r->pattern);
}

static int parse_line(const parse_t *ps, pw_header_rules_t *rules, const char *line, size_t len)
{
    if (len > PW_HEADERS_MAX_LINE)
        return pw_err_set(ps->err, ps->err_len, "%s:%d: the line is longer than 2,000 characters "
                          "(Cloudflare's limit)", ps->file, ps->line);
    if (memchr(line, '\0', len))
        return pw_err_set(ps->err, ps->err_len, "%s:%d: the line holds a NUL byte", ps->file, ps->line);
    if (looks_like_url(line, len))
        return rule_complete(ps, rules) < 0 ? -1 : start_rule(ps, rules, line, len);
    return header_line(ps, rules, line, len);
}

int pw_header_rules_parse(const char *text, size_t len, const char *file,
                          pw_header_rules_t **out, char *err, size_t err_len)
{
    pw_header_rules_t *rules = calloc(1, sizeof *rules);
    pw_rule_lines_t lines = { text, text + len, 0, 0 };
    parse_t ps = { file, 0, err, err_len };
    const char *line;
    size_t n;
    int rc = rules ? 0 : oom(&ps);
    while (rc == 0 && pw_rule_lines_next(&lines, &line, &n)) {
        ps.line = lines.number;
        rc = parse_line(&ps, rules, line, n);
    }
    if (rc == 0)
        rc = rule_complete(&ps, rules);
    if (rc < 0) {
        pw_header_rules_free(rules);
        rules = NULL;
    }
    *out = rules;
    return rc;
}

void pw_header_rules_free(pw_header_rules_t *rules)
{
    if (!rules)
        return;
    for (size_t i = 0; i < rules->n; i++)
        free_rule(&rules->rules[i]);
    free(rules->rules);
    free(rules);
}

size_t pw_header_rules_count(const pw_header_rules_t *rules)
{
    return rules ? rules->n : 0;
}

/* ---- applying ---- */

static int find_set(const pw_header_edits_t *e, const char *name)
{
    for (size_t i = 0; i < e->n_set; i++)
        if (strcmp(e->set[i].name, name) == 0)
            return (int)i;
    return -1;
}

int pw_header_edits_drops(const pw_header_edits_t *e, const char *name)
{
    for (size_t i = 0; i < e->n_drop; i++)
        if (strcmp(e->drop[i], name) == 0)
            return 1;
    return 0;
}

static int drop(pw_header_edits_t *e, const char *name)
{
    int i;
    while ((i = find_set(e, name)) >= 0) {
        free(e->set[i].name);
        free(e->set[i].value);
        e->set[i] = e->set[--e->n_set];
    }
    if (pw_header_edits_drops(e, name))
        return 0;
    char **grown = realloc(e->drop, (e->n_drop + 1) * sizeof *grown);
    if (!grown)
        return -1;
    e->drop = grown;
    if (!(grown[e->n_drop] = strdup(name)))
        return -1;
    e->n_drop++;
    return 0;
}

/* Sets name to value (filled from caps); joined when an earlier rule set it (seen). */
static int set(pw_header_edits_t *e, const char *name, const char *tmpl,
               const pw_url_captures_t *caps, int seen)
{
    size_t room = strlen(tmpl) + 1, colons = 0, longest = 0;
    for (const char *p = tmpl; *p; p++)
        colons += *p == ':';
    for (size_t i = 0; i < caps->n; i++)
        longest = caps->at[i].len > longest ? caps->at[i].len : longest;
    room += colons * longest;                           /* each ':' a placeholder, at worst */
    char *value = malloc(room);
    if (!value || pw_url_pattern_fill(tmpl, caps, value, room) < 0)
        return free(value), -1;
    int i = seen ? find_set(e, name) : -1;
    if (i >= 0) {
        int rc = join_value(&e->set[i].value, value, strlen(value));
        free(value);
        return rc;
    }
    if (!seen && drop(e, name) < 0)
        return free(value), -1;
    void *grown = realloc(e->set, (e->n_set + 1) * sizeof *e->set);
    char *copy = grown ? strdup(name) : NULL;
    if (grown)
        e->set = grown;
    if (!copy)
        return free(value), -1;
    e->set[e->n_set].name = copy;
    e->set[e->n_set++].value = value;
    return 0;
}

/* Whether an earlier matched rule (before index `upto`) set `name`. */
static int set_before(const pw_header_rules_t *rules, const unsigned char *matched, size_t upto,
                      const char *name)
{
    for (size_t i = 0; i < upto; i++)
        for (size_t j = 0; matched[i] && j < rules->rules[i].edits.n_set; j++)
            if (strcmp(rules->rules[i].edits.set[j].name, name) == 0)
                return 1;
    return 0;
}

static int apply_rule(const pw_header_rules_t *rules, const unsigned char *matched, size_t k,
                      const pw_url_captures_t *caps, pw_header_edits_t *e)
{
    const rule_t *r = &rules->rules[k];
    for (size_t i = 0; i < r->edits.n_drop; i++)
        if (drop(e, r->edits.drop[i]) < 0)
            return -1;
    for (size_t i = 0; i < r->edits.n_set; i++)
        if (set(e, r->edits.set[i].name, r->edits.set[i].value, caps,
                set_before(rules, matched, k, r->edits.set[i].name)) < 0)
            return -1;
    return 0;
}

/* "https://" + the host's name (no port) + path, for the patterns naming a host. */
static char *absolute_subject(const char *host, size_t host_len, const char *path, size_t path_len,
                              size_t *len)
{
    const char *colon = host_len && host[0] != '[' ? memchr(host, ':', host_len) : NULL;
    if (host_len && host[0] == '[') {
        const char *close = memchr(host, ']', host_len);
        colon = close && close + 1 < host + host_len && close[1] == ':' ? close + 1 : NULL;
    }
    size_t name_len = colon ? (size_t)(colon - host) : host_len;
    char *s = malloc(8 + name_len + path_len + 1);
    if (!s)
        return NULL;
    *len = (size_t)sprintf(s, "https://%.*s%.*s", (int)name_len, host, (int)path_len, path);
    return s;
}

int pw_header_rules_apply(const pw_header_rules_t *rules, const char *host, size_t host_len,
                          const char *path, size_t path_len, pw_header_edits_t *e)
{
    memset(e, 0, sizeof *e);
    if (!rules || !rules->n)
        return 0;
    size_t abs_len = 0;
    char *abs = rules->any_absolute ? absolute_subject(host, host_len, path, path_len, &abs_len) : NULL;
    unsigned char matched[PW_HEADERS_MAX_RULES] = { 0 };
    int rc = rules->any_absolute && !abs ? -1 : 0;
    for (size_t k = 0; rc == 0 && k < rules->n; k++) {
        pw_url_captures_t caps;
        const char *pattern = rules->rules[k].pattern;
        int absolute = pattern[0] != '/';           /* "https://...", as start_rule checked */
        matched[k] = (unsigned char)(absolute ? pw_url_pattern_match(pattern, abs, abs_len, &caps)
                                              : pw_url_pattern_match(pattern, path, path_len, &caps));
        if (matched[k])
            rc = apply_rule(rules, matched, k, &caps, e);
    }
    free(abs);
    if (rc < 0)
        pw_header_edits_free(e);
    return rc;
}

void pw_header_edits_free(pw_header_edits_t *e)
{
    for (size_t i = 0; i < e->n_set; i++) {
        free(e->set[i].name);
        free(e->set[i].value);
    }
    free(e->set);
    for (size_t i = 0; i < e->n_drop; i++)
        free(e->drop[i]);
    free(e->drop);
    memset(e, 0, sizeof *e);
}
