// SPDX-License-Identifier: MIT
/*
 * neon/vmath.h - vector float logf, expf, log1pf and the BCE-with-logits pieces for NEON
 * (4 lanes), correct over the whole float range: +-0, subnormals, 1, +-inf, NaN, huge values.
 * Never touches FPCR: round-to-nearest, no flush-to-zero assumed (the Linux default).
 *
 * logf(x): x = 2^k * m with m in [0.75, 1.5) (integer arithmetic on the bits: subtract the bits
 *   of 0.75, the exponent field of the difference is k), subnormals first scaled by 2^23.
 *   f = m - 1 is exact (Sterbenz), f in [-0.25, 0.5).
 *   log(x) = k * ln2 + log1p(f),  log1p(f) = f + f^2 * Q(f), Q of degree 8 (Estrin),
 *   coefficients fitted here (Lawson-weighted least squares, relative error of log1p(f)) with a
 *   fit error below 2^-27 relative. The k * ln2 term is added last, in one fma with ln2 split
 *   into ln2_hi (24 bits) + ln2_lo, so the only roundings are those of f^2, Q and the final
 *   fma. Bound: <= 1.5 ULP by the error analysis; 1.014 ULP measured over all 2^32 inputs
 *   (tests/exhaustive/vmath_neon.c). Specials: log(+-0) = -inf, log(x < 0) = NaN,
 *   log(+inf) = +inf, log(NaN) = NaN, log(1) = +0 exactly.
 *
 * expf(x): x is clamped to [-104, 89] (outside it the result is 0 or +inf anyway; the clamp
 *   keeps NaN: NEON FMIN/FMAX return NaN when an operand is NaN, unlike C's fminf/fmaxf).
 *   k = round(x / ln2), r = x - k * ln2 by two fmas (ln2_hi has 24 bits; k * ln2_hi - x is
 *   exact for |k| <= 150, so r carries only the rounding of the second fma), |r| <= 0.347.
 *   exp(r) = 1 + r + r^2 * P(r), P of degree 4, fit error below 2^-28 relative. The result is
 *   scaled by 2^k as one multiply by a constructed power of two when |k| <= 126, else as two
 *   multiplies 2^(k>>1) * 2^(k - (k>>1)) (subnormal results rounded once, overflow to +inf).
 *   Bound: <= 1.5 ULP by analysis; 1.019 ULP measured over all 2^32 inputs. Variants: a
 *   2^K-scaled result (exact scaling; K = 0 in the kernels) and an extra low part of
 *   the argument (CE's exp(x_c - max) with x_c - max formed exactly by TwoSum).
 *   exp(-inf) = 0, exp(+inf) = +inf, exp(NaN) = NaN, exp(0) = 1 exactly.
 *
 * log1pf(u), u >= 0 (the log of a softmax sum, and of 1 + exp(-|x|)): the reduction above on
 *   w = 1 + u, except that for u < 0.5 (k = 0) f = u exactly and for u in [0.5, 1] (k = 1)
 *   f = (u - 1) / 2 exactly, so no rounding of 1 + u enters; for u > 1 the rounding of w is
 *   corrected by (u - (w - 1)) / w (u - (w - 1) is exact). log1pf(+inf) = +inf, NaN -> NaN.
 *
 * NaN pitfalls: vmaxq_f32 / vminq_f32 (FMAX / FMIN) propagate NaN; vmaxnmq_f32 (FMAXNM) and C's
 * fmaxf return the number. The kernels rely on the propagating forms for clamps of logs and
 * of exp arguments (a NaN input must give a NaN output) and blend away unselected lanes before
 * they can reach a max or a sum.
 */
#ifndef SL_NEON_VMATH_H
#define SL_NEON_VMATH_H

#include <math.h>

#include "neon/neon.h"

#define SL_LN2_HI 0x1.62e43p-1f   /* ln 2 rounded to 24 bits */
#define SL_LN2_LO -0x1.05c61p-29f /* ln 2 - SL_LN2_HI */

/* input: f in [-0.25, 0.5]; output: log1p(f) = f + f^2 * Q(f) */
SL_INLINE float32x4_t sl_v_log1p_poly(float32x4_t f) {
  const float32x4_t q0 = vdupq_n_f32(-0x1p-1f), q1 = vdupq_n_f32(0x1.5555a6p-2f);
  const float32x4_t q2 = vdupq_n_f32(-0x1.000024p-2f), q3 = vdupq_n_f32(0x1.99685ap-3f);
  const float32x4_t q4 = vdupq_n_f32(-0x1.54f24p-3f), q5 = vdupq_n_f32(0x1.2897bcp-3f);
  const float32x4_t q6 = vdupq_n_f32(-0x1.0d9p-3f), q7 = vdupq_n_f32(0x1.abf674p-4f);
  const float32x4_t q8 = vdupq_n_f32(-0x1.6fe5bep-5f);
  float32x4_t f2 = vmulq_f32(f, f), f4 = vmulq_f32(f2, f2);
  float32x4_t a01 = vfmaq_f32(q0, q1, f), a23 = vfmaq_f32(q2, q3, f);
  float32x4_t a45 = vfmaq_f32(q4, q5, f), a67 = vfmaq_f32(q6, q7, f);
  float32x4_t a03 = vfmaq_f32(a01, a23, f2), a47 = vfmaq_f32(a45, a67, f2);
  float32x4_t a48 = vfmaq_f32(a47, q8, f4);
  float32x4_t q = vfmaq_f32(a03, a48, f4);
  return vfmaq_f32(f, f2, q);
}

