/*
 * generic/ce.h - the multi-class cross-entropy row microkernel, written once against the vector
 * layer and compiled once per ISA (src/<isa>/kernels.c includes <isa>/vec.h, then this file):
 * defines sl_ce__<isa> (contract and formulas: src/kernels.h, src/scalar/ce.c).
 *
 * Shape legend: a run of len pixels of one (n, y) row; class c of pixel i at x[c * cstride + i],
 * cstride = H * W. The run is cut into segments of S pixels (S * C floats fit the scratch,
 * CE_SCR floats on the stack: L1/L2), and each segment is processed class plane by class plane
 * wherever memory is touched, so every stream is contiguous and nothing aliases in the caches
 * (class planes are often a multiple of 4 KiB apart); S <= CE_SMAX:
 *   1. planes from memory: the logits are copied to the scratch (uncounted pixels as 0) and the
 *      per-pixel max m is kept;
 *   2. pixel blocks of SL_W, classes inside, scratch only: e_c = exp(x_c - m) with x_c - m
 *      taken exactly (TwoSum), computed ONCE and written back over the logit; the sum of the
 *      e_c of classes below the max, s1 = s - 1, in double lanes plus (number of classes at the
 *      max) - 1, so log s = log1p(s1) keeps its digits when one class dominates; then per
 *      pixel, in double lanes: loss = (1 - e) w_t ((m - x_t) + log s) + (e/C)(W log s +
 *      sum_c w_c (m - x_c)), k = g A / s, and the target's gradient
 *      g (A (p_t - 1) + (e/C)(W - w_t)), p_t - 1 = -s1 / s when x_t is the max (no
 *      cancellation near p_t = 1), A = (1 - e) w_t + (e/C) W;
 *   3. planes to memory (with a gradient): grad_c = e_c k [- g (e/C) w_c], then the target
 *      class's value, one store per pixel.
 * Pixels whose float path cannot meet the accuracy contract are recomputed by the reference
 * kernel (sl_ce__scalar on that pixel): a non-finite logit, sum or loss; k or g (e/C) w_c
 * beyond the float range or subnormal; a class below the max by more than 87 (a subnormal
 * exp) under |k| > 1; s1 below 2^-100 (the loss, about s1, would carry the float exps'
 * subnormal rounding). Uncounted pixels (cls < 0) inside a segment cost their zero stores and
 * a blend; the driver gives runs of them to its zero fill, not to this kernel.
 * With more than CE_SCR / SL_W - 2 classes (4094 on AVX2) the row runs on the reference kernel.
 * Errors: within 4 ULP of the reference per element (the ULP of the larger of the result and
 * its terms), measured by make test-kernels-strict; sums in double lanes.
 */
#include <float.h>
#include <math.h>

enum {
  CE_SCR = 32768, /* scratch floats (128 KiB of stack; C = 21 uses 22 KiB) */
  CE_SMAX = 256,  /* pixels per segment at most */
  CE_PAD = 16     /* floats between scratch planes: planes never a multiple of 4 KiB apart */
};

enum { CF_LOSS = 1, CF_GRAD = 2, CF_CW = 4, CF_GMAP = 8, CF_SMOOTH = 16, CF_FOCAL = 32 };

/* The reference's value of pixel i (loss and gradient stored, loss returned); fl & CF_FOCAL:
 * the softmax focal reference. */
static double ce_reference(const sl_ce_row *r, int64_t i, const int fl) {
  sl_ce_row s = *r;
  s.x += i;
  s.cls += i;
  s.pw = s.pw ? s.pw + i : NULL;
  s.gmap = s.gmap ? s.gmap + i : NULL;
  s.loss = s.loss ? s.loss + i : NULL;
  s.grad = s.grad ? s.grad + i : NULL;
  s.len = 1;
  return (fl & CF_FOCAL) ? sl_softmax_focal__scalar(&s) : sl_ce__scalar(&s);
}

/* n floats (n <= SL_W) at p, zero filled */
#define LDN(p)    (n == SL_W ? v_load(p) : v_loadn((p), n))
#define STN(p, v) (n == SL_W ? v_store((p), (v)) : v_storen((p), (v), n))

