// SPDX-License-Identifier: MIT
/*
 * fuzz_dice_mc.c - libFuzzer target for sl_dice_multiclass(): input bytes -> shape, section,
 * options, data; the checks are in fuzz_dice_common.h. Built and run by mk/fuzz.mk (make
 * fuzz-smoke, make fuzz).
 */
#define FUZZ_DICE_MC 1
#include "fuzz_dice_common.h"
