// SPDX-License-Identifier: MIT
/*
 * generic/dice.h - the Dice / Tversky row microkernels, written once against the vector layer
 * and compiled once per ISA (src/<isa>/kernels.c includes <isa>/vec.h, then generic/table.h,
 * which includes this file): sl_dice_sums__<isa>, sl_dice_grad__<isa> (sl_dice) and
 * sl_dice_mc__<isa> (sl_dice_multiclass). Contract: src/kernels.h; formulas and the double
 * reference: src/scalar/dice.c; the per-class formulas and reductions: src/loss_dice.c.
 *
 * Shape legend: sl_dice: a row is len consecutive elements of one (n, c, y) row (blocks of
 * SL_W lanes, masked loads and stores for the tail); multiclass: a run of len pixels of one
 * (n, y) row, class c of pixel i at x[c * cstride + i], cut into segments of S pixels processed
 * class plane by class plane in the thread's workspace r->ws (ce_seg, ce_pass1, ce_classes:
 * generic/softmax_seg.h).
 *
 * sl_dice sums: p = x, or sigmoid(x) = 1 / (1 + e) (x >= 0), e / (1 + e) (x < 0), e =
 *   exp(-|x|) in float (the deep exp for a block with |x| > 87 or NaN); p t (exact in double)
 *   or with l1 |p - t| (in double), p and t summed in double lanes; unselected and tail lanes
 *   blended out.
 * sl_dice gradient: (a + b h) in double (h = t, or with l1 [p < t] + [p == t] / 2 on the float
 *   p), times e / (1 + e)^2 in double from the float e with logits, rounded once to float.
 *   Lanes with |x| > 87 or NaN (e subnormal: p (1 - p) would keep few digits) are the
 *   reference's (sl_dice_grad__scalar on that element). With l1 and logits, h is a step at
 *   p == t: where the float p and the reference's double p fall on either side of t, the two
 *   differ by |b| q / 2 or |b| q (tests/exhaustive/dice_strict.h accepts either value there).
 * Multiclass: e_c = exp(x_c - m) as the CE kernel computes them, 1 / s in double (kept as a
 *   float pair hi + lo in the scratch), p_c = e_c / s in double; sums: p_c [cls == c] and p_c
 *   per class plane in double lanes, [cls == c] counted exactly; gradient: sum_k p_k G_k in
 *   double lanes per pixel, then grad_c = p_c (G_c - sum_k p_k G_k) in double, rounded once.
 *   Pixels with a class more than 87 below the max (a subnormal e_c) are the reference's in the
 *   gradient pass (sl_dice_mc__scalar on that pixel); the sums take the deep exp's value.
 * Errors (measured by make test-kernels-strict, stated in docs/accuracy.md): sums within 1e-6
 * relative of the sum of the |terms| (double lanes: far better; sum |p - t|: of |p| + |p - t|,
 * the float p's error being relative to p); gradients per element within 4 ULP of M,
 * M = max(|ref|, the terms): sl_dice |a| q and |b h| q (q = 1, or p (1 - p)),
 * multiclass p_c |G_c| and p_c sum_k p_k |G_k| (the float exp's 2 ULP plus the last rounding).
 */
#ifndef SL_GENERIC_DICE_H
#define SL_GENERIC_DICE_H

#include <float.h>
#include <math.h>

#include "generic/common.h"
#include "generic/softmax_seg.h"

enum { DF_MASK = 1, DF_LOGITS = 2 };

/* n lanes at p (all SL_W when !tail) */
#define DLDT(p, i, t)    (tail ? v_loadn_t((p), (i), n, (t)) : v_load_t((p), (i), (t)))
#define DSTT(p, i, v, t) (tail ? v_storen_t((p), (i), (v), n, (t)) : v_store_t((p), (i), (v), (t)))

