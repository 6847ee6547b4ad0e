// SPDX-License-Identifier: MIT
/*
 * generic/ce_prob.h - the cross-entropy row microkernel for class-probability targets, written
 * once against the vector layer and compiled once per ISA (generic/table.h includes it):
 * defines sl_ce_prob__<isa> (contract and formulas: src/kernels.h, src/scalar/ce_prob.c).
 *
 * Shape legend: a run of len pixels (class c of pixel i at x[c * cstride + i], the targets q
 * alike), cut into segments of S pixels as generic/ce.h does, with its segment machinery
 * (generic/softmax_seg.h: the logits' class planes copied to the scratch, per-pixel max m and
 * min, the exponentials of a block of pixels over the classes):
 *   1. planes from memory: ce_seg_load (logits to the scratch, uncounted pixels as 0, m, min);
 *   2. planes, scratch and targets: per pixel, in float, a_c = w_c ((1 - e) q_c + e / C)
 *      (0 for an uncounted pixel, whatever its target), Q = sum_c a_c, T = sum_c a_c (m - x_c)
 *      (each term has the sign of a_c: no cancellation for nonnegative weights and targets),
 *      amax = max_c |a_c|; the class sums sequential, as ce_classes';
 *   3. pixel blocks of SL_W (ce_classes): e_c = exp(x_c - m) over the logit in the scratch, s1
 *      = the float sum below the max plus (classes at the max) - 1; then per pixel in double
 *      lanes from those float values: loss = pw (T + Q log1p(s1)), k = g pw Q / s, gk = g pw;
 *   4. planes to memory (with a gradient): grad_c = e_c k - gk a_c (a_c recomputed from q_c as
 *      in step 2, bit for bit), 0 for an uncounted pixel.
 * Pixels the float path cannot give (a NaN or infinite loss, k or gk amax, or one beyond 2^127,
 * where rounding may overflow: NaN or infinite logits, targets, weights or upstream gradients)
 * are recomputed by the reference kernel before step 4 (so a gradient written over the logits
 * still reads them); their gradient goes to the scratch with k = 1, gk = 0, and step 4 stores
 * it. With more than SL_CE_VEC_CMAX(SL_W) classes the row runs on the reference kernel.
 * Errors (docs/accuracy.md, tests/contract.h ct_ce_prob_*), u = 2^-24, K = 10 + 2 C (ct_ce_k),
 * d_c = x_c - m, ls = log s, P = sum_c p_c |d_c|:
 *   loss     K u |pw| sum_c |a_c| (|d_c| + ls + P)
 *   gradient K u |g pw| (A p_c (1 + |d_c|) + |a_c|),  A = sum_c |a_c|
 * plus the subnormal floor (2^-149 (1 + C Z), Z the factor scaling a subnormal exponential).
 */
#ifndef SL_GENERIC_CE_PROB_H
#define SL_GENERIC_CE_PROB_H

#include <math.h>

#include "generic/common.h"
#include "generic/softmax_seg.h"

/* The per-pixel arrays of a segment beyond ce_seg's (the workspace's pix planes). */
typedef struct cp_seg {
  ce_seg sg;        /* m, lo, k as in generic/ce.h; ft: T; gk: g pw */
  float *qs, *amax; /* per pixel: Q, max_c |a_c| */
} cp_seg;

/* a_c of n pixels (n <= SL_W) at plane offset off, counted lanes only */
SL_V vf cp_a(const sl_ce_row *r, const int32_t *cls, int64_t off, int64_t n, vf wc, vf e1, vf ec) {
  vf q = v_loadk_t(r->q, off, n, r->qt);
  return v_keep(vi_ge0(vi_load(cls)), v_mul(wc, v_fma(e1, q, ec)));
}

/* Step 2: Q, T and amax of every pixel of the segment [i0, i0 + S), plane by plane. */
SL_V void cp_sums(const sl_ce_row *r, const cp_seg *cp, int64_t i0, int64_t S) {
  const ce_seg *sg = &cp->sg;
  const int64_t C = r->classes, cs = r->cstride;
  const vf e1 = v_set1(1.0f - r->smoothing), ec = v_set1(r->smoothing / (float)C);
  for (int64_t c = 0; c < C; c++) {
    const vf wc = v_set1(r->cw ? r->cw[c] : 1.0f);
    const float *sp = sg->xs + c * sg->ps;
    for (int64_t j = 0; j < S; j += SL_W) {
      int64_t n = S - j < SL_W ? S - j : SL_W;
      vf a = cp_a(r, sg->cls + j, c * cs + i0 + j, n, wc, e1, ec);
      vf d = v_sub(v_load(sp + j), v_load(sg->m + j)); /* <= 0 (0 for an uncounted pixel) */
      vf t = c == 0 ? v_zero() : v_load(sg->ft + j), qs = c == 0 ? v_zero() : v_load(cp->qs + j);
      vf am = c == 0 ? v_zero() : v_load(cp->amax + j);
      v_store(sg->ft + j, v_fnma(a, d, t));
      v_store(cp->qs + j, v_add(qs, a));
      v_store(cp->amax + j, v_max(am, v_abs(a)));
    }
  }
}

