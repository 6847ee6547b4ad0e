/*
 * scalar/ce.c - reference multi-class cross-entropy row microkernel.
 *
 * The reference every SIMD kernel is tested against: log-softmax over the C classes of each
 * pixel in double (max, sum of exp, log), as PyTorch's log_softmax does, so NaN and infinite
 * logits propagate the same way. Shape legend: a run of len pixels of one (n, y) row; class c
 * of pixel i at x[c * cstride + i], cstride = H * W.
 */
#include <math.h>

#include "kernels.h"

/* input:  r->x logits, r->cls target class per pixel (< 0: not counted), r->cw class weights,
 *         r->gmap, r->gscale, r->smoothing (e), r->cw_sum (W)
 * output: r->loss per pixel, r->grad per logit; returns sum over counted pixels of
 *         (1 - e) * w_t * (-logp_t) + (e / C) * sum_c(-w_c * logp_c)
 *         gradient: g * (p_c * ((1 - e) * w_t + (e / C) * W) - (1 - e) * w_t * [c == t]
 *                   - (e / C) * w_c) */
double sl_ce__scalar(const sl_ce_row *r) {
  const int64_t C = r->classes, cs = r->cstride;
  const double e = r->smoothing, ec = e / (double)C;
  double sum = 0.0;
  for (int64_t i = 0; i < r->len; i++) {
    const float *x = r->x + i;
    int32_t t = r->cls[i];
    if (t < 0) {
      if (r->loss)
        r->loss[i] = 0.0f;
      for (int64_t c = 0; r->grad && c < C; c++)
        r->grad[c * cs + i] = 0.0f;
      continue;
    }
    double m = -INFINITY;
    for (int64_t c = 0; c < C; c++)
      m = x[c * cs] > m ? x[c * cs] : m;
    /* s = sum_c exp(x_c - m) = 1 + s1, s1 = the sum over classes below the max plus (classes at
     * the max) - 1, so that log(s) = log1p(s1) keeps the digits of a tiny loss (one class
     * dominating: s - 1 ~ 1e-12 has no digits left in a double s). An infinite max gives
     * inf - inf = NaN in s1, as PyTorch's NaN. */
    double s1 = 0.0, top = -1.0;
    for (int64_t c = 0; c < C; c++) {
      double d = x[c * cs] - m;
      if (d == 0.0)
        top += 1.0;
      else
        s1 += exp(d);
    }
    s1 += top;
    double ls = log1p(s1); /* logp_c = (x_c - m) - log(s): never m + log(s), which loses log(s)
                              when |m| is huge (m = 1e30: p = 1 instead of 1/2) */
    double wt = r->cw ? (double)r->cw[t] : 1.0;
    double l = -wt * ((x[t * cs] - m) - ls);
    if (e != 0.0) {
      double smooth = 0.0;
      for (int64_t c = 0; c < C; c++)
        smooth -= (r->cw ? (double)r->cw[c] : 1.0) * ((x[c * cs] - m) - ls);
      l = (1.0 - e) * l + ec * smooth;
    }
    sum += l;
    if (r->loss)
      r->loss[i] = (float)l;
    if (r->grad) {
      double g = r->gmap ? (double)r->gmap[i] : r->gscale;
      double a = (1.0 - e) * wt + ec * r->cw_sum;
      for (int64_t c = 0; c < C; c++) {
        double wc = r->cw ? (double)r->cw[c] : 1.0;
        double d = exp((x[c * cs] - m) - ls) * a - ec * wc - (c == t ? (1.0 - e) * wt : 0.0);
        r->grad[c * cs + i] = (float)(g * d);
      }
    }
  }
  return sum;
}