/* The selected lanes of the block at i (n lanes when tail). */
SL_V vm dice_sel(const sl_dice_row *r, int64_t i, int64_t n, const int tail, const int fl) {
  if (fl & DF_MASK)
    return tail ? m_bytesn(r->mask + i, n) : m_bytes(r->mask + i);
  return tail ? m_first(n) : m_all();
}

/* e = exp(-|x|) (deep when a lane has |x| > 87 or is NaN); *big: those lanes */
SL_V vf dice_e(vf x, vm *big) {
  vf ax = v_abs(x);
  *big = v_nle(ax, v_set1(87.0f));
  return v_exp_nabs(ax, m_any(*big));
}

/* p = sigmoid(x) in float from e = exp(-|x|) */
SL_V vf dice_sigmoid(vf x, vf e) {
  vf inv = v_div(v_set1(1.0f), v_add(v_set1(1.0f), e));
  return v_sel(v_ge(x, v_zero()), inv, v_mul(e, inv));
}

/* The reference's sums of element i (a lane with |x| > 87 or NaN, with logits). */
static void dice_sums_reference(const sl_dice_row *r, int64_t i, double sums[3]) {
  sl_dice_row s = *r;
  s.x = sl_elem_at(s.x, i, s.xt);
  s.y = sl_elem_at(s.y, i, s.yt);
  s.mask = NULL;
  s.len = 1;
  sl_dice_sums__scalar(&s, sums);
}

/* With logits, selected lanes with |x| > 87 or NaN are the reference's (added to hs): their
 * float p underflows (x < -103.9: p = 0 where the double p > 0), which changes 0 t into p t
 * when t is infinite (a NaN I where the reference's is inf). */
SL_V void dice_sums_block(const sl_dice_row *r, int64_t i, int64_t n, const int tail, const int fl,
                          vd *si, vd *sp, vd *st, double hs[3]) {
  vm sel = dice_sel(r, i, n, tail, fl);
  vf x = DLDT(r->x, i, r->xt), t = DLDT(r->y, i, r->yt), p = x;
  if (fl & DF_LOGITS) {
    vm big;
    vf e = dice_e(x, &big);
    p = dice_sigmoid(x, e);
    big = m_and(sel, big);
    if (__builtin_expect(m_any(big), 0)) {
      for (int l = 0; l < SL_W; l++)
        if (m_lane(big, l))
          dice_sums_reference(r, i + l, hs);
      sel = m_andnot(sel, big);
    }
  }
  /* unselected and tail lanes blended out in double (d_sel: a blend, never a product) */
  vd pd = d_sel(sel, d_from(p), d_zero()), td = d_sel(sel, d_from(t), d_zero());
  if (r->l1) /* |p - t| (NaN stays NaN: the blend takes p - t unless p < t) */
    *si = d_add(*si, d_sel(v_lt(p, t), d_sub(td, pd), d_sub(pd, td)));
  else
    *si = d_fma(pd, td, *si); /* a product of two floats: exact in double */
  *sp = d_add(*sp, pd);
  *st = d_add(*st, td);
}

SL_V void dice_sums_body(const sl_dice_row *r, double sums[3], const int fl) {
  vd si = d_zero(), sp = d_zero(), st = d_zero();
  vd si2 = d_zero(), sp2 = d_zero(), st2 = d_zero();
  double hs[3] = {0.0, 0.0, 0.0};
  int64_t i = 0;
  for (; i + 2 * SL_W <= r->len; i += 2 * SL_W) { /* two chains: the double adds' latency */
    dice_sums_block(r, i, SL_W, 0, fl, &si, &sp, &st, hs);
    dice_sums_block(r, i + SL_W, SL_W, 0, fl, &si2, &sp2, &st2, hs);
  }
  for (; i < r->len; i += SL_W) {
    int64_t n = r->len - i < SL_W ? r->len - i : SL_W;
    if (n == SL_W)
      dice_sums_block(r, i, n, 0, fl, &si, &sp, &st, hs);
    else
      dice_sums_block(r, i, n, 1, fl, &si, &sp, &st, hs);
  }
  sums[0] += d_hsum(d_add(si, si2)) + hs[0];
  sums[1] += d_hsum(d_add(sp, sp2)) + hs[1];
  sums[2] += d_hsum(d_add(st, st2)) + hs[2];
}

