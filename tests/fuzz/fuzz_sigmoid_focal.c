// SPDX-License-Identifier: MIT
/*
 * fuzz_sigmoid_focal.c - libFuzzer target for sl_sigmoid_focal(): the sl_bce_logits engine of
 * fuzz_common.h (same bytes, same checks) with the entry point swapped and focal_gamma /
 * focal_alpha decoded after every other field; its corpus started as fuzz_bce_logits's. Built
 * and run by mk/fuzz.mk (make fuzz-smoke, make fuzz).
 */
#define FUZZ_OP     1
#define FUZZ_SFOCAL 1
#include "fuzz_common.h"
