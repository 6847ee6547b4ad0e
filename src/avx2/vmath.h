// SPDX-License-Identifier: MIT
/*
 * avx2/vmath.h - vector logf, expf, log1p and the softmax exp for the AVX2 + FMA kernels
 * (internal header; include only from files compiled with -mavx2 -mfma).
 *
 * Every function works on 8 float lanes at once, needs no table, never reads or changes MXCSR,
 * and is correct over its whole domain: +-0, subnormals, 1, +-inf, NaN and huge values. Errors
 * are against the correctly rounded result (the double libm value rounded to float), checked by
 * tests/exhaustive/vmath_avx2.c (`make test-exhaustive-avx2`: logf, expf on all 2^32 inputs,
 * the others on their domains), the bound is <= 2 ULP.
 *
 * sl_v_logf(x):  x = 2^k * m with m in [sqrt(1/2), sqrt(2)) (subnormals are first scaled by
 *   2^149: their bits read as an integer), f = m - 1 (exact) in [-0.2929, 0.4143],
 *   log(x) = k*ln2 + f - f^2/2 + f^3 * P(f), P of degree 7 (polynomial degree 10), a minimax
 *   fit of the relative error on that interval (fit error 8e-9 = 2^-26.9 with float
 *   coefficients). ln2 is split in a float head and tail; the head product is added last with
 *   one FMA, so the only large rounding is the final one. Domain: all floats; x < 0 -> NaN,
 *   +-0 -> -inf, +inf -> +inf, NaN -> NaN.
 * sl_v_expf(x) = exp(x): k = round(x / ln2),
 *   r = x - k*ln2 (two-part ln2, FMAs) in [-ln2/2, ln2/2], e^r = 1 + r + r^2 * Q(r), Q of
 *   degree 4 (minimax relative error 3.8e-9 = 2^-28 with float coefficients). 2^k is applied
 *   as 2^(k/2) * 2^(k - k/2), so both factors are normal and the only rounding into the
 *   subnormal range is the last product: subnormal results are correctly scaled, not flushed.
 *   x is clamped to [-104, 89] (exp(-104) rounds to 0, exp(89) overflows to +inf).
 *   Domain: all floats; NaN -> NaN.
 * sl_v_expf_lean(d) = exp(d) for -87 <= d <= 0, d not subnormal: the same reduction and
 *   polynomial, one scaling factor (CE's exp(x_c - max) when no lane is below -87).
 * sl_v_expf_nabs(a, deep) = exp(-a), a >= 0: lean or two-factor as deep says.
 * sl_v_log1pf(a), a >= 0 (or NaN, +inf): u = 1 + a rounded, c = (1 + a) - u exactly (Fast2Sum
 *   with the larger operand first), log1p(a) = log(u) + c/u, the correction added to the small
 *   part of log(u) before the last rounding. Error <= 2 ULP (the logf error plus c/u's).
 * sl_v_log1pf_01(e), e in [0, 1]: no division (see the function), BCE with logits' log1p(exp).
 *
 * NaN operand order: _mm256_max_ps(a, b) / min_ps(a, b) return b when either is NaN, so every
 * clamp here is written max_ps(limit, x): a NaN x passes through.
 */
#ifndef SL_AVX2_VMATH_H
#define SL_AVX2_VMATH_H

#include <immintrin.h>

#define SL_VINLINE static inline __attribute__((always_inline))

#define SL_V1(v) _mm256_set1_ps(v)
#define SL_VI(v) _mm256_set1_epi32(v)

/* ---- logarithm ------------------------------------------------------------------------------- */

/* The core of logf for a positive finite normal u (no special cases), plus a small correction c
 * (|c| << |log u| or u near 1) added before the last rounding: returns log(u) + c. */
SL_VINLINE __m256 sl_v_log_core(__m256 u, __m256 kadj, __m256 c) {
  __m256i ix = _mm256_sub_epi32(_mm256_castps_si256(u), SL_VI(0x3f3504f3));
  __m256 k = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_srai_epi32(ix, 23)), kadj);
  __m256 m = _mm256_castsi256_ps(
      _mm256_add_epi32(_mm256_and_si256(ix, SL_VI(0x007fffff)), SL_VI(0x3f3504f3)));
  __m256 f = _mm256_sub_ps(m, SL_V1(1.0f)); /* exact (Sterbenz) */
  __m256 p = SL_V1(-0x1.38b5f0p-4f);
  p = _mm256_fmadd_ps(p, f, SL_V1(0x1.055bc0p-3f));
  p = _mm256_fmadd_ps(p, f, SL_V1(-0x1.0d8556p-3f));
  p = _mm256_fmadd_ps(p, f, SL_V1(0x1.22da14p-3f));
  p = _mm256_fmadd_ps(p, f, SL_V1(-0x1.547242p-3f));
  p = _mm256_fmadd_ps(p, f, SL_V1(0x1.99a008p-3f));
  p = _mm256_fmadd_ps(p, f, SL_V1(-0x1.000228p-2f));
  p = _mm256_fmadd_ps(p, f, SL_V1(0x1.555554p-2f));
  p = _mm256_fmadd_ps(p, f, SL_V1(-0.5f)); /* -1/2 + f*P(f) */
  __m256 f2 = _mm256_mul_ps(f, f);
  __m256 r = _mm256_fmadd_ps(f2, p, c);                /* tail: f^2 (-1/2 + f P) + c */
  r = _mm256_fmadd_ps(k, SL_V1(-0x1.05c610p-29f), r);  /* + k * ln2_lo */
  r = _mm256_add_ps(f, r);                             /* + f */
  return _mm256_fmadd_ps(k, SL_V1(0x1.62e430p-1f), r); /* + k * ln2_hi, one rounding */
}