/* input:  r->x, r->y, r->mask, r->logits, r->l1, r->len
 * output: sums[0..3) += the selected sums of p t (l1: |p - t|), p, t (formulas:
 *         src/scalar/dice.c) */
void SL_FN(sl_dice_sums)(const sl_dice_row *r, double sums[3]) {
  int fl = (r->mask ? DF_MASK : 0) | (r->logits ? DF_LOGITS : 0);
  switch (fl) {
  case 0:
    dice_sums_body(r, sums, 0);
    break;
  case DF_MASK:
    dice_sums_body(r, sums, DF_MASK);
    break;
  case DF_LOGITS:
    dice_sums_body(r, sums, DF_LOGITS);
    break;
  default:
    dice_sums_body(r, sums, DF_MASK | DF_LOGITS);
    break;
  }
}

/* The reference's gradient of element i. */
static void dice_grad_reference(const sl_dice_row *r, int64_t i) {
  sl_dice_row s = *r;
  s.x = sl_elem_at(s.x, i, s.xt);
  s.y = sl_elem_at(s.y, i, s.yt);
  s.mask = NULL;
  s.grad = sl_elem_at_w(s.grad, i, s.gt);
  s.len = 1;
  sl_dice_grad__scalar(&s);
}

SL_V void dice_grad_block(const sl_dice_row *r, int64_t i, int64_t n, const int tail,
                          const int fl) {
  vm sel = dice_sel(r, i, n, tail, fl);
  vf t = DLDT(r->y, i, r->yt), x = DLDT(r->x, i, r->xt), h = t, e = x;
  vm hard = m_none();
  if (fl & DF_LOGITS)
    e = dice_e(x, &hard);
  if (r->l1) { /* h = [p < t] + [p == t] / 2 */
    vf p = fl & DF_LOGITS ? dice_sigmoid(x, e) : x;
    h = v_sel(v_lt(p, t), v_set1(1.0f), v_sel(v_eq(p, t), v_set1(0.5f), v_zero()));
  }
  vd g = d_fma(d_set1(r->b), d_from(h), d_set1(r->a));
  if (fl & DF_LOGITS) {
    vd ed = d_from(e), q = d_add(d_set1(1.0), ed);
    g = d_mul(g, d_div(ed, d_mul(q, q)));
  }
  DSTT(r->grad, i, v_keep(sel, d_to_f(g)), r->gt);
  if (fl & DF_LOGITS) {
    hard = m_and(sel, hard);
    if (m_any(hard))
      for (int l = 0; l < SL_W; l++)
        if (m_lane(hard, l))
          dice_grad_reference(r, i + l);
  }
}

SL_V void dice_grad_body(const sl_dice_row *r, const int fl) {
  int64_t i = 0;
  for (; i + SL_W <= r->len; i += SL_W)
    dice_grad_block(r, i, SL_W, 0, fl);
  if (i < r->len)
    dice_grad_block(r, i, r->len - i, 1, fl);
}

/* input:  r->x, r->y, r->mask, r->a, r->b, r->logits, r->l1, r->len
 * output: r->grad (formulas: src/scalar/dice.c) */
void SL_FN(sl_dice_grad)(const sl_dice_row *r) {
  int fl = (r->mask ? DF_MASK : 0) | (r->logits ? DF_LOGITS : 0);
  switch (fl) {
  case 0:
    dice_grad_body(r, 0);
    break;
  case DF_MASK:
    dice_grad_body(r, DF_MASK);
    break;
  case DF_LOGITS:
    dice_grad_body(r, DF_LOGITS);
    break;
  default:
    dice_grad_body(r, DF_MASK | DF_LOGITS);
    break;
  }
}