typedef struct ce_seg {
  float *xs;         /* class c of pixel j at xs[c * ps + j]: logits, then exponentials */
  int64_t ps;        /* plane stride of xs */
  int32_t *cls;      /* cls[0 .. S + SL_W), padded with -1 */
  float *m, *k, *ft; /* per pixel: max, g A / s, target gradient */
  float *gk;         /* per pixel: g e / C (smoothing) */
  int64_t *hard;     /* pixels for the reference */
} ce_seg;

/* input:  segment of S pixels at i0 (all counted when all), class rows of r->x
 * output: sg->xs (logits, uncounted pixels 0), sg->m */
SL_V void ce_pass1(const sl_ce_row *r, const ce_seg *sg, int64_t i0, int64_t S, const int all) {
  const int64_t C = r->classes, cs = r->cstride, S2 = S & ~(int64_t)(2 * SL_W - 1);
  for (int64_t c = 0; c < C; c++) {
    const float *xp = r->x + c * cs + i0;
    float *sp = sg->xs + c * sg->ps;
    int64_t j = 0;
    for (; j < S2; j += 2 * SL_W) {
      __builtin_prefetch(xp + S + j, 0, 3); /* the next segment's logits */
      vf v0 = v_load(xp + j), v1 = v_load(xp + j + SL_W);
      if (!all) {
        v0 = v_keep(vi_ge0(vi_load(sg->cls + j)), v0);
        v1 = v_keep(vi_ge0(vi_load(sg->cls + j + SL_W)), v1);
      }
      v_store(sp + j, v0);
      v_store(sp + j + SL_W, v1);
      v_store(sg->m + j, c == 0 ? v0 : v_max(v_load(sg->m + j), v0));
      v_store(sg->m + j + SL_W, c == 0 ? v1 : v_max(v_load(sg->m + j + SL_W), v1));
    }
    for (; j < S; j += SL_W) {
      int64_t n = S - j < SL_W ? S - j : SL_W;
      vf v = LDN(xp + j);
      if (!all)
        v = v_keep(vi_ge0(vi_load(sg->cls + j)), v);
      v_store(sp + j, v);
      v_store(sg->m + j, c == 0 ? v : v_max(v_load(sg->m + j), v));
    }
  }
}

/* The classes of pixel block j, in the scratch: e_c = exp(x_c - m) with x_c - m taken exactly
 * (TwoSum), written over the logit; s1 = the sum of the e_c below the max (double lanes), nlt =
 * minus the number of classes below the max (or NaN), sw = sum_c w_c (x_c - m) (smoothing),
 * dmin = the smallest x_c - m. mode: generic/exp_mode.h (lanes below -87 under SL_EXP_LEAN or
 * SL_EXP_TINY give unspecified e_c: the caller redoes the block when dmin says so). */
