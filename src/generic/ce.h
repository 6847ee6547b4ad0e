// SPDX-License-Identifier: MIT
/*
 * generic/ce.h - the multi-class cross-entropy and softmax focal row microkernels, written once
 * against the vector layer and compiled once per ISA (src/<isa>/kernels.c includes <isa>/vec.h,
 * then generic/table.h, which includes this file): defines sl_ce__<isa> and
 * sl_softmax_focal__<isa> (contract and formulas: src/kernels.h, src/scalar/ce.c).
 *
 * Shape legend: a run of len pixels of one (n, y) row, or of several whole rows of one sample
 * (the plane is contiguous); class c of pixel i at x[c * cstride + i], cstride = H * W.
 * The run is cut into segments of S pixels (S * C floats fit the scratch: L1/L2), and each
 * segment is processed class plane by class plane wherever memory is touched, so every stream
 * is contiguous and nothing aliases in the caches (class planes are often a multiple of 4 KiB
 * apart):
 *   1. planes from memory: the logits are copied to the scratch (uncounted pixels as 0), the
 *      per-pixel max m and min are kept;
 *   2. pixel blocks of SL_W, classes inside, scratch only: e_c = exp(d_c), d_c = x_c - m
 *      rounded once, written over the logit; s1 = the float sum of the e_c below the max plus
 *      (classes at the max) - 1, so l = (m - x_t) + log1p(s1) keeps a confident pixel's
 *      digits; then per pixel, in double lanes from those float values: the loss, k = g A / s
 *      and the target's gradient g (A (p_t - 1) + (e/C)(W - w_t)), p_t - 1 = -s1 / s when x_t
 *      is the max (no cancellation near p_t = 1), A = (1 - e) w_t + (e/C) W;
 *   3. planes to memory (with a gradient): grad_c = e_c k [- g (e/C) w_c], the target class's
 *      value blended in; non-temporal stores when the driver asks (r->stream: the gradient and
 *      a NONE loss map, which step 2 writes).
 * The exponential is the lean one unless a counted pixel of the block has a class more than 87
 * below its max (then the one that rounds subnormal results once, and gives 0 for -inf).
 * Pixels the float path cannot give are recomputed by the reference kernel (sl_ce__scalar on
 * that pixel) before step 3, so a gradient written over the logits (r->grad == r->x) still
 * reads them: a NaN or infinite loss, sum, k or target gradient (NaN and +inf logits, infinite
 * upstream gradients or pixel weights), and values beyond 2^127, whose rounding may overflow.
 * Uncounted pixels (cls < 0) inside a segment cost their zero stores and a blend; the driver
 * gives runs of them to its zero fill, not to this kernel. With more than
 * SL_CE_VEC_CMAX(SL_W) classes (1365 on AVX2) the row runs on the reference kernel. The scratch
 * is the thread's workspace r->ws (ce_ws), never the stack.
 * Errors (docs/accuracy.md, tests/contract.h ct_ce_*): the shifted algorithm's bound, each
 * float intermediate rounded once: loss within K u (w_t (l + sum_c p_c |d_c|) + smoothing
 * terms), gradient within K u |g| (A p_c (1 + |d_c|) + B_c), K = 10 + 2 C (ct_ce_k: the
 * sequential class sum adds C); sums in double lanes.
 */
#ifndef SL_GENERIC_CE_H
#define SL_GENERIC_CE_H

#include <float.h>
#include <math.h>

#include "generic/common.h"
#include "generic/softmax_seg.h"

/* The reference's value of pixel i (loss and gradient stored, loss returned); fl & CF_FOCAL:
 * the softmax focal reference. */
static double ce_reference(const sl_ce_row *r, int64_t i, const int fl) {
  sl_ce_row s = ce_row_at(r, i);
  return (fl & CF_FOCAL) ? sl_softmax_focal__scalar(&s) : sl_ce__scalar(&s);
}

/* n floats (n <= SL_W) at p, zero filled */
#define LDN(p)    (n == SL_W ? v_load(p) : v_loadn((p), n))
#define STN(p, v) (n == SL_W ? v_store((p), (v)) : v_storen((p), (v), n))

