// SPDX-License-Identifier: MIT
/*
 * avx512/vmath.h - vector logf, expf, log1p and the softmax exp for the AVX-512 kernels
 * (internal header; include only from files compiled with the AVX-512 flags of the Makefile:
 * -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma).
 *
 * The same functions, algorithms, polynomials, accuracy and special values as src/avx2/vmath.h
 * (read its header comment for the derivations), on 16 float lanes (__m512); the names carry the
 * lane count (sl_v16_*), so both headers can be included together. No table, no MXCSR access
 * (none is read or changed, no embedded-rounding form is used), correct over each function's
 * whole domain. tests/exhaustive/vmath_avx512.c (make test-exhaustive-avx512) checks logf and
 * expf on all 2^32 inputs and the others on their domains (at most 2 ULP against the correctly
 * rounded result), and every function bit for bit against its AVX2 counterpart.
 *
 * What AVX-512 changes (the results are those of the AVX2 functions, bit for bit: the arithmetic
 * that rounds is the same, only the bookkeeping around it differs):
 * - compares produce opmasks (k registers); blends are masked moves or masked operations;
 * - logf / log1pf: the special inputs (+-0, 1, +-inf, x < 0, NaN) are fixed in one VFIXUPIMMPS
 *   from the class of x (its token table below) instead of three compares, blends and an OR.
 *   The subnormal argument is still scaled through its integer bits (x * 2^149 = the bits
 *   converted as an int32: exact), so no subnormal ever reaches a multiplier or an FMA;
 *   (getmant's [0.75, 1.5) or [1, 2) mantissa does not match the polynomial's interval
 *   [sqrt(1/2), sqrt(2)), so getexp/getmant would need a second fixup: not used);
 * - expf: 2^k is applied with VSCALEFPS, p * 2^k rounded once: the same single
 *   rounding of a subnormal result as AVX2's two-factor product p * 2^(k/2) * 2^(k - k/2),
 *   without the five integer operations and the second multiply (overflow to +inf, underflow
 *   to 0 included); expf_lean keeps AVX2's single factor built from k's bits (its 2^k is
 *   normal; VSCALEFPS gives the same values but measured 3% slower there on Zen 4);
 * - k = round(x / ln2) stays the FMA with the 1.5 * 2^23 constant (one rounding, AVX2's k)
 *   rather than VRNDSCALEPS of a rounded product.
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

/* log1p(f) = f + f^2 Q(f) for f in [-1/4, 1/2], Q of degree 8 (Estrin): sl_v_log1p_poly. */
SL_VINLINE __m512 sl_v16_log1p_poly(__m512 f) {
  __m512 f2 = _mm512_mul_ps(f, f), f4 = _mm512_mul_ps(f2, f2);
  __m512 a01 = _mm512_fmadd_ps(SL_V16(0x1.5555a6p-2f), f, SL_V16(-0x1p-1f));
  __m512 a23 = _mm512_fmadd_ps(SL_V16(0x1.99685ap-3f), f, SL_V16(-0x1.000024p-2f));
  __m512 a45 = _mm512_fmadd_ps(SL_V16(0x1.2897bcp-3f), f, SL_V16(-0x1.54f24p-3f));
  __m512 a67 = _mm512_fmadd_ps(SL_V16(0x1.abf674p-4f), f, SL_V16(-0x1.0d9p-3f));
  __m512 a03 = _mm512_fmadd_ps(a23, f2, a01), a47 = _mm512_fmadd_ps(a67, f2, a45);
  __m512 a48 = _mm512_fmadd_ps(SL_V16(-0x1.6fe5bep-5f), f4, a47);
  return _mm512_fmadd_ps(f2, _mm512_fmadd_ps(a48, f4, a03), f);
}

/* log1p(e) for e in [0, 1] (or NaN: NaN), no division (sl_v_log1pf_01): f = e for e < 1/2
 * (k = 0), else f = (e - 1) / 2 (exact), k = 1; log1p(e) = k ln2 + log1p(f). */