typedef struct ce_sums {
  vd s1, sw;
  vi nlt;
  vf dmin;
} ce_sums;
SL_V ce_sums ce_classes(const sl_ce_row *r, const ce_seg *sg, int64_t j, vf m, const int fl,
                        const int mode) {
  const int64_t C = r->classes, ps = sg->ps;
  const vf zero = v_zero();
  ce_sums o = {d_zero(), d_zero(), vi_zero(), zero};
  int64_t c = 0;
  /* two classes a step: their exponentials below the max are added in float, then in double
   * (each pair sum rounds once: s1 within half an ULP) */
  for (; c + 2 <= C; c += 2) {
    if (mode == SL_EXP_LEAN) /* the common mode is the one the cost model measures */
      SL_MCA_BEGIN("ce_two_classes");
    float *p = sg->xs + c * ps + j;
    vf lo0, d0 = v_sub_exact(v_load(p), m, &lo0);
    vf lo1, d1 = v_sub_exact(v_load(p + ps), m, &lo1);
    vf e0 = v_exp_neg(d0, lo0, mode), e1 = v_exp_neg(d1, lo1, mode);
    o.dmin = v_min(o.dmin, v_min(d0, d1));
    v_store(p, e0);
    v_store(p + ps, e1);
    vm lt0 = v_nge(d0, zero), lt1 = v_nge(d1, zero); /* below the max, or NaN */
    o.s1 = d_add(o.s1, d_from(v_add(v_keep(lt0, e0), v_keep(lt1, e1))));
    o.nlt = vi_sub_m(vi_sub_m(o.nlt, lt0), lt1);
    if (fl & CF_SMOOTH) {
      o.sw = d_fma(d_set1((fl & CF_CW) ? (double)r->cw[c] : 1.0), d_from(d0), o.sw);
      o.sw = d_fma(d_set1((fl & CF_CW) ? (double)r->cw[c + 1] : 1.0), d_from(d1), o.sw);
    }
    if (mode == SL_EXP_LEAN)
      SL_MCA_END("ce_two_classes");
  }
  if (c < C) {
    float *p = sg->xs + c * ps + j;
    vf lo0, d0 = v_sub_exact(v_load(p), m, &lo0);
    vf e0 = v_exp_neg(d0, lo0, mode);
    o.dmin = v_min(o.dmin, d0);
    v_store(p, e0);
    vm lt0 = v_nge(d0, zero);
    o.s1 = d_add(o.s1, d_from(v_keep(lt0, e0)));
    o.nlt = vi_sub_m(o.nlt, lt0);
    if (fl & CF_SMOOTH)
      o.sw = d_fma(d_set1((fl & CF_CW) ? (double)r->cw[c] : 1.0), d_from(d0), o.sw);
  }
  return o;
}

/* Block j's logits (n pixels at i0 + j) from memory into the scratch again, uncounted pixels as
 * 0 (as ce_pass1): the deep redo, after the lean pass wrote exponentials over them. */
SL_V void ce_reload(const sl_ce_row *r, const ce_seg *sg, int64_t i0, int64_t j, int64_t n) {
  const vm cnt = vi_ge0(vi_load(sg->cls + j));
  for (int64_t c = 0; c < r->classes; c++)
    v_store(sg->xs + c * sg->ps + j, v_keep(cnt, LDN(r->x + c * r->cstride + i0 + j)));
}

/* Pixel block j (SL_W pixels of the segment): exponentials, sums, per-pixel results.
 * Returns the block's loss sum (counted, not hard pixels) in double lanes; appends hard
 * pixels to sg->hard[*nh]. */