/* Pixel block j (n pixels of the segment): exponentials, sums, per-pixel results.
 * Returns the block's loss sum (counted pixels the float path gives) in double lanes; appends
 * the others (segment indices) to sg->hard[*nh]. */
SL_V vd ce_block(const sl_ce_row *r, const ce_seg *sg, int64_t i0, int64_t j, int64_t n,
                 const int fl, float cwmax, int64_t *nh) {
  const int64_t C = r->classes, ps = sg->ps;
  const double e = r->smoothing, ec = e / (double)C, W = r->cw_sum;
  const vf zero = v_zero(), big = v_set1(0x1p127f);
  vf m = v_load(sg->m + j);
  vi cl = vi_load(sg->cls + j);
  vm cnt = vi_ge0(cl);
  /* the target's logit and weight per pixel (uncounted lanes read class 0, then unused) */
  vi at = vi_add(vi_mul(vi_max(cl, vi_zero()), vi_set1((int32_t)ps)),
                 vi_add(vi_iota(), vi_set1((int32_t)j)));
  vf xt = v_gather(sg->xs, at);
  vf wtf = (fl & CF_CW) ? v_gather(r->cw, vi_max(cl, vi_zero())) : v_set1(1.0f);
  /* a class more than 87 below the max (or inf - inf): the exponential with subnormals */
  const int deep = m_any(m_and(cnt, v_nge(v_sub(v_load(sg->lo + j), m), v_set1(-87.0f))));
  ce_sums cs = deep ? ce_classes(r, sg, j, m, fl, 1) : ce_classes(r, sg, j, m, fl, 0);
  vf et = v_gather(sg->xs, at);
  /* s1 = the sum of the classes below the max + (classes at the max - 1); s = 1 + s1 */
  vf s1f = v_add(cs.s1, v_sub(v_set1((float)(C - 1)), vi_to_f(cs.nlt)));
  vd s1 = d_from(s1f), ls = d_from(v_log1p(s1f));
  vd s = d_add(d_set1(1.0), s1), wt = d_from(wtf);
  vd dt = d_sub(d_from(m), d_from(xt)); /* m - x_t >= 0, exact in double */
  vd loss = d_mul(wt, d_add(dt, ls));
  if (fl & CF_SMOOTH) /* sw = sum_c w_c (x_c - m) <= 0 */
    loss =
        d_fma(d_set1(1.0 - e), loss, d_mul(d_set1(ec), d_sub(d_mul(d_set1(W), ls), d_from(cs.sw))));
  /* the per-pixel factors (pixel weight, focal), on the loss here and on g (fg) below; hx: the
   * pixels focal_pow cannot give */
  vd fg = d_set1(1.0), inv = d_zero(), pt = d_zero();
  vm hx = m_none();
  if (r->pw) /* a run-time test per block: one load, one product (not worth a flag) */
    fg = d_from(v_loadk_t(r->pw, i0 + j, n, r->pwt));
  /* x_t is the max and s1 < 1: then 1 - p_t = s1 / s (p_t > 1/2 only here) */
  vm top = m_and(v_eq(m, xt), v_lt(s1f, v_set1(1.0f)));
  if (fl & (CF_GRAD | CF_FOCAL)) {
    inv = d_div(d_set1(1.0), s);
    pt = d_mul(d_from(et), inv);
  }
  if (fl & CF_FOCAL) {
    /* q = 1 - p_t without cancellation; L = -log p_t = (m - x_t) + log s; the loss w_t L times
     * pw q^gamma, g times pw F, F = q^(gamma-1) (q + gamma p_t L) (src/scalar/ce.c) */
    vd q = d_sel(top, d_mul(s1, inv), d_sub(d_set1(1.0), pt));
    vd qm1, qg, L = d_add(dt, ls);
    hx = m_or(hx, v_nge(d_to_f(q), zero)); /* q NaN */
    focal_pow(q, (double)r->gamma, &qm1, &qg, &hx);
    loss = d_mul(loss, d_mul(fg, qg));
    fg = d_mul(fg, d_mul(qm1, d_fma(d_set1((double)r->gamma), d_mul(pt, L), q)));
  } else if (r->pw) {
    loss = d_mul(loss, fg);
  }
  vf lf = d_to_f(loss);
  /* non-finite (NaN or +inf logits, infinite factors) or near the float range's end */
  vm hard = m_or(hx, v_nle(v_abs(lf), big));
  if (fl & CF_GRAD) {
    vf gf = (fl & CF_GMAP) ? LDN(r->gmap + i0 + j) : zero;
    vd g = (fl & CF_GMAP) ? d_from(gf) : d_set1(r->gscale);
    if ((fl & CF_FOCAL) || r->pw)
      g = d_mul(g, fg);
    vd a = d_mul(d_set1(1.0 - e), wt);
    if (fl & CF_SMOOTH)
      a = d_add(a, d_set1(ec * W));
    vd k = d_mul(d_mul(g, a), inv);
    /* p_t > 1/2 only when x_t is the max (then 1 - p_t = s1 / s): A (p_t - 1) + (e/C)(W - w_t),
     * no cancellation near p_t = 1; otherwise p_t A - B_t, B_t = (1 - e + e/C) w_t */
    vd ftd = d_sub(d_mul(pt, a), d_mul(d_set1(1.0 - e + ec), wt));
    if (m_any(top)) {
      vd near1 = d_mul(a, d_mul(d_set1(-1.0), d_mul(s1, inv)));
      if (fl & CF_SMOOTH)
        near1 = d_add(near1, d_mul(d_set1(ec), d_sub(d_set1(W), wt)));
      ftd = d_sel(top, near1, ftd);
    }
    vf kf = d_to_f(k), ftf = d_to_f(d_mul(g, ftd));
    hard = m_or(hard, m_or(v_nle(v_abs(kf), big), v_nle(v_abs(ftf), big)));
    if (fl & CF_SMOOTH) { /* g (e/C) w_c must not overflow */
      vf gk = d_to_f(d_mul(g, d_set1(ec)));
      hard = m_or(hard, v_nle(v_abs(v_mul(gk, v_set1(cwmax))), big));
      v_store(sg->gk + j, v_keep(cnt, gk));
    }
    v_store(sg->k + j, v_keep(cnt, kf));
    v_store(sg->ft + j, ftf);
  }
  hard = m_and(cnt, hard);
  lf = v_keep(cnt, lf);
  if (fl & CF_LOSS)
    sl_store_out(r->stream, r->loss, i0 + j, SL_DTYPE_F32, lf, n, n < SL_W, hard);
  if (m_any(hard))
    for (int l = 0; l < SL_W; l++)
      if (m_lane(hard, l))
        sg->hard[(*nh)++] = j + l;
  return d_sel(m_andnot(cnt, hard), loss, d_zero());
}

