/*
 * avx512/kernels.c - the AVX-512 kernels: the generic sources (src/generic/) compiled against
 * the AVX-512 vector layer (src/avx512/vec.h), and the table dispatch.c selects, before AVX2,
 * when CPUID reports AVX-512 F+BW+DQ+VL with AVX2 and FMA and XGETBV shows the OS saves opmask
 * and ZMM state (cpu_x86.c). Compiled with AVX512_FLAGS (Makefile).
 */
#include "avx512/vec.h"
#include "kernels.h"

double sl_bce_prob__avx512(const sl_bce_row *r, int *domain_error);
double sl_bce_logits__avx512(const sl_bce_row *r, int *domain_error);
double sl_ce__avx512(const sl_ce_row *r);
double sl_sigmoid_focal__avx512(const sl_bce_row *r, int *domain_error);
double sl_softmax_focal__avx512(const sl_ce_row *r);
void sl_dice_sums__avx512(const sl_dice_row *r, double sums[3]);
void sl_dice_grad__avx512(const sl_dice_row *r);
void sl_dice_mc__avx512(const sl_dice_mc_row *r);

#include "generic/bce.h"
#include "generic/ce.h"
#include "generic/dice.h"

const sl_kernels sl_kernels_avx512 = {
    .isa = SL_ISA_AVX512,
    .bce_prob = sl_bce_prob__avx512,
    .bce_logits = sl_bce_logits__avx512,
    .ce = sl_ce__avx512,
    .sigmoid_focal = sl_sigmoid_focal__avx512,
    .softmax_focal = sl_softmax_focal__avx512,
    .dice_sums = sl_dice_sums__avx512,
    .dice_grad = sl_dice_grad__avx512,
    .dice_mc = sl_dice_mc__avx512,
};
