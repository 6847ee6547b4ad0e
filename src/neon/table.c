/*
 * neon/table.c - the NEON function table. Placeholder until the NEON kernels land:
 * points at the scalar kernels so dispatch, forcing and the per-ISA test runs already work.
 */
#include "kernels.h"

const sl_kernels sl_kernels_neon = {
    .isa = SL_ISA_NEON,
    .bce_prob = sl_bce_prob__scalar,
    .bce_logits = sl_bce_logits__scalar,
    .ce = sl_ce__scalar,
};
