// SPDX-License-Identifier: MIT
/*
 * generic/bce.h - the BCE row microkernels (probabilities and logits), written once against the
 * vector layer and compiled once per ISA: src/<isa>/kernels.c includes <isa>/vec.h, then this
 * file, which defines sl_bce_prob__<isa> and sl_bce_logits__<isa> (contract: src/kernels.h).
 *
 * Shape legend: a row is len consecutive elements of one (n, c, y) row of an N x C x H x W
 * tensor; blocks of SL_W lanes, two blocks per step, masked loads and stores for the tail.
 *
 * Float arithmetic for every ordinary lane; the lanes the float formulas cannot give within
 * the accuracy contract (docs/accuracy.md) are "hard" and recomputed one element
 * at a time by the scalar reference kernel (sl_*__scalar on a one-element sub-row), so they
 * get exactly the reference's value: a non-finite or subnormal product g*w of upstream
 * gradient and weight, a non-finite logit, targets or pos_weight * target beyond 2^60, and
 * (logits) |x| > 87, where exp(-|x|) is subnormal (the loss and gradient terms built on it would
 * keep only a few digits), a loss that lost digits to underflow or overflowed (bce_lost_s,
 * bce_lost_w), a non-finite float gradient (bce_nonfinite) and (logits) a gradient factor d
 * below FLT_MIN before g w scales it. Hard lanes are rare in real data (a logit beyond 87 is
 * saturated); they cost a double-precision element each.
 *   probabilities: lp = max(log p, -100), lq = max(log(1 - p), -100) (1 - p rounded to float,
 *     as PyTorch), l = -w (t lp + (1 - t) lq) (one log when every target of the block is 0 or
 *     1: then l = -w max(log(t ? p : 1 - p), -100) exactly); gradient g w ((p - t) /
 *     max(p (1 - p), 1e-12)), the quotient first, so it is normal or 0 before it is scaled.
 *     A selected p or t outside [0, 1] or NaN sets *domain_error (those lanes' outputs are
 *     unspecified, as the API says). A loss below 2^-120 (a tiny t beside a tiny p) is not a
 *     hard lane: it is recomputed with t and 1 - t scaled by 2^64 (bce_tiny_s), unless its
 *     weighted value is still not a normal float.
 *   logits: e = exp(-|x|), a = 1 - t, b = pw t, lw = a + b = 1 + (pw - 1) t (bce_pwc),
 *     l = w (lw log1p(e) + (x >= 0 ? a : b) |x|); gradient g w (a sigmoid(x) - b sigmoid(-x))
 *     = g w (a - b e) / (1 + e) for x >= 0, g w (a e - b) / (1 + e) for x < 0; for
 *     |x| < 1/4 (SL_LOGITS_NEAR0_F) the tanh form g w ((a - b) + lw tanh(x / 2)) / 2 with an
 *     odd polynomial for 2 tanh(x / 2), evaluated as (g w lw / 4) (2 tanh(x / 2)) +
 *     g w (a - b) / 2 so that a subnormal x is scaled once (the float e of the other form
 *     costs 6e-8 / |x| relative where the terms cancel: 1/4 keeps that within 4 ULP).
 * Errors (measured by make test-kernels-strict): within 4 ULP of the reference per element,
 * the ULP of the larger of the result and its terms; sums in double lanes.
 * The gradient is a compile-time variant of the loop (bce_dispatch); the loss map, weights,
 * grad_map and mask are run-time tests.
 */
#ifndef SL_GENERIC_BCE_H
#define SL_GENERIC_BCE_H

#include <float.h>
#include <math.h>

#include "generic/common.h"

#define SL_LOGITS_NEAR0_F 0.25f /* float kernels' tanh-form switch (double: SL_LOGITS_NEAR0) */

enum { BF_LOSS = 1, BF_GRAD = 2, BF_W = 4, BF_GMAP = 8, BF_MASK = 16 };

/* n lanes at p (all W when !tail) */
#define LDN(p)       (tail ? v_loadn((p), n) : v_load(p))
#define LDT(p, i, t) (tail ? v_loadn_t((p), (i), n, (t)) : v_load_t((p), (i), (t)))
#define STN(p, v)    (tail ? v_storen((p), (v), n) : v_store((p), (v)))

