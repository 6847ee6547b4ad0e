/*
 * avx2/vmath.h - vector logf, expf, log1p, log1p(exp(-|x|)), sigmoid and a double exp for the
 * AVX2 + FMA kernels (internal header; include only from files compiled with -mavx2 -mfma).
 *
 * Every function works on 8 float lanes (or 4 double lanes) at once, needs no table, never reads
 * or changes MXCSR, and is correct over the whole float range: +-0, subnormals, 1, +-inf, NaN
 * and huge values. Errors are against the correctly rounded result (the double libm value
 * rounded to float); sl_v_logf and sl_v_expf are checked over all 2^32 inputs by
 * tests/exhaustive/vmath_avx2.c (`make test-exhaustive`), the bound is <= 2 ULP.
 *
 * sl_v_logf(x):  x = 2^k * m with m in [sqrt(1/2), sqrt(2)) (subnormals are first scaled by
 *   2^149: their bits read as an integer), f = m - 1 (exact) in [-0.2929, 0.4143],
 *   log(x) = k*ln2 + f - f^2/2 + f^3 * P(f), P of degree 7 (polynomial degree 10), a minimax
 *   fit of the relative error on that interval (fit error 8e-9 = 2^-26.9 with float
 *   coefficients). ln2 is split in a float head and tail; the head product is added last with
 *   one FMA, so the only large rounding is the final one. Domain: all floats; x < 0 -> NaN,
 *   +-0 -> -inf, +inf -> +inf, NaN -> NaN.
 * sl_v_expf(x):  k = round(x / ln2), r = x - k*ln2 (two-part ln2, FMAs) in [-ln2/2, ln2/2],
 *   e^r = 1 + r + r^2 * Q(r), Q of degree 4 (polynomial degree 6, minimax relative error
 *   3.8e-9 = 2^-28 with float coefficients). 2^k is applied as 2^(k/2) * 2^(k - k/2), so both
 *   factors are normal and the only rounding into the subnormal range is the last product:
 *   subnormal results are correctly scaled, not flushed. x is clamped to [-104, 89]
 *   (exp(-104) rounds to 0, exp(89) overflows to +inf). Domain: all floats; NaN -> NaN.
 * sl_v_expf_neg(x), sl_v_expf_neg2(d, rr) = exp(d + rr): the lean exp of the CE kernel, for
 *   x <= 0 (softmax arguments x - max, given exactly as d + rr by sl_v_sub_exact): same reduction
 *   and polynomial (rr joins the reduced argument), one scaling factor, and 0 for x < -87 (true
 *   value below 1.7e-38; a flush, so no subnormal is ever produced, even in later products).
 *   NaN -> NaN.
 * sl_v_log1pf(a), a >= 0 (or NaN, +inf): u = 1 + a rounded, c = (1 + a) - u exactly (Fast2Sum
 *   with the larger operand first), log1p(a) = log(u) + c/u, the correction added to the small
 *   part of log(u) before the last rounding. Error <= 2 ULP (the logf error plus c/u's).
 * sl_v_log1pexp_negabs(x) = log1p(exp(-|x|)) in (0, ln2]: both functions above; the relative
 *   condition number of log1p at a in [0, 1] is a / ((1 + a) log1p(a)) <= 1, so the error stays
 *   within about 3 ULP. NaN -> NaN, +-inf -> 0.
 * sl_v_sigmoid(x) = 1 / (1 + exp(-x)), computed from e = exp(-|x|) as 1/(1+e) or e/(1+e), so
 *   neither branch cancels or overflows; about 3 ULP. NaN -> NaN, -inf -> 0, +inf -> 1.
 * sl_v_exp_pd(x), x <= 0 double (BCE-with-logits gradients, where (1-y)*sigmoid(x) and
 *   pw*y*sigmoid(-x) cancel and need more than float precision in exp(-|x|)): k = round(x/ln2),
 *   r in [-ln2/2, ln2/2], Taylor polynomial of degree 11 (truncation error 6e-15 relative),
 *   0 for x < -708 (no subnormal doubles), NaN -> NaN.
 * sl_v_expm1_small_pd(x), -1/4 <= x <= 0 double: x plus the same Taylor tail (no reduction),
 *   within 1e-15 relative (BCE-with-logits gradients near x = 0: tanh(|x| / 2)).
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

/* exp(x + lo), every float x, with a small correction lo (|lo| <= half an ULP of x: the rounding
 * error of an argument formed by a subtraction, from sl_v_sub_exact; 0 otherwise), added to the
 * reduced argument; ignored where |x| >= 128 (the result is 0 or +inf there). Subnormal results
 * are rounded once (two-factor scaling). A subnormal x is replaced by 0 first (exp is 1 either
 * way; a subnormal operand would cost the FMA units a microcode assist). */
