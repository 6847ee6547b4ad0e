// SPDX-License-Identifier: MIT
/*
 * avx512/kernels.c - the AVX-512 kernels: the generic sources (src/generic/) compiled against
 * the AVX-512 vector layer (src/avx512/vec.h), and the table dispatch.c selects, before AVX2,
 * when CPUID reports AVX-512 F+BW+DQ+VL with AVX2 and FMA and XGETBV shows the OS saves opmask
 * and ZMM state (cpu_x86.c). Compiled with AVX512_FLAGS (Makefile). The same kernels with
 * AVX512_BF16's bfloat16 rounding: avx512/kernels_bf16.c.
 */
#include "avx512/vec.h"
#include "kernels.h"

#define SL_TABLE_ISA SL_ISA_AVX512
#include "generic/table.h"