/* The three element-wise losses of this file. */
enum { SL_BCE_MODE_PROB = 0, SL_BCE_MODE_LOGITS = 1, SL_BCE_MODE_FOCAL = 2 };

/* The reference's value of element i (loss and gradient stored, weighted loss returned). */
static double bce_reference(const sl_bce_row *r, int64_t i, int mode) {
  sl_bce_row s = *r;
  s.x = sl_elem_at(s.x, i, s.xt);
  s.y = sl_elem_at(s.y, i, s.yt);
  s.w = s.w ? sl_elem_at(s.w, i, s.wt) : NULL;
  s.mask = NULL;
  s.gmap = s.gmap ? s.gmap + i : NULL;
  s.loss = s.loss ? s.loss + i : NULL;
  s.grad = s.grad ? sl_elem_at_w(s.grad, i, s.gt) : NULL;
  s.len = 1;
  int unused = 0;
  return mode == SL_BCE_MODE_FOCAL    ? sl_sigmoid_focal__scalar(&s, &unused)
         : mode == SL_BCE_MODE_LOGITS ? sl_bce_logits__scalar(&s, &unused)
                                      : sl_bce_prob__scalar(&s, &unused);
}

/* g w, the upstream gradient times the weight, and in *hard the lanes where that float product
 * is not a normal float although neither factor is 0 (subnormal, or underflowed to 0: the
 * gradient would lose its digits; or inf / NaN: inf * 0 would appear). (A constant upstream
 * gradient without weights is checked once per row, in bce_dispatch.) */
SL_V vf bce_gw(const sl_bce_row *r, int64_t i, int64_t n, const int tail, const int fl, vf w,
               vm *hard) {
  vf g = (fl & BF_GMAP) ? LDN(r->gmap + i) : v_set1((float)r->gscale);
  vf gw = (fl & BF_W) ? v_mul(g, w) : g;
  if (fl & (BF_W | BF_GMAP)) {
    vf a = v_abs(gw), zero = v_zero();
    vm lost = m_and(v_lt(a, v_set1(FLT_MIN)), v_gt(v_abs(g), zero));
    if (fl & BF_W)
      lost = m_and(lost, v_gt(v_abs(w), zero));
    *hard = m_or(*hard, m_or(v_nle(a, v_set1(FLT_MAX)), lost));
  }
  return gw;
}

/* Lanes whose float loss lost digits to underflow or overflowed (fuzz findings), the
 * reference's lanes. bce_lost_s: the unweighted loss s beyond FLT_MAX, or below 2^-120
 * (SL_BCE_TINY), where a product inside it that underflowed (absolute error up to 2^-150) is
 * no longer negligible and a weight could scale it up, unless s is an exact 0.
 * s = lw L + c |x| with L > 0 (logits: lw = 1 + (pw - 1) t, L = log1p(e), c = a or b) is an exact 0
 * where lw = 0 and c |x| = 0 without underflow (logits only: probabilities use bce_tiny_s).
 * bce_lost_w: the weighted loss ws = w s not a normal float (subnormal, underflowed to 0, or
 * overflowed) although w and s are not 0: the double sums would take the float's lost digits.
 * One or two compares per block unless a lane is that small or that large. */
#define SL_BCE_TINY 0x1p-120f
SL_V vm bce_lost_s(vf s, vf lw, vf c, vf ax) {
  const vf zero = v_zero();
  vf as = v_abs(s);
  vm small = v_lt(as, v_set1(SL_BCE_TINY)), big = v_nle(as, v_set1(FLT_MAX));
  if (!m_any(m_or(small, big)))
    return big;
  vm zero0 = m_and(v_eq(lw, zero), m_or(v_eq(c, zero), v_eq(ax, zero)));
  return m_or(big, m_andnot(small, m_andnot(zero0, v_gt(as, zero)))); /* not the exact 0s */
}
SL_V vm bce_lost_w(vf s, vf ws, vf w) {
  const vf zero = v_zero();
  vf a = v_abs(ws);
  vm odd = m_or(v_lt(a, v_set1(FLT_MIN)), v_nle(a, v_set1(FLT_MAX)));
  if (!m_any(odd))
    return odd;
  return m_and(odd, m_and(v_gt(v_abs(s), zero), v_gt(v_abs(w), zero)));
}
/* Lanes of a probability loss s below 2^-120 but not 0 (bce_prob_block recomputes them
 * scaled by 2^64). */
