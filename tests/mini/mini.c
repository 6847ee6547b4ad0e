// SPDX-License-Identifier: MIT
/*
 * mini/mini.c - main() of the mini test runner (see mini.h and tests/harness.h).
 *
 * Runs the registered tests in one process, in suite/name order. A fatal check longjmps back
 * here; a non-fatal one marks the test failed. After each test the active ISA of sectionloss is
 * compared with the one before: a test that changed it and did not restore it fails (Criterion
 * forks per test and would hide that; here it would silently change every later test).
 * A crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) prints the running test's name and re-raises.
 *   usage: sl-test-mini [--filter suite/name-glob] [--list] [--verbose]
 * The glob is fnmatch(3) with FNM_EXTMATCH, as Criterion's: "ce/<star>", "!(golden|big)/<star>"
 * (<star> being the asterisk).
 * Other Criterion options (-jN, --jobs N, --ascii, ...) are accepted and ignored.
 */
#define _GNU_SOURCE /* FNM_EXTMATCH, for Criterion-style filters */
#include "mini.h"

#include <fnmatch.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sectionloss.h"

enum { MINI_MAX_TESTS = 4096 };

typedef struct mini_test {
  const char *suite, *name;
  mini_test_fn fn;
} mini_test;

static mini_test tests[MINI_MAX_TESTS];
static int num_tests, registration_overflow;
static jmp_buf jump;
static int current_failed;
static const mini_test *current;

void mini_register(const char *suite, const char *name, mini_test_fn fn) {
  if (num_tests == MINI_MAX_TESTS) {
    registration_overflow = 1;
    return;
  }
  tests[num_tests].suite = suite;
  tests[num_tests].name = name;
  tests[num_tests].fn = fn;
  num_tests++;
}

static void report(const char *file, int line, const char *cond, const char *fmt, va_list ap) {
  printf("[----] %s:%d: Assertion Failed", file, line);
  if (fmt[0] == ' ' && fmt[1] != '\0') {
    printf(":");
    vprintf(fmt, ap);
  } else {
    printf(": %s", cond);
  }
  printf("\n");
  fflush(stdout);
}

void mini_fail_fatal(const char *file, int line, const char *cond, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(file, line, cond, fmt, ap);
  va_end(ap);
  current_failed = 1;
  longjmp(jump, 1);
}

void mini_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report(file, line, cond, fmt, ap);
  va_end(ap);
  current_failed = 1;
}

void mini_log_info(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("[----] ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
}

static int by_name(const void *a, const void *b) {
  const mini_test *x = a, *y = b;
  int s = strcmp(x->suite, y->suite);
  return s ? s : strcmp(x->name, y->name);
}

static void on_crash(int sig) {
  /* async-signal-safe: write(2) only, then re-raise with the default action */
  const char *pre = "\n[CRASH] ";
  ssize_t r = write(STDOUT_FILENO, pre, strlen(pre));
  if (current) {
    r = write(STDOUT_FILENO, current->suite, strlen(current->suite));
    r = write(STDOUT_FILENO, "::", 2);
    r = write(STDOUT_FILENO, current->name, strlen(current->name));
  }
  r = write(STDOUT_FILENO, "\n", 1);
  (void)r;
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Runs one test body; the setjmp lives here so that main's locals are not clobbered. */
static __attribute__((noinline)) void run_body(mini_test_fn fn) {
  if (setjmp(jump) == 0)
    fn();
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  const char *filter = NULL;
  int list = 0, verbose = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
      filter = argv[++i];
    else if (strncmp(argv[i], "--filter=", 9) == 0)
      filter = argv[i] + 9;
    else if (strcmp(argv[i], "--list") == 0)
      list = 1;
    else if (strncmp(argv[i], "--verbose", 9) == 0)
      verbose = 1;
    else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc)
      i++;
    else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("usage: %s [--filter suite/name-glob] [--list] [--verbose]\n", argv[0]);
      return 0;
    }
    /* anything else (-j1, --ascii, ...) is a Criterion option without meaning here */
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (registration_overflow) {
    printf("mini runner: more than %d tests registered\n", MINI_MAX_TESTS);
    return 2;
  }
  qsort(tests, (size_t)num_tests, sizeof tests[0], by_name);

  int tested = 0, passing = 0, failing = 0;
  char full[512];
  if (!list) {
    int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
      signal(sigs[k], on_crash);
  }
  for (int i = 0; i < num_tests; i++) {
    const mini_test *t = &tests[i];
    snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
    if (filter && fnmatch(filter, full, FNM_EXTMATCH) != 0)
      continue;
    if (list) {
      printf("%s\n", full);
      continue;
    }
    current = t;
    current_failed = 0;
    sl_isa isa_before = sl_isa_active();
    double t0 = now();
    if (verbose)
      printf("[RUN ] %s::%s\n", t->suite, t->name);
    run_body(t->fn);
    if (sl_isa_active() != isa_before) {
      printf("[----] %s::%s changed the active ISA from %s to %s and did not restore it\n",
             t->suite, t->name, sl_isa_name(isa_before), sl_isa_name(sl_isa_active()));
      current_failed = 1;
      sl_isa_set(isa_before);
    }
    double dt = now() - t0;
    tested++;
    if (current_failed) {
      failing++;
      printf("[FAIL] %s::%s (%.2fs)\n", t->suite, t->name, dt);
    } else {
      passing++;
      if (verbose)
        printf("[PASS] %s::%s (%.2fs)\n", t->suite, t->name, dt);
    }
    current = NULL;
  }
  if (list)
    return 0;
  printf("Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: 0\n", tested, passing,
         failing);
  return failing ? 1 : 0;
}
