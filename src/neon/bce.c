/*
 * neon/bce.c - NEON BCE row microkernels (probabilities and logits), 8 elements per step
 * (two 4-lane vectors), for AArch64 (and x86 through SIMDe in the test build).
 *
 * Shape legend: a row is len consecutive elements of one (n, c, y) row of an N x C x H x W
 * tensor. Same results as src/scalar/bce.c within a few ULP: each element in float with the
 * vector logf / expf of vmath.h, sums accumulated in double (per row, in a fixed order).
 * Specialised (always-inline, constant flags) for: loss map written or not, gradient or not.
 * Tails (len % 8) go through the same code on a zero-padded 8-element stack copy whose padding
 * is unselected, so nothing is read or written past len; pointers may be unaligned.
 */
#include <float.h>
#include <string.h>

#include "neon/kernels_neon.h"
#include "neon/vmath.h"

enum { BCE_STEP = 8 };

/* Below this |x| the logits gradient takes the tanh form (scalar/bce.c). The float e = exp(-|x|)
 * of the other form costs 6e-8 / |x| relative where the terms cancel: 1/4 keeps that within
 * about 4 ULP (the double kernels switch at SL_LOGITS_NEAR0 = 2^-10). */
#define SL_NEON_LOGITS_NEAR0 0.25f

/* One step's inputs and outputs: 8 elements, or the padded tail copy. */
typedef struct bce_io {
  const float *x, *y, *w, *gmap;
  const uint8_t *mask;
  float *loss, *grad;
} bce_io;

/* input: 8 mask bytes (or NULL); output: two lane masks, all ones where selected */
SL_INLINE void load_sel(const uint8_t *mask, uint32x4_t *s0, uint32x4_t *s1) {
  if (!mask) {
    *s0 = *s1 = vdupq_n_u32(0xffffffffu);
    return;
  }
  uint16x8_t m16 = vmovl_u8(vld1_u8(mask));
  uint32x4_t m0 = vmovl_u16(vget_low_u16(m16)), m1 = vmovl_u16(vget_high_u16(m16));
  *s0 = vtstq_u32(m0, m0);
  *s1 = vtstq_u32(m1, m1);
}

SL_INLINE float32x4_t sel_or_zero(uint32x4_t sel, float32x4_t v) {
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), sel));
}

/* Adds the 4 floats of v to the two double lanes of *acc (fixed order). */
SL_INLINE void acc_add(float64x2_t *acc, float32x4_t v) {
  *acc = vaddq_f64(*acc, vcvt_f64_f32(vget_low_f32(v)));
  *acc = vaddq_f64(*acc, vcvt_f64_f32(vget_high_f32(v)));
}

/* g * w * d. When the float product g * w overflows (a huge upstream gradient times a huge
 * weight), the lanes are taken in double: g w d may still be finite, or 0 where d = 0 (the
 * float order would give inf and inf * 0 = NaN; the reference works in double). */
SL_INLINE float32x4_t scaled(float32x4_t g, float32x4_t w, float32x4_t d) {
  float32x4_t gw = vmulq_f32(g, w);
  if (vmaxvq_f32(vabsq_f32(gw)) <= FLT_MAX)
    return vmulq_f32(gw, d);
  float64x2_t lo =
      vmulq_f64(vmulq_f64(vcvt_f64_f32(vget_low_f32(g)), vcvt_f64_f32(vget_low_f32(w))),
                vcvt_f64_f32(vget_low_f32(d)));
  float64x2_t hi =
      vmulq_f64(vmulq_f64(vcvt_f64_f32(vget_high_f32(g)), vcvt_f64_f32(vget_high_f32(w))),
                vcvt_f64_f32(vget_high_f32(d)));
  return vcombine_f32(vcvt_f32_f64(lo), vcvt_f32_f64(hi));
}

/* ---- probabilities ------------------------------------------------------------------------ */

/* input:  p, t, w (4 lanes), sel, g
 * output: *loss = w * l (0 where unselected), *grad = d loss / d p (0 where unselected);
 *         *bad |= selected lanes with p or t outside [0, 1] or NaN */
