// SPDX-License-Identifier: MIT
/*
 * avx512/vmath.h - AVX-512's overrides of the generic vector math (src/generic/vmath.h): the
 * steps where AVX-512 has its own instructions. Included by src/avx512/vec.h after the layer's
 * operations and before generic/vmath.h, which supplies everything else (the reductions, the
 * polynomials, every rounding operation). The results are the generic ones bit for bit (the
 * replaced steps are exact): tests/exhaustive/vmath_avx512.c compares every function with the
 * AVX2 build of the generic code on the same inputs.
 *
 * - v_log_specials / v_log1p_specials: the special inputs (+-0, 1, +-inf, x < 0, NaN) fixed in
 *   one VFIXUPIMMPS from the class of x (its token table below) instead of three compares, two
 *   blends and an OR. (getexp / getmant are not used for the reduction: getmant's [0.75, 1.5) or
 *   [1, 2) mantissa does not match the polynomial's interval [sqrt(1/2), sqrt(2)).)
 * - v_ldexp (expf's 2^k): VSCALEFPS, p 2^k rounded once: the same single rounding of a subnormal
 *   result as the generic two-factor product p 2^(k/2) 2^(k - k/2), without its five integer
 *   operations and second multiply (overflow to +inf, underflow to 0 included; a NaN p gives
 *   NaN). v_exp_lean keeps the generic single factor built from k's bits (its 2^k is normal;
 *   VSCALEFPS gives the same values but measured 3% slower there on Zen 4).
 * No embedded-rounding form, no MXCSR access.
 */
#ifndef SL_AVX512_VMATH_H
#define SL_AVX512_VMATH_H

#include <immintrin.h>

/* VFIXUPIMMPS token responses (4 bits per input class of the classified operand): */
#define SL_FIX_KEEP  0x0 /* the computed value */
#define SL_FIX_SRC   0x1 /* the input itself */
#define SL_FIX_QNAN  0x2 /* the input NaN, quieted */
#define SL_FIX_INDEF 0x3 /* the default NaN */
#define SL_FIX_NINF  0x4 /* -inf */
#define SL_FIX_PINF  0x5 /* +inf */
#define SL_FIX_PZERO 0x8 /* +0 */
/* The table, one response per class: QNaN, SNaN, +-0, +1, -inf, +inf, finite < 0, finite > 0
 * (a subnormal is finite: DAZ is never set by this library). */
#define SL_FIX_TABLE(qnan, snan, zero, one, ninf, pinf, neg, pos)                                  \
  ((qnan) | (snan) << 4 | (zero) << 8 | (one) << 12 | (ninf) << 16 | (pinf) << 20 | (neg) << 24 |  \
   (pos) << 28)

/* logf's specials from the class of x: NaN -> NaN, +-0 -> -inf, 1 -> +0, -inf and x < 0 -> NaN,
 * +inf -> +inf. */
#define SL_HAVE_V_LOG_SPECIALS 1
SL_V vf v_log_specials(vf y, vf x) {
  const int table = SL_FIX_TABLE(SL_FIX_QNAN, SL_FIX_QNAN, SL_FIX_NINF, SL_FIX_PZERO, SL_FIX_INDEF,
                                 SL_FIX_PINF, SL_FIX_INDEF, SL_FIX_KEEP);
  return _mm512_fixupimm_ps(y, x, _mm512_set1_epi32(table), 0);
}

/* log1p's specials from the class of a: NaN -> NaN, +-0 -> a, +inf -> +inf, -inf -> NaN (a
 * finite a < 0 is outside the domain: the computed value). */
#define SL_HAVE_V_LOG1P_SPECIALS 1
SL_V vf v_log1p_specials(vf y, vf a, vf u) {
  (void)u;
  const int table = SL_FIX_TABLE(SL_FIX_QNAN, SL_FIX_QNAN, SL_FIX_SRC, SL_FIX_KEEP, SL_FIX_INDEF,
                                 SL_FIX_PINF, SL_FIX_KEEP, SL_FIX_KEEP);
  return _mm512_fixupimm_ps(y, a, _mm512_set1_epi32(table), 0);
}

/* p 2^k for an integral k in [-150, 129], rounded once. */
#define SL_HAVE_V_LDEXP 1
SL_V vf v_ldexp(vf p, vf k) {
  return _mm512_scalef_ps(p, k);
}

#endif /* SL_AVX512_VMATH_H */