/* ---- multiclass ------------------------------------------------------------------------- */

/* The per-pixel state of a segment besides ce_seg: 1 / s as a float pair (hi + lo), the class
 * index as a float (for v_eq), and (gradient pass) sum_k p_k G_k as a float pair. */
typedef struct dmc_seg {
  float *ih, *il, *cf, *sh, *sl;
  int64_t *hard;
} dmc_seg;

/* v as a float pair hi + lo (48 bits) at p[j], q[j] */
SL_V void dmc_put(vd v, float *p, float *q, int64_t j) {
  vf hi = d_to_f(v);
  v_store(p + j, hi);
  v_store(q + j, d_to_f(d_sub(v, d_from(hi))));
}
SL_V vd dmc_get(const float *p, const float *q, int64_t j) {
  return d_add(d_from(v_load(p + j)), d_from(v_load(q + j)));
}

/* The reference's pixel i (gradient pass). */
static void dmc_reference(const sl_dice_mc_row *r, int64_t i) {
  sl_dice_mc_row s = *r;
  s.x = sl_elem_at(s.x, i, s.xt);
  s.cls += i;
  s.grad = sl_elem_at_w(s.grad, i, s.gt);
  s.len = 1;
  sl_dice_mc__scalar(&s);
}

/* Pixel block j: exponentials over the scratch (CE's), 1 / s; returns the counted lanes with
 * a class more than 87 below the max (their gradient is the reference's). */
SL_V vm dmc_block(const sl_ce_row *cr, const ce_seg *sg, const dmc_seg *dg, int64_t j) {
  const int64_t C = cr->classes;
  vf m = v_load(sg->m + j);
  vi cl = vi_load(sg->cls + j);
  vm cnt = vi_ge0(cl);
  vm deep = m_and(cnt, v_nge(v_sub(v_load(sg->lo + j), m), v_set1(-87.0f)));
  ce_sums cs = m_any(deep) ? ce_classes(cr, sg, j, m, 0, 1) : ce_classes(cr, sg, j, m, 0, 0);
  /* s = 1 + (the classes below the max) + (classes at the max - 1), as generic/ce.h */
  vd s = d_add(d_add(d_set1(1.0), d_from(cs.s1)),
               d_from(v_sub(v_set1((float)(C - 1)), vi_to_f(cs.nlt))));
  dmc_put(d_div(d_set1(1.0), s), dg->ih, dg->il, j);
  v_store(dg->cf + j, vi_to_f(cl));
  return deep;
}

