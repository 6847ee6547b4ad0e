/*
 * avx2/bce.c - AVX2 + FMA BCE row microkernels (probabilities and logits), 8 elements a step.
 *
 * Same results as src/scalar/bce.c within a few float ULP per element: the transcendental
 * functions run in float lanes (src/avx2/vmath.h), every combination that can cancel or that the
 * scalar kernel rounds in double runs in double lanes (two YMM halves of 4), and each output is
 * rounded to float once. Sums are accumulated in double lanes.
 *   probabilities: log p, log(1 - p) in float (1 - p rounded to float, as PyTorch); the loss
 *     -w (y lp + (1 - y) lq) and the gradient g w (p - y) / max(p q, 1e-12) in float when every
 *     lane is an ordinary probability (p - y and p q round once: no cancellation), otherwise in
 *     double with the special cases (0, 1, NaN, the -100 clamp, domain errors);
 *   logits: loss lw log1p(e) + (1 - y) max(x, 0) + pw y max(-x, 0), e = exp(-|x|), log1p in
 *     float, the rest in double; gradient (1 - y) sigmoid(x) - pw y sigmoid(-x) in double with
 *     e = exp(-|x|) in double: the two terms cancel when sigmoid(x) ~ y, so a float e would lose
 *     the low digits the scalar kernel keeps; near x = 0 (|x| < SL_LOGITS_NEAR0) the scalar
 *     kernel's tanh form, with expm1 in double.
 * The inner loop is specialised (always-inline body, constant flags) for every combination of
 * loss map / gradient / weight / grad_map / mask, so each has a tight loop. Tails use masked
 * loads and stores: nothing past len is read or written. An 8-element block with no selected
 * element stores zeros and reads nothing but its mask bytes.
 * Shape legend: a row is len consecutive elements of one (n, c, y) row of an N x C x H x W tensor.
 */
#include <float.h>

#include "avx2.h"

enum { F_LOSS = 1, F_GRAD = 2, F_W = 4, F_GMAP = 8, F_MASK = 16 };

#define SL_BCE_EPS ((double)1e-12f) /* PyTorch's gradient denominator floor (float 1e-12) */

/* Zeros for a block without any selected element. */
SL_VINLINE void bce_zero(const sl_bce_row *r, int64_t i, __m256i inr, const int tail,
                         const int fl) {
  if (fl & F_LOSS)
    sl_v_store(r->loss + i, _mm256_setzero_ps(), inr, tail);
  if (fl & F_GRAD)
    sl_v_store(r->grad + i, _mm256_setzero_ps(), inr, tail);
}

/* Selected lanes of block i (all bits set) or 0 when the block has none. */
SL_VINLINE __m256 bce_sel(const sl_bce_row *r, int64_t i, int64_t n, __m256i inr, const int tail,
                          const int fl) {
  __m256 sel = _mm256_castsi256_ps(inr);
  if (fl & F_MASK)
    sel = _mm256_and_ps(sel, sl_v_mask8(r->mask + i, n, tail));
  return sel;
}

/* input:  8 (or the first n) elements of p, y, w, gmap at i, selection sel (not empty)
 * output: loss / grad stores; *acc += sum of the selected losses; *bad |= domain lanes
 * Fast path, when all 8 lanes have p in [FLT_MIN, 1), y in [0, 1] and a finite float product of
 * upstream gradient and weight (no domain error, no clamp, no special value, no overflow
 * possible): the logs without special-case handling and the rest in
 * float: l = -w (y lp + (1 - y) lq) with an FMA, grad = (g w)(p - y) / max(p q, 1e-12); p - y,
 * p q and each product round once, so loss and gradient stay within 3 ULP of the double
 * reference. Otherwise (a 0 or 1, NaN, a domain error, a tail or a masked-off lane): the
 * general path, with special values, the -100 clamp and the arithmetic in double lanes. */
