// SPDX-License-Identifier: MIT
/*
 * fuzz_dice.c - libFuzzer target for sl_dice(): input bytes -> shape, section, options, data;
 * the checks are in fuzz_dice_common.h. Built and run by mk/fuzz.mk (make fuzz-smoke, make fuzz).
 */
#define FUZZ_DICE_MC 0
#include "fuzz_dice_common.h"