SL_V vd ce_block(const sl_ce_row *r, const ce_seg *sg, int64_t i0, int64_t j, int64_t n,
                 const int fl, float cwmax, int64_t *nh) {
  const int64_t C = r->classes, ps = sg->ps;
  const double e = r->smoothing, ec = e / (double)C, W = r->cw_sum;
  const vf zero = v_zero();
  vf m = v_load(sg->m + j);
  vi cl = vi_load(sg->cls + j);
  vm cnt = vi_ge0(cl);
  /* the target's logit and weight per pixel (uncounted lanes read class 0, then unused) */
  vi at = vi_add(vi_mul(vi_max(cl, vi_zero()), vi_set1((int32_t)ps)),
                 vi_add(vi_iota(), vi_set1((int32_t)j)));
  vf xt = v_gather(sg->xs, at);
  vf wtf = (fl & CF_CW) ? v_gather(r->cw, vi_max(cl, vi_zero())) : v_set1(1.0f);
  /* the exp mode of the block: a counted max below 2^-100 can make x_c - m subnormal (both
   * operands must be that small); a class more than 87 below the max (the smallest x_c - m,
   * known only after the lean pass) makes the whole block redo its classes in the deep mode */
  const int tiny = m_any(m_and(cnt, v_lt(v_abs(m), v_set1(0x1p-100f))));
  ce_sums cs =
      tiny ? ce_classes(r, sg, j, m, fl, SL_EXP_TINY) : ce_classes(r, sg, j, m, fl, SL_EXP_LEAN);
  vm deep = v_lt(cs.dmin, v_set1(-87.0f));
  if (__builtin_expect(m_any(deep), 0)) {
    ce_reload(r, sg, i0, j, n);
    cs = ce_classes(r, sg, j, m, fl, SL_EXP_DEEP);
  }
  vd s1 = cs.s1, sw = cs.sw;
  vi nlt = cs.nlt;
  vf et = v_gather(sg->xs, at);
  /* s1 = sum of the classes below the max + (classes at the max - 1); s = 1 + s1 (a NaN
   * d counts as below: s1 is NaN then, from its exp) */
  s1 = d_add(s1, d_from(v_sub(v_set1((float)(C - 1)), vi_to_f(nlt))));
  vf s1f = d_to_f(s1);
  vd ls = d_from(v_log1p(s1f));
  vd s = d_add(d_set1(1.0), s1), wt = d_from(wtf);
  vd dt = d_sub(d_from(m), d_from(xt)); /* m - x_t >= 0, exact in double */
  vd loss = d_mul(wt, d_add(dt, ls));
  if (fl & CF_SMOOTH) /* sw = sum_c w_c (x_c - m) <= 0 */
    loss = d_fma(d_set1(1.0 - e), loss, d_mul(d_set1(ec), d_sub(d_mul(d_set1(W), ls), sw)));
  /* the per-pixel factors (pixel weight, focal), on the loss here and on g (fg) below; hx: the
   * pixels they make hard (a pixel weight infinite, NaN or subnormal; q = 0 or q^gamma tiny) */
  vd fg = d_set1(1.0), inv = d_zero(), pt = d_zero();
  vm hx = m_none();
  if (r->pw) { /* a run-time test per block: one load, one product (not worth a flag) */
    vf pwf = LDN(r->pw + i0 + j), apw = v_abs(pwf);
    hx = m_or(v_nle(apw, v_set1(FLT_MAX)), m_and(v_lt(apw, v_set1(FLT_MIN)), v_gt(apw, zero)));
    fg = d_from(pwf);
  }
  /* x_t is the max and s1 < 1: then 1 - p_t = s1 / s (p_t > 1/2 only here) */
  vm top = m_and(v_eq(m, xt), v_lt(v_sub(s1f, v_set1(1.0f)), v_zero()));
  if (fl & (CF_GRAD | CF_FOCAL)) {
    inv = d_div(d_set1(1.0), s);
    pt = d_mul(d_from(et), inv);
  }
  if (fl & CF_FOCAL) {
    /* q = 1 - p_t without cancellation; L = -log p_t = (m - x_t) + log s; the loss w_t L times
     * pw q^gamma, g times pw F, F = q^(gamma-1) (q + gamma p_t L) (src/scalar/ce.c) */
    vd q = d_sel(top, d_mul(s1, inv), d_sub(d_set1(1.0), pt));
    vd qm1, qg, L = d_add(dt, ls);
    hx = m_or(hx, v_nge(d_to_f(q), zero)); /* q = 0 (C = 1): F = 0 */
    focal_pow(q, (double)r->gamma, &qm1, &qg, &hx);
    loss = d_mul(loss, d_mul(fg, qg));
    fg = d_mul(fg, d_mul(qm1, d_fma(d_set1((double)r->gamma), d_mul(pt, L), q)));
  } else if (r->pw) {
    loss = d_mul(loss, fg);
  }
  vf lf = d_to_f(loss);
  /* s1 below 2^-100 (a fuzz finding): the classes below the max are then exponentials
   * near or below FLT_MIN, rounded to the subnormal grid or to 0 (up to 2^-150 each), while the
   * loss is about s1: the reference's pixel (its exponentials are double). With C = 1, s1 = 0
   * is exact. */
  vm hard = m_or(v_nle(v_abs(lf), v_set1(FLT_MAX)), v_nle(v_abs(s1f), v_set1(FLT_MAX)));
  if (C > 1)
    hard = m_or(hard, v_lt(s1f, v_set1(0x1p-100f)));
  hard = m_or(hard, hx);
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
     * no cancellation near p_t = 1; otherwise p_t A - B_t, B_t = (1 - e + e/C) w_t, which
     * keeps a B_t far below A (a tiny target weight under smoothing) */
    vd ftd = d_sub(d_mul(pt, a), d_mul(d_set1(1.0 - e + ec), wt));
    if (m_any(top)) {
      vd near1 = d_mul(a, d_mul(d_set1(-1.0), d_mul(s1, inv)));
      if (fl & CF_SMOOTH)
        near1 = d_add(near1, d_mul(d_set1(ec), d_sub(d_set1(W), wt)));
      ftd = d_sel(top, near1, ftd);
    }
    vf kf = d_to_f(k), ak = v_abs(kf);
    hard = m_or(hard,
                m_or(v_nle(ak, v_set1(FLT_MAX)), m_and(v_lt(ak, v_set1(FLT_MIN)), v_gt(ak, zero))));
    hard = m_or(hard, m_and(deep, v_gt(ak, v_set1(1.0f))));
    if (fl & CF_SMOOTH) {
      /* g e/C below FLT_MIN, subnormal or underflowed to 0 from a nonzero g (a campaign
       * finding: smoothing 1e-40, or g = 1.4e-45, under class weights up to 3.4e38) */
      vf gk = d_to_f(d_mul(g, d_set1(ec))), agk = v_abs(gk);
      vf big = v_abs(v_mul(agk, v_set1(cwmax)));
      vm gnz = (fl & CF_GMAP) ? v_gt(v_abs(gf), zero) : (r->gscale != 0.0 ? m_all() : m_none());
      hard = m_or(hard, m_or(v_nle(big, v_set1(FLT_MAX)), m_and(v_lt(agk, v_set1(FLT_MIN)), gnz)));
      v_store(sg->gk + j, v_keep(cnt, gk));
    }
    v_store(sg->k + j, v_keep(cnt, kf));
    v_store(sg->ft + j, d_to_f(d_mul(g, ftd)));
  }
  hard = m_and(cnt, hard);
  lf = v_keep(cnt, lf);
  if (fl & CF_LOSS)
    STN(r->loss + i0 + j, lf);
  if (m_any(hard))
    for (int l = 0; l < SL_W; l++)
      if (m_lane(hard, l))
        sg->hard[(*nh)++] = i0 + j + l;
  return d_sel(m_andnot(cnt, hard), loss, d_zero());
}