SL_VINLINE __m512 sl_v16_log1pf_01(__m512 e) {
  __mmask16 lo = _mm512_cmp_ps_mask(e, SL_V16(0.5f), _CMP_LT_OQ);
  __m512 f = _mm512_mask_mov_ps(_mm512_mul_ps(_mm512_sub_ps(e, SL_V16(1.0f)), SL_V16(0.5f)), lo, e);
  __m512 k = _mm512_maskz_mov_ps((__mmask16)~lo, SL_V16(1.0f));
  __m512 p = sl_v16_log1p_poly(f);
  return _mm512_fmadd_ps(k, SL_V16(0x1.62e430p-1f),
                         _mm512_fmadd_ps(k, SL_V16(-0x1.05c610p-29f), p));
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

/* expf(x), every float x. A subnormal x is replaced by 0 first (exp is 1 either way; a
 * subnormal operand would cost the FMA units a microcode assist on some CPUs). x is clamped to
 * [-104, 89] (exp(-104) rounds to 0, exp(89) overflows to +inf); p * 2^k with k in [-150, 129]
 * rounded once by VSCALEFPS (subnormal results correctly rounded, not flushed). NaN -> NaN (the
 * clamps pass it, scalef of a NaN is NaN). sl_v_expf of src/avx2/vmath.h, bit for bit. */
SL_VINLINE __m512 sl_v16_expf(__m512 x) {
  x = _mm512_mask_mov_ps(x, _mm512_cmp_ps_mask(_mm512_abs_ps(x), SL_V16(0x1p-126f), _CMP_LT_OQ),
                         _mm512_setzero_ps());
  x = _mm512_min_ps(SL_V16(89.0f), _mm512_max_ps(SL_V16(-104.0f), x)); /* NaN passes */
  __m512 k = sl_v16_exp_k(x);
  __m512 p = sl_v16_exp_poly(sl_v16_exp_reduce(x, k));
  return _mm512_scalef_ps(p, k);
}

/* A subnormal d replaced by 0 through (d - 2^-100) + 2^-100 (sl_v_flush_tiny of AVX2). */
SL_VINLINE __m512 sl_v16_flush_tiny(__m512 d) {
  return _mm512_add_ps(_mm512_sub_ps(d, SL_V16(0x1p-100f)), SL_V16(0x1p-100f));
}

/* exp(d) for -87 <= d <= 0 (softmax arguments x - m), NaN -> NaN: the lean exp of the CE
 * kernel (sl_v_expf_lean), no clamp, one scaling factor 2^k (k >= -126: normal) whose bits are
 * k << 23 + the bias: t's low bits hold k, the magic's bits shift out. A lane below -87 gets an
 * unspecified value. */
SL_VINLINE __m512 sl_v16_expf_lean(__m512 d) {
  const __m512 magic = SL_V16(0x1.8p23f);
  __m512 t = _mm512_fmadd_ps(d, SL_V16(0x1.715476p+0f), magic);
  __m512 k = _mm512_sub_ps(t, magic);
  __m512 p = sl_v16_exp_poly(sl_v16_exp_reduce(d, k));
  __m512 s = _mm512_castsi512_ps(
      _mm512_add_epi32(_mm512_slli_epi32(_mm512_castps_si512(t), 23), SL_V16I(0x3f800000)));
  return _mm512_mul_ps(p, s);
}

/* exp(-a) for a >= 0 (or NaN: NaN), subnormal results rounded once; deep: some lane has
 * a > 87, as the caller has tested it (sl_v_expf_nabs). */
SL_VINLINE __m512 sl_v16_expf_nabs(__m512 a, int deep) {
  __m512 d = sl_v16_flush_tiny(_mm512_xor_ps(a, SL_V16(-0.0f)));
  if (deep)
    return sl_v16_expf(d);
  return sl_v16_expf_lean(d);
}

#endif /* SL_AVX512_VMATH_H */
