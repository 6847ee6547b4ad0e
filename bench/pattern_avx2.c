// SPDX-License-Identifier: MIT
/*
 * pattern_avx2.c - sl-bench only: the AVX2 kernels with the vector math removed
 * (src/generic/table.h, SL_PATTERN), whose time is the floor of the memory pattern of the same
 * driver, segment walk, loads and stores (sl-bench's xpattern column). Compiled with the AVX2
 * flags into sl-bench, never into the library.
 */
#include "avx2/vec.h"
#include "kernels.h"

#undef SL_SUFFIX
#define SL_SUFFIX    avx2_pattern
#define SL_PATTERN   1
#define SL_TABLE_ISA SL_ISA_AVX2
#include "generic/table.h"