SL_VINLINE void bce_prob_block(const sl_bce_row *r, int64_t i, __m256i inr, __m256 sel,
                               const int tail, const int fl, __m256d *acc, int *bad) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  __m256 p = sl_v_load(r->x + i, inr, tail), t = sl_v_load(r->y + i, inr, tail);
  __m256 tok = _mm256_and_ps(_mm256_cmp_ps(t, zero, _CMP_GE_OQ), _mm256_cmp_ps(t, one, _CMP_LE_OQ));
  __m256 easy =
      _mm256_and_ps(tok, _mm256_and_ps(_mm256_cmp_ps(p, _mm256_set1_ps(0x1p-126f), _CMP_GE_OQ),
                                       _mm256_cmp_ps(p, one, _CMP_LT_OQ)));
  __m256 q = _mm256_sub_ps(one, p);
  __m256 w = (fl & F_W) ? sl_v_load(r->w + i, inr, tail) : one;
  __m256 gm = (fl & F_GMAP) ? sl_v_load(r->gmap + i, inr, tail) : zero;
  __m256 gw = zero;
  if (fl & F_GRAD) {
    /* the float product of upstream gradient and weight must not overflow (inf * (p - y = 0)
     * would be NaN, and the double reference keeps g w (p - y) finite): else the general path */
    __m256 g = (fl & F_GMAP) ? gm : _mm256_set1_ps((float)r->gscale);
    gw = (fl & F_W) ? _mm256_mul_ps(g, w) : g;
    easy = _mm256_and_ps(easy, _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), gw),
                                             _mm256_set1_ps(FLT_MAX), _CMP_LE_OQ));
  }
  if (!tail && _mm256_movemask_ps(easy) == 0xff) {
    __m256 lp = sl_v_log_core(p, zero, zero), lq = sl_v_log_core(q, zero, zero);
    __m256 s = _mm256_fmadd_ps(t, lp, _mm256_mul_ps(_mm256_sub_ps(one, t), lq));
    __m256 l = _mm256_xor_ps(_mm256_mul_ps(w, s), _mm256_set1_ps(-0.0f));
    l = _mm256_and_ps(sel, l);
    *acc = _mm256_add_pd(*acc, _mm256_add_pd(sl_v_lo_pd(l), sl_v_hi_pd(l)));
    if (fl & F_LOSS)
      _mm256_storeu_ps(r->loss + i, l);
    if (fl & F_GRAD) {
      __m256 den = _mm256_max_ps(_mm256_mul_ps(p, q), _mm256_set1_ps(1e-12f));
      __m256 v = _mm256_div_ps(_mm256_mul_ps(gw, _mm256_sub_ps(p, t)), den);
      _mm256_storeu_ps(r->grad + i, _mm256_and_ps(sel, v));
    }
    return;
  }
  __m256 ok = _mm256_and_ps(
      _mm256_and_ps(_mm256_cmp_ps(p, zero, _CMP_GE_OQ), _mm256_cmp_ps(p, one, _CMP_LE_OQ)), tok);
  *bad |= _mm256_movemask_ps(_mm256_andnot_ps(ok, sel));
  /* max_ps(log, -100): a NaN log gives -100, like fmax */
  __m256 lp = _mm256_max_ps(sl_v_logf(p), _mm256_set1_ps(-100.0f));
  __m256 lq = _mm256_max_ps(sl_v_logf(q), _mm256_set1_ps(-100.0f));
  __m256d l[2], g[2];
  for (int h = 0; h < 2; h++) {
    __m256d pd = h ? sl_v_hi_pd(p) : sl_v_lo_pd(p), td = h ? sl_v_hi_pd(t) : sl_v_lo_pd(t);
    __m256d wd = h ? sl_v_hi_pd(w) : sl_v_lo_pd(w);
    __m256d lpd = h ? sl_v_hi_pd(lp) : sl_v_lo_pd(lp), lqd = h ? sl_v_hi_pd(lq) : sl_v_lo_pd(lq);
    __m256d s =
        _mm256_fmadd_pd(_mm256_sub_pd(_mm256_set1_pd(1.0), td), lqd, _mm256_mul_pd(td, lpd));
    l[h] = _mm256_mul_pd(_mm256_xor_pd(wd, _mm256_set1_pd(-0.0)), s);
    __m256d seld = h ? sl_v_hi_mask_pd(sel) : sl_v_lo_mask_pd(sel);
    *acc = _mm256_add_pd(*acc, _mm256_and_pd(seld, l[h]));
    if (fl & F_GRAD) {
      __m256d qd = h ? sl_v_hi_pd(q) : sl_v_lo_pd(q);
      __m256d gd =
          (fl & F_GMAP) ? (h ? sl_v_hi_pd(gm) : sl_v_lo_pd(gm)) : _mm256_set1_pd(r->gscale);
      __m256d num = _mm256_mul_pd(_mm256_mul_pd(gd, wd), _mm256_sub_pd(pd, td));
      /* max_pd(pq, eps): a NaN pq gives eps, like fmax */
      __m256d den = _mm256_max_pd(_mm256_mul_pd(pd, qd), _mm256_set1_pd(SL_BCE_EPS));
      g[h] = _mm256_div_pd(num, den);
    }
  }
  if (fl & F_LOSS)
    sl_v_store(r->loss + i, _mm256_and_ps(sel, sl_v_pd_to_ps(l[0], l[1])), inr, tail);
  if (fl & F_GRAD)
    sl_v_store(r->grad + i, _mm256_and_ps(sel, sl_v_pd_to_ps(g[0], g[1])), inr, tail);
}