SL_INLINE void bce_prob4(float32x4_t p, float32x4_t t, float32x4_t w, float32x4_t g, uint32x4_t sel,
                         const int GRAD, float32x4_t *loss, float32x4_t *grad, uint32x4_t *bad) {
  const float32x4_t zero = vdupq_n_f32(0.0f), one = vdupq_n_f32(1.0f);
  uint32x4_t ok = vandq_u32(vandq_u32(vcgeq_f32(p, zero), vcleq_f32(p, one)),
                            vandq_u32(vcgeq_f32(t, zero), vcleq_f32(t, one)));
  *bad = vorrq_u32(*bad, vbicq_u32(sel, ok));
  float32x4_t q = vsubq_f32(one, p); /* rounded to float, as PyTorch does */
  float32x4_t lp = vmaxq_f32(sl_v_logf(p), vdupq_n_f32(-100.0f));
  float32x4_t lq = vmaxq_f32(sl_v_logf(q), vdupq_n_f32(-100.0f));
  /* -(t * lp + (1 - t) * lq): both products <= 0, no cancellation */
  float32x4_t l = vfmaq_f32(vmulq_f32(t, lp), vsubq_f32(one, t), lq);
  *loss = sel_or_zero(sel, vmulq_f32(vnegq_f32(l), w));
  if (GRAD) {
    float32x4_t den = vmaxq_f32(vmulq_f32(p, q), vdupq_n_f32(1e-12f));
    float32x4_t d = vdivq_f32(vsubq_f32(p, t), den);
    *grad = sel_or_zero(sel, scaled(g, w, d));
  }
}

/* A step's two selections, weights and upstream gradients (w = 1 and g = gscale when absent). */
SL_INLINE void step_in(const bce_io *io, float gscale, const int GRAD, uint32x4_t s[2],
                       float32x4_t w[2], float32x4_t g[2]) {
  load_sel(io->mask, &s[0], &s[1]);
  for (int h = 0; h < 2; h++) {
    w[h] = io->w ? vld1q_f32(io->w + 4 * h) : vdupq_n_f32(1.0f);
    g[h] = GRAD && io->gmap ? vld1q_f32(io->gmap + 4 * h) : vdupq_n_f32(gscale);
  }
}

/* A step's results: losses into the sums, then the loss map and gradient stores. */
SL_INLINE void step_out(const bce_io *io, const float32x4_t l[2], const float32x4_t d[2],
                        const int WLOSS, const int GRAD, float64x2_t *acc) {
  for (int h = 0; h < 2; h++) {
    acc_add(&acc[h], l[h]);
    if (WLOSS)
      vst1q_f32(io->loss + 4 * h, l[h]);
    if (GRAD)
      vst1q_f32(io->grad + 4 * h, d[h]);
  }
}

