/*
 * avx2/ce.c - AVX2 + FMA multi-class cross-entropy row microkernel, 8 pixels per strip.
 *
 * A strip is 8 consecutive pixels; the class loop runs inside it (class c of pixel i at
 * x[c * cstride + i]), in three passes over the strip's C x 8 logits, which stay in L1:
 *   1. m = max over classes (NaN logits are skipped, like the scalar kernel's x > m ? x : m);
 *   2. e_c = exp(x_c - m), each computed ONCE (lean exp, sl_v_expf_neg2, of the exact
 *      difference: TwoSum residual); s = sum_c e_c in double lanes; with a gradient, e_c is
 *      stored in the gradient buffer (same layout, in L1 until pass 3);
 *   3. (gradient) grad_c = e_c * (g A / s), in place.
 * Per pixel, in double lanes: log s = log(u) + (s - u)/u with u = (float)s (the float log plus
 * the exact residual: no digit of s - 1 is lost when one class dominates), and
 *   -logp_t = (m - x_t) + log s        (both terms >= 0: no cancellation),
 *   loss = (1 - e) w_t (-logp_t) + (e/C) (sum_c w_c (m - x_c) + W log s)      (W = cw_sum).
 * The target class's gradient g (p_t A - B_t) cancels when p_t ~ 1 (a confident, correct
 * prediction); for p_t > 1/2 it is rewritten as g ((A - B_t) - A (s - e_t)/s), where s - e_t is
 * the double sum of the other classes' exponentials, and stored per lane (a fix-up after pass 3).
 * With label smoothing, p_c A - (e/C) w_c cancels for other classes too (p_c near (e/C) w_c / A),
 * and A - B_t against A (1 - p_t): that variant computes the exponentials in double (exact double
 * differences, sl_v_exp_pd), once for s in pass 2 and again in pass 3 (nothing stored), and the
 * gradient in double: slower, but as exact as the scalar kernel.
 * Pixels with cls < 0 (not counted) get 0 loss and 0 gradient: a run of them (from a strip
 * without counted pixels to the next counted pixel) gets its zeros class row by class row and
 * reads no logit; a strip with some reads the counted lanes only (masked loads),
 * so an uncounted pixel's logits never reach a sum. Tails use masked loads and stores.
 * Shape legend: a run of len pixels of one (n, y) row; cstride = H * W.
 */
#include "avx2.h"

enum { F_LOSS = 1, F_GRAD = 2, F_CW = 4, F_GMAP = 8, F_SMOOTH = 16 };

/* Software prefetch distance in floats (4 cache lines, 8 strips ahead). Prefetches never fault,
 * so reaching past the row is harmless. */
#define SL_CE_PF 64

/* Logits of class c for the strip: all 8 lanes (full strip) or the counted lanes only. */
SL_VINLINE __m256 ce_ld(const float *p, __m256i cnt, const int full) {
  return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, cnt);
}

/* exp(x_c - m) for one class, float lanes: the difference taken exactly (TwoSum residual). */
SL_VINLINE __m256 ce_exp(__m256 xc, __m256 m) {
  __m256 rr;
  __m256 d = sl_v_sub_exact(xc, m, &rr);
  return sl_v_expf_neg2(d, rr);
}

/* input:  strip of 8 pixels at i (n of them in the row), target classes t[8] (-1 = not counted),
 *         cnt = counted lanes, inr = lanes inside the row; full = all 8 counted
 * output: loss / grad of the strip; returns the strip's loss sum (counted pixels) as 4 doubles
 * Without smoothing the exponentials are float (stored in the gradient buffer between passes 2
 * and 3); with smoothing (F_SMOOTH) they are double (sl_v_exp_pd of the exact double difference)
 * and recomputed in pass 3, because p_c A - (e/C) w_c cancels when p_c ~ (e/C) w_c / A. */
