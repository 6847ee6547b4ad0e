// SPDX-License-Identifier: MIT
/*
 * scalar/ce_prob.c - reference cross-entropy row microkernel for class-probability targets
 * (PyTorch's F.cross_entropy with a float target of the logits' shape).
 *
 * The reference every SIMD kernel is tested against, in double. Shape legend: a run of len
 * pixels of one (n, y) row (or several whole rows of one sample); class c of pixel i at
 * x[c * cstride + i] and q[c * cstride + i], cstride = H * W; class weights w_c (NULL = 1),
 * pixel weights pw[i] (NULL = 1), label smoothing e, C classes. Per counted pixel (cls >= 0):
 *   a_c = w_c ((1 - e) q_c + e / C),  Q = sum_c a_c
 *   m = max_c x_c, s1 = sum over the classes below the max of exp(x_c - m) + (classes at the
 *   max) - 1, ls = log1p(s1) = log(sum_c exp(x_c - m))
 *   -logp_c = (m - x_c) + ls >= 0  (no cancellation: each term of the loss has the sign of a_c)
 *   loss   = pw sum_c a_c ((m - x_c) + ls)
 *   grad_c = g pw (p_c Q - a_c),  p_c = exp((x_c - m) - ls)
 * g: the upstream gradient (gmap[i], or gscale). As PyTorch, a NaN or +inf logit, or all
 * logits -inf, gives NaN; a_c = 0 at a logit of -inf gives 0 * inf = NaN (PyTorch's
 * -(target * log_softmax) too). Targets are any float (PyTorch does not check them).
 */
#include <math.h>

#include "kernels.h"

/* input:  r->x logits, r->q targets, r->cls (< 0: pixel not counted: loss and gradient 0,
 *         nothing read), r->cw, r->pw, r->gmap, r->gscale, r->smoothing
 * output: r->loss per pixel, r->grad per logit (may be r->x: each pixel's logits are read
 *         before its gradient is written); returns the loss sum over counted pixels */
double sl_ce_prob__scalar(const sl_ce_row *r) {
  const int64_t C = r->classes, cs = r->cstride;
  const double e = r->smoothing, e1 = 1.0 - e, ec = e / (double)C;
  double sum = 0.0;
  for (int64_t i = 0; i < r->len; i++) {
    if (r->cls[i] < 0) {
      if (r->loss)
        r->loss[i] = 0.0f;
      for (int64_t c = 0; r->grad && c < C; c++)
        sl_elem_put(r->grad, c * cs + i, 0.0f, r->gt);
      continue;
    }
    double m = -INFINITY;
    for (int64_t c = 0; c < C; c++)
      m = sl_ce_x(r, c, i) > m ? sl_ce_x(r, c, i) : m;
    /* as src/scalar/ce.c: s1 = the sum below the max + (classes at the max - 1), so that
     * log1p(s1) keeps a confident pixel's digits; an infinite max gives NaN */
    double s1 = 0.0, top = -1.0;
    for (int64_t c = 0; c < C; c++) {
      double d = sl_ce_x(r, c, i) - m;
      if (d == 0.0)
        top += 1.0;
      else
        s1 += exp(d);
    }
    s1 += top;
    double ls = log1p(s1);
    double l = 0.0, Q = 0.0;
    for (int64_t c = 0; c < C; c++) {
      double a = (r->cw ? (double)r->cw[c] : 1.0) *
                 (e1 * (double)sl_elem_get(r->q, c * cs + i, r->qt) + ec);
      Q += a;
      l += a * ((m - sl_ce_x(r, c, i)) + ls);
    }
    double pw = r->pw ? (double)sl_elem_get(r->pw, i, r->pwt) : 1.0;
    if (r->pw)
      l *= pw;
    sum += l;
    if (r->loss)
      r->loss[i] = (float)l;
    if (r->grad) {
      double g = (r->gmap ? (double)r->gmap[i] : r->gscale) * pw;
      for (int64_t c = 0; c < C; c++) {
        double a = (r->cw ? (double)r->cw[c] : 1.0) *
                   (e1 * (double)sl_elem_get(r->q, c * cs + i, r->qt) + ec);
        double p = exp((sl_ce_x(r, c, i) - m) - ls);
        sl_elem_put(r->grad, c * cs + i, (float)(g * (p * Q - a)), r->gt);
      }
    }
  }
  return sum;
}