/* input: ix the bits of a positive normal float x (or of x * 2^23 with kadd = -23)
 * output: log(x) */
SL_INLINE float32x4_t sl_v_logf_core(uint32x4_t ix, int32x4_t kadd) {
  uint32x4_t t = vsubq_u32(ix, vdupq_n_u32(0x3f400000u)); /* bits of 0.75f */
  int32x4_t k = vshrq_n_s32(vreinterpretq_s32_u32(t), 23);
  float32x4_t m = vreinterpretq_f32_u32(vsubq_u32(ix, vshlq_n_u32(vreinterpretq_u32_s32(k), 23)));
  float32x4_t f = vsubq_f32(m, vdupq_n_f32(1.0f));
  float32x4_t kf = vcvtq_f32_s32(vaddq_s32(k, kadd));
  float32x4_t p = sl_v_log1p_poly(f);
  return vfmaq_f32(vfmaq_f32(p, kf, vdupq_n_f32(SL_LN2_LO)), kf, vdupq_n_f32(SL_LN2_HI));
}

/* input: x, any float; output: log(x) per lane (see the header comment for specials) */
SL_INLINE float32x4_t sl_v_logf(float32x4_t x) {
  uint32x4_t ix = vreinterpretq_u32_f32(x);
  /* x < 2^-126 (0, subnormal, negative), +inf or NaN */
  uint32x4_t special = vcgeq_u32(vsubq_u32(ix, vdupq_n_u32(0x00800000u)), vdupq_n_u32(0x7f000000u));
  if (__builtin_expect(vmaxvq_u32(special) == 0, 1))
    return sl_v_logf_core(ix, vdupq_n_s32(0));
  uint32x4_t sub = vcltq_f32(x, vdupq_n_f32(0x1p-126f));
  float32x4_t xs = vbslq_f32(sub, vmulq_f32(x, vdupq_n_f32(0x1p23f)), x);
  int32x4_t kadd = vandq_s32(vreinterpretq_s32_u32(sub), vdupq_n_s32(-23));
  float32x4_t y = sl_v_logf_core(vreinterpretq_u32_f32(xs), kadd);
  y = vbslq_f32(vceqzq_f32(x), vdupq_n_f32(-INFINITY), y);
  y = vbslq_f32(vcgeq_f32(x, vdupq_n_f32(0.0f)), y, vdupq_n_f32(NAN)); /* x < 0 or NaN */
  return vbslq_f32(vceqq_f32(x, vdupq_n_f32(INFINITY)), x, y);
}

/* e^r of exp(x) = 2^k e^r, |x| <= 104: k = round(x / ln2) in *kf, r = x - k ln2,
 * e^r = 1 + r + r^2 P(r) */
SL_INLINE float32x4_t sl_v_exp_core(float32x4_t x, float32x4_t *kf) {
  const float32x4_t p0 = vdupq_n_f32(0x1.fffffcp-2f), p1 = vdupq_n_f32(0x1.555492p-3f);
  const float32x4_t p2 = vdupq_n_f32(0x1.5558f2p-5f), p3 = vdupq_n_f32(0x1.1239d4p-7f);
  const float32x4_t p4 = vdupq_n_f32(0x1.6a244ap-10f);
  float32x4_t k = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(0x1.715476p+0f)));
  float32x4_t r = vfmsq_f32(x, k, vdupq_n_f32(SL_LN2_HI));
  r = vfmsq_f32(r, k, vdupq_n_f32(SL_LN2_LO));
  float32x4_t r2 = vmulq_f32(r, r);
  float32x4_t a01 = vfmaq_f32(p0, p1, r), a23 = vfmaq_f32(p2, p3, r);
  float32x4_t a24 = vfmaq_f32(a23, p4, r2);
  float32x4_t pr = vfmaq_f32(a01, a24, r2);
  *kf = k;
  return vaddq_f32(vfmaq_f32(r, r2, pr), vdupq_n_f32(1.0f));
}

/* input: x, any float; K, a constant in [0, 64]; output: exp(x) * 2^K per lane, the scaling
 * exact (K = 64 keeps exp(-|x|) normal down to |x| = 104: no subnormal rounding). */
