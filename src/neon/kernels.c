// SPDX-License-Identifier: MIT
/*
 * neon/kernels.c - the NEON kernels: the generic sources (src/generic/) compiled against the
 * NEON vector layer (src/neon/vec.h), and their table (AArch64; x86 through SIMDe in the test
 * build, make NEON_SIMDE=1).
 */
#include "neon/vec.h"
#include "kernels.h"

#define SL_TABLE_ISA SL_ISA_NEON
#include "generic/table.h"