/* The reference's pixels of the segment, before step 3 (the logits are still in memory, even
 * when the gradient overwrites them): their loss and gradient stored, and their gradient put in
 * the scratch so that step 3 stores the same values (e_c = grad_c, k = 1, g e/C = 0). */
SL_V double ce_hard(const sl_ce_row *r, const ce_seg *sg, int64_t i0, int64_t nh, const int fl) {
  double sum = 0.0;
  for (int64_t h = 0; h < nh; h++) {
    const int64_t j = sg->hard[h], i = i0 + j;
    sum += ce_reference(r, i, fl);
    if (!(fl & CF_GRAD))
      continue;
    for (int64_t c = 0; c < r->classes; c++)
      sg->xs[c * sg->ps + j] = sl_elem_get(r->grad, c * r->cstride + i, r->gt);
    sg->k[j] = 1.0f;
    sg->ft[j] = sl_elem_get(r->grad, sg->cls[j] * r->cstride + i, r->gt);
    if (fl & CF_SMOOTH)
      sg->gk[j] = 0.0f;
  }
  return sum;
}

/* The gradient of class c at pixel block j: e_c k [- (g e / C) w_c], or the target's value. */
SL_V vf ce_grad_block(const ce_seg *sg, const float *ep, int64_t j, int32_t c, vf wc,
                      const int fl) {
  vf v = v_mul(v_load(ep + j), v_load(sg->k + j));
  if (fl & CF_SMOOTH) { /* gk = 0 (a reference pixel: its gradient as stored, a -0 kept): e_c k */
    const vf gk = v_load(sg->gk + j);
    v = v_sel(v_eq(gk, v_zero()), v, v_fnma(gk, wc, v));
  }
  return v_sel(vi_eq(vi_load(sg->cls + j), vi_set1(c)), v_load(sg->ft + j), v);
}