SL_INLINE float32x4_t sl_v_expf_full(float32x4_t x, const int K) {
  /* keeps NaN; below the lower bound the result rounds to 0 even after the 2^K scaling */
  x = vminq_f32(vmaxq_f32(x, vdupq_n_f32(-104.0f - 0.6931472f * (float)K)), vdupq_n_f32(89.0f));
  float32x4_t kf;
  float32x4_t e = sl_v_exp_core(x, &kf);
  int32x4_t k = vaddq_s32(vcvtq_s32_f32(kf), vdupq_n_s32(K));
  if (__builtin_expect(
          vmaxvq_u32(vcagtq_f32(vaddq_f32(kf, vdupq_n_f32((float)K)), vdupq_n_f32(126.0f))) == 0,
          1)) {
    int32x4_t s = vshlq_n_s32(vaddq_s32(k, vdupq_n_s32(127)), 23);
    return vmulq_f32(e, vreinterpretq_f32_s32(s));
  }
  int32x4_t k1 = vshrq_n_s32(k, 1), k2 = vsubq_s32(k, k1);
  int32x4_t s1 = vshlq_n_s32(vaddq_s32(k1, vdupq_n_s32(127)), 23);
  int32x4_t s2 = vshlq_n_s32(vaddq_s32(k2, vdupq_n_s32(127)), 23);
  return vmulq_f32(vmulq_f32(e, vreinterpretq_f32_s32(s1)), vreinterpretq_f32_s32(s2));
}

/* exp(d) for -87 <= d <= 0 (CE's exp(x_c - max) when no lane is below -87): sl_v_expf_full
 * without the clamp and the range test, one scaling factor (2^k normal). A lane below -87 gets
 * an unspecified value. */
SL_INLINE float32x4_t sl_v_expf_lean(float32x4_t d) {
  float32x4_t kf;
  float32x4_t e = sl_v_exp_core(d, &kf);
  int32x4_t s = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(kf), vdupq_n_s32(127)), 23);
  return vmulq_f32(e, vreinterpretq_f32_s32(s));
}

/* input: x, any float; output: exp(x) per lane */
SL_INLINE float32x4_t sl_v_expf(float32x4_t x) {
  return sl_v_expf_full(x, 0);
}

/* input: u >= 0 (or NaN, +inf); output: log(1 + u) per lane */
SL_INLINE float32x4_t sl_v_log1pf(float32x4_t u) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  float32x4_t w = vaddq_f32(u, one);
  uint32x4_t ix = vreinterpretq_u32_f32(w);
  uint32x4_t t = vsubq_u32(ix, vdupq_n_u32(0x3f400000u));
  int32x4_t k = vshrq_n_s32(vreinterpretq_s32_u32(t), 23);
  float32x4_t m = vreinterpretq_f32_u32(vsubq_u32(ix, vshlq_n_u32(vreinterpretq_u32_s32(k), 23)));
  uint32x4_t lo = vcltq_f32(u, vdupq_n_f32(0.5f)), big = vcgtq_f32(u, one);
  float32x4_t f = vsubq_f32(m, one);
  f = vbslq_f32(big, f, vmulq_f32(vsubq_f32(u, one), vdupq_n_f32(0.5f)));
  f = vbslq_f32(lo, u, f);
  float32x4_t d = vdivq_f32(vsubq_f32(u, vsubq_f32(w, one)), w);
  d = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(d), big));
  float32x4_t kf = vcvtq_f32_s32(k);
  float32x4_t p = vaddq_f32(sl_v_log1p_poly(f), d);
  float32x4_t y = vfmaq_f32(vfmaq_f32(p, kf, vdupq_n_f32(SL_LN2_LO)), kf, vdupq_n_f32(SL_LN2_HI));
  return vbslq_f32(vcltq_f32(u, vdupq_n_f32(INFINITY)), y, u); /* +inf, NaN: u */
}

/* input: e = exp(-|x|) in [0, 1] (or NaN); output: log1p(e), as sl_v_log1pf without the u > 1
 * branch (no division) */
SL_INLINE float32x4_t sl_v_log1pf_01(float32x4_t e) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  uint32x4_t lo = vcltq_f32(e, vdupq_n_f32(0.5f));
  float32x4_t f = vbslq_f32(lo, e, vmulq_f32(vsubq_f32(e, one), vdupq_n_f32(0.5f)));
  float32x4_t kf = vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(one), lo)); /* k: 0, 1 */
  float32x4_t p = sl_v_log1p_poly(f);
  float32x4_t y = vfmaq_f32(vfmaq_f32(p, kf, vdupq_n_f32(SL_LN2_LO)), kf, vdupq_n_f32(SL_LN2_HI));
  return vbslq_f32(vcleq_f32(e, one), y, e); /* NaN: NaN */
}

#endif /* SL_NEON_VMATH_H */