/* One segment [i0, i0 + S) of the run. */
SL_V void dmc_segment(const sl_dice_mc_row *r, const sl_ce_row *cr, ce_seg *sg, const dmc_seg *dg,
                      int64_t i0, int64_t S) {
  const int64_t C = r->classes, ps = sg->ps, cs = r->cstride;
  ce_seg_load(cr, r->cls, sg, i0, S);
  int64_t nh = 0;
  for (int64_t j = 0; j < S; j += SL_W) {
    vm deep = dmc_block(cr, sg, dg, j);
    if (r->grad && m_any(deep))
      for (int l = 0; l < SL_W; l++)
        if (m_lane(deep, l))
          dg->hard[nh++] = i0 + j + l;
  }
  if (!r->grad) { /* sums, class plane by class plane */
    for (int64_t c = 0; c < C; c++) {
      const float *ep = sg->xs + c * ps;
      const vf cv = v_set1((float)c);
      vd si = d_zero(), sp = d_zero();
      for (int64_t j = 0; j < S; j += SL_W) {
        vm cnt = vi_ge0(vi_load(sg->cls + j));
        vd p = d_mul(d_from(v_load(ep + j)), dmc_get(dg->ih, dg->il, j));
        sp = d_add(sp, d_sel(cnt, p, d_zero()));
        si = d_add(si, d_sel(v_eq(v_load(dg->cf + j), cv), p, d_zero()));
      }
      r->sums[3 * c + 0] += d_hsum(si);
      r->sums[3 * c + 1] += d_hsum(sp);
    }
    for (int64_t j = 0; j < S; j++)
      if (sg->cls[j] >= 0)
        r->sums[3 * sg->cls[j] + 2] += 1.0;
    return;
  }
  /* gradient: sum_k p_k G_k per pixel, then the planes */
  for (int64_t j = 0; j < S; j += SL_W) {
    vd inv = dmc_get(dg->ih, dg->il, j), acc = d_zero();
    vf clf = v_load(dg->cf + j);
    for (int64_t c = 0; c < C; c++) {
      vd p = d_mul(d_from(v_load(sg->xs + c * ps + j)), inv);
      vd g = d_add(d_set1(r->ab[2 * c]),
                   d_sel(v_eq(clf, v_set1((float)c)), d_set1(r->ab[2 * c + 1]), d_zero()));
      acc = d_fma(p, g, acc);
    }
    dmc_put(acc, dg->sh, dg->sl, j);
  }
  const int64_t S2 = S & ~(int64_t)(SL_W - 1);
  for (int64_t c = 0; c < C; c++) {
    const float *ep = sg->xs + c * ps;
    const int64_t o = c * cs + i0; /* the plane's segment in r->grad */
    const vf cv = v_set1((float)c);
    const vd a = d_set1(r->ab[2 * c]), b = d_set1(r->ab[2 * c + 1]);
    for (int64_t j = 0; j < S; j += SL_W) {
      vm cnt = vi_ge0(vi_load(sg->cls + j));
      vd p = d_mul(d_from(v_load(ep + j)), dmc_get(dg->ih, dg->il, j));
      vd g = d_add(a, d_sel(v_eq(v_load(dg->cf + j), cv), b, d_zero()));
      vf v = v_keep(cnt, d_to_f(d_mul(p, d_sub(g, dmc_get(dg->sh, dg->sl, j)))));
      if (j < S2)
        v_store_t(r->grad, o + j, v, r->gt);
      else
        v_storen_t(r->grad, o + j, v, S - j, r->gt);
    }
  }
  for (int64_t h = 0; h < nh; h++)
    dmc_reference(r, dg->hard[h]);
}

/* input:  r->x logits, r->cls, r->classes, r->cstride, r->len; r->ab with r->grad
 * output: r->sums (sums pass) or r->grad (gradient pass); formulas: src/scalar/dice.c */
void SL_FN(sl_dice_mc)(const sl_dice_mc_row *r) {
  const int64_t C = r->classes;
  int64_t S = (CE_SCR / C - CE_PAD) / SL_W * SL_W;
  if (S > CE_SMAX)
    S = CE_SMAX;
  if (S < SL_W) { /* more classes than the scratch holds for one vector of pixels */
    sl_dice_mc__scalar(r);
    return;
  }
  ce_ws *ws = r->ws;
  ce_seg sg = {ws->scr, S + CE_PAD, ws->cls, ws->pix[0], ws->pix[1], NULL, NULL, NULL, NULL};
  dmc_seg dg = {ws->pix[2], ws->pix[3], ws->pix[4], ws->pix[5], ws->pix[6], ws->hard};
  sl_ce_row cr = {.x = r->x, .xt = r->xt, .cstride = r->cstride, .classes = C, .len = r->len};
  for (int64_t i0 = 0; i0 < r->len; i0 += S) {
    int64_t len = r->len - i0 < S ? r->len - i0 : S;
    cr.x = r->x; /* ce_pass1 indexes from the run's start */
    dmc_segment(r, &cr, &sg, &dg, i0, len);
  }
}

#undef DLDT
#undef DSTT

#endif /* SL_GENERIC_DICE_H */