/* Step 3 for pixel block j (n pixels): returns its loss sum (the pixels the float path gives)
 * in double lanes and appends the others to sg->hard[*nh]. */
SL_V vd cp_block(const sl_ce_row *r, const cp_seg *cp, int64_t i0, int64_t j, int64_t n,
                 const int grad, int64_t *nh) {
  const ce_seg *sg = &cp->sg;
  const int64_t C = r->classes;
  const vf big = v_set1(0x1p127f);
  vf m = v_load(sg->m + j);
  vm cnt = vi_ge0(vi_load(sg->cls + j));
  const int deep = m_any(m_and(cnt, v_nge(v_sub(v_load(sg->lo + j), m), v_set1(-87.0f))));
  ce_sums cs = deep ? ce_classes(r, sg, j, m, 0, 1) : ce_classes(r, sg, j, m, 0, 0);
  vf s1f = v_add(cs.s1, v_sub(v_set1((float)(C - 1)), vi_to_f(cs.nlt)));
  vd ls = d_from(v_log1p(s1f)), Q = d_from(v_load(cp->qs + j));
  vd loss = d_fma(Q, ls, d_from(v_load(sg->ft + j)));
  vd pw = d_set1(1.0);
  if (r->pw) {
    pw = d_from(v_loadk_t(r->pw, i0 + j, n, r->pwt));
    loss = d_mul(loss, pw);
  }
  vf lf = d_to_f(loss);
  vm hard = v_nle(v_abs(lf), big); /* NaN, infinite, or near the float range's end */
  if (grad) {
    const float *gp = r->gmap ? r->gmap + i0 + j : NULL;
    vd g = gp ? d_from(n == SL_W ? v_load(gp) : v_loadn(gp, n)) : d_set1(r->gscale);
    g = d_mul(g, pw);
    vd s = d_add(d_set1(1.0), d_from(s1f));
    vf kf = d_to_f(d_div(d_mul(g, Q), s)), gkf = d_to_f(g);
    hard = m_or(hard,
                m_or(v_nle(v_abs(kf), big), v_nle(v_abs(v_mul(gkf, v_load(cp->amax + j))), big)));
    v_store(sg->k + j, v_keep(cnt, kf));
    v_store(sg->gk + j, v_keep(cnt, gkf));
  }
  hard = m_and(cnt, hard);
  lf = v_keep(cnt, lf);
  if (r->loss)
    sl_store_out(r->stream, r->loss, i0 + j, SL_DTYPE_F32, lf, n, n < SL_W, hard);
  if (m_any(hard))
    for (int l = 0; l < SL_W; l++)
      if (m_lane(hard, l))
        sg->hard[(*nh)++] = j + l;
  return d_sel(m_andnot(cnt, hard), loss, d_zero());
}

/* The reference's pixels of the segment, before step 4: loss and gradient stored, the
 * gradient also put in the scratch (e_c = grad_c, k = 1, gk = 0) for step 4 to store again. */
SL_V double cp_hard(const sl_ce_row *r, const ce_seg *sg, int64_t i0, int64_t nh, const int grad) {
  double sum = 0.0;
  for (int64_t h = 0; h < nh; h++) {
    const int64_t j = sg->hard[h], i = i0 + j;
    sl_ce_row s = ce_row_at(r, i);
    sum += sl_ce_prob__scalar(&s);
    if (!grad)
      continue;
    for (int64_t c = 0; c < r->classes; c++)
      sg->xs[c * sg->ps + j] = sl_elem_get(r->grad, c * r->cstride + i, r->gt);
    sg->k[j] = 1.0f;
    sg->gk[j] = 0.0f;
  }
  return sum;
}

/* Step 4: grad_c = e_c k - gk a_c, planes to memory (non-temporal where r->stream and the
 * plane's segment is vector-aligned). */
