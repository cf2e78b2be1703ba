/* test_runner.h — `pyworkerd test` (host process): runs the test handlers of the Python
 * workers whose pools are given, one at a time, as `workerd test` does, printing
 * "[ TEST ] svc[:Entrypoint]" and then "[ PASS ] ... (N ms)" or "[ FAIL ] ..." to stderr.
 */
#ifndef PW_TEST_RUNNER_H
#define PW_TEST_RUNNER_H

#include <stddef.h>

#include "host/pool.h"

typedef struct {
    const char *service;
    pw_pool_t *pool;
} pw_test_target_t;

/* exit_code: 0 when at least one test passed and none failed, else 1. */
typedef void (*pw_tests_done_cb)(void *arg, int exit_code);

/* Starts the run on the pools' loop; done() is called once, when it is over. `filter` is
 * NULL or "[const:]service[:entrypoint]" globs; the default entry point is "default". The
 * targets array must outlive the run. */
void pw_tests_run(const pw_test_target_t *targets, size_t n, const char *const_name,
                  const char *filter, pw_tests_done_cb done, void *arg);

#endif