/* input:  8 (or the first n) elements of x (logits), y, w, gmap at i, selection sel
 * output: loss / grad stores; *acc += sum of the selected losses */
SL_VINLINE void bce_logits_block(const sl_bce_row *r, int64_t i, __m256i inr, __m256 sel,
                                 const int tail, const int fl, __m256d *acc) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256d oned = _mm256_set1_pd(1.0), zerod = _mm256_setzero_pd();
  const __m256d pw = _mm256_set1_pd((double)r->pos_weight);
  __m256 x = sl_v_load(r->x + i, inr, tail), t = sl_v_load(r->y + i, inr, tail);
  __m256 w = (fl & F_W) ? sl_v_load(r->w + i, inr, tail) : one;
  __m256 gm = (fl & F_GMAP) ? sl_v_load(r->gmap + i, inr, tail) : one;
  __m256d xd[2] = {sl_v_lo_pd(x), sl_v_hi_pd(x)};
  __m256d ed[2] = {zerod, zerod};
  __m256 e;
  if (fl & F_GRAD) {
    /* exp(-|x|) in double for the gradient; its float rounding serves the loss */
    for (int h = 0; h < 2; h++)
      ed[h] = sl_v_exp_pd(_mm256_or_pd(xd[h], _mm256_set1_pd(-0.0)));
    e = sl_v_pd_to_ps(ed[0], ed[1]);
  } else {
    e = sl_v_expf(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));
  }
  __m256 lg = sl_v_log1pf(e); /* log1p(exp(-|x|)) */
  __m256d l[2], g[2];
  for (int h = 0; h < 2; h++) {
    __m256d td = h ? sl_v_hi_pd(t) : sl_v_lo_pd(t), wd = h ? sl_v_hi_pd(w) : sl_v_lo_pd(w);
    __m256d lgd = h ? sl_v_hi_pd(lg) : sl_v_lo_pd(lg);
    __m256d omt = _mm256_sub_pd(oned, td);
    __m256d pwt = _mm256_mul_pd(pw, td);
    __m256d lw = _mm256_add_pd(_mm256_mul_pd(_mm256_sub_pd(pw, oned), td), oned);
    /* max_pd(x, 0) returns 0 for a NaN x, like fmax (the NaN then comes from log1p) */
    __m256d v = _mm256_mul_pd(lw, lgd);
    v = _mm256_add_pd(v, _mm256_mul_pd(omt, _mm256_max_pd(xd[h], zerod)));
    v = _mm256_add_pd(
        v, _mm256_mul_pd(pwt, _mm256_max_pd(_mm256_xor_pd(xd[h], _mm256_set1_pd(-0.0)), zerod)));
    __m256d minf = _mm256_cmp_pd(xd[h], _mm256_set1_pd(-__builtin_inf()), _CMP_EQ_OQ);
    v = _mm256_blendv_pd(v, _mm256_set1_pd(__builtin_nan("")), minf); /* PyTorch: inf - inf */
    l[h] = _mm256_mul_pd(v, wd);
    __m256d seld = h ? sl_v_hi_mask_pd(sel) : sl_v_lo_mask_pd(sel);
    *acc = _mm256_add_pd(*acc, _mm256_and_pd(seld, l[h]));
    if (fl & F_GRAD) {
      __m256d gd =
          (fl & F_GMAP) ? (h ? sl_v_hi_pd(gm) : sl_v_lo_pd(gm)) : _mm256_set1_pd(r->gscale);
      __m256d inv = _mm256_div_pd(oned, _mm256_add_pd(oned, ed[h])); /* sigmoid(|x|) */
      __m256d ei = _mm256_mul_pd(ed[h], inv);                        /* sigmoid(-|x|) */
      __m256d pos = _mm256_cmp_pd(xd[h], zerod, _CMP_GE_OQ);
      __m256d sp = _mm256_blendv_pd(ei, inv, pos); /* sigmoid(x) */
      __m256d sn = _mm256_blendv_pd(inv, ei, pos); /* sigmoid(-x) */
      __m256d d = _mm256_sub_pd(_mm256_mul_pd(omt, sp), _mm256_mul_pd(pwt, sn));
      /* |x| < SL_LOGITS_NEAR0: ((a - b) + (a + b) sign(x) tanh(|x| / 2)) / 2 (scalar/bce.c) */
      __m256d ax = _mm256_andnot_pd(_mm256_set1_pd(-0.0), xd[h]);
      __m256d near = _mm256_cmp_pd(ax, _mm256_set1_pd(SL_LOGITS_NEAR0), _CMP_LT_OQ);
      if (_mm256_movemask_pd(near)) {
        __m256d th = _mm256_mul_pd(sl_v_expm1_small_pd(_mm256_xor_pd(ax, _mm256_set1_pd(-0.0))),
                                   _mm256_xor_pd(inv, _mm256_set1_pd(-0.0))); /* tanh(|x|/2) */
        th = _mm256_or_pd(th, _mm256_and_pd(xd[h], _mm256_set1_pd(-0.0)));    /* sign of x */
        __m256d dn = _mm256_fmadd_pd(_mm256_add_pd(omt, pwt), th, _mm256_sub_pd(omt, pwt));
        d = _mm256_blendv_pd(d, _mm256_mul_pd(_mm256_set1_pd(0.5), dn), near);
      }
      g[h] = _mm256_mul_pd(_mm256_mul_pd(gd, wd), d);
    }
  }
  if (fl & F_LOSS)
    sl_v_store(r->loss + i, _mm256_and_ps(sel, sl_v_pd_to_ps(l[0], l[1])), inr, tail);
  if (fl & F_GRAD)
    sl_v_store(r->grad + i, _mm256_and_ps(sel, sl_v_pd_to_ps(g[0], g[1])), inr, tail);
}

