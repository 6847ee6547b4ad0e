/*
 * avx2/table.c - the AVX2 + FMA function table. Placeholder until the AVX2 kernels land:
 * points at the scalar kernels so dispatch, forcing and the per-ISA test runs already work.
 */
#include "kernels.h"

const sl_kernels sl_kernels_avx2 = {
    .isa = SL_ISA_AVX2,
    .bce_prob = sl_bce_prob__scalar,
    .bce_logits = sl_bce_logits__scalar,
    .ce = sl_ce__scalar,
};
