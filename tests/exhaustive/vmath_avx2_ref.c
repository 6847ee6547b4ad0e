// SPDX-License-Identifier: MIT
/*
 * exhaustive/vmath_avx2_ref.c - the generic vector math (src/generic/vmath.h) built on the AVX2
 * layer, in its own object compiled with -mavx2 -mfma only (so it is the library's AVX2 code),
 * for the exhaustive tests that compare another ISA's build with it bit for bit:
 * vmath_avx512.c, and vmath_neon.c in the SIMDe build on x86. Call only on a CPU with AVX2 and
 * FMA.
 */
#include "avx2/vec.h"
#include "vmath_check.h"

void vmath_avx2_ref8(const float x[8], float y[FN_COUNT][8]) {
  vf v = v_load(x), a = v_abs(v);
  v_store(y[FN_LOG], v_log(v));
  v_store(y[FN_EXP], v_exp(v));
  v_store(y[FN_LOG1P], v_log1p(v));
  v_store(y[FN_EXPNEG], v_exp_lean(v));
  v_store(y[FN_LOG1P01], v_log1p01(v));
  v_store(y[FN_EXPNABS], v_exp_nabs(a, m_any(v_gt(a, v_set1(87.0f))))); /* deep per 8 lanes */
}