/* One step over 8 elements (or the tail): selection, skip of empty blocks, the kernel block. */
SL_VINLINE void bce_step(const sl_bce_row *r, int64_t i, int64_t n, const int tail, const int fl,
                         const int logits, __m256d *acc, int *bad) {
  __m256i inr = tail ? sl_v_first(n) : _mm256_set1_epi32(-1);
  __m256 sel = bce_sel(r, i, n, inr, tail, fl);
  if ((fl & F_MASK) && _mm256_movemask_ps(sel) == 0) {
    bce_zero(r, i, inr, tail, fl);
    return;
  }
  if (logits)
    bce_logits_block(r, i, inr, sel, tail, fl, acc);
  else
    bce_prob_block(r, i, inr, sel, tail, fl, acc, bad);
}

SL_VINLINE double bce_body(const sl_bce_row *r, int *domain_error, const int fl, const int logits) {
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  int bad = 0;
  int64_t i = 0, len = r->len;
  for (; i + 16 <= len; i += 16) {
    bce_step(r, i, 8, 0, fl, logits, &acc0, &bad);
    bce_step(r, i + 8, 8, 0, fl, logits, &acc1, &bad);
  }
  if (i + 8 <= len) {
    bce_step(r, i, 8, 0, fl, logits, &acc0, &bad);
    i += 8;
  }
  if (i < len)
    bce_step(r, i, len - i, 1, fl, logits, &acc1, &bad);
  if (bad)
    *domain_error = 1;
  return sl_v_hsum_pd(_mm256_add_pd(acc0, acc1));
}

