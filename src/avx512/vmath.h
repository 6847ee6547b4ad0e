/*
 * avx512/vmath.h - vector logf, expf, log1p, log1p(exp(-|x|)), sigmoid and a double exp / expm1
 * for the AVX-512 kernels (internal header; include only from files compiled with the AVX-512
 * flags of the Makefile: -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma).
 *
 * The same algorithms, polynomials, accuracy and special values as src/avx2/vmath.h (read its
 * header comment for the derivations), on 16 float lanes (__m512) or 8 double lanes (__m512d).
 * Names carry the lane count (sl_v16_*, sl_v8d_*), so both headers can be included together.
 * No table, no MXCSR access (never read or changed; the result does not depend on the rounding
 * of the instructions' embedded-rounding forms: none is used), correct over the whole float
 * range. sl_v16_logf and sl_v16_expf are checked on all 2^32 inputs by
 * tests/exhaustive/vmath_avx512.c (make test-exhaustive-avx512): at most 2 ULP against the
 * correctly rounded result, like the AVX2 versions.
 *
 * What AVX-512 changes (the results are bit-for-bit those of the AVX2 functions: the arithmetic
 * that rounds is the same, only the bookkeeping around it differs):
 * - compares produce opmasks (k registers) and blends are masked moves or masked operations;
 * - logf / log1pf: the special inputs (+-0, 1, +-inf, x < 0, NaN) are fixed in one VFIXUPIMMPS
 *   from the class of x (its token table below) instead of three compares, blends and an OR.
 *   The subnormal argument is still scaled through its integer bits (x * 2^149 = the bits
 *   converted as an int32: exact), so no subnormal ever reaches a multiplier or an FMA;
 * - expf, expf_sum: 2^k is applied with VSCALEFPS, p * 2^k rounded once: the same single rounding
 * of a subnormal result as the AVX2 two-factor product p * 2^(k/2) * 2^(k - k/2), without the five
 *   integer operations and the second multiply; overflow to +inf and underflow to 0 included;
 * - the CE lean exp and the double exp apply their 2^k (always normal there) with a zero-masked
 *   VSCALEF, which also does their flush to 0 below the threshold;
 * - the 8-lane double functions replace two 4-lane calls.
 *
 * NaN operand order: _mm512_max_ps(a, b) / min_ps(a, b) return b when either is NaN (as on
 * AVX2), so every clamp is written max_ps(limit, x): a NaN x passes through.
 */
#ifndef SL_AVX512_VMATH_H
#define SL_AVX512_VMATH_H

#include <immintrin.h>

#ifndef SL_VINLINE
#define SL_VINLINE static inline __attribute__((always_inline))
#endif

#define SL_V16(v)  _mm512_set1_ps(v)
#define SL_V16I(v) _mm512_set1_epi32(v)
#define SL_V8D(v)  _mm512_set1_pd(v)

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

/* ---- logarithm ------------------------------------------------------------------------------- */

/* The core of logf for a positive finite normal u (no special cases), plus a small correction c
 * added before the last rounding: returns log(u) + c. The exponent k is reduced by 149 in the
 * lanes of sub (u is a subnormal scaled by 2^149). The same operations as sl_v_log_core. */
SL_VINLINE __m512 sl_v16_log_core(__m512 u, __mmask16 sub, __m512 c) {
  __m512i ix = _mm512_sub_epi32(_mm512_castps_si512(u), SL_V16I(0x3f3504f3));
  __m512 k = _mm512_cvtepi32_ps(_mm512_srai_epi32(ix, 23));
  k = _mm512_mask_sub_ps(k, sub, k, SL_V16(149.0f));
  __m512 m = _mm512_castsi512_ps(
      _mm512_add_epi32(_mm512_and_si512(ix, SL_V16I(0x007fffff)), SL_V16I(0x3f3504f3)));
  __m512 f = _mm512_sub_ps(m, SL_V16(1.0f)); /* exact (Sterbenz) */
  __m512 p = SL_V16(-0x1.38b5f0p-4f);
  p = _mm512_fmadd_ps(p, f, SL_V16(0x1.055bc0p-3f));
  p = _mm512_fmadd_ps(p, f, SL_V16(-0x1.0d8556p-3f));
  p = _mm512_fmadd_ps(p, f, SL_V16(0x1.22da14p-3f));
  p = _mm512_fmadd_ps(p, f, SL_V16(-0x1.547242p-3f));
  p = _mm512_fmadd_ps(p, f, SL_V16(0x1.99a008p-3f));
  p = _mm512_fmadd_ps(p, f, SL_V16(-0x1.000228p-2f));
  p = _mm512_fmadd_ps(p, f, SL_V16(0x1.555554p-2f));
  p = _mm512_fmadd_ps(p, f, SL_V16(-0.5f)); /* -1/2 + f*P(f) */
  __m512 f2 = _mm512_mul_ps(f, f);
  __m512 r = _mm512_fmadd_ps(f2, p, c);                 /* tail: f^2 (-1/2 + f P) + c */
  r = _mm512_fmadd_ps(k, SL_V16(-0x1.05c610p-29f), r);  /* + k * ln2_lo */
  r = _mm512_add_ps(f, r);                              /* + f */
  return _mm512_fmadd_ps(k, SL_V16(0x1.62e430p-1f), r); /* + k * ln2_hi, one rounding */
}

