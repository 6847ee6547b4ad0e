// SPDX-License-Identifier: MIT
/*
 * harness.h - the one include of every test file: Criterion, or the mini runner.
 *
 * Without SL_TEST_MINI this is <criterion/criterion.h> (+ logging). With -DSL_TEST_MINI it is
 * tests/mini/mini.h, a small in-process runner used where Criterion cannot run (AArch64 under
 * qemu-user, valgrind). Test files must restrict themselves to this subset, which both provide:
 *   Test(suite, name)                  (no extra options)
 *   cr_assert(cond[, fmt, ...])        fatal: the test stops
 *   cr_expect(cond[, fmt, ...])        non-fatal: the test fails but goes on
 *   cr_assert_fail([fmt, ...])         fatal failure
 *   cr_log_info(fmt, ...)              an informational line
 * The mini runner runs every test in ONE process (Criterion forks per test), so a test that
 * changes process-wide state (sl_isa_set) must restore it before it returns or fails; the mini
 * runner checks the active ISA after each test and fails a test that left it changed.
 */
#ifndef SL_TEST_HARNESS_H
#define SL_TEST_HARNESS_H

#ifdef SL_TEST_MINI
#include "mini/mini.h"
#else
#include <criterion/criterion.h>
#include <criterion/logging.h>
#endif

#endif /* SL_TEST_HARNESS_H */
