/* unit.h — the tiny test harness every tests/unit/test_*.c uses.
 * TEST(name) defines a test; RUN(name) runs it; CHECK(cond) records a failure and goes on;
 * UNIT_DONE() prints "unit: N passed, N failed" and returns the exit code.
 */
#ifndef PW_UNIT_H
#define PW_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed, unit_current_failed;

#define TEST(name) static void name(void)
#define CHECK(cond) do { \
        if (!(cond)) { \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            unit_current_failed = 1; \
        } \
    } while (0)
#define CHECK_STR(a, b) do { \
        const char *a_ = (a), *b_ = (b); \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) { \
            fprintf(stderr, "  %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
            unit_current_failed = 1; \
        } \
    } while (0)
#define RUN(name) do { \
        unit_current_failed = 0; \
        name(); \
        if (unit_current_failed) { unit_failed++; fprintf(stderr, "FAIL %s\n", #name); } \
        else unit_passed++; \
    } while (0)
#define UNIT_DONE() (printf("unit: %d passed, %d failed\n", unit_passed, unit_failed), unit_failed != 0)

#endif
