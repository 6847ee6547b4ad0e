/*
 * neon/table.c - the NEON function table (AArch64; x86 through SIMDe in the test build).
 */
#include "neon/kernels_neon.h"

const sl_kernels sl_kernels_neon = {
    .isa = SL_ISA_NEON,
    .bce_prob = sl_bce_prob__neon_u8,
    .bce_logits = sl_bce_logits__neon_u8,
    .ce = sl_ce__neon_u4,
};
