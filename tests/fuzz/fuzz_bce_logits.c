// SPDX-License-Identifier: MIT
/*
 * fuzz_bce_logits.c - libFuzzer target for sl_bce_logits(): input bytes -> shape, section, options,
 * data; the checks are in fuzz_common.h. Built and run by mk/sanitize.mk (make fuzz-smoke, make
 * fuzz).
 */
#define FUZZ_OP 1
#include "fuzz_common.h"