/* logf(x), every float. A subnormal x is scaled to x * 2^149, its bits converted as an integer
 * (exact: < 2^23), not multiplied: a subnormal multiplicand costs a microcode assist. */
SL_VINLINE __m256 sl_v_logf(__m256 x) {
  __m256 sub = _mm256_cmp_ps(x, SL_V1(0x1p-126f), _CMP_LT_OQ); /* subnormal (or <= 0) */
  __m256 u = _mm256_blendv_ps(x, _mm256_cvtepi32_ps(_mm256_castps_si256(x)), sub);
  __m256 kadj = _mm256_and_ps(sub, SL_V1(149.0f));
  __m256 y = sl_v_log_core(u, kadj, _mm256_setzero_ps());
  y = _mm256_blendv_ps(y, SL_V1(-__builtin_inff()),
                       _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ));
  y = _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, SL_V1(__builtin_inff()), _CMP_EQ_OQ));
  /* x < 0 or NaN: all bits set = NaN */
  return _mm256_or_ps(y, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NGE_UQ));
}

/* log1p(a) for a >= 0, +inf or NaN (negative a is outside the domain). */
SL_VINLINE __m256 sl_v_log1pf(__m256 a) {
  const __m256 one = SL_V1(1.0f);
  __m256 u = _mm256_add_ps(one, a);
  /* Fast2Sum: the exact rounding error of 1 + a, larger operand first. */
  __m256 c_small = _mm256_sub_ps(a, _mm256_sub_ps(u, one));
  __m256 c_big = _mm256_sub_ps(one, _mm256_sub_ps(u, a));
  __m256 c = _mm256_blendv_ps(c_small, c_big, _mm256_cmp_ps(a, one, _CMP_GT_OQ));
  c = _mm256_div_ps(c, u);
  __m256 y = sl_v_log_core(u, _mm256_setzero_ps(), c);
  y = _mm256_blendv_ps(y, u, _mm256_cmp_ps(u, SL_V1(__builtin_inff()), _CMP_EQ_OQ));
  return _mm256_or_ps(y, _mm256_cmp_ps(a, a, _CMP_UNORD_Q)); /* NaN -> NaN */
}

/* log1p(f) = f + f^2 Q(f) for f in [-1/4, 1/2], Q of degree 8 (Estrin): the polynomial of
 * src/neon/vmath.h (fit error below 2^-27 relative). */
SL_VINLINE __m256 sl_v_log1p_poly(__m256 f) {
  __m256 f2 = _mm256_mul_ps(f, f), f4 = _mm256_mul_ps(f2, f2);
  __m256 a01 = _mm256_fmadd_ps(SL_V1(0x1.5555a6p-2f), f, SL_V1(-0x1p-1f));
  __m256 a23 = _mm256_fmadd_ps(SL_V1(0x1.99685ap-3f), f, SL_V1(-0x1.000024p-2f));
  __m256 a45 = _mm256_fmadd_ps(SL_V1(0x1.2897bcp-3f), f, SL_V1(-0x1.54f24p-3f));
  __m256 a67 = _mm256_fmadd_ps(SL_V1(0x1.abf674p-4f), f, SL_V1(-0x1.0d9p-3f));
  __m256 a03 = _mm256_fmadd_ps(a23, f2, a01), a47 = _mm256_fmadd_ps(a67, f2, a45);
  __m256 a48 = _mm256_fmadd_ps(SL_V1(-0x1.6fe5bep-5f), f4, a47);
  return _mm256_fmadd_ps(f2, _mm256_fmadd_ps(a48, f4, a03), f);
}

/* log1p(e) for e in [0, 1] (or NaN: NaN), no division: f = e for e < 1/2 (k = 0), else
 * f = (e - 1) / 2 (exact), k = 1, since 1 + e = 2 (1 + f); log1p(e) = k ln2 + log1p(f), ln2
 * added last in two parts. BCE with logits' log1p(exp(-|x|)). */
SL_VINLINE __m256 sl_v_log1pf_01(__m256 e) {
  __m256 lo = _mm256_cmp_ps(e, SL_V1(0.5f), _CMP_LT_OQ);
  __m256 f = _mm256_blendv_ps(_mm256_mul_ps(_mm256_sub_ps(e, SL_V1(1.0f)), SL_V1(0.5f)), e, lo);
  __m256 k = _mm256_andnot_ps(lo, SL_V1(1.0f));
  __m256 p = sl_v_log1p_poly(f);
  return _mm256_fmadd_ps(k, SL_V1(0x1.62e430p-1f), _mm256_fmadd_ps(k, SL_V1(-0x1.05c610p-29f), p));
}

