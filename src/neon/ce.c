/*
 * neon/ce.c - NEON multi-class cross-entropy row microkernel: strips of 4 pixels (one vector),
 * the class loop inside, for AArch64 (and x86 through SIMDe in the test build).
 *
 * Shape legend: a run of len pixels of one (n, y) row; class c of pixel i at x[c * cstride + i],
 * cstride = H * W. Per strip, three passes over the C classes (all in L1 for a strip):
 *   1. m = max_c x_c (NEON FMAX: a NaN logit makes m NaN, so the pixel's loss is NaN);
 *   2. v_c = exp(x_c - m), computed once and parked in the gradient buffer; x_c - m is formed
 *      exactly (rounded difference + its error, TwoSum), since its rounding (up to |x_c - m|
 *      * 2^-24 absolute) would become a relative error of v_c of that size; the sum is kept as
 *      s - 1 = sum of the v_c with x_c != m, plus (count of x_c == m) - 1, so log(s) =
 *      log1p(s - 1) keeps its digits when one class dominates (tiny losses);
 *   3. grad_c = g * (p_c * A - B_c) with p_c = v_c / s (scalar/ce.c, kernels.h), and for the
 *      target class p_t - 1 = -(s - 1) / s when x_t == m (no cancellation near p_t = 1).
 * loss = (1 - e) * w_t * ((m - x_t) + log s) + (e / C) * (W * log s - sum_c w_c * (x_c - m)):
 * sums of non-negative terms. Pixels with cls < 0 get loss 0 and grad 0; their logits are
 * blended to 0 right after the load, so they never reach a max, an exp or a sum.
 * Specialised (always-inline, constant flags) for loss map / gradient / label smoothing.
 * Tails (len % 4) run the same strip code with lane-wise copies: nothing past len is touched.
 */
#include <string.h>

#include "neon/kernels_neon.h"
#include "neon/vmath.h"

enum { CE_STRIP = 4 };

/* input: n in 1..4 floats at p; output: a vector, lanes >= n zero */
SL_INLINE float32x4_t ldn(const float *p, int n) {
  if (n == CE_STRIP)
    return vld1q_f32(p);
  float t[CE_STRIP] = {0.0f, 0.0f, 0.0f, 0.0f};
  memcpy(t, p, (size_t)n * sizeof(float));
  return vld1q_f32(t);
}

/* input: v; output: its first n lanes stored at p */
SL_INLINE void stn(float *p, float32x4_t v, int n) {
  if (n == CE_STRIP) {
    vst1q_f32(p, v);
    return;
  }
  float t[CE_STRIP];
  vst1q_f32(t, v);
  memcpy(p, t, (size_t)n * sizeof(float));
}

SL_INLINE float32x4_t sel_or_zero(uint32x4_t sel, float32x4_t v) {
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), sel));
}