SL_V vm bce_tiny_s(vf s) {
  vf as = v_abs(s);
  return m_and(v_lt(as, v_set1(SL_BCE_TINY)), v_gt(as, v_zero()));
}
/* A float gradient that is inf or NaN (an overflowing product, or two of them cancelling as
 * inf - inf: a fuzz finding) is the reference's lane: it decides the infinity or the NaN. */
SL_V vm bce_nonfinite(vf g) {
  return v_nle(v_abs(g), v_set1(FLT_MAX));
}

/* input: n lanes at i, selected lanes sel; output: loss / grad stores, *acc += selected losses
 * of the lanes that are not hard, *bad |= domain-error lanes; returns the hard lanes */
SL_V vm bce_prob_block(const sl_bce_row *r, int64_t i, int64_t n, vm sel, const int tail,
                       const int fl, vd *acc, vm *bad) {
  const vf one = v_set1(1.0f), zero = v_zero(), floor = v_set1(-100.0f);
  vf p = LDT(r->x, i, r->xt), t = LDT(r->y, i, r->yt);
  vm ok = m_and(m_and(v_ge(p, zero), v_le(p, one)), m_and(v_ge(t, zero), v_le(t, one)));
  *bad = m_or(*bad, m_andnot(sel, ok));
  vf q = v_sub(one, p);
  vf w = (fl & BF_W) ? LDT(r->w, i, r->wt) : one;
  vm tb = m_or(v_eq(t, zero), v_eq(t, one));
  vf s, s2 = zero, ws2 = zero;
  vm hard = m_none(), tiny = m_none();
  if (!m_any(m_andnot(m_and(sel, ok), tb))) { /* every target 0 or 1: one log, no product */
    s = v_max(v_log(v_sel(v_eq(t, one), p, q)), floor);
  } else {
    vf u = v_sub(one, t), lp = v_max(v_log(p), floor), lq = v_max(v_log(q), floor);
    s = v_fma(t, lp, v_mul(u, lq));
    /* s below 2^-120 (a tiny t beside a tiny p): its products may have underflowed, so those
     * lanes take s2 = 2^64 s from t and 1 - t scaled by 2^64 (exact): in the domain each
     * product is then 0 or normal (|t 2^64| >= 2^-85, |lp|, |lq| >= 2^-25 or 0), and their
     * w s2 is summed in double, scaled back exactly (bce_tiny_s) */
    tiny = m_and(m_and(sel, ok), bce_tiny_s(s));
    if (m_any(tiny)) {
      const vf big = v_set1(0x1p64f);
      s2 = v_fma(v_mul(t, big), lp, v_mul(v_mul(u, big), lq));
      ws2 = (fl & BF_W) ? v_mul(w, s2) : s2;
      s = v_sel(tiny, v_mul(s2, v_set1(0x1p-64f)), s);
    }
  }
  vf ws = s;
  if (fl & BF_W) {
    ws = v_sel(tiny, v_mul(ws2, v_set1(0x1p-64f)), v_mul(w, s));
    /* scaled lanes: w s2 not a normal float (a fuzz finding: w s2 = 0 from w = 1e-38) is the
     * reference's lane, as w s is for the others */
    hard = m_or(m_andnot(bce_lost_w(s, ws, w), tiny), m_and(tiny, bce_lost_w(s2, ws2, w)));
  }
  vf l = v_keep(sel, v_neg(ws));
  hard = m_and(m_and(sel, ok), hard);
  if (fl & BF_GRAD) {
    vf gw = bce_gw(r, i, n, tail, fl, w, &hard);
    /* max(p, 2^-64) changes no result (p q < 1e-12 either way) and keeps a subnormal p out
     * of the multiplier (a microcode assist on x86) */
    vf den = v_max(v_mul(v_max(p, v_set1(0x1p-64f)), q), v_set1(1e-12f));
    vf gr = v_mul(gw, v_div(v_sub(p, t), den));
    hard = m_and(m_and(sel, ok), m_or(hard, bce_nonfinite(gr)));
    sl_store_out(r->stream, r->grad, i, r->gt, v_keep(sel, gr), n, tail, hard);
  }
  if (fl & BF_LOSS)
    sl_store_out(r->stream, r->loss, i, SL_DTYPE_F32, l, n, tail, hard);
  *acc = d_add(*acc, d_from(v_keep(m_andnot(m_andnot(sel, tiny), hard), l)));
  if (m_any(tiny))
    *acc = d_add(*acc, d_mul(d_from(v_keep(m_andnot(tiny, hard), v_neg(ws2))), d_set1(0x1p-64)));
  return hard;
}