SL_VINLINE __m256d ce_strip(const sl_ce_row *r, int64_t i, const int32_t *t, __m256i cnt,
                            __m256i inr, const int full, const int fl) {
  const int64_t C = r->classes, cs = r->cstride;
  const float *x = r->x + i;
  float *gr = (fl & F_GRAD) ? r->grad + i : NULL;
  const double e = r->smoothing, ec = e / (double)C;
  const int dbl = (fl & F_SMOOTH) != 0;

  /* pass 1: max over classes, two chains; prefetch the class rows SL_CE_PF floats ahead (C
   * read and C write streams a cstride apart: more than the hardware prefetchers follow) */
  __m256 m0 = _mm256_set1_ps(-__builtin_inff()), m1 = m0;
  int64_t c = 0;
  for (c = 0; c < C; c++) {
    __builtin_prefetch(x + c * cs + SL_CE_PF, 0, 3);
    if (fl & F_GRAD)
      __builtin_prefetch(gr + c * cs + SL_CE_PF, 1, 3);
  }
  for (c = 0; c + 2 <= C; c += 2) {
    m0 = _mm256_max_ps(ce_ld(x + c * cs, cnt, full), m0); /* NaN logit: keeps m */
    m1 = _mm256_max_ps(ce_ld(x + (c + 1) * cs, cnt, full), m1);
  }
  if (c < C)
    m0 = _mm256_max_ps(ce_ld(x + c * cs, cnt, full), m0);
  __m256 m = _mm256_max_ps(m0, m1);

  /* pass 2: e_c = exp(x_c - m), s = sum e_c (double), smoothing: sum_c w_c (m - x_c) */
  __m256d s_lo = _mm256_setzero_pd(), s_hi = s_lo, sm_lo = s_lo, sm_hi = s_lo;
  __m256d m_lo = sl_v_lo_pd(m), m_hi = sl_v_hi_pd(m);
  for (c = 0; c < C; c++) {
    __m256 xc = ce_ld(x + c * cs, cnt, full);
    if (dbl) {
      __m256d xlo = sl_v_lo_pd(xc), xhi = sl_v_hi_pd(xc);
      s_lo = _mm256_add_pd(s_lo, sl_v_exp_pd(_mm256_sub_pd(xlo, m_lo)));
      s_hi = _mm256_add_pd(s_hi, sl_v_exp_pd(_mm256_sub_pd(xhi, m_hi)));
      __m256d wc = _mm256_set1_pd((fl & F_CW) ? (double)r->cw[c] : 1.0);
      sm_lo = _mm256_fmadd_pd(wc, _mm256_sub_pd(m_lo, xlo), sm_lo);
      sm_hi = _mm256_fmadd_pd(wc, _mm256_sub_pd(m_hi, xhi), sm_hi);
    } else {
      __m256 ev = ce_exp(xc, m);
      if (fl & F_GRAD) {
        if (full)
          _mm256_storeu_ps(gr + c * cs, ev);
        else
          _mm256_maskstore_ps(gr + c * cs, inr, ev);
      }
      s_lo = _mm256_add_pd(s_lo, sl_v_lo_pd(ev));
      s_hi = _mm256_add_pd(s_hi, sl_v_hi_pd(ev));
    }
  }

  /* per pixel: gather x_t, w_t, g (uncounted lanes: 0, so everything stays finite) */
  float xt[8], wt[8], gg[8];
  for (int l = 0; l < 8; l++) {
    int32_t tl = t[l];
    xt[l] = tl >= 0 ? x[(int64_t)tl * cs + l] : 0.0f;
    wt[l] = tl >= 0 ? ((fl & F_CW) ? r->cw[tl] : 1.0f) : 0.0f;
    gg[l] = ((fl & F_GMAP) && tl >= 0) ? r->gmap[i + l] : 0.0f;
  }
  __m256 xtv = _mm256_loadu_ps(xt), wtv = _mm256_loadu_ps(wt), ggv = _mm256_loadu_ps(gg);
  __m256d etd[2]; /* e_t: the same bits as in pass 2 */
  if (dbl) {
    etd[0] = sl_v_exp_pd(_mm256_sub_pd(sl_v_lo_pd(xtv), m_lo));
    etd[1] = sl_v_exp_pd(_mm256_sub_pd(sl_v_hi_pd(xtv), m_hi));
  } else {
    __m256 etv = ce_exp(xtv, m);
    etd[0] = sl_v_lo_pd(etv);
    etd[1] = sl_v_hi_pd(etv);
  }
  __m256d inv[2] = {_mm256_div_pd(_mm256_set1_pd(1.0), s_lo),
                    _mm256_div_pd(_mm256_set1_pd(1.0), s_hi)};
  __m256d sd[2] = {s_lo, s_hi};
  /* log s = log(u) + (s - u)/u, u = (float)s >= 1 */
  __m256 u = sl_v_pd_to_ps(s_lo, s_hi);
  __m256d res[2];
  for (int h = 0; h < 2; h++) {
    __m256d ud = h ? sl_v_hi_pd(u) : sl_v_lo_pd(u);
    res[h] = _mm256_mul_pd(_mm256_sub_pd(sd[h], ud), inv[h]);
  }
  __m256 lsv = sl_v_log_core(u, _mm256_setzero_ps(), sl_v_pd_to_ps(res[0], res[1]));

  __m256 cntf = _mm256_castsi256_ps(cnt);
  __m256d sum = _mm256_setzero_pd(), lo[2], kk[2], ka[2], gv[2], ft[2];
  for (int h = 0; h < 2; h++) {
    __m256d ls = h ? sl_v_hi_pd(lsv) : sl_v_lo_pd(lsv);
    __m256d md = h ? m_hi : m_lo, xtd = h ? sl_v_hi_pd(xtv) : sl_v_lo_pd(xtv);
    __m256d wtd = h ? sl_v_hi_pd(wtv) : sl_v_lo_pd(wtv);
    __m256d nl = _mm256_add_pd(_mm256_sub_pd(md, xtd), ls); /* -logp_t */
    __m256d l = _mm256_mul_pd(wtd, nl);
    if (fl & F_SMOOTH) {
      __m256d smooth = _mm256_fmadd_pd(_mm256_set1_pd(r->cw_sum), ls, h ? sm_hi : sm_lo);
      l = _mm256_fmadd_pd(_mm256_set1_pd(1.0 - e), l, _mm256_mul_pd(_mm256_set1_pd(ec), smooth));
    }
    __m256d cm = h ? sl_v_hi_mask_pd(cntf) : sl_v_lo_mask_pd(cntf);
    lo[h] = _mm256_and_pd(cm, l);
    sum = _mm256_add_pd(sum, lo[h]);
    if (fl & F_GRAD) {
      __m256d g = (fl & F_GMAP) ? (h ? sl_v_hi_pd(ggv) : sl_v_lo_pd(ggv))
                                : _mm256_and_pd(cm, _mm256_set1_pd(r->gscale));
      /* A = (1 - e) w_t + (e/C) W, B_t = ((1 - e) + e/C) w_t */
      __m256d a = _mm256_mul_pd(_mm256_set1_pd(1.0 - e), wtd);
      __m256d bt = _mm256_fmadd_pd(_mm256_set1_pd(ec), wtd, a);
      a = _mm256_fmadd_pd(_mm256_set1_pd(ec), _mm256_set1_pd(r->cw_sum), a);
      kk[h] = _mm256_mul_pd(_mm256_mul_pd(g, a), inv[h]); /* g A / s */
      ka[h] = _mm256_mul_pd(a, inv[h]);                   /* A / s */
      gv[h] = g;
      /* p_t > 1/2: (A - B_t) - A (1 - p_t), 1 - p_t = (s - e_t)/s (no cancellation near
       * p_t = 1); otherwise p_t A - B_t, which keeps a B_t far below A (a target class weight
       * tiny against the others, with smoothing) that the other form would cancel away */
      __m256d pt = _mm256_mul_pd(etd[h], inv[h]);
      __m256d q = _mm256_mul_pd(_mm256_sub_pd(sd[h], etd[h]), inv[h]);
      __m256d near1 = _mm256_fnmadd_pd(a, q, _mm256_sub_pd(a, bt));
      __m256d big = _mm256_cmp_pd(pt, _mm256_set1_pd(0.5), _CMP_GT_OQ);
      ft[h] = _mm256_mul_pd(g, _mm256_blendv_pd(_mm256_fmsub_pd(pt, a, bt), near1, big));
    }
  }
  if (fl & F_LOSS) {
    __m256 lf = sl_v_pd_to_ps(lo[0], lo[1]);
    if (full)
      _mm256_storeu_ps(r->loss + i, lf);
    else
      _mm256_maskstore_ps(r->loss + i, inr, lf);
  }
  if (fl & F_GRAD) {
    /* pass 3: grad_c = e_c k [- g (e/C) w_c], k = g A / s; uncounted lanes: e_c = 1, k = 0 */
    for (c = 0; c < C; c++) {
      float *gp = gr + c * cs;
      __m256 v;
      if (dbl) {
        __m256 xc = ce_ld(x + c * cs, cnt, full);
        __m256d wc = _mm256_set1_pd((fl & F_CW) ? (double)r->cw[c] : 1.0);
        /* g (e_c A / s - (e/C) w_c), g applied last as the scalar kernel does (g = inf) */
        __m256d ecw = _mm256_mul_pd(_mm256_set1_pd(ec), wc);
        __m256d vlo = _mm256_mul_pd(
            _mm256_fmsub_pd(sl_v_exp_pd(_mm256_sub_pd(sl_v_lo_pd(xc), m_lo)), ka[0], ecw), gv[0]);
        __m256d vhi = _mm256_mul_pd(
            _mm256_fmsub_pd(sl_v_exp_pd(_mm256_sub_pd(sl_v_hi_pd(xc), m_hi)), ka[1], ecw), gv[1]);
        v = sl_v_pd_to_ps(vlo, vhi);
      } else {
        /* e_c (g A / s) in double, rounded once: g A / s may overflow float (a huge grad_scale
         * or grad_map) while e_c is 0, and 0 * inf would be NaN where the scalar gives 0 or inf */
        __m256 ev = full ? _mm256_loadu_ps(gp) : _mm256_maskload_ps(gp, inr);
        v = sl_v_pd_to_ps(_mm256_mul_pd(sl_v_lo_pd(ev), kk[0]),
                          _mm256_mul_pd(sl_v_hi_pd(ev), kk[1]));
      }
      /* uncounted lanes: 0, by blend (their k is 0 * A, NaN when a class weight is NaN) */
      v = _mm256_and_ps(v, cntf);
      if (full)
        _mm256_storeu_ps(gp, v);
      else
        _mm256_maskstore_ps(gp, inr, v);
    }
    /* target class: g ((A - B_t) - A (s - e_t)/s), one store per counted pixel */
    float fv[8];
    _mm256_storeu_ps(fv, sl_v_pd_to_ps(ft[0], ft[1]));
    for (int l = 0; l < 8; l++)
      if (t[l] >= 0)
        gr[(int64_t)t[l] * cs + l] = fv[l];
  }
  return sum;
}