/* Step 3, planes to memory: non-temporal stores where r->stream and the plane's segment is
 * vector-aligned (ce_body aligns the segments), ordinary ones otherwise. */
SL_V void ce_pass3(const sl_ce_row *r, const ce_seg *sg, int64_t i0, int64_t S, const int fl) {
  const int64_t C = r->classes, cs = r->cstride, S1 = S & ~(int64_t)(SL_W - 1);
  const sl_dtype gt = r->gt;
  for (int64_t c = 0; c < C; c++) {
    const int64_t o = c * cs + i0; /* the plane's segment in r->grad */
    const float *ep = sg->xs + c * sg->ps;
    const vf wc = v_set1((fl & CF_CW) ? r->cw[c] : 1.0f);
    int64_t j = 0;
    if (r->stream && v_aligned_t(r->grad, o, gt)) {
      for (; j < S1; j += SL_W)
        v_stream_t(r->grad, o + j, ce_grad_block(sg, ep, j, (int32_t)c, wc, fl), gt);
    } else {
      for (; j < S1; j += SL_W) { /* with the next segment's gradient lines */
        __builtin_prefetch(sl_elem_at(r->grad, o + S + j, gt), 1, 3);
        v_store_t(r->grad, o + j, ce_grad_block(sg, ep, j, (int32_t)c, wc, fl), gt);
      }
    }
    if (j < S)
      v_storen_t(r->grad, o + j, ce_grad_block(sg, ep, j, (int32_t)c, wc, fl), S - j, gt);
  }
}

/* One segment [i0, i0 + S) of the run; returns its loss sum. */
SL_V double ce_segment(const sl_ce_row *r, ce_seg *sg, int64_t i0, int64_t S, const int fl,
                       float cwmax) {
  ce_seg_load(r, r->cls, sg, i0, S);
  vd acc = d_zero();
  int64_t nh = 0;
  for (int64_t j = 0; j < S; j += SL_W)
    acc = d_add(acc, ce_block(r, sg, i0, j, S - j < SL_W ? S - j : SL_W, fl, cwmax, &nh));
  double sum = d_hsum(acc);
  if (nh)
    sum += ce_hard(r, sg, i0, nh, fl);
  if (fl & CF_GRAD)
    ce_pass3(r, sg, i0, S, fl);
  return sum;
}

SL_V double ce_body(const sl_ce_row *r, const int fl) {
  const int64_t C = r->classes;
  float cwmax = 0.0f;
  for (int64_t c = 0; (fl & CF_CW) && c < C; c++)
    cwmax = fabsf(r->cw[c]) > cwmax ? fabsf(r->cw[c]) : cwmax;
  if (!(fl & CF_CW))
    cwmax = 1.0f;
  /* segment length: S * C floats (plus padding) in the scratch, a multiple of SL_W */
  int64_t S = (CE_SCR / C - CE_PAD) / SL_W * SL_W;
  if (S > CE_SMAX)
    S = CE_SMAX;
  if (S < SL_W) /* more classes than the scratch holds for one vector of pixels */
    return (fl & CF_FOCAL) ? sl_softmax_focal__scalar(r) : sl_ce__scalar(r);
  ce_ws *ws = r->ws;
  ce_seg sg = {ws->scr,    S + CE_PAD, ws->cls,    ws->pix[0], ws->pix[1],
               ws->pix[2], ws->pix[3], ws->pix[4], ws->hard};
  /* streaming: the first segment ends where the gradient's planes are vector-aligned (when
   * H W is a multiple of SL_W, every plane then is), so the later ones start aligned */
  int64_t first = S;
  if ((fl & CF_GRAD) && r->stream) {
    int64_t mis = (int64_t)((uintptr_t)r->grad / (r->gt == SL_DTYPE_F32 ? 4 : 2) % SL_W);
    first = mis ? SL_W - mis : S;
  }
  double sum = 0.0;
  for (int64_t i0 = 0, seg = first; i0 < r->len; i0 += seg, seg = S) {
    if (seg > r->len - i0)
      seg = r->len - i0;
    sum += ce_segment(r, &sg, i0, seg, fl, cwmax);
  }
  if ((fl & (CF_GRAD | CF_LOSS)) && r->stream)
    v_stream_fence();
  return sum;
}

