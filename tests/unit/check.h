/* The unit tests' one assertion: CHECK(cond, printf-format, ...) counts a pass or prints
 * "FAIL file:line: cond: message" and counts a failure; each test's main prints
 * "N passed, M failed" from n_pass and n_fail and exits non-zero on any failure.
 * Included once per test program (it defines the counters). */
#ifndef QP_TESTS_UNIT_CHECK_H
#define QP_TESTS_UNIT_CHECK_H

#include <stdio.h>

static int n_pass, n_fail;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (cond) {                                                       \
            n_pass++;                                                     \
        } else {                                                          \
            n_fail++;                                                     \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);        \
            printf(__VA_ARGS__);                                          \
            printf("\n");                                                 \
        }                                                                 \
    } while (0)

#endif
