// SPDX-License-Identifier: MIT
/*
 * generic/vmath.h - the vector math of the kernels (logf, log1pf, expf and the softmax exp),
 * written once over the vector layer (src/generic/README.md): included at the end of every ISA's
 * vec.h, after the layer's operations and the ISA's overrides.
 *
 * One algorithm on every ISA, so AVX2, AVX-512 and NEON give the same bits for every input: the
 * arithmetic that rounds is the same sequence of IEEE single operations (add, sub, mul, div,
 * fused multiply-add, int32 <-> float conversion of integers), the rest is exact bit work on the
 * int32 lanes. A vec.h may replace one of the exact steps with its own instructions (it defines
 * SL_HAVE_<NAME> and the function before including this file): AVX-512 fixes the special inputs
 * of logf / log1pf with VFIXUPIMMPS and scales expf with VSCALEFPS (src/avx512/vmath.h); the
 * results stay those of this file, bit for bit (tests/exhaustive/vmath_avx512.c compares them).
 * No table, no access to MXCSR / FPCR (round to nearest, no flush to zero assumed: the default).
 *
 * Accuracy: against the correctly rounded result (the double libm value rounded to float), in
 * ULP (the count of floats between them), measured by the exhaustive tests (tests/exhaustive/,
 * make test-exhaustive-avx2, -avx512, -neon): logf and expf on all 2^32 inputs, the others on
 * a quarter of their domains (every 4th block of 8 or 16 consecutive floats; all of it with
 * EXHAUSTIVE_ARGS=--full), each test failing above 2 ULP; the same figures on every ISA (the
 * bits are the same: the AVX-512 and NEON tests compare every result with the AVX2 build). The
 * measured maximum is beside each function, and in brackets the largest distance from the exact
 * value (libm's double) in ULP of the result, which the NEON test measures.
 *
 * NaN operand order: v_max / v_min return the second operand for a NaN on x86 and the NaN on
 * NEON, so every clamp here is written v_max(limit, x): a NaN x passes through on both.
 */
#ifndef SL_GENERIC_VMATH_H
#define SL_GENERIC_VMATH_H

#define SL_LN2_HI 0x1.62e430p-1f   /* ln 2 rounded to 24 bits */
#define SL_LN2_LO -0x1.05c610p-29f /* ln 2 - SL_LN2_HI */

/* ---- logarithm ------------------------------------------------------------------------------- */

/* log(u) + c for a positive finite normal u (no special cases) and a small correction c
 * (|c| << |log u|, or u near 1; has_c = 0: c = 0, one multiply instead of an FMA with 0, the
 * same bits), the exponent reduced by 149 in the lanes of sub (there u is a subnormal scaled by
 * 2^149). u = 2^k m with m in [sqrt(1/2), sqrt(2)) (integer work on the bits),
 * f = m - 1 (exact, Sterbenz) in [-0.2929, 0.4143], log(u) = k ln2 + f - f^2/2 + f^3 P(f),
 * P of degree 7, a minimax fit of the relative error (fit error 8e-9 = 2^-26.9 with float
 * coefficients). ln2 is split in a float head and tail; the head product is added last with one
 * FMA, so the only large rounding is the final one. */