/* The flags fixed at compile time are those that change the per-logit loops (ce_classes,
 * ce_pass3) or the formula: CF_GRAD, CF_SMOOTH, CF_FOCAL; the others (CF_LOSS, CF_CW,
 * CF_GMAP) are tested at run time, once per block of SL_W pixels or per class plane: 6
 * variants of ce_body per ISA instead of 35 (compile time and memory, code size). Each
 * variant is its own function (noinline): the compiler's time and memory grow with its
 * largest function. ce_body(r, k | (fl & ~CF_STATIC)): the compiler folds the fixed bits k. */
enum { CF_STATIC = CF_GRAD | CF_SMOOTH | CF_FOCAL };
#define SL_CE_VARIANT(name, k)                                                                     \
  static __attribute__((noinline)) double name(const sl_ce_row *r, const int fl) {                 \
    return ce_body(r, (k) | (fl & ~CF_STATIC));                                                    \
  }
SL_CE_VARIANT(ce_fwd, 0)
SL_CE_VARIANT(ce_grad, CF_GRAD)
SL_CE_VARIANT(ce_fwd_smooth, CF_SMOOTH)
SL_CE_VARIANT(ce_grad_smooth, CF_GRAD | CF_SMOOTH)
SL_CE_VARIANT(focal_fwd, CF_FOCAL)
SL_CE_VARIANT(focal_grad, CF_FOCAL | CF_GRAD)

/* input:  r->x logits, r->cls target class per pixel (< 0: not counted), r->cw class weights,
 *         r->gmap, r->gscale, r->smoothing, r->cw_sum
 * output: r->loss per pixel, r->grad per logit; returns the sum over counted pixels of the loss
 *         (formulas: sl_ce__scalar in src/scalar/ce.c) */
double SL_FN(sl_ce)(const sl_ce_row *r) {
#if defined(SL_MCA)
  return ce_body(r, CF_GRAD); /* one variant for llvm-mca */
#endif
  int fl = (r->loss ? CF_LOSS : 0) | (r->grad ? CF_GRAD : 0) | (r->cw ? CF_CW : 0) |
           (r->grad && r->gmap ? CF_GMAP : 0) | (r->smoothing != 0.0f ? CF_SMOOTH : 0);
  switch (fl & CF_STATIC) {
  case 0:
    return ce_fwd(r, fl);
  case CF_GRAD:
    return ce_grad(r, fl);
  case CF_SMOOTH:
    return ce_fwd_smooth(r, fl);
  default:
    return ce_grad_smooth(r, fl);
  }
}

/* input:  as sl_ce (smoothing 0), r->gamma >= 0
 * output: r->loss, r->grad; returns the sum over counted pixels of pw w_t q^gamma (-log p_t)
 *         (formulas: sl_softmax_focal__scalar in src/scalar/ce.c). gamma 0 runs sl_ce itself:
 *         bitwise the CE results. */
double SL_FN(sl_softmax_focal)(const sl_ce_row *r) {
  if (r->gamma == 0.0f)
    return SL_FN(sl_ce)(r);
  int fl = (r->loss ? CF_LOSS : 0) | (r->grad ? CF_GRAD : 0) | (r->cw ? CF_CW : 0) |
           (r->grad && r->gmap ? CF_GMAP : 0) | CF_FOCAL;
  return (fl & CF_GRAD) ? focal_grad(r, fl) : focal_fwd(r, fl);
}

#undef LDN
#undef STN
#undef SL_CE_VARIANT

#endif /* SL_GENERIC_CE_H */