/* logf(x), every float. A subnormal x is scaled to x * 2^149, its bits converted as an integer
 * (exact: < 2^23), not multiplied: a subnormal multiplicand costs a microcode assist on some
 * CPUs. Specials from the class of x: NaN -> NaN, +-0 -> -inf, 1 -> +0, -inf and x < 0 -> NaN,
 * +inf -> +inf. */
SL_VINLINE __m512 sl_v16_logf(__m512 x) {
  __mmask16 sub = _mm512_cmp_ps_mask(x, SL_V16(0x1p-126f), _CMP_LT_OQ); /* subnormal (or <= 0) */
  __m512 u = _mm512_mask_cvtepi32_ps(x, sub, _mm512_castps_si512(x));
  __m512 y = sl_v16_log_core(u, sub, _mm512_setzero_ps());
  const int table = SL_FIX_TABLE(SL_FIX_QNAN, SL_FIX_QNAN, SL_FIX_NINF, SL_FIX_PZERO, SL_FIX_INDEF,
                                 SL_FIX_PINF, SL_FIX_INDEF, SL_FIX_KEEP);
  return _mm512_fixupimm_ps(y, x, _mm512_set1_epi32(table), 0);
}

/* log1p(a) for a >= 0, +inf or NaN (negative a is outside the domain: a finite one in (-1, 0)
 * is computed by the same formula, -inf gives NaN). log1p(+-0) = +-0. */
SL_VINLINE __m512 sl_v16_log1pf(__m512 a) {
  const __m512 one = SL_V16(1.0f);
  __m512 u = _mm512_add_ps(one, a);
  /* Fast2Sum: the exact rounding error of 1 + a, larger operand first. */
  __m512 c = _mm512_sub_ps(a, _mm512_sub_ps(u, one));
  __mmask16 big = _mm512_cmp_ps_mask(a, one, _CMP_GT_OQ);
  c = _mm512_mask_sub_ps(c, big, one, _mm512_sub_ps(u, a));
  c = _mm512_div_ps(c, u);
  __m512 y = sl_v16_log_core(u, 0, c);
  const int table = SL_FIX_TABLE(SL_FIX_QNAN, SL_FIX_QNAN, SL_FIX_SRC, SL_FIX_KEEP, SL_FIX_INDEF,
                                 SL_FIX_PINF, SL_FIX_KEEP, SL_FIX_KEEP);
  return _mm512_fixupimm_ps(y, a, _mm512_set1_epi32(table), 0);
}

/* ---- exponential ----------------------------------------------------------------------------- */

/* e^r for r in [-ln2/2, ln2/2]: 1 + r + r^2 Q(r) (the polynomial of sl_v_exp_poly). */
SL_VINLINE __m512 sl_v16_exp_poly(__m512 r) {
  __m512 q = SL_V16(0x1.6a2436p-10f);
  q = _mm512_fmadd_ps(q, r, SL_V16(0x1.1239d4p-7f));
  q = _mm512_fmadd_ps(q, r, SL_V16(0x1.5558f2p-5f));
  q = _mm512_fmadd_ps(q, r, SL_V16(0x1.555492p-3f));
  q = _mm512_fmadd_ps(q, r, SL_V16(0x1.fffffcp-2f));
  __m512 r2 = _mm512_mul_ps(r, r);
  return _mm512_add_ps(SL_V16(1.0f), _mm512_fmadd_ps(r2, q, r));
}

/* k = round(x / ln2) as a float (1.5 * 2^23 trick, one FMA: the same k as AVX2), valid for
 * |x / ln2| < 2^22. */