SL_INLINE void bce_prob_step(const bce_io *io, float gscale, const int WLOSS, const int GRAD,
                             float64x2_t *acc, uint32x4_t *bad) {
  uint32x4_t s[2];
  float32x4_t w[2], g[2], l[2], d[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
  step_in(io, gscale, GRAD, s, w, g);
  for (int h = 0; h < 2; h++)
    bce_prob4(vld1q_f32(io->x + 4 * h), vld1q_f32(io->y + 4 * h), w[h], g[h], s[h], GRAD, &l[h],
              &d[h], bad);
  step_out(io, l, d, WLOSS, GRAD, acc);
}

/* ---- logits ------------------------------------------------------------------------------- */

/* input:  x, t, w (4 lanes), sel, g, pw (pos_weight)
 * output: *loss = w * l, *grad = d loss / d x, 0 where unselected, with (scalar/bce.c)
 *         l = lw * log1p(exp(-|x|)) + (1 - t) * max(x, 0) + pw * t * max(-x, 0),
 *         lw = pw * t + (1 - t)  (sums of non-negative terms: no cancellation),
 *         dl/dx = (1 - t) * sigmoid(x) - pw * t * sigmoid(-x); NaN loss at x = -inf;
 *         near x = 0 (|x| < SL_NEON_LOGITS_NEAR0) in the scalar kernel's tanh form.
 * Near the zero crossing of dl/dx (non-binary t) the two terms cancel: there the error is a
 * few ULP of the terms, not of their difference, as for any float evaluation. */
SL_INLINE void bce_logits4(float32x4_t x, float32x4_t t, float32x4_t w, float32x4_t g,
                           float32x4_t pw, uint32x4_t sel, const int GRAD, float32x4_t *loss,
                           float32x4_t *grad) {
  const float32x4_t zero = vdupq_n_f32(0.0f), one = vdupq_n_f32(1.0f);
  float32x4_t es = sl_v_expf_scaled(vnegq_f32(vabsq_f32(x)), 64); /* exp(-|x|) * 2^64 */
  float32x4_t e = vmulq_f32(es, vdupq_n_f32(0x1p-64f));           /* exp(-|x|) in [0, 1] */
  float32x4_t omt = vsubq_f32(one, t), pwt = vmulq_f32(pw, t);
  float32x4_t lw = vfmaq_f32(omt, pw, t);
  float32x4_t rx = vfmaq_f32(vmulq_f32(pwt, vmaxq_f32(vnegq_f32(x), zero)), omt,
                             vmaxq_f32(x, zero)); /* (1 - t) max(x, 0) + pw t max(-x, 0) */
  float32x4_t l = vmulq_f32(vfmaq_f32(rx, lw, sl_v_log1pf_01(e)), w);
  float32x4_t gw = GRAD ? vmulq_f32(g, w) : zero, d = zero;
  if (GRAD) {
    /* x >= 0: ((1 - t) - pw * t * e) / (1 + e);  x < 0: ((1 - t) * e - pw * t) / (1 + e),
     * e = exp(-|x|): one fma and one division, the fewest roundings near the zero crossing */
    uint32x4_t pos = vcgeq_f32(x, zero);
    float32x4_t num = vbslq_f32(pos, vfmsq_f32(omt, pwt, e), vfmaq_f32(vnegq_f32(pwt), omt, e));
    float32x4_t dx = vdivq_f32(num, vaddq_f32(one, e));
    /* |x| < 1/4: ((a - b) + (a + b) sign(x) tanh(|x| / 2)) / 2 (scalar/bce.c):
     * the form above would return a - b for a tiny x (e rounds to 1) */
    uint32x4_t near = vcltq_f32(vabsq_f32(x), vdupq_n_f32(SL_NEON_LOGITS_NEAR0));
    if (vmaxvq_u32(near)) {
      float32x4_t th = vdivq_f32(vnegq_f32(sl_v_expm1f_small(vnegq_f32(vabsq_f32(x)))),
                                 vaddq_f32(one, e));   /* tanh(|x| / 2) */
      th = vbslq_f32(vdupq_n_u32(0x80000000u), x, th); /* with the sign of x */
      float32x4_t dn = vfmaq_f32(vfmsq_f32(omt, pw, t), lw, th);
      dx = vbslq_f32(near, vmulq_f32(vdupq_n_f32(0.5f), dn), dx);
    }
    d = scaled(g, w, dx);
  }
  /* |x| > 40: e < 2^-57, log1p(e) = e and 1 + e = 1 in float. e may be subnormal (|x| > 87):
   * the tiny terms are formed from es (normal) and scaled by 2^-64 last, one rounding. */
  uint32x4_t big = vcagtq_f32(x, vdupq_n_f32(40.0f));
  if (vmaxvq_u32(big)) {
    const float32x4_t s64 = vdupq_n_f32(0x1p-64f);
    float32x4_t lt = vfmaq_f32(vmulq_f32(vmulq_f32(vmulq_f32(lw, w), es), s64), rx, w);
    l = vbslq_f32(big, lt, l);
    if (GRAD) {
      uint32x4_t pos = vcgeq_f32(x, zero);
      float32x4_t a = vbslq_f32(pos, omt, pwt), b = vbslq_f32(pos, pwt, omt);
      /* x >= 0: gw (1 - t) - gw pw t e;  x < 0: gw (1 - t) e - gw pw t */
      float32x4_t tiny = vmulq_f32(vmulq_f32(vmulq_f32(gw, b), es), s64);
      float32x4_t dt =
          vbslq_f32(pos, vsubq_f32(vmulq_f32(gw, a), tiny), vsubq_f32(tiny, vmulq_f32(gw, a)));
      d = vbslq_f32(big, dt, d);
    }
  }
  l = vbslq_f32(vceqq_f32(x, vdupq_n_f32(-INFINITY)), vdupq_n_f32(NAN), l);
  *loss = sel_or_zero(sel, l);
  if (GRAD)
    *grad = sel_or_zero(sel, d);
}

SL_INLINE void bce_logits_step(const bce_io *io, float gscale, float pwf, const int WLOSS,
                               const int GRAD, float64x2_t *acc) {
  uint32x4_t s[2];
  float32x4_t w[2], g[2], l[2], d[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
  step_in(io, gscale, GRAD, s, w, g);
  for (int h = 0; h < 2; h++)
    bce_logits4(vld1q_f32(io->x + 4 * h), vld1q_f32(io->y + 4 * h), w[h], g[h], vdupq_n_f32(pwf),
                s[h], GRAD, &l[h], &d[h]);
  step_out(io, l, d, WLOSS, GRAD, acc);
}

/* ---- row loops ---------------------------------------------------------------------------- */

/* The tail: copies the last n < 8 elements into padded stack buffers (padding: mask 0, values
 * 0.5 so nothing special is computed), runs one step there, copies n results back. */
typedef struct bce_tail {
  float x[BCE_STEP], y[BCE_STEP], w[BCE_STEP], gmap[BCE_STEP], loss[BCE_STEP], grad[BCE_STEP];
  uint8_t mask[BCE_STEP];
} bce_tail;

SL_INLINE bce_io tail_in(bce_tail *tb, const sl_bce_row *r, int64_t i, int64_t n) {
  size_t nb = (size_t)n * sizeof(float);
  for (int k = 0; k < BCE_STEP; k++) {
    tb->x[k] = tb->y[k] = 0.5f;
    tb->w[k] = tb->gmap[k] = 1.0f;
    tb->mask[k] = k < n ? 1 : 0;
  }
  memcpy(tb->x, r->x + i, nb);
  memcpy(tb->y, r->y + i, nb);
  if (r->w)
    memcpy(tb->w, r->w + i, nb);
  if (r->gmap)
    memcpy(tb->gmap, r->gmap + i, nb);
  if (r->mask)
    memcpy(tb->mask, r->mask + i, (size_t)n);
  bce_io io = {tb->x,    tb->y,   r->w ? tb->w : NULL, r->gmap ? tb->gmap : NULL, tb->mask,
               tb->loss, tb->grad};
  return io;
}

SL_INLINE void tail_out(const bce_tail *tb, const sl_bce_row *r, int64_t i, int64_t n) {
  if (r->loss)
    memcpy(r->loss + i, tb->loss, (size_t)n * sizeof(float));
  if (r->grad)
    memcpy(r->grad + i, tb->grad, (size_t)n * sizeof(float));
}

SL_INLINE bce_io step_io(const sl_bce_row *r, int64_t i) {
  bce_io io = {r->x + i,
               r->y + i,
               r->w ? r->w + i : NULL,
               r->gmap ? r->gmap + i : NULL,
               r->mask ? r->mask + i : NULL,
               r->loss ? r->loss + i : NULL,
               r->grad ? r->grad + i : NULL};
  return io;
}

SL_INLINE double acc_sum(const float64x2_t *acc) {
  float64x2_t a = vaddq_f64(acc[0], acc[1]);
  return vgetq_lane_f64(a, 0) + vgetq_lane_f64(a, 1);
}

SL_INLINE double bce_prob_row(const sl_bce_row *r, int *domain_error, const int WLOSS,
                              const int GRAD) {
  float64x2_t acc[2] = {vdupq_n_f64(0.0), vdupq_n_f64(0.0)};
  uint32x4_t bad = vdupq_n_u32(0);
  const float gs = (float)r->gscale;
  int64_t i = 0;
  for (; i + BCE_STEP <= r->len; i += BCE_STEP) {
    bce_io io = step_io(r, i);
    bce_prob_step(&io, gs, WLOSS, GRAD, acc, &bad);
  }
  if (i < r->len) {
    bce_tail tb;
    bce_io io = tail_in(&tb, r, i, r->len - i);
    bce_prob_step(&io, gs, WLOSS, GRAD, acc, &bad);
    tail_out(&tb, r, i, r->len - i);
  }
  if (vmaxvq_u32(bad))
    *domain_error = 1;
  return acc_sum(acc);
}

SL_INLINE double bce_logits_row(const sl_bce_row *r, const int WLOSS, const int GRAD) {
  float64x2_t acc[2] = {vdupq_n_f64(0.0), vdupq_n_f64(0.0)};
  const float gs = (float)r->gscale;
  int64_t i = 0;
  for (; i + BCE_STEP <= r->len; i += BCE_STEP) {
    bce_io io = step_io(r, i);
    bce_logits_step(&io, gs, r->pos_weight, WLOSS, GRAD, acc);
  }
  if (i < r->len) {
    bce_tail tb;
    bce_io io = tail_in(&tb, r, i, r->len - i);
    bce_logits_step(&io, gs, r->pos_weight, WLOSS, GRAD, acc);
    tail_out(&tb, r, i, r->len - i);
  }
  return acc_sum(acc);
}

/* input:  r->x probabilities, r->y targets, r->w, r->mask, r->gmap / r->gscale
 * output: r->loss, r->grad (when non-NULL), *domain_error = 1 if a selected x or y is outside
 *         [0, 1] or NaN; returns sum over selected of w * l (formulas in scalar/bce.c) */
double sl_bce_prob__neon_u8(const sl_bce_row *r, int *domain_error) {
  if (r->grad)
    return r->loss ? bce_prob_row(r, domain_error, 1, 1) : bce_prob_row(r, domain_error, 0, 1);
  return r->loss ? bce_prob_row(r, domain_error, 1, 0) : bce_prob_row(r, domain_error, 0, 0);
}

/* input:  r->x logits, r->y targets, r->w, r->mask, r->gmap / r->gscale, r->pos_weight
 * output: r->loss, r->grad (when non-NULL); returns sum over selected of w * l */
double sl_bce_logits__neon_u8(const sl_bce_row *r, int *domain_error) {
  (void)domain_error;
  if (r->grad)
    return r->loss ? bce_logits_row(r, 1, 1) : bce_logits_row(r, 0, 1);
  return r->loss ? bce_logits_row(r, 1, 0) : bce_logits_row(r, 0, 0);
}