/* The row's pos_weight constants (logits): pw, and pw - 1 = pm + em, 1 + pw = up + eu exactly
 * (TwoSum), so that lw = 1 + (pw - 1) t and a - b = 1 - (1 + pw) t lose neither a tiny pw
 * (t = 1, pw = 1e-29: lw = pw, a - b = -pw) nor the 1 beside a large t (pw = 1, t = 2.8e8:
 * lw = 1, where (1 - t) + pw t rounds to 0; a fuzz finding). */
typedef struct bce_pwc {
  vf pw, pm, em, up, eu;
  int noalpha;         /* sigmoid focal: alpha < 0, alpha_t = 1 */
  double alpha, gamma; /* sigmoid focal */
} bce_pwc;
SL_V bce_pwc bce_pw_consts(const sl_bce_row *r, const int mode) {
  const float pw = mode == SL_BCE_MODE_LOGITS ? r->pos_weight : 1.0f;
  const float pm = pw - 1.0f, bm = pm - pw, em = (pw - (pm - bm)) + (-1.0f - bm);
  const float up = 1.0f + pw, bu = up - 1.0f, eu = (1.0f - (up - bu)) + (pw - bu);
  bce_pwc k = {v_set1(pw),
               v_set1(pm),
               v_set1(em),
               v_set1(up),
               v_set1(eu),
               !(r->focal_alpha >= 0.0f),
               (double)r->focal_alpha,
               (double)r->focal_gamma};
  return k;
}

/* BCE with logits (mode SL_BCE_MODE_LOGITS) and the sigmoid focal loss (SL_BCE_MODE_FOCAL) on
 * n lanes at i. The focal loss is the BCE loss s and its derivative d (pos_weight 1) times its
 * factor: with inv = 1 / (1 + e) (float), m = 1 - p_t = (u + v e) inv, u = 1 - t and v = t for
 * x >= 0 (sigmoid(x) = inv, sigmoid(-x) = e inv), swapped for x < 0 (no cancellation for t in
 * [0, 1]: both terms >= 0); then in double lanes m^gamma and m^(gamma-1) (focal_pow),
 * l = alpha_t m^gamma (w s), alpha_t = alpha t + (1 - alpha)(1 - t) (float, terms >= 0), and
 * dl/dx = alpha_t (gamma m^(gamma-1) sp sn (1 - 2t) s + m^gamma d), sp sn = e inv^2.
 * Its extra hard lanes: a target outside [0, 1] or NaN (m may cancel or be negative there), d
 * below FLT_MIN also near x = 0 (its polynomial form is not rescaled here), and a float loss
 * beyond FLT_MAX. */
