/*
 * avx2/kernels.c - the AVX2 + FMA kernels: the generic sources (src/generic/) compiled against
 * the AVX2 vector layer (src/avx2/vec.h), and the table dispatch.c selects when CPUID reports
 * AVX2 and FMA and XGETBV shows the OS saves YMM state. Compiled with -mavx2 -mfma (Makefile).
 */
#include "avx2/vec.h"
#include "kernels.h"

double sl_bce_prob__avx2(const sl_bce_row *r, int *domain_error);
double sl_bce_logits__avx2(const sl_bce_row *r, int *domain_error);
double sl_ce__avx2(const sl_ce_row *r);
double sl_sigmoid_focal__avx2(const sl_bce_row *r, int *domain_error);
double sl_softmax_focal__avx2(const sl_ce_row *r);
void sl_dice_sums__avx2(const sl_dice_row *r, double sums[3]);
void sl_dice_grad__avx2(const sl_dice_row *r);
void sl_dice_mc__avx2(const sl_dice_mc_row *r);

#include "generic/bce.h"
#include "generic/ce.h"
#include "generic/dice.h"

const sl_kernels sl_kernels_avx2 = {
    .isa = SL_ISA_AVX2,
    .bce_prob = sl_bce_prob__avx2,
    .bce_logits = sl_bce_logits__avx2,
    .ce = sl_ce__avx2,
    .sigmoid_focal = sl_sigmoid_focal__avx2,
    .softmax_focal = sl_softmax_focal__avx2,
    .dice_sums = sl_dice_sums__avx2,
    .dice_grad = sl_dice_grad__avx2,
    .dice_mc = sl_dice_mc__avx2,
};
