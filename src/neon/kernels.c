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
double sl_softmax_focal__neon(const sl_ce_row *r);

#include "generic/bce.h"
#include "generic/ce.h"

const sl_kernels sl_kernels_neon = {
    .isa = SL_ISA_NEON,
    .bce_prob = sl_bce_prob__neon,
    .bce_logits = sl_bce_logits__neon,
    .ce = sl_ce__neon,
    .softmax_focal = sl_softmax_focal__neon,
};
