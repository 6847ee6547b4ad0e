// SPDX-License-Identifier: MIT
/*
 * scalar/table.c - the scalar function table: the reference, and the fallback on every CPU.
 */
#include "kernels.h"

const sl_kernels sl_kernels_scalar = {
    .isa = SL_ISA_SCALAR,
    .bce_prob = sl_bce_prob__scalar,
    .bce_logits = sl_bce_logits__scalar,
    .ce = sl_ce__scalar,
    .sigmoid_focal = sl_sigmoid_focal__scalar,
    .softmax_focal = sl_softmax_focal__scalar,
    .dice_sums = sl_dice_sums__scalar,
    .dice_grad = sl_dice_grad__scalar,
    .dice_mc = sl_dice_mc__scalar,
};
