// SPDX-License-Identifier: MIT
/*
 * avx2/kernels.c - the AVX2 + FMA kernels: the generic sources (src/generic/) compiled against
 * the AVX2 vector layer (src/avx2/vec.h), and the table dispatch.c selects when CPUID reports
 * AVX2 and FMA and XGETBV shows the OS saves YMM state. Compiled with -mavx2 -mfma (Makefile).
 */
#include "avx2/vec.h"
#include "kernels.h"

#define SL_TABLE_ISA SL_ISA_AVX2
#include "generic/table.h"