/* Every flag combination gets its own loop. */
#define SL_BCE_CASE(k)                                                                             \
  case k:                                                                                          \
    return bce_body(r, domain_error, k, logits);

static inline __attribute__((always_inline)) double
bce_dispatch(const sl_bce_row *r, int *domain_error, const int logits) {
  int fl = (r->loss ? F_LOSS : 0) | (r->grad ? F_GRAD : 0) | (r->w ? F_W : 0) |
           (r->grad && r->gmap ? F_GMAP : 0) | (r->mask ? F_MASK : 0);
  switch (fl) {
    SL_BCE_CASE(0)
    SL_BCE_CASE(1)
    SL_BCE_CASE(2)
    SL_BCE_CASE(3)
    SL_BCE_CASE(4)
    SL_BCE_CASE(5)
    SL_BCE_CASE(6)
    SL_BCE_CASE(7)
    SL_BCE_CASE(10)
    SL_BCE_CASE(11)
    SL_BCE_CASE(14)
    SL_BCE_CASE(15)
    SL_BCE_CASE(16)
    SL_BCE_CASE(17)
    SL_BCE_CASE(18)
    SL_BCE_CASE(19)
    SL_BCE_CASE(20)
    SL_BCE_CASE(21)
    SL_BCE_CASE(22)
    SL_BCE_CASE(23)
    SL_BCE_CASE(26)
    SL_BCE_CASE(27)
    SL_BCE_CASE(30)
    SL_BCE_CASE(31)
  default: /* gmap without grad is masked off above: unreachable */
    return bce_body(r, domain_error, F_LOSS | F_GRAD | F_W | F_GMAP | F_MASK, logits);
  }
}

/* input:  r->x probabilities in [0, 1], r->y targets in [0, 1], r->w, r->mask, r->gmap
 * output: r->loss, r->grad, *domain_error = 1 if a selected x or y is outside [0, 1] or NaN;
 *         returns sum over selected of w * l (formulas: sl_bce_prob__scalar) */
double sl_bce_prob__avx2_u8(const sl_bce_row *r, int *domain_error) {
  return bce_dispatch(r, domain_error, 0);
}

/* input:  r->x logits, r->y targets, r->w, r->mask, r->gmap, r->pos_weight
 * output: r->loss, r->grad; returns sum over selected of w * l (formulas:
 *         sl_bce_logits__scalar); never touches domain_error */
double sl_bce_logits__avx2_u8(const sl_bce_row *r, int *domain_error) {
  return bce_dispatch(r, domain_error, 1);
}