SL_VINLINE __m512 sl_v16_exp_k(__m512 x) {
  const __m512 magic = SL_V16(0x1.8p23f);
  return _mm512_sub_ps(_mm512_fmadd_ps(x, SL_V16(0x1.715476p+0f), magic), magic);
}

SL_VINLINE __m512 sl_v16_exp_reduce(__m512 x, __m512 k) {
  __m512 r = _mm512_fnmadd_ps(k, SL_V16(0x1.62e430p-1f), x);
  return _mm512_fnmadd_ps(k, SL_V16(-0x1.05c610p-29f), r);
}

/* exp(x + lo), every float x, with a small correction lo (|lo| <= half an ULP of x: the rounding
 * error of an argument formed by a subtraction, from sl_v16_sub_exact; 0 otherwise), added to
 * the reduced argument; ignored where |x| >= 128 (the result is 0 or +inf there). A subnormal x
 * is replaced by 0 first (exp is 1 either way; a subnormal operand would cost the FMA units a
 * microcode assist on some CPUs). x is clamped to [-104, 89] (exp(-104) rounds to 0, exp(89)
 * overflows to +inf); p * 2^k with k in [-150, 129] rounded once by VSCALEFPS (subnormal results
 * correctly rounded, not flushed). NaN -> NaN (the clamps pass it, scalef of a NaN is NaN).
 * sl_v_expf_sum of src/avx2/vmath.h, bit for bit. */
SL_VINLINE __m512 sl_v16_expf_sum(__m512 x, __m512 lo) {
  __m512 ax = _mm512_abs_ps(x);
  x = _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(ax, SL_V16(0x1p-126f), _CMP_LT_OQ),
                         _mm512_setzero_ps());
  lo = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(ax, SL_V16(128.0f), _CMP_LT_OQ), lo);
  x = _mm512_min_ps(SL_V16(89.0f), _mm512_max_ps(SL_V16(-104.0f), x)); /* NaN passes */
  __m512 k = sl_v16_exp_k(x);
  __m512 p = sl_v16_exp_poly(_mm512_add_ps(sl_v16_exp_reduce(x, k), lo));
  return _mm512_scalef_ps(p, k);
}

/* expf(x), every float (sl_v16_expf_sum without a correction; the same subnormal-x rule). */
SL_VINLINE __m512 sl_v16_expf(__m512 x) {
  x = _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(_mm512_abs_ps(x), SL_V16(0x1p-126f), _CMP_LT_OQ),
                         _mm512_setzero_ps());
  x = _mm512_min_ps(SL_V16(89.0f), _mm512_max_ps(SL_V16(-104.0f), x)); /* NaN passes */
  __m512 k = sl_v16_exp_k(x);
  __m512 p = sl_v16_exp_poly(sl_v16_exp_reduce(x, k));
  return _mm512_scalef_ps(p, k);
}

/* exp(d + rr) for d <= 0 (larger d up to 88 also work) and a small correction rr (|rr| <= half an
 * ULP of d: the rounding error of d = x - m, from sl_v16_sub_exact); 0 for d < -87 (a flush: no
 * subnormal is ever produced, here or in later products); NaN -> NaN. A subnormal d (then
 * rr = 0) is replaced by 0 first: exp gives 1 either way, and a subnormal operand would cost the
 * FMA units a microcode assist on some CPUs. For d >= -87, k >= -126, so p * 2^k is normal and
 * exact: the same value as AVX2's p * s. */
SL_VINLINE __m512 sl_v16_expf_neg2(__m512 d, __m512 rr) {
  __mmask16 tiny = _mm512_cmp_ps_mask(_mm512_abs_ps(d), SL_V16(0x1p-126f), _CMP_LT_OQ);
  d = _mm512_mask_mov_ps(d, tiny, _mm512_setzero_ps());
  __m512 k = sl_v16_exp_k(d);
  __m512 p = sl_v16_exp_poly(_mm512_add_ps(sl_v16_exp_reduce(d, k), rr));
  __mmask16 keep = _mm512_cmp_ps_mask(d, SL_V16(-87.0f), _CMP_NLT_UQ); /* d >= -87 or NaN */
  return _mm512_maskz_scalef_ps(keep, p, k);
}

/* exp(x) for x <= 0, 0 below -87; NaN -> NaN. */
SL_VINLINE __m512 sl_v16_expf_neg(__m512 x) {
  return sl_v16_expf_neg2(x, _mm512_setzero_ps());
}

/* d = x - m rounded, and *rr = (x - m) - d exactly (TwoSum), so exp(x - m) loses nothing to
 * the rounding of the difference. */