SL_VINLINE __m256 sl_v_expf_sum(__m256 x, __m256 lo) {
  __m256 ax = _mm256_andnot_ps(SL_V1(-0.0f), x);
  x = _mm256_andnot_ps(_mm256_cmp_ps(ax, SL_V1(0x1p-126f), _CMP_LT_OQ), x);
  lo = _mm256_and_ps(_mm256_cmp_ps(ax, SL_V1(128.0f), _CMP_LT_OQ), lo);
  x = _mm256_min_ps(SL_V1(89.0f), _mm256_max_ps(SL_V1(-104.0f), x)); /* NaN passes */
  __m256 t;
  __m256 k = sl_v_exp_k(x, &t);
  __m256 p = sl_v_exp_poly(_mm256_add_ps(sl_v_exp_reduce(x, k), lo));
  __m256i ki = _mm256_cvtps_epi32(k); /* [-150, 129]; NaN gives garbage, p is NaN anyway */
  __m256i k1 = _mm256_srai_epi32(ki, 1);
  __m256i k2 = _mm256_sub_epi32(ki, k1);
  __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, SL_VI(127)), 23));
  __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, SL_VI(127)), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* expf(x), every float. */
SL_VINLINE __m256 sl_v_expf(__m256 x) {
  return sl_v_expf_sum(x, _mm256_setzero_ps());
}

/* exp(d + rr) for d <= 0 (larger d up to 88 also work) and a small correction rr (|rr| <= half an
 * ULP of d: the rounding error of d = x - m, from sl_v_sub_exact); 0 for d < -87; NaN -> NaN.
 * A subnormal d (|d| < 2^-126; then rr = 0: a difference that small is exact) is replaced by 0
 * first: exp gives 1 either way, and a subnormal operand costs the FMA and multiply units a
 * microcode assist each (about 25x the time, measured on this kind of Xeon). */
SL_VINLINE __m256 sl_v_expf_neg2(__m256 d, __m256 rr) {
  __m256 tiny = _mm256_cmp_ps(_mm256_andnot_ps(SL_V1(-0.0f), d), SL_V1(0x1p-126f), _CMP_LT_OQ);
  d = _mm256_andnot_ps(tiny, d);
  __m256 t;
  __m256 k = sl_v_exp_k(d, &t);
  __m256 p = sl_v_exp_poly(_mm256_add_ps(sl_v_exp_reduce(d, k), rr));
  /* t's low bits hold k: (t << 23) = k << 23 (the magic's bits shift out), + bias. */
  __m256 s = _mm256_castsi256_ps(
      _mm256_add_epi32(_mm256_slli_epi32(_mm256_castps_si256(t), 23), SL_VI(0x3f800000)));
  __m256 keep = _mm256_cmp_ps(d, SL_V1(-87.0f), _CMP_NLT_UQ); /* d >= -87 or NaN */
  return _mm256_and_ps(keep, _mm256_mul_ps(p, s));
}

/* exp(x) for x <= 0, 0 below -87; NaN -> NaN. */
SL_VINLINE __m256 sl_v_expf_neg(__m256 x) {
  return sl_v_expf_neg2(x, _mm256_setzero_ps());
}

/* d = x - m rounded, and *rr = (x - m) - d exactly (TwoSum), so exp(x - m) loses nothing to
 * the rounding of the difference (which would cost |x - m| * 2^-24 relative). */
SL_VINLINE __m256 sl_v_sub_exact(__m256 x, __m256 m, __m256 *rr) {
  __m256 d = _mm256_sub_ps(x, m);
  __m256 ap = _mm256_add_ps(d, m);
  __m256 bp = _mm256_sub_ps(d, ap);
  *rr = _mm256_sub_ps(_mm256_sub_ps(x, ap), _mm256_add_ps(m, bp));
  return d;
}