SL_V vm bce_logits_block(const sl_bce_row *r, int64_t i, int64_t n, vm sel, const int tail,
                         const int fl, const bce_pwc *k, const int mode, vd *acc) {
  const vf one = v_set1(1.0f), zero = v_zero(), pw = k->pw;
  const int focal = mode == SL_BCE_MODE_FOCAL;
  vf x = LDT(r->x, i, r->xt), t = LDT(r->y, i, r->yt);
  vf w = (fl & BF_W) ? LDT(r->w, i, r->wt) : one;
  vf ax = v_abs(x);
  vm deep = v_gt(ax, v_set1(87.0f)); /* exp(-|x|) subnormal: the reference's lanes */
  int anydeep = m_any(deep);
  vf e = v_exp_nabs(ax, anydeep); /* exp(-|x|) */
  vf a = v_sub(one, t), b = v_mul(pw, t), lw = v_fma(t, k->em, v_fma(t, k->pm, one));
  vm pos = v_ge(x, zero);
  vf c = v_sel(pos, a, b);
  vf s = v_fma(lw, v_log1p01(e), v_mul(c, ax));
  vm lost = bce_lost_s(s, lw, c, ax);
  vf ws = s;
  if (fl & BF_W) {
    ws = v_mul(w, s);
    lost = m_or(lost, bce_lost_w(s, ws, w));
  }
  vf l = v_keep(sel, ws);
  /* non-finite x (-inf: PyTorch's NaN loss); targets or pw * t so large that the float terms
   * could overflow */
  vm hard = m_or(v_nle(ax, v_set1(FLT_MAX)), v_nle(v_max(v_abs(t), v_abs(b)), v_set1(0x1p60f)));
  hard = m_or(hard, m_or(deep, lost));
  vf inv = one;
  vd mg = d_zero(), mm1 = d_zero(), L = d_zero(), E = d_zero(), IN = d_zero(), AT = d_zero();
  if (focal) {
    hard = m_or(hard, m_or(v_nge(t, zero), v_nle(t, one)));
    /* inv = 1 / (1 + e) in float, then one Newton step in double (IN: 1 / (1 + E) to about
     * 2^-46), cheaper than a double division; m = (u + v e) IN in double: its only error is
     * e's */
    inv = v_div(one, v_add(one, e));
    E = d_from(e);
    vd iv = d_from(inv);
    IN = d_mul(iv, d_sub(d_set1(2.0), d_mul(d_add(d_set1(1.0), E), iv)));
    vd T = d_from(t), U1 = d_sub(d_set1(1.0), T);
    vd M = d_mul(d_fma(d_sel(pos, T, U1), E, d_sel(pos, U1, T)), IN);
    focal_pow(M, k->gamma, &mm1, &mg, &hard);
    AT = k->noalpha ? d_set1(1.0) : d_fma(d_set1(k->alpha), T, d_mul(d_set1(1.0 - k->alpha), U1));
    L = d_mul(d_mul(mg, AT), (fl & BF_W) ? d_mul(d_from(w), d_from(s)) : d_from(s));
    l = v_keep(sel, d_to_f(L));
    hard = m_or(hard, bce_nonfinite(l));
  }
  if (fl & BF_GRAD) {
    vf gw = bce_gw(r, i, n, tail, fl, w, &hard);
    /* x >= 0: (a - b e) / (1 + e), x < 0: (a e - b) / (1 + e): one fma and one division,
     * the fewest roundings where the terms cancel. A d below FLT_MIN (subnormal, or
     * underflowed to 0) would lose its digits before g w scales it: the reference's lane. */
    vf num = v_sel(pos, v_fnma(b, e, a), v_fms(a, e, b));
    vf d = focal ? v_mul(num, inv) : v_div(num, v_add(one, e));
    vf gr = v_mul(gw, d);
    vm dlost = v_lt(v_abs(d), v_set1(FLT_MIN));
    vm near = v_lt(ax, v_set1(SL_LOGITS_NEAR0_F));
    if (m_any(near)) {
      /* (g w / 2) ((a - b) + lw tanh(x / 2)), a - b = 1 - (1 + pw) t (bce_pwc: 1 for
       * pw = -1, -pw for t = 1); 2 tanh(x / 2) = x - x^3/12 + x^5/120 - 17 x^7/20160 +
       * 31 x^9/362880 (|x| < 1/4: truncation below 1e-11 relative) */
      vf u = v_mul(x, x);
      vf p = v_fma(u, v_set1(31.0f / 362880.0f), v_set1(-17.0f / 20160.0f));
      p = v_fma(p, u, v_set1(1.0f / 120.0f));
      p = v_fma(p, u, v_set1(-1.0f / 12.0f));
      vf xc = v_fma(v_mul(p, u), x, x);
      vf amb = v_fnma(k->eu, t, v_fnma(k->up, t, one));
      if (focal) {
        d = v_sel(near, v_fma(v_mul(lw, v_set1(0.25f)), xc, v_mul(amb, v_set1(0.5f))), d);
        dlost = v_lt(v_abs(d), v_set1(FLT_MIN));
      } else {
        vf gl = v_mul(v_mul(gw, lw), v_set1(0.25f));
        vf ga = v_mul(v_mul(gw, amb), v_set1(0.5f));
        gr = v_sel(near, v_fma(gl, xc, ga), gr);
        dlost = m_andnot(dlost, near);
      }
    }
    if (focal) {
      /* alpha_t (gamma m^(gamma-1) sp sn (1 - 2t) s + m^gamma d), times g w, in double (e^2 s
       * underflows float at x = 60, t = 1, where its term is half of the result) */
      vd sps = d_mul(d_mul(E, IN), IN);
      vd f1 = d_mul(d_mul(sps, d_from(v_fnma(v_set1(2.0f), t, one))), d_from(s));
      vd dg = d_fma(mg, d_from(d), d_mul(d_mul(d_set1(k->gamma), mm1), f1));
      gr = d_to_f(d_mul(d_mul(dg, AT), d_from(gw)));
    }
    hard = m_or(hard, m_or(dlost, bce_nonfinite(gr)));
    sl_store_out(r->stream, r->grad, i, r->gt, v_keep(sel, gr), n, tail, hard);
  }
  hard = m_and(sel, hard);
  if (fl & BF_LOSS)
    sl_store_out(r->stream, r->loss, i, SL_DTYPE_F32, l, n, tail, hard);
  if (focal)
    *acc = d_add(*acc, d_sel(m_andnot(sel, hard), L, d_zero()));
  else
    *acc = d_add(*acc, d_from(v_keep(m_andnot(sel, hard), l)));
  return hard;
}

