/*
 * avx2/table.c - the AVX2 + FMA function table (src/avx2/bce.c, src/avx2/ce.c). dispatch.c
 * selects it when CPUID reports AVX2 and FMA and XGETBV shows the OS saves YMM state.
 */
#include "avx2.h"

const sl_kernels sl_kernels_avx2 = {
    .isa = SL_ISA_AVX2,
    .bce_prob = sl_bce_prob__avx2_u8,
    .bce_logits = sl_bce_logits__avx2_u8,
    .ce = sl_ce__avx2_u8,
};
