// SPDX-License-Identifier: MIT
/*
 * scalar/ce.c - reference multi-class cross-entropy and softmax focal row microkernels.
 *
 * The reference every SIMD kernel is tested against: log-softmax over the C classes of each
 * pixel in double (max, sum of exp, log), as PyTorch's log_softmax does, so NaN and infinite
 * logits propagate the same way. Shape legend: a run of len pixels of one (n, y) row; class c
 * of pixel i at x[c * cstride + i], cstride = H * W; pixel weights pw[i] (NULL = 1).
 *
 * The softmax focal loss is the CE loss (label smoothing 0) times a per-pixel factor, so both
 * share one loop (ce_run): with L = -logp_t, p_t = exp(-L), q = 1 - p_t = -expm1(-L) (no
 * cancellation near p_t = 1), gamma >= 0:
 *   loss   = pw q^gamma (w_t L)
 *   grad_c = g pw F w_t (p_c - [c == t]),  F = q^gamma + gamma q^(gamma-1) p_t L
 * (F = d/dL-form of the factor; both terms >= 0, no cancellation). gamma = 0: F = 1 and the
 * factor is exactly pw: the focal loss is then bitwise the CE loss. q = 0 (p_t = 1 in double,
 * gamma > 0): F = 0; p_t = 0: p_t L = 0 (its limit). The pixel weight multiplies the whole
 * per-pixel loss (label smoothing included) and its gradient.
 */
#include <math.h>

#include "kernels.h"

/* input:  r (as sl_ce__scalar), focal: 1 for the softmax focal factor (r->gamma)
 * output: r->loss, r->grad; returns the loss sum over counted pixels */
static double ce_run(const sl_ce_row *r, int focal) {
  const int64_t C = r->classes, cs = r->cstride;
  const double e = r->smoothing, ec = e / (double)C, gam = r->gamma;
  double sum = 0.0;
  for (int64_t i = 0; i < r->len; i++) {
    int32_t t = r->cls[i];
    if (t < 0) {
      if (r->loss)
        r->loss[i] = 0.0f;
      for (int64_t c = 0; r->grad && c < C; c++)
        sl_elem_put(r->grad, c * cs + i, 0.0f, r->gt);
      continue;
    }
    double m = -INFINITY;
    for (int64_t c = 0; c < C; c++)
      m = sl_ce_x(r, c, i) > m ? sl_ce_x(r, c, i) : m;
    /* s = sum_c exp(x_c - m) = 1 + s1, s1 = the sum over classes below the max plus (classes at
     * the max) - 1, so that log(s) = log1p(s1) keeps the digits of a tiny loss (one class
     * dominating: s - 1 ~ 1e-12 has no digits left in a double s). An infinite max gives
     * inf - inf = NaN in s1, as PyTorch's NaN. */
    double s1 = 0.0, top = -1.0;
    for (int64_t c = 0; c < C; c++) {
      double d = sl_ce_x(r, c, i) - m;
      if (d == 0.0)
        top += 1.0;
      else
        s1 += exp(d);
    }
    s1 += top;
    double ls = log1p(s1); /* logp_c = (x_c - m) - log(s): never m + log(s), which loses log(s)
                              when |m| is huge (m = 1e30: p = 1 instead of 1/2) */
    double wt = r->cw ? (double)r->cw[t] : 1.0;
    double lt = (sl_ce_x(r, t, i) - m) - ls; /* logp_t */
    double l = -wt * lt;
    if (e != 0.0) {
      double smooth = 0.0;
      for (int64_t c = 0; c < C; c++)
        smooth -= (r->cw ? (double)r->cw[c] : 1.0) * ((sl_ce_x(r, c, i) - m) - ls);
      l = (1.0 - e) * l + ec * smooth;
    }
    /* the per-pixel factors of the loss (fl) and of the gradient (fg) */
    double pw = r->pw ? (double)sl_elem_get(r->pw, i, r->pwt) : 1.0, fl = pw, fg = pw;
    if (focal && gam != 0.0) {
      double q = -expm1(lt), pt = exp(lt), qm1 = pow(q, gam - 1.0);
      double ptl = pt > 0.0 ? pt * -lt : 0.0;
      double qg = q > 0.0 ? pow(q, gam) : (isnan(q) ? q : 0.0);
      double f = q > 0.0 ? qm1 * (q + gam * ptl) : (isnan(q) ? q : 0.0);
      fl *= qg;
      fg *= f;
    }
    if (r->pw || focal)
      l *= fl;
    sum += l;
    if (r->loss)
      r->loss[i] = (float)l;
    if (r->grad) {
      double g = r->gmap ? (double)r->gmap[i] : r->gscale;
      if (r->pw || focal)
        g *= fg;
      double a = (1.0 - e) * wt + ec * r->cw_sum;
      for (int64_t c = 0; c < C; c++) {
        double wc = r->cw ? (double)r->cw[c] : 1.0;
        double d = exp((sl_ce_x(r, c, i) - m) - ls) * a - ec * wc - (c == t ? (1.0 - e) * wt : 0.0);
        sl_elem_put(r->grad, c * cs + i, (float)(g * d), r->gt);
      }
    }
  }
  return sum;
}

/* input:  r->x logits, r->cls target class per pixel (< 0: not counted), r->cw class weights,
 *         r->pw pixel weights, r->gmap, r->gscale, r->smoothing (e), r->cw_sum (W)
 * output: r->loss per pixel, r->grad per logit; returns sum over counted pixels of
 *         pw ((1 - e) * w_t * (-logp_t) + (e / C) * sum_c(-w_c * logp_c))
 *         gradient: g pw (p_c * ((1 - e) * w_t + (e / C) * W) - (1 - e) * w_t * [c == t]
 *                   - (e / C) * w_c) */
double sl_ce__scalar(const sl_ce_row *r) {
  return ce_run(r, 0);
}

/* input:  as sl_ce__scalar (smoothing 0), r->gamma >= 0
 * output: r->loss, r->grad; returns the sum over counted pixels of pw w_t q^gamma (-logp_t)
 *         (formulas: the file comment); gamma = 0: exactly sl_ce__scalar */
double sl_softmax_focal__scalar(const sl_ce_row *r) {
  return ce_run(r, 1);
}
