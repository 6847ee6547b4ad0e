/*
 * neon/kernels.c - the NEON kernels: the generic sources (src/generic/) compiled against the
 * NEON vector layer (src/neon/vec.h), and their table (AArch64; x86 through SIMDe in the test
 * build, make NEON_SIMDE=1).
 */
#include "neon/vec.h"
#include "kernels.h"

double sl_bce_prob__neon(const sl_bce_row *r, int *domain_error);
double sl_bce_logits__neon(const sl_bce_row *r, int *domain_error);
double sl_ce__neon(const sl_ce_row *r);
double sl_sigmoid_focal__neon(const sl_bce_row *r, int *domain_error);
double sl_softmax_focal__neon(const sl_ce_row *r);
void sl_dice_sums__neon(const sl_dice_row *r, double sums[3]);
void sl_dice_grad__neon(const sl_dice_row *r);
void sl_dice_mc__neon(const sl_dice_mc_row *r);

#include "generic/bce.h"
#include "generic/ce.h"
#include "generic/dice.h"

const sl_kernels sl_kernels_neon = {
    .isa = SL_ISA_NEON,
    .bce_prob = sl_bce_prob__neon,
    .bce_logits = sl_bce_logits__neon,
    .ce = sl_ce__neon,
    .sigmoid_focal = sl_sigmoid_focal__neon,
    .softmax_focal = sl_softmax_focal__neon,
    .dice_sums = sl_dice_sums__neon,
    .dice_grad = sl_dice_grad__neon,
    .dice_mc = sl_dice_mc__neon,
};
