// SPDX-License-Identifier: MIT
/*
 * generic/table.h - one ISA's kernel table from the generic sources: included by
 * src/<isa>/kernels.c after <isa>/vec.h (which names the ISA: SL_SUFFIX) with SL_TABLE_ISA set
 * to its sl_isa. Compiles the generic losses (their kernels sl_<field>__<suffix>, one per
 * SL_KERNEL line of the registry src/losses.def, are declared in generic/common.h) and defines
 * the table sl_kernels_<suffix> (interface: src/kernels.h).
 *
 * SL_PATTERN (sl-bench only, bench/pattern_*.c): the same kernels with the vector math replaced
 * by one or two cheap operations that keep values in range (no NaN, no hard lanes), so that the
 * driver, the segment walk and every load and store run as in the real kernels: the memory
 * pattern's floor (sl-bench's xpattern column). Never part of the library.
 */
#include "generic/common.h"

#define SL_TABLE_(s) sl_kernels_##s
#define SL_TABLE(s)  SL_TABLE_(s)

extern const sl_kernels SL_TABLE(SL_SUFFIX);

#if defined(SL_PATTERN)
#define v_exp_neg(d, deep)  ((void)(deep), v_max(v_add((d), v_set1(1.0f)), v_set1(0x1p-20f)))
#define v_exp_nabs(a, deep) ((void)(deep), v_max(v_sub(v_set1(1.0f), (a)), v_set1(0x1p-20f)))
#define v_log(x)            v_sub((x), v_set1(1.0f))
#define v_log1p(a)          (a)
#define v_log1p01(e)        (e)
#endif

/* each loss's source includes what it uses (generic/common.h, generic/softmax_seg.h): any
 * order */
#include "generic/bce.h"
#include "generic/ce.h"
#include "generic/convert.h"
#include "generic/ce_prob.h"
#include "generic/dice.h"

const sl_kernels SL_TABLE(SL_SUFFIX) = {
    .isa = SL_TABLE_ISA,
#define SL_KERNEL(field, type) .field = SL_FN(sl_##field),
#include "losses.def"
};