/* log1p(exp(-|x|)): the softplus tail of BCE with logits. */
SL_VINLINE __m256 sl_v_log1pexp_negabs(__m256 x) {
  __m256 nabs = _mm256_or_ps(x, SL_V1(-0.0f));
  return sl_v_log1pf(sl_v_expf(nabs));
}

/* sigmoid(x) = 1 / (1 + exp(-x)). */
SL_VINLINE __m256 sl_v_sigmoid(__m256 x) {
  __m256 e = sl_v_expf(_mm256_or_ps(x, SL_V1(-0.0f))); /* exp(-|x|) in [0, 1] */
  __m256 inv = _mm256_div_ps(SL_V1(1.0f), _mm256_add_ps(SL_V1(1.0f), e));
  __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  return _mm256_mul_ps(_mm256_blendv_ps(SL_V1(1.0f), e, neg), inv);
}

/* The Taylor series of exp(r) for |r| <= ln2/2 (4 lanes), degree 11, Estrin-like split to shorten
 * the dependency chain: returns head + r^2 (1/2 + r/6) + r^4 (terms of degree 4..11), head = 1 + r
 * for exp, r for expm1. Truncation error |r|^12 / 12!: 6e-15 at ln2/2, 1.3e-16 at 1/4 (6e-16 of
 * exp(r) - 1 there, less below). */
SL_VINLINE __m256d sl_v_exp_taylor_pd(__m256d r, __m256d head) {
  __m256d r2 = _mm256_mul_pd(r, r);
  __m256d r4 = _mm256_mul_pd(r2, r2);
  __m256d b = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 6), _mm256_set1_pd(1.0 / 2));
  __m256d c = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 120), _mm256_set1_pd(1.0 / 24));
  __m256d d = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 5040), _mm256_set1_pd(1.0 / 720));
  __m256d e = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 362880), _mm256_set1_pd(1.0 / 40320));
  __m256d f = _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 39916800), _mm256_set1_pd(1.0 / 3628800));
  __m256d hi = _mm256_fmadd_pd(f, r2, e); /* degrees 8..11 */
  hi = _mm256_fmadd_pd(hi, r2, d);        /* 6..11 */
  hi = _mm256_fmadd_pd(hi, r2, c);        /* 4..11 */
  return _mm256_fmadd_pd(hi, r4, _mm256_fmadd_pd(b, r2, head));
}

/* expm1(x) in double for -1/4 <= x <= 0 (4 lanes), no range reduction: x + the Taylor tail,
 * within 1e-15 relative (BCE-with-logits gradients near x = 0, where 1 - exp(-|x|) from a
 * rounded exp would lose digits). */
SL_VINLINE __m256d sl_v_expm1_small_pd(__m256d x) {
  return sl_v_exp_taylor_pd(x, x);
}

/* exp(x) in double for x <= 0 (4 lanes); 0 for x < -708; NaN -> NaN. */
SL_VINLINE __m256d sl_v_exp_pd(__m256d x) {
  const __m256d magic = _mm256_set1_pd(0x1.8p52);
  __m256d t = _mm256_fmadd_pd(x, _mm256_set1_pd(0x1.71547652b82fep+0), magic);
  __m256d k = _mm256_sub_pd(t, magic);
  __m256d r = _mm256_fnmadd_pd(k, _mm256_set1_pd(0x1.62e42fefa39efp-1), x);
  r = _mm256_fnmadd_pd(k, _mm256_set1_pd(0x1.abc9e3b39803fp-56), r);
  __m256d p = sl_v_exp_taylor_pd(r, _mm256_add_pd(r, _mm256_set1_pd(1.0)));
  __m256d s = _mm256_castsi256_pd(_mm256_add_epi64(_mm256_slli_epi64(_mm256_castpd_si256(t), 52),
                                                   _mm256_set1_epi64x(0x3ff0000000000000LL)));
  __m256d keep = _mm256_cmp_pd(x, _mm256_set1_pd(-708.0), _CMP_NLT_UQ);
  return _mm256_and_pd(keep, _mm256_mul_pd(p, s));
}

#endif /* SL_AVX2_VMATH_H */
