// SPDX-License-Identifier: MIT
/*
 * fuzz_ce.c - libFuzzer target for sl_ce(): input bytes -> shape, section, options, data; the
 * checks are in fuzz_common.h. Built and run by mk/sanitize.mk (make fuzz-smoke, make fuzz).
 */
#define FUZZ_OP 2
#include "fuzz_common.h"