/* One strip of n pixels starting at pixel i. */
SL_INLINE void ce_strip(const sl_ce_row *r, int64_t i, int n, float gs, float64x2_t *acc,
                        const int WLOSS, const int GRAD, const int SMOOTH) {
  const int64_t C = r->classes, cs = r->cstride;
  const float *x = r->x + i;
  float *gr = GRAD ? r->grad + i : NULL;
  const float32x4_t zero = vdupq_n_f32(0.0f), one = vdupq_n_f32(1.0f);
  int32_t cl[CE_STRIP] = {-1, -1, -1, -1};
  memcpy(cl, r->cls + i, (size_t)n * sizeof(int32_t));
  int32x4_t clv = vld1q_s32(cl);
  uint32x4_t sel = vcgezq_s32(clv);
  if (vmaxvq_u32(sel) == 0) {
    if (WLOSS)
      stn(r->loss + i, zero, n);
    for (int64_t c = 0; GRAD && c < C; c++)
      stn(gr + c * cs, zero, n);
    return;
  }
  /* pass 1: max */
  float32x4_t m = vdupq_n_f32(-INFINITY);
  for (int64_t c = 0; c < C; c++)
    m = vmaxq_f32(m, sel_or_zero(sel, ldn(x + c * cs, n)));
  /* pass 2: exps (parked in grad), s - 1, x_t - m, v_t, sum_c w_c (x_c - m) */
  float32x4_t ssm = zero, dt = zero, vt = zero, sw = zero;
  int32x4_t cnt = vdupq_n_s32(-1);
  for (int64_t c = 0; c < C; c++) {
    float32x4_t xv = sel_or_zero(sel, ldn(x + c * cs, n));
    float32x4_t dlo, d = sl_v_sub_exact(xv, m, &dlo); /* x_c - m = d + dlo exactly */
    float32x4_t v = sl_v_expf_full(d, dlo, 0);
    if (GRAD)
      stn(gr + c * cs, v, n);
    uint32x4_t eq = vceqzq_f32(d); /* x_c == m; NaN (x_c = m = +inf) stays in the sum */
    ssm = vaddq_f32(ssm, vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(v), eq)));
    cnt = vsubq_s32(cnt, vreinterpretq_s32_u32(eq));
    uint32x4_t ist = vceqq_s32(clv, vdupq_n_s32((int32_t)c));
    dt = vbslq_f32(ist, d, dt);
    vt = vbslq_f32(ist, v, vt);
    if (SMOOTH)
      sw = vfmaq_f32(sw, d, vdupq_n_f32(r->cw ? r->cw[c] : 1.0f));
  }
  float32x4_t s1 = vaddq_f32(ssm, vcvtq_f32_s32(cnt)); /* s - 1 */
  float32x4_t ls = sl_v_log1pf(s1);                    /* log s */
  float32x4_t wt = one;
  if (r->cw) {
    float wv[CE_STRIP];
    for (int k = 0; k < CE_STRIP; k++)
      wv[k] = cl[k] >= 0 ? r->cw[cl[k]] : 0.0f;
    wt = vld1q_f32(wv);
  }
  const float e = r->smoothing, ec = e / (float)C, W = (float)r->cw_sum;
  const float32x4_t ome = vdupq_n_f32(1.0f - e);
  float32x4_t nll = vsubq_f32(ls, dt); /* -logp_t = (m - x_t) + log s */
  float32x4_t loss = vmulq_f32(wt, nll);
  if (SMOOTH) {
    float32x4_t sm = vfmsq_f32(vmulq_f32(vdupq_n_f32(W), ls), sw, one); /* -sum w_c logp_c */
    loss = vfmaq_f32(vmulq_f32(vmulq_f32(ome, wt), nll), vdupq_n_f32(ec), sm);
  }
  loss = sel_or_zero(sel, loss);
  acc[0] = vaddq_f64(acc[0], vcvt_f64_f32(vget_low_f32(loss)));
  acc[1] = vaddq_f64(acc[1], vcvt_f64_f32(vget_high_f32(loss)));
  if (WLOSS)
    stn(r->loss + i, loss, n);
  if (!GRAD)
    return;
  /* pass 3: gradient */
  float32x4_t g = r->gmap ? ldn(r->gmap + i, n) : vdupq_n_f32(gs);
  float32x4_t s = vaddq_f32(s1, one);
  float32x4_t rs = vdivq_f32(one, s);
  float32x4_t pt = vmulq_f32(vt, rs);
  float32x4_t pm1 = vbslq_f32(vceqzq_f32(dt), vnegq_f32(vmulq_f32(s1, rs)), vsubq_f32(pt, one));
  float32x4_t a = wt, gt = vmulq_f32(g, vmulq_f32(wt, pm1));
  if (SMOOTH) {
    a = vfmaq_f32(vmulq_f32(ome, wt), vdupq_n_f32(ec), vdupq_n_f32(W));
    float32x4_t b = vmulq_f32(vdupq_n_f32(ec), vfmsq_f32(wt, vdupq_n_f32(W), pt)); /* ec(wt-Wpt) */
    gt = vmulq_f32(g, vfmsq_f32(vmulq_f32(vmulq_f32(ome, wt), pm1), b, one));
  }
  float32x4_t ga = vdivq_f32(vmulq_f32(g, a), s); /* g * A / s */
  for (int64_t c = 0; c < C; c++) {
    float32x4_t val = vmulq_f32(ldn(gr + c * cs, n), ga);
    if (SMOOTH)
      val = vfmsq_f32(val, g, vdupq_n_f32(ec * (r->cw ? r->cw[c] : 1.0f)));
    val = vbslq_f32(vceqq_s32(clv, vdupq_n_s32((int32_t)c)), gt, val);
    stn(gr + c * cs, sel_or_zero(sel, val), n);
  }
}

SL_INLINE double ce_row(const sl_ce_row *r, const int WLOSS, const int GRAD, const int SMOOTH) {
  float64x2_t acc[2] = {vdupq_n_f64(0.0), vdupq_n_f64(0.0)};
  const float gs = (float)r->gscale;
  int64_t i = 0;
  for (; i + CE_STRIP <= r->len; i += CE_STRIP)
    ce_strip(r, i, CE_STRIP, gs, acc, WLOSS, GRAD, SMOOTH);
  if (i < r->len)
    ce_strip(r, i, (int)(r->len - i), gs, acc, WLOSS, GRAD, SMOOTH);
  float64x2_t a = vaddq_f64(acc[0], acc[1]);
  return vgetq_lane_f64(a, 0) + vgetq_lane_f64(a, 1);
}

/* input:  r->x logits, r->cls (< 0: not counted), r->cw, r->gmap / r->gscale, r->smoothing,
 *         r->cw_sum
 * output: r->loss per pixel, r->grad per logit (when non-NULL); returns the sum over counted
 *         pixels of the loss (formulas in kernels.h and scalar/ce.c) */
double sl_ce__neon_u4(const sl_ce_row *r) {
  const int sm = r->smoothing != 0.0f;
  if (r->grad) {
    if (r->loss)
      return sm ? ce_row(r, 1, 1, 1) : ce_row(r, 1, 1, 0);
    return sm ? ce_row(r, 0, 1, 1) : ce_row(r, 0, 1, 0);
  }
  if (r->loss)
    return sm ? ce_row(r, 1, 0, 1) : ce_row(r, 1, 0, 0);
  return sm ? ce_row(r, 0, 0, 1) : ce_row(r, 0, 0, 0);
}