SL_V vf cp_grad_block(const sl_ce_row *r, const ce_seg *sg, const float *ep, int64_t off, int64_t j,
                      int64_t n, vf wc, vf e1, vf ec) {
  vf a = cp_a(r, sg->cls + j, off + j, n, wc, e1, ec);
  vf gk = v_load(sg->gk + j), ek = v_mul(v_load(ep + j), v_load(sg->k + j));
  /* gk = 0 (a reference pixel, whose a_c may be NaN or infinite; or g pw = 0): e_c k alone */
  vf v = v_sel(v_eq(gk, v_zero()), ek, v_fnma(gk, a, ek));
  return v_keep(vi_ge0(vi_load(sg->cls + j)), v);
}

SL_V void cp_pass4(const sl_ce_row *r, const ce_seg *sg, int64_t i0, int64_t S) {
  const int64_t C = r->classes, cs = r->cstride, S1 = S & ~(int64_t)(SL_W - 1);
  const vf e1 = v_set1(1.0f - r->smoothing), ec = v_set1(r->smoothing / (float)C);
  const sl_dtype gt = r->gt;
  for (int64_t c = 0; c < C; c++) {
    const float *ep = sg->xs + c * sg->ps;
    const vf wc = v_set1(r->cw ? r->cw[c] : 1.0f);
    const int64_t off = c * cs + i0; /* the plane's segment in r->q and r->grad */
    int64_t j = 0;
    if (r->stream && v_aligned_t(r->grad, off, gt)) {
      for (; j < S1; j += SL_W)
        v_stream_t(r->grad, off + j, cp_grad_block(r, sg, ep, off, j, SL_W, wc, e1, ec), gt);
    } else {
      for (; j < S1; j += SL_W)
        v_store_t(r->grad, off + j, cp_grad_block(r, sg, ep, off, j, SL_W, wc, e1, ec), gt);
    }
    if (j < S)
      v_storen_t(r->grad, off + j, cp_grad_block(r, sg, ep, off, j, S - j, wc, e1, ec), S - j, gt);
  }
}

SL_V double cp_body(const sl_ce_row *r, const int grad) {
  const int64_t C = r->classes;
  int64_t S = (CE_SCR / C - CE_PAD) / SL_W * SL_W;
  if (S > CE_SMAX)
    S = CE_SMAX;
  if (S < SL_W) /* more classes than the scratch holds for one vector of pixels */
    return sl_ce_prob__scalar(r);
  ce_ws *ws = r->ws;
  cp_seg cp = {{ws->scr, S + CE_PAD, ws->cls, ws->pix[0], ws->pix[1], ws->pix[2], ws->pix[3],
                ws->pix[4], ws->hard},
               ws->pix[5],
               ws->pix[6]};
  ce_seg *sg = &cp.sg;
  /* the segments depend on len and C only, never on an address (generic/ce.h aligns them to
   * the gradient for streaming): the sums' order, so the bits of the results, are the same for
   * any placement of the buffers, the gradient written over the logits included */
  double sum = 0.0;
  for (int64_t i0 = 0, seg = S; i0 < r->len; i0 += seg) {
    if (seg > r->len - i0)
      seg = r->len - i0;
    ce_seg_load(r, r->cls, sg, i0, seg);
    cp_sums(r, &cp, i0, seg);
    vd acc = d_zero();
    int64_t nh = 0;
    for (int64_t j = 0; j < seg; j += SL_W)
      acc = d_add(acc, cp_block(r, &cp, i0, j, seg - j < SL_W ? seg - j : SL_W, grad, &nh));
    sum += d_hsum(acc);
    if (nh)
      sum += cp_hard(r, sg, i0, nh, grad);
    if (grad)
      cp_pass4(r, sg, i0, seg);
  }
  if ((grad || r->loss) && r->stream)
    v_stream_fence();
  return sum;
}

static __attribute__((noinline)) double cp_fwd(const sl_ce_row *r) {
  return cp_body(r, 0);
}
static __attribute__((noinline)) double cp_grad(const sl_ce_row *r) {
  return cp_body(r, 1);
}

/* input:  r->x logits, r->q targets, r->cls (< 0: not counted), r->cw, r->pw, r->gmap,
 *         r->gscale, r->smoothing, r->ws
 * output: r->loss per pixel, r->grad per logit (may be r->x); returns the loss sum over counted
 *         pixels (formulas: sl_ce_prob__scalar in src/scalar/ce_prob.c) */
double SL_FN(sl_ce_prob)(const sl_ce_row *r) {
  return r->grad ? cp_grad(r) : cp_fwd(r);
}

#endif /* SL_GENERIC_CE_PROB_H */
