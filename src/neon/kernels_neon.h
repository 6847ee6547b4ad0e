/*
 * neon/kernels_neon.h - prototypes of the NEON row microkernels (contract: src/kernels.h).
 * Names say ISA and unroll: 8 elements per step for BCE, strips of 4 pixels for CE.
 */
#ifndef SL_NEON_KERNELS_NEON_H
#define SL_NEON_KERNELS_NEON_H

#include "kernels.h"

double sl_bce_prob__neon_u8(const sl_bce_row *r, int *domain_error);
double sl_bce_logits__neon_u8(const sl_bce_row *r, int *domain_error);
double sl_ce__neon_u4(const sl_ce_row *r);

#endif /* SL_NEON_KERNELS_NEON_H */
