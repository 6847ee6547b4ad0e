// SPDX-License-Identifier: MIT
/*
 * avx512/cvt_bf16.c - the AVX-512 output conversion (sl_cvt_out, generic/convert.h) with
 * AVX512_BF16's VCVTNEPS2BF16 for bfloat16 (src/avx512/vec.h's h_bits, under __AVX512BF16__):
 * sl_cvt_out__avx512bf16, in the table sl_kernels_avx512_bf16 (avx512/kernels.c) that dispatch.c
 * gives for SL_ISA_AVX512 when the CPU has AVX512_BF16 (cpu_x86.c). The one object compiled with
 * -mavx512bf16 (Makefile: AVX512_BF16_FLAGS), and it holds this function alone, so no
 * AVX512_BF16 instruction can run on a CPU without it. float16 converts as in sl_cvt_out__avx512.
 */
#include "avx512/vec.h"
#include "kernels.h"

/* (a compile-time check, not #error: `gcc -MM` of scripts/include-graph.py reads this file
 * without the flag) */
#if !defined(__AVX512BF16__)
_Static_assert(0, "src/avx512/cvt_bf16.c needs -mavx512bf16 (the Makefile's AVX512_BF16_FLAGS)");
#endif

#undef SL_SUFFIX
#define SL_SUFFIX       avx512bf16
#define SL_CVT_OUT_ONLY 1
#include "generic/convert.h"