/* Planes to memory: grad_c = e_c k [- (g e / C) w_c], then the target classes' values. */
SL_V void ce_pass3(const sl_ce_row *r, const ce_seg *sg, int64_t i0, int64_t S, const int fl) {
  const int64_t C = r->classes, cs = r->cstride, S2 = S & ~(int64_t)(2 * SL_W - 1);
  for (int64_t c = 0; c < C; c++) {
    float *gp = r->grad + c * cs + i0;
    const float *ep = sg->xs + c * sg->ps;
    vf wc = v_set1((fl & CF_CW) ? r->cw[c] : 1.0f);
    int64_t j = 0;
    for (; j < S2; j += 2 * SL_W) {
      __builtin_prefetch(gp + S + j, 1, 3); /* the next segment's gradient lines */
      vf v0 = v_mul(v_load(ep + j), v_load(sg->k + j));
      vf v1 = v_mul(v_load(ep + j + SL_W), v_load(sg->k + j + SL_W));
      if (fl & CF_SMOOTH) {
        v0 = v_fnma(v_load(sg->gk + j), wc, v0);
        v1 = v_fnma(v_load(sg->gk + j + SL_W), wc, v1);
      }
      v_store(gp + j, v0);
      v_store(gp + j + SL_W, v1);
    }
    for (; j < S; j += SL_W) {
      int64_t n = S - j < SL_W ? S - j : SL_W;
      vf v = v_mul(v_load(ep + j), v_load(sg->k + j));
      if (fl & CF_SMOOTH)
        v = v_fnma(v_load(sg->gk + j), wc, v);
      STN(gp + j, v);
    }
  }
  for (int64_t j = 0; j < S; j++)
    if (sg->cls[j] >= 0)
      r->grad[sg->cls[j] * cs + i0 + j] = sg->ft[j];
}