/* One block of n lanes at i: selection, the zeros of a block without any selected lane, the
 * kernel block, then the reference for its hard lanes (their losses returned). */
SL_V double bce_step(const sl_bce_row *r, int64_t i, int64_t n, const int tail, const int fl,
                     const int mode, const bce_pwc *k, vd *acc, vm *bad) {
  vm sel = tail ? m_first(n) : m_all();
  if (fl & BF_MASK) {
    sel = m_and(sel, tail ? m_bytesn(r->mask + i, n) : m_bytes(r->mask + i));
    if (!m_any(sel)) {
      if (fl & BF_LOSS)
        sl_store_out(r->stream, r->loss, i, SL_DTYPE_F32, v_zero(), n, tail, m_none());
      if (fl & BF_GRAD)
        sl_store_out(r->stream, r->grad, i, r->gt, v_zero(), n, tail, m_none());
      return 0.0;
    }
  }
  /* a gradient written over the logits (r->grad == r->x): the hard lanes' logits are put back
   * for the reference, which reads each before it writes it */
  vf x0 = (fl & BF_GRAD) && r->grad == r->x ? LDT(r->x, i, r->xt) : v_zero();
  vm hard = mode != SL_BCE_MODE_PROB ? bce_logits_block(r, i, n, sel, tail, fl, k, mode, acc)
                                     : bce_prob_block(r, i, n, sel, tail, fl, acc, bad);
  if (!m_any(hard))
    return 0.0;
  float xs[SL_W];
  v_store(xs, x0);
  double s = 0.0;
  for (int l = 0; l < SL_W; l++)
    if (m_lane(hard, l)) {
      if ((fl & BF_GRAD) && r->grad == r->x)
        sl_elem_put(r->grad, i + l, xs[l], r->gt);
      s += bce_reference(r, i + l, mode);
    }
  return s;
}

SL_V double bce_body(const sl_bce_row *r, int *domain_error, const int fl, const int mode) {
  vd acc0 = d_zero(), acc1 = d_zero();
  vm bad = m_none();
  double fix = 0.0;
  int64_t i = 0, len = r->len;
  const bce_pwc k = bce_pw_consts(r, mode);
  for (; i + 2 * SL_W <= len; i += 2 * SL_W) {
    fix += bce_step(r, i, SL_W, 0, fl, mode, &k, &acc0, &bad);
    fix += bce_step(r, i + SL_W, SL_W, 0, fl, mode, &k, &acc1, &bad);
  }
  for (; i < len; i += SL_W) {
    if (len - i >= SL_W)
      fix += bce_step(r, i, SL_W, 0, fl, mode, &k, &acc0, &bad);
    else
      fix += bce_step(r, i, len - i, 1, fl, mode, &k, &acc1, &bad);
  }
  if (m_any(bad))
    *domain_error = 1;
  if ((fl & (BF_GRAD | BF_LOSS)) && r->stream)
    v_stream_fence();
  return d_hsum(d_add(acc0, acc1)) + fix;
}

/* The flags fixed at compile time: BF_GRAD (the gradient's computation is most of a block's
 * code) and BF_MASK (a mask load and test in every block); the loss map, weights and upstream
 * gradient map (BF_LOSS, BF_W, BF_GMAP) are tested at run time, once per block of SL_W
 * elements: 4 variants of bce_body per loss and ISA instead of 25 (compile time and memory,
 * code size). Each variant is its own function (noinline): the compiler's time and memory grow
 * with its largest function. The compiler folds the fixed bits of fl. */