SL_V vf v_log_core(vf u, vm sub, vf c, const int has_c) {
  vi ix = vi_sub(v_as_vi(u), vi_set1(0x3f3504f3));
  vf k = v_sub_where(sub, vi_to_f(vi_srai(ix, 23)), v_set1(149.0f));
  vf m = vi_as_vf(vi_add(vi_and(ix, vi_set1(0x007fffff)), vi_set1(0x3f3504f3)));
  vf f = v_sub(m, v_set1(1.0f)); /* exact (Sterbenz) */
  vf p = v_set1(-0x1.38b5f0p-4f);
  p = v_fma(p, f, v_set1(0x1.055bc0p-3f));
  p = v_fma(p, f, v_set1(-0x1.0d8556p-3f));
  p = v_fma(p, f, v_set1(0x1.22da14p-3f));
  p = v_fma(p, f, v_set1(-0x1.547242p-3f));
  p = v_fma(p, f, v_set1(0x1.99a008p-3f));
  p = v_fma(p, f, v_set1(-0x1.000228p-2f));
  p = v_fma(p, f, v_set1(0x1.555554p-2f));
  p = v_fma(p, f, v_set1(-0.5f)); /* -1/2 + f P(f) */
  vf f2 = v_mul(f, f);
  vf r = has_c ? v_fma(f2, p, c) : v_mul(f2, p); /* tail: f^2 (-1/2 + f P) + c */
  r = v_fma(k, v_set1(SL_LN2_LO), r);            /* + k ln2_lo */
  r = v_add(f, r);                               /* + f */
  return v_fma(k, v_set1(SL_LN2_HI), r);         /* + k ln2_hi, one rounding */
}

#ifndef SL_HAVE_V_LOG_SPECIALS
/* y (v_log_core's value) with logf's special inputs fixed: +-0 -> -inf, +inf -> +inf,
 * x < 0 (-inf included) and NaN -> NaN. */
SL_V vf v_log_specials(vf y, vf x) {
  y = v_sel(v_eq(x, v_zero()), v_set1(-__builtin_inff()), y);
  y = v_sel(v_eq(x, v_set1(__builtin_inff())), x, y);
  return v_nan_if(v_nge(x, v_zero()), y);
}
#endif

/* logf(x). Domain: every float; x < 0 -> NaN, +-0 -> -inf, 1 -> +0, +inf -> +inf, NaN -> NaN.
 * Max error: 1 ULP (measured on all 2^32 inputs) [0.947]. A subnormal x is scaled to x 2^149 by
 * converting its bits as an integer (exact: < 2^23), not by a multiply: a subnormal multiplicand
 * costs x86 a microcode assist. */
SL_V vf v_log(vf x) {
#if defined(SL_VMATH_RARE_BRANCH)
  /* Every lane a positive normal finite x: the core alone gives the same bits. A branch around
   * the rare lanes' work, for the ISAs that ask for it (NEON: two vector pipes, no fixup
   * instruction, where the subnormal scaling and the specials cost a third of logf). */
  if (!m_any(m_or(v_nge(x, v_set1(0x1p-126f)), v_eq(x, v_set1(__builtin_inff())))))
    return v_log_core(x, m_none(), v_zero(), 0);
#endif
  vm sub = v_lt(x, v_set1(0x1p-126f)); /* subnormal (or <= 0, fixed after) */
  vf u = v_sel(sub, vi_to_f(v_as_vi(x)), x);
  vf y = v_log_core(u, sub, v_zero(), 0);
  return v_log_specials(y, x);
}

#ifndef SL_HAVE_V_LOG1P_SPECIALS
/* y (v_log_core's value at u = 1 + a) with log1p's special inputs fixed: +inf -> +inf,
 * NaN -> NaN. */
SL_V vf v_log1p_specials(vf y, vf a, vf u) {
  y = v_sel(v_eq(u, v_set1(__builtin_inff())), u, y);
  return v_nan_if(v_nge(a, a), y); /* a NaN */
}
#endif

/* log1pf(a). Domain: a >= 0, +inf, NaN (a negative a is outside it). Max error: 1 ULP
 * (measured) [0.883]; by analysis at most 2 (logf's error plus c/u's). u = 1 + a rounded,
 * c = (1 + a) - u exactly (Fast2Sum, the larger operand first), log1p(a) = log(u) + c / u, the
 * correction added to the small part of log(u) before the last rounding. */
