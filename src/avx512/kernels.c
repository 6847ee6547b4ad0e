// SPDX-License-Identifier: MIT
/*
 * avx512/kernels.c - the AVX-512 kernels: the generic sources (src/generic/) compiled against
 * the AVX-512 vector layer (src/avx512/vec.h), and the table dispatch.c selects, before AVX2,
 * when CPUID reports AVX-512 F+BW+DQ+VL with AVX2 and FMA and XGETBV shows the OS saves opmask
 * and ZMM state (cpu_x86.c). Compiled with AVX512_FLAGS (Makefile). Also the same table with
 * AVX512_BF16's bfloat16 output conversion (sl_kernels_avx512_bf16, below).
 */
#include "avx512/vec.h"
#include "kernels.h"

#define SL_TABLE_ISA SL_ISA_AVX512
#include "generic/table.h"

/* The same table with the bfloat16 output conversion of AVX512_BF16 (src/avx512/cvt_bf16.c):
 * the registry's fields as above, with sl_cvt_out__avx512 renamed (the pasted name is rescanned)
 * to sl_cvt_out__avx512bf16. A constant table, so dispatch.c needs no copy filled at run time. */
#define sl_cvt_out__avx512 sl_cvt_out__avx512bf16
const sl_kernels sl_kernels_avx512_bf16 = {
    .isa = SL_ISA_AVX512,
#define SL_KERNEL(field, type) .field = SL_FN(sl_##field),
#include "losses.def"
};
#undef sl_cvt_out__avx512
