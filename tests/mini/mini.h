// SPDX-License-Identifier: MIT
/*
 * mini/mini.h - a tiny Criterion-compatible test runner (the subset listed in tests/harness.h).
 *
 * Test(suite, name) defines a test and registers it from a constructor; tests/mini/mini.c holds
 * main(): it runs every registered test (sorted by suite/name) sequentially in this process,
 * catches assertion failures with setjmp/longjmp, prints a Criterion-style summary whose last
 * line is "Synthesis: Tested: N | Passing: P | Failing: F | Crashing: 0", and exits non-zero
 * when a test failed. Options: --filter suite/name-glob (fnmatch), --list, --verbose.
 */
#ifndef SL_TEST_MINI_H
#define SL_TEST_MINI_H

typedef void (*mini_test_fn)(void);

void mini_register(const char *suite, const char *name, mini_test_fn fn);
/* A failed check at file:line. fmt is the user's format with one leading space (so that an
 * absent message is not an empty format string). fatal: longjmp out of the test. */
__attribute__((noreturn, format(printf, 4, 5))) void
mini_fail_fatal(const char *file, int line, const char *cond, const char *fmt, ...);
__attribute__((format(printf, 4, 5))) void mini_fail(const char *file, int line, const char *cond,
                                                     const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void mini_log_info(const char *fmt, ...);

#define Test(suite, name)                                                                          \
  static void mini_test_##suite##_##name(void);                                                    \
  __attribute__((constructor)) static void mini_register_##suite##_##name(void) {                  \
    mini_register(#suite, #name, mini_test_##suite##_##name);                                      \
  }                                                                                                \
  static void mini_test_##suite##_##name(void)

/* The message is optional, as in Criterion: cr_assert(cond) or cr_assert(cond, "fmt", ...). */
#define MINI_CHECK_(failfn, cond, ...)                                                             \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      failfn(__FILE__, __LINE__, #cond, " " __VA_ARGS__);                                          \
  } while (0)
#define cr_assert(...)      MINI_CHECK_(mini_fail_fatal, __VA_ARGS__)
#define cr_expect(...)      MINI_CHECK_(mini_fail, __VA_ARGS__)
#define cr_assert_fail(...) mini_fail_fatal(__FILE__, __LINE__, "cr_assert_fail", " " __VA_ARGS__)
#define cr_log_info(...)    mini_log_info(__VA_ARGS__)

#endif /* SL_TEST_MINI_H */
