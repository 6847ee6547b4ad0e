// SPDX-License-Identifier: MIT
/*
 * pattern_avx512.c - sl-bench only: the AVX-512 kernels with the vector math removed
 * (src/generic/table.h, SL_PATTERN), whose time is the floor of the memory pattern of the same
 * driver, segment walk, loads and stores (sl-bench's xpattern column). Compiled with the AVX-512
 * flags into sl-bench, never into the library.
 */
#include "avx512/vec.h"
#include "kernels.h"

#undef SL_SUFFIX
#define SL_SUFFIX    avx512_pattern
#define SL_PATTERN   1
#define SL_TABLE_ISA SL_ISA_AVX512
#include "generic/table.h"