/* Pixels [i0, i1) are all uncounted: zeros in loss and, class row by class row (one write
 * stream at a time), in grad. */
SL_VINLINE void ce_zero_run(const sl_ce_row *r, int64_t i0, int64_t i1, const int fl) {
  const __m256 z = _mm256_setzero_ps();
  const int64_t n = i1 - i0, n8 = n & ~(int64_t)7;
  const __m256i inr = sl_v_first(n - n8);
  for (int64_t c = -1; c < ((fl & F_GRAD) ? r->classes : 0); c++) {
    float *p = c < 0 ? ((fl & F_LOSS) ? r->loss + i0 : NULL) : r->grad + c * r->cstride + i0;
    if (!p)
      continue;
    for (int64_t k = 0; k < n8; k += 8)
      _mm256_storeu_ps(p + k, z);
    if (n8 < n)
      _mm256_maskstore_ps(p + n8, inr, z);
  }
}

SL_VINLINE double ce_body(const sl_ce_row *r, const int fl) {
  __m256d acc = _mm256_setzero_pd();
  const __m256i all = _mm256_set1_epi32(-1), none = all;
  for (int64_t i = 0; i < r->len;) {
    int64_t n = r->len - i < 8 ? r->len - i : 8;
    int32_t t[8];
    __m256i inr, tv;
    if (n == 8) {
      tv = _mm256_loadu_si256((const __m256i *)(r->cls + i));
      inr = all;
    } else {
      for (int l = 0; l < 8; l++)
        t[l] = l < n ? r->cls[i + l] : -1;
      tv = _mm256_loadu_si256((const __m256i *)t);
      inr = sl_v_first(n);
    }
    _mm256_storeu_si256((__m256i *)t, tv);
    __m256i cnt = _mm256_cmpgt_epi32(tv, none);
    int bits = _mm256_movemask_ps(_mm256_castsi256_ps(cnt));
    if (bits == 0) {
      /* a run of uncounted pixels: up to the next counted one */
      int64_t j = i + n;
      while (j < r->len && r->cls[j] < 0)
        j++;
      ce_zero_run(r, i, j, fl);
      i = j;
      continue;
    }
    if (bits == 0xff)
      acc = _mm256_add_pd(acc, ce_strip(r, i, t, cnt, inr, 1, fl));
    else
      acc = _mm256_add_pd(acc, ce_strip(r, i, t, cnt, inr, 0, fl));
    i += n;
  }
  return sl_v_hsum_pd(acc);
}

#define SL_CE_CASE(k)                                                                              \
  case k:                                                                                          \
    return ce_body(r, k);

/* input:  r->x logits, r->cls target class per pixel (< 0: not counted), r->cw class weights,
 *         r->gmap, r->gscale, r->smoothing, r->cw_sum
 * output: r->loss per pixel, r->grad per logit; returns the sum over counted pixels of the loss
 *         (formulas: sl_ce__scalar in src/scalar/ce.c) */
double sl_ce__avx2_u8(const sl_ce_row *r) {
  int fl = (r->loss ? F_LOSS : 0) | (r->grad ? F_GRAD : 0) | (r->cw ? F_CW : 0) |
           (r->grad && r->gmap ? F_GMAP : 0) | (r->smoothing != 0.0f ? F_SMOOTH : 0);
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
    return ce_body(r, F_LOSS | F_GRAD | F_CW | F_GMAP | F_SMOOTH);
  }
}
