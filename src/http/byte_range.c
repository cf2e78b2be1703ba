/* byte_range.c — parses a `Range` header value into at most one byte range (host process;
 * see byte_range.h). A cursor walks the value once; numbers are checked for 64-bit overflow;
 * nothing is allocated.
 * Invariant: PW_RANGE_PART is returned only with first <= last < size.
 */
#include "http/byte_range.h"

typedef struct {
    const char *p, *end;
} cursor_t;

typedef enum { SPEC_INVALID, SPEC_EMPTY, SPEC_ALL, SPEC_SOME } spec_t;

static void skip_space(cursor_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static int take(cursor_t *c, char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static int lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch;
}

/* The range unit: 1 for "bytes", 0 for another token, -1 for no token at all. */
static int take_unit(cursor_t *c)
{
    static const char bytes[] = "bytes";
    const char *start = c->p;
    while (c->p < c->end && ((lower(*c->p) >= 'a' && lower(*c->p) <= 'z') || *c->p == '-' ||
                             (*c->p >= '0' && *c->p <= '9')))
        c->p++;
    size_t n = (size_t)(c->p - start);
    if (n == 0)
        return -1;
    if (n != sizeof bytes - 1)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(start[i]) != bytes[i])
            return 0;
    return 1;
}

/* Decimal digits into *out: 1, or 0 when there are none or the number passes 2^64 - 1. */
static int take_number(cursor_t *c, uint64_t *out)
{
    uint64_t v = 0;
    const char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        uint64_t digit = (uint64_t)(*c->p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return 0;
        v = v * 10 + digit;
        c->p++;
    }
    *out = v;
    return c->p != start;
}

/* A suffix-range "-n": the file's last n bytes (all of it when n >= size). */
static spec_t take_suffix(cursor_t *c, uint64_t size, pw_byte_range_t *r)
{
    uint64_t n;
    skip_space(c);
    if (!take_number(c, &n))
        return SPEC_INVALID;
    if (n == 0)
        return SPEC_EMPTY;
    r->first = n >= size ? 0 : size - n;
    r->last = size - 1;
    return r->first == 0 ? SPEC_ALL : SPEC_SOME;
}

/* An int-range "first-[last]": last defaults to, and is clamped to, the file's end. */
static spec_t take_int_range(cursor_t *c, uint64_t size, pw_byte_range_t *r)
{
    uint64_t first, last = UINT64_MAX;
    if (!take_number(c, &first))
        return SPEC_INVALID;
    skip_space(c);
    if (!take(c, '-'))
        return SPEC_INVALID;
    skip_space(c);
    if (c->p < c->end && *c->p >= '0' && *c->p <= '9' && (!take_number(c, &last) || last < first))
        return SPEC_INVALID;
    if (first >= size)
        return SPEC_EMPTY;
    r->first = first;
    r->last = last < size - 1 ? last : size - 1;
    return r->first == 0 && r->last == size - 1 ? SPEC_ALL : SPEC_SOME;
}

static spec_t take_spec(cursor_t *c, uint64_t size, pw_byte_range_t *r)
{
    skip_space(c);
    spec_t s = take(c, '-') ? take_suffix(c, size, r) : take_int_range(c, size, r);
    skip_space(c);
    return s;
}

pw_range_result_t pw_byte_range_parse(const char *value, size_t len, uint64_t size,
                                      pw_byte_range_t *out)
{
    cursor_t c = { value, value + len };
    skip_space(&c);
    int unit = take_unit(&c);
    if (unit == 0 || size == 0)
        return PW_RANGE_WHOLE;
    skip_space(&c);
    if (unit < 0 || !take(&c, '='))
        return PW_RANGE_UNSATISFIABLE;
    size_t satisfiable = 0;
    int all = 0;
    do {
        pw_byte_range_t r;
        spec_t s = take_spec(&c, size, &r);
        if (s == SPEC_INVALID)
            return PW_RANGE_UNSATISFIABLE;
        if (s == SPEC_ALL)
            all = 1;
        else if (s == SPEC_SOME && satisfiable++ == 0)
            *out = r;
    } while (take(&c, ','));
    if (c.p != c.end)
        return PW_RANGE_UNSATISFIABLE;
    if (all || satisfiable > 1)
        return PW_RANGE_WHOLE;
    return satisfiable == 1 ? PW_RANGE_PART : PW_RANGE_UNSATISFIABLE;
}