SL_VINLINE __m512 sl_v16_sub_exact(__m512 x, __m512 m, __m512 *rr) {
  __m512 d = _mm512_sub_ps(x, m);
  __m512 ap = _mm512_add_ps(d, m);
  __m512 bp = _mm512_sub_ps(d, ap);
  *rr = _mm512_sub_ps(_mm512_sub_ps(x, ap), _mm512_add_ps(m, bp));
  return d;
}

/* log1p(exp(-|x|)) in (0, ln2]: the softplus tail of BCE with logits. NaN -> NaN, +-inf -> 0. */
SL_VINLINE __m512 sl_v16_log1pexp_negabs(__m512 x) {
  __m512 nabs = _mm512_or_ps(x, SL_V16(-0.0f));
  return sl_v16_log1pf(sl_v16_expf(nabs));
}

/* sigmoid(x) = 1 / (1 + exp(-x)), from e = exp(-|x|) as 1/(1+e) or e/(1+e). NaN -> NaN,
 * -inf -> 0, +inf -> 1. */
SL_VINLINE __m512 sl_v16_sigmoid(__m512 x) {
  __m512 e = sl_v16_expf(_mm512_or_ps(x, SL_V16(-0.0f))); /* exp(-|x|) in [0, 1] */
  __m512 inv = _mm512_div_ps(SL_V16(1.0f), _mm512_add_ps(SL_V16(1.0f), e));
  __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  return _mm512_mul_ps(_mm512_mask_mov_ps(SL_V16(1.0f), neg, e), inv);
}

/* ---- double precision (8 lanes) -------------------------------------------------------------- */

/* The Taylor series of exp(r) for |r| <= ln2/2, degree 11 (sl_v_exp_taylor_pd on 8 lanes):
 * head + r^2 (1/2 + r/6) + r^4 (terms of degree 4..11); head = 1 + r for exp, r for expm1. */
SL_VINLINE __m512d sl_v8d_exp_taylor(__m512d r, __m512d head) {
  __m512d r2 = _mm512_mul_pd(r, r);
  __m512d r4 = _mm512_mul_pd(r2, r2);
  __m512d b = _mm512_fmadd_pd(r, SL_V8D(1.0 / 6), SL_V8D(1.0 / 2));
  __m512d c = _mm512_fmadd_pd(r, SL_V8D(1.0 / 120), SL_V8D(1.0 / 24));
  __m512d d = _mm512_fmadd_pd(r, SL_V8D(1.0 / 5040), SL_V8D(1.0 / 720));
  __m512d e = _mm512_fmadd_pd(r, SL_V8D(1.0 / 362880), SL_V8D(1.0 / 40320));
  __m512d f = _mm512_fmadd_pd(r, SL_V8D(1.0 / 39916800), SL_V8D(1.0 / 3628800));
  __m512d hi = _mm512_fmadd_pd(f, r2, e); /* degrees 8..11 */
  hi = _mm512_fmadd_pd(hi, r2, d);        /* 6..11 */
  hi = _mm512_fmadd_pd(hi, r2, c);        /* 4..11 */
  return _mm512_fmadd_pd(hi, r4, _mm512_fmadd_pd(b, r2, head));
}

/* expm1(x) in double for -1/4 <= x <= 0, no range reduction: within 1e-15 relative. */
SL_VINLINE __m512d sl_v8d_expm1_small(__m512d x) {
  return sl_v8d_exp_taylor(x, x);
}

/* exp(x) in double for x <= 0; 0 for x < -708 (no subnormal doubles: 2^k is normal for the
 * kept lanes, so VSCALEFPD is exact there); NaN -> NaN. */
SL_VINLINE __m512d sl_v8d_exp(__m512d x) {
  const __m512d magic = SL_V8D(0x1.8p52);
  __m512d k = _mm512_sub_pd(_mm512_fmadd_pd(x, SL_V8D(0x1.71547652b82fep+0), magic), magic);
  __m512d r = _mm512_fnmadd_pd(k, SL_V8D(0x1.62e42fefa39efp-1), x);
  r = _mm512_fnmadd_pd(k, SL_V8D(0x1.abc9e3b39803fp-56), r);
  __m512d p = sl_v8d_exp_taylor(r, _mm512_add_pd(r, SL_V8D(1.0)));
  __mmask8 keep = _mm512_cmp_pd_mask(x, SL_V8D(-708.0), _CMP_NLT_UQ);
  return _mm512_maskz_scalef_pd(keep, p, k);
}

#endif /* SL_AVX512_VMATH_H */