/* ---- exponential ----------------------------------------------------------------------------- */

/* e^r for r in [-ln2/2, ln2/2]: 1 + r + r^2 Q(r). */
SL_VINLINE __m256 sl_v_exp_poly(__m256 r) {
  __m256 q = SL_V1(0x1.6a2436p-10f);
  q = _mm256_fmadd_ps(q, r, SL_V1(0x1.1239d4p-7f));
  q = _mm256_fmadd_ps(q, r, SL_V1(0x1.5558f2p-5f));
  q = _mm256_fmadd_ps(q, r, SL_V1(0x1.555492p-3f));
  q = _mm256_fmadd_ps(q, r, SL_V1(0x1.fffffcp-2f));
  __m256 r2 = _mm256_mul_ps(r, r);
  return _mm256_add_ps(SL_V1(1.0f), _mm256_fmadd_ps(r2, q, r));
}

/* Rounds x/ln2 to the nearest integer with the 1.5*2^23 trick: returns k as a float and leaves
 * the float whose low mantissa bits hold k (two's complement) in *t. Valid for |x/ln2| < 2^22. */
SL_VINLINE __m256 sl_v_exp_k(__m256 x, __m256 *t) {
  const __m256 magic = SL_V1(0x1.8p23f);
  *t = _mm256_fmadd_ps(x, SL_V1(0x1.715476p+0f), magic);
  return _mm256_sub_ps(*t, magic);
}

SL_VINLINE __m256 sl_v_exp_reduce(__m256 x, __m256 k) {
  __m256 r = _mm256_fnmadd_ps(k, SL_V1(0x1.62e430p-1f), x);
  return _mm256_fnmadd_ps(k, SL_V1(-0x1.05c610p-29f), r);
}

/* expf(x), every float x. Subnormal results are rounded once (two-factor scaling). A subnormal
 * x is replaced by 0 first (exp is 1 either way; a subnormal operand would cost the FMA units a
 * microcode assist). */
SL_VINLINE __m256 sl_v_expf(__m256 x) {
  __m256 ax = _mm256_andnot_ps(SL_V1(-0.0f), x);
  x = _mm256_andnot_ps(_mm256_cmp_ps(ax, SL_V1(0x1p-126f), _CMP_LT_OQ), x);
  x = _mm256_min_ps(SL_V1(89.0f), _mm256_max_ps(SL_V1(-104.0f), x)); /* NaN passes */
  __m256 t;
  __m256 k = sl_v_exp_k(x, &t);
  __m256 p = sl_v_exp_poly(sl_v_exp_reduce(x, k));
  __m256i ki = _mm256_cvtps_epi32(k); /* [-150, 129]; NaN gives garbage, p is NaN anyway */
  __m256i k1 = _mm256_srai_epi32(ki, 1);
  __m256i k2 = _mm256_sub_epi32(ki, k1);
  __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, SL_VI(127)), 23));
  __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, SL_VI(127)), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* A subnormal d replaced by 0 through (d - 2^-100) + 2^-100, which leaves every |d| >= 2^-76
 * unchanged (exp is 1 below that either way): a subnormal operand costs the FMA and multiply
 * units a microcode assist each (about 25x the time, measured on this kind of Xeon), additions
 * none. */
SL_VINLINE __m256 sl_v_flush_tiny(__m256 d) {
  return _mm256_add_ps(_mm256_sub_ps(d, SL_V1(0x1p-100f)), SL_V1(0x1p-100f));
}

/* exp(d) for -87 <= d <= 0 (softmax arguments x - m; a subnormal d costs a microcode assist on
 * x86, where sl_v_flush_tiny avoids it), NaN -> NaN: the lean exp, one scaling factor (2^k is
 * normal for k >= -126), no clamp. A lane below -87 gets an unspecified value (never a trap). */
SL_VINLINE __m256 sl_v_expf_lean(__m256 d) {
  __m256 t;
  __m256 k = sl_v_exp_k(d, &t);
  __m256 p = sl_v_exp_poly(sl_v_exp_reduce(d, k));
  /* t's low bits hold k: (t << 23) = k << 23 (the magic's bits shift out), + bias. */
  __m256 s = _mm256_castsi256_ps(
      _mm256_add_epi32(_mm256_slli_epi32(_mm256_castps_si256(t), 23), SL_VI(0x3f800000)));
  return _mm256_mul_ps(p, s);
}

/* exp(-a) for a >= 0 (or NaN: NaN), subnormal results rounded once; deep: some lane has
 * a > 87 (then two scaling factors), as the caller has tested it. */
SL_VINLINE __m256 sl_v_expf_nabs(__m256 a, int deep) {
  __m256 d = sl_v_flush_tiny(_mm256_xor_ps(a, SL_V1(-0.0f)));
  if (deep)
    return sl_v_expf(d);
  return sl_v_expf_lean(d);
}

#endif /* SL_AVX2_VMATH_H */