SL_V vf v_log1p(vf a) {
  const vf one = v_set1(1.0f);
  vf u = v_add(one, a);
  vf c_small = v_sub(a, v_sub(u, one));
  vf c_big = v_sub(one, v_sub(u, a));
  vf c = v_div(v_sel(v_gt(a, one), c_big, c_small), u);
  return v_log1p_specials(v_log_core(u, m_none(), c, 1), a, u);
}

/* log1p(f) = f + f^2 Q(f) for f in [-1/4, 1/2], Q of degree 8 (Estrin; fit error below 2^-27
 * relative). */
SL_V vf v_log1p_poly(vf f) {
  vf f2 = v_mul(f, f), f4 = v_mul(f2, f2);
  vf a01 = v_fma(v_set1(0x1.5555a6p-2f), f, v_set1(-0x1p-1f));
  vf a23 = v_fma(v_set1(0x1.99685ap-3f), f, v_set1(-0x1.000024p-2f));
  vf a45 = v_fma(v_set1(0x1.2897bcp-3f), f, v_set1(-0x1.54f24p-3f));
  vf a67 = v_fma(v_set1(0x1.abf674p-4f), f, v_set1(-0x1.0d9p-3f));
  vf a03 = v_fma(a23, f2, a01), a47 = v_fma(a67, f2, a45);
  vf a48 = v_fma(v_set1(-0x1.6fe5bep-5f), f4, a47);
  return v_fma(f2, v_fma(a48, f4, a03), f);
}

/* log1pf(e) for e in [0, 1] without a division (BCE with logits' log1p(exp(-|x|))). Domain:
 * [0, 1], NaN -> NaN. Max error: 1 ULP (measured) [1.014]. f = e for e < 1/2 (k = 0), else
 * f = (e - 1) / 2 (exact), k = 1, since 1 + e = 2 (1 + f); log1p(e) = k ln2 + log1p(f), ln2
 * added last in two parts. */
SL_V vf v_log1p01(vf e) {
  const vf one = v_set1(1.0f);
  vm lo = v_lt(e, v_set1(0.5f));
  vf f = v_sel(lo, e, v_mul(v_sub(e, one), v_set1(0.5f)));
  vf k = v_drop(lo, one);
  vf p = v_log1p_poly(f);
  return v_fma(k, v_set1(SL_LN2_HI), v_fma(k, v_set1(SL_LN2_LO), p));
}

/* ---- exponential ----------------------------------------------------------------------------- */

/* e^r for r in [-ln2/2, ln2/2]: 1 + r + r^2 Q(r), Q of degree 4 (minimax relative error
 * 3.8e-9 = 2^-28 with float coefficients). */
SL_V vf v_exp_poly(vf r) {
  vf q = v_set1(0x1.6a2436p-10f);
  q = v_fma(q, r, v_set1(0x1.1239d4p-7f));
  q = v_fma(q, r, v_set1(0x1.5558f2p-5f));
  q = v_fma(q, r, v_set1(0x1.555492p-3f));
  q = v_fma(q, r, v_set1(0x1.fffffcp-2f));
  vf r2 = v_mul(r, r);
  return v_add(v_set1(1.0f), v_fma(r2, q, r));
}

/* k = round(x / ln2) as a float with the 1.5 2^23 trick (one FMA: the same k on every ISA);
 * *t is the float whose low mantissa bits hold k (two's complement). |x / ln2| < 2^22. */
SL_V vf v_exp_k(vf x, vf *t) {
  const vf magic = v_set1(0x1.8p23f);
  *t = v_fma(x, v_set1(0x1.715476p+0f), magic);
  return v_sub(*t, magic);
}

/* r = x - k ln2 (two-part ln2, FMAs; k ln2_hi - x is exact for |k| <= 150) in [-ln2/2, ln2/2]. */
SL_V vf v_exp_reduce(vf x, vf k) {
  return v_fnma(k, v_set1(SL_LN2_LO), v_fnma(k, v_set1(SL_LN2_HI), x));
}