#define SL_BCE_VARIANT(m, name, fixed)                                                             \
  static __attribute__((noinline)) double bce_##name##_##m(const sl_bce_row *r, int *domain_error, \
                                                           const int fl) {                         \
    return bce_body(r, domain_error, (fl & ~(BF_GRAD | BF_MASK)) | (fixed), SL_BCE_MODE_##m);      \
  }
#define SL_BCE_VARIANTS(m)                                                                         \
  SL_BCE_VARIANT(m, fwd, 0)                                                                        \
  SL_BCE_VARIANT(m, fwd_mask, BF_MASK)                                                             \
  SL_BCE_VARIANT(m, grad, BF_GRAD)                                                                 \
  SL_BCE_VARIANT(m, grad_mask, BF_GRAD | BF_MASK)                                                  \
  static const bce_variant bce_variants_##m[4] = {bce_fwd_##m, bce_fwd_mask_##m, bce_grad_##m,     \
                                                  bce_grad_mask_##m};
typedef double (*bce_variant)(const sl_bce_row *r, int *domain_error, const int fl);
SL_BCE_VARIANTS(PROB)
SL_BCE_VARIANTS(LOGITS)
SL_BCE_VARIANTS(FOCAL)

static inline __attribute__((always_inline)) double
bce_dispatch(const sl_bce_row *r, int *domain_error, const int mode, const bce_variant *variants) {
  /* an upstream gradient that is not a normal float (or 0) as float: the whole row on the
   * reference (its float rounding would lose digits or overflow) */
  float gs = (float)r->gscale;
  if (r->grad && !r->gmap && gs != 0.0f && !(fabsf(gs) >= FLT_MIN && fabsf(gs) <= FLT_MAX))
    return mode == SL_BCE_MODE_FOCAL    ? sl_sigmoid_focal__scalar(r, domain_error)
           : mode == SL_BCE_MODE_LOGITS ? sl_bce_logits__scalar(r, domain_error)
                                        : sl_bce_prob__scalar(r, domain_error);
#if defined(SL_MCA)
  return bce_body(r, domain_error, BF_GRAD | BF_LOSS, mode); /* one variant for llvm-mca */
#endif
  int fl = (r->loss ? BF_LOSS : 0) | (r->grad ? BF_GRAD : 0) | (r->w ? BF_W : 0) |
           (r->grad && r->gmap ? BF_GMAP : 0) | (r->mask ? BF_MASK : 0);
  return variants[((fl & BF_GRAD) ? 2 : 0) + ((fl & BF_MASK) ? 1 : 0)](r, domain_error, fl);
}

/* input:  r->x probabilities in [0, 1], r->y targets in [0, 1], r->w, r->mask, r->gmap
 * output: r->loss, r->grad, *domain_error = 1 if a selected x or y is outside [0, 1] or NaN;
 *         returns sum over selected of w * l (formulas: sl_bce_prob__scalar) */
double SL_FN(sl_bce_prob)(const sl_bce_row *r, int *domain_error) {
  return bce_dispatch(r, domain_error, SL_BCE_MODE_PROB, bce_variants_PROB);
}

/* input:  r->x logits, r->y targets, r->w, r->mask, r->gmap, r->pos_weight
 * output: r->loss, r->grad; returns sum over selected of w * l (formulas:
 *         sl_bce_logits__scalar); never touches domain_error */
double SL_FN(sl_bce_logits)(const sl_bce_row *r, int *domain_error) {
  return bce_dispatch(r, domain_error, SL_BCE_MODE_LOGITS, bce_variants_LOGITS);
}

/* input:  r->x logits, r->y targets, r->w, r->mask, r->gmap, r->focal_alpha, r->focal_gamma
 * output: r->loss, r->grad; returns sum over selected of w * l (formulas:
 *         sl_sigmoid_focal__scalar); never touches domain_error */
double SL_FN(sl_sigmoid_focal)(const sl_bce_row *r, int *domain_error) {
  return bce_dispatch(r, domain_error, SL_BCE_MODE_FOCAL, bce_variants_FOCAL);
}

#undef LDN
#undef LDT
#undef STN
#undef SL_BCE_VARIANTS

#endif /* SL_GENERIC_BCE_H */
