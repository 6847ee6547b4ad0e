// SPDX-License-Identifier: MIT
/*
 * scalar/table.c - the scalar function table: the reference, and the fallback on every CPU; one
 * entry per row kernel of the registry (src/losses.def), sl_<field>__scalar.
 */
#include "kernels.h"

const sl_kernels sl_kernels_scalar = {
    .isa = SL_ISA_SCALAR,
#define SL_KERNEL(field, type) .field = sl_##field##__scalar,
#include "losses.def"
};
