// SPDX-License-Identifier: MIT
/*
 * avx512/kernels_bf16.c - the AVX-512 kernels again, compiled with AVX512_BF16 as well
 * (Makefile: AVX512_BF16_FLAGS): src/avx512/vec.h then rounds every bfloat16 store (gradients
 * of bf16 tensors, generic/common.h's typed edges) with VCVTNEPS2BF16, its flushing of subnormal
 * floats repaired (the same bits as the portable rounding). The table sl_kernels_avx512_bf16,
 * which dispatch.c gives for SL_ISA_AVX512 when CPUID reports AVX512_BF16 (cpu_x86.c); the
 * kernels sl_<field>__avx512_bf16. No other object is compiled with -mavx512bf16, so no
 * AVX512_BF16 instruction can run on a CPU without it.
 */
#include "avx512/vec.h"
#include "kernels.h"

/* (a compile-time check, not #error: `gcc -MM` of scripts/include-graph.py reads this file
 * without the flag) */
#if !defined(__AVX512BF16__)
_Static_assert(0,
               "src/avx512/kernels_bf16.c needs -mavx512bf16 (the Makefile's AVX512_BF16_FLAGS)");
#endif

#undef SL_SUFFIX
#define SL_SUFFIX    avx512_bf16
#define SL_TABLE_ISA SL_ISA_AVX512
#include "generic/table.h"