#ifndef SL_HAVE_V_LDEXP
/* p 2^k for an integral k in [-150, 129], rounded once: 2^k is applied as 2^(k/2) 2^(k - k/2),
 * both factors normal, so the only rounding into the subnormal range (or overflow to +inf) is
 * the last product. A NaN p gives NaN (whatever k). */
SL_V vf v_ldexp(vf p, vf k) {
  vi ki = v_to_i(k);
  vi k1 = vi_srai(ki, 1);
  vi k2 = vi_sub(ki, k1);
  vf s1 = vi_as_vf(vi_slli(vi_add(k1, vi_set1(127)), 23));
  vf s2 = vi_as_vf(vi_slli(vi_add(k2, vi_set1(127)), 23));
  return v_mul(v_mul(p, s1), s2);
}
#endif

/* expf(x). Domain: every float; -inf -> +0, +inf -> +inf, NaN -> NaN; subnormal results rounded
 * once (not flushed). Max error: 1 ULP (measured on all 2^32 inputs) [1.014].
 * k = round(x / ln2), r = x - k ln2, exp(x) = 2^k e^r. x is clamped to [-104, 89] (exp(-104)
 * rounds to 0, exp(89) overflows to +inf). A subnormal x is replaced by 0 first (exp is 1 either
 * way; a subnormal operand would cost x86's FMA units a microcode assist). */
SL_V vf v_exp(vf x) {
  x = v_drop(v_lt(v_abs(x), v_set1(0x1p-126f)), x);
  x = v_min(v_set1(89.0f), v_max(v_set1(-104.0f), x)); /* NaN passes */
  vf t;
  vf k = v_exp_k(x, &t);
  return v_ldexp(v_exp_poly(v_exp_reduce(x, k)), k);
}

/* expf(d) for d in [-87, 0] (softmax arguments x - max: CE's exp when no lane is below -87),
 * d not subnormal (v_flush_tiny), NaN -> NaN: the lean exp, one scaling factor 2^k (normal for
 * k >= -126) built from t's bits, no clamp. A lane outside [-87, 0] gets an unspecified value
 * (never a trap). Max error: 1 ULP (measured on [-87, 0]) [1.009]. */
SL_V vf v_exp_lean(vf d) {
  vf t;
  vf k = v_exp_k(d, &t);
  vf p = v_exp_poly(v_exp_reduce(d, k));
  /* t's low bits hold k: t << 23 = k << 23 (the magic's bits shift out), + the bias */
  return v_mul(p, vi_as_vf(vi_add(vi_slli(v_as_vi(t), 23), vi_set1(0x3f800000))));
}

/* d with a subnormal d replaced by 0: (d - 2^-100) + 2^-100 leaves every |d| >= 2^-76 unchanged
 * (exp is 1 below that either way). A subnormal operand costs x86's FMA and multiply units a
 * microcode assist each (about 25x the time), additions none; on NEON it is free but kept, for
 * the same bits. */
SL_V vf v_flush_tiny(vf d) {
  return v_add(v_sub(d, v_set1(0x1p-100f)), v_set1(0x1p-100f));
}

/* exp(-a) for a >= 0 or NaN (+inf -> +0), subnormal results rounded once; deep: some lane has
 * a > 87, as the caller has tested it (then the two-factor expf, else the lean one). Max error:
 * 1 ULP (measured) [1.006]. */
SL_V vf v_exp_nabs(vf a, int deep) {
  vf d = v_flush_tiny(v_neg(a));
  return deep ? v_exp(d) : v_exp_lean(d);
}

/* exp(d) for d <= 0 or NaN (softmax arguments x_c - max): deep = 0 when every lane used has
 * d >= -87 (v_exp_lean), deep = 1 for any d (v_exp: subnormal results rounded once, -inf -> 0). */
SL_V vf v_exp_neg(vf d, const int deep) {
  return deep ? v_exp(d) : v_exp_lean(d);
}

#endif /* SL_GENERIC_VMATH_H */