/* The segment's class indices (cls[i0 ..], padded with -1) and pass 1 over its planes (every
 * pixel counted or not: the two variants of ce_pass1). Shared with the multiclass Dice kernel. */
SL_V void ce_seg_load(const sl_ce_row *r, const int32_t *cls, ce_seg *sg, int64_t i0, int64_t S) {
  int all = 1;
  for (int64_t j = 0; j < S; j++) {
    sg->cls[j] = cls[i0 + j];
    all &= sg->cls[j] >= 0;
  }
  for (int64_t j = S; j < S + SL_W; j++)
    sg->cls[j] = -1;
  if (all)
    ce_pass1(r, sg, i0, S, 1);
  else
    ce_pass1(r, sg, i0, S, 0);
}

/* One segment [i0, i0 + S) of the run; returns its loss sum. */
SL_V double ce_segment(const sl_ce_row *r, ce_seg *sg, int64_t i0, int64_t S, const int fl,
                       float cwmax) {
  ce_seg_load(r, r->cls, sg, i0, S);
  vd acc = d_zero();
  int64_t nh = 0;
  for (int64_t j = 0; j < S; j += SL_W)
    acc = d_add(acc, ce_block(r, sg, i0, j, S - j < SL_W ? S - j : SL_W, fl, cwmax, &nh));
  if (fl & CF_GRAD)
    ce_pass3(r, sg, i0, S, fl);
  double sum = d_hsum(acc);
  for (int64_t h = 0; h < nh; h++)
    sum += ce_reference(r, sg->hard[h], fl);
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
  float scr[CE_SCR];
  float m[CE_SMAX], k[CE_SMAX], ft[CE_SMAX], gk[CE_SMAX];
  int32_t cls[CE_SMAX + SL_W];
  int64_t hard[CE_SMAX];
  ce_seg sg = {scr, S + CE_PAD, cls, m, k, ft, gk, hard};
  double sum = 0.0;
  for (int64_t i0 = 0; i0 < r->len; i0 += S) {
    int64_t len = r->len - i0 < S ? r->len - i0 : S;
    sum += ce_segment(r, &sg, i0, len, fl, cwmax);
  }
  return sum;
}

#define SL_CE_CASE(k)                                                                              \
  case k:                                                                                          \
    return ce_body(r, k);

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
  switch (fl) {
    SL_CE_CASE(0)
    SL_CE_CASE(1)
    SL_CE_CASE(2)
    SL_CE_CASE(3)
    SL_CE_CASE(4)
    SL_CE_CASE(5)
    SL_CE_CASE(6)
    SL_CE_CASE(7)
    SL_CE_CASE(10)
    SL_CE_CASE(11)
    SL_CE_CASE(14)
    SL_CE_CASE(15)
    SL_CE_CASE(16)
    SL_CE_CASE(17)
    SL_CE_CASE(18)
    SL_CE_CASE(19)
    SL_CE_CASE(20)
    SL_CE_CASE(21)
    SL_CE_CASE(22)
    SL_CE_CASE(23)
    SL_CE_CASE(26)
    SL_CE_CASE(27)
    SL_CE_CASE(30)
    SL_CE_CASE(31)
  default:
    return ce_body(r, CF_LOSS | CF_GRAD | CF_CW | CF_GMAP | CF_SMOOTH);
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
           (r->grad && r->gmap ? CF_GMAP : 0);
  switch (fl | CF_FOCAL) {
    SL_CE_CASE(32)
    SL_CE_CASE(33)
    SL_CE_CASE(34)
    SL_CE_CASE(35)
    SL_CE_CASE(36)
    SL_CE_CASE(37)
    SL_CE_CASE(38)
    SL_CE_CASE(39)
    SL_CE_CASE(42)
    SL_CE_CASE(43)
    SL_CE_CASE(46)
  default:
    return ce_body(r, CF_LOSS | CF_GRAD | CF_CW | CF_GMAP | CF_FOCAL);
  }
}

#undef LDN
#undef STN
#undef SL_CE_CASE
