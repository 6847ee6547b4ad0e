// SPDX-License-Identifier: MIT
/*
 * scalar/bce.c - reference BCE row microkernels (probabilities and logits) and the sigmoid focal
 * loss (BCE with logits times a focal factor).
 *
 * The reference every SIMD kernel is tested against: plain C, each element computed in double
 * and rounded once to float for the loss map and gradient, sums accumulated in double.
 * Formulas are PyTorch 1.13's (aten/src/ATen/native/Loss.cpp), operation for operation where
 * the float rounding shows: 1 - p is rounded to float before its log, as PyTorch does.
 * Shape legend: a row is len consecutive elements of one (n, c, y) row of an N x C x H x W tensor.
 */
#include <math.h>

#include "kernels.h"

/* PyTorch's clamp of log terms and its gradient denominator floor (float 1e-12). */
#define SL_LOG_FLOOR (-100.0)
#define SL_BCE_EPS   ((double)1e-12f)

/* 1 when element i is outside the mask, after writing its zeros to the loss map and grad. */
static int unselected(const sl_bce_row *r, int64_t i) {
  if (!r->mask || r->mask[i])
    return 0;
  if (r->loss)
    r->loss[i] = 0.0f;
  if (r->grad)
    sl_elem_put(r->grad, i, 0.0f, r->gt);
  return 1;
}

/* input:  r->x probabilities in [0, 1], r->y targets in [0, 1], r->w, r->mask, r->gmap
 * output: r->loss, r->grad, *domain_error = 1 if a selected x or y is outside [0, 1] or NaN;
 *         returns sum over selected of w * l,
 *         l = -(y * max(log p, -100) + (1 - y) * max(log(1 - p), -100)),
 *         dl/dp = (p - y) / max(p * (1 - p), 1e-12) */
double sl_bce_prob__scalar(const sl_bce_row *r, int *domain_error) {
  double sum = 0.0;
  for (int64_t i = 0; i < r->len; i++) {
    if (unselected(r, i))
      continue;
    float pf = sl_elem_get(r->x, i, r->xt), tf = sl_elem_get(r->y, i, r->yt);
    if (!(pf >= 0.0f && pf <= 1.0f && tf >= 0.0f && tf <= 1.0f))
      *domain_error = 1;
    double p = pf, t = tf, q = (double)(1.0f - pf);
    double w = r->w ? (double)sl_elem_get(r->w, i, r->wt) : 1.0;
    double l = -w * (t * fmax(log(p), SL_LOG_FLOOR) + (1.0 - t) * fmax(log(q), SL_LOG_FLOOR));
    sum += l;
    if (r->loss)
      r->loss[i] = (float)l;
    if (r->grad) {
      double g = r->gmap ? (double)r->gmap[i] : r->gscale;
      sl_elem_put(r->grad, i, (float)(g * w * (p - t) / fmax(p * q, SL_BCE_EPS)), r->gt);
    }
  }
  return sum;
}

/* lw = 1 + (pw - 1) t with pw - 1 = pm + em exactly (TwoSum), so that neither a tiny pw
 * (t = 1, pw = 1e-29: lw = pw) nor the 1 beside a large t (t = 2^59, pw = 1: lw = 1) is lost,
 * as in the float kernels (generic/bce.h, bce_pwc); a non-finite pw or t: PyTorch's form. */
static double logits_lw(double pw, double t) {
  if (!isfinite(pw) || !isfinite(t))
    return (pw - 1.0) * t + 1.0;
  double pm = pw - 1.0, bm = pm - pw, em = (pw - (pm - bm)) + (-1.0 - bm);
  return fma(t, em, fma(t, pm, 1.0));
}

/* input:  r->x logits, r->y targets, r->w, r->mask, r->gmap, r->pos_weight (pw)
 * output: r->loss, r->grad; returns sum over selected of w * l, with lw = (pw - 1) * y + 1
 *         (logits_lw):
 *         l = (1 - y) * x + lw * (log1p(exp(-|x|)) + max(-x, 0))           (PyTorch's form)
 *           = lw * log1p(exp(-|x|)) + (1 - y) * max(x, 0) + pw * y * max(-x, 0)
 *         dl/dx = (pw * y + 1 - y) * sigmoid(x) - pw * y
 *               = (1 - y) * sigmoid(x) - pw * y * sigmoid(-x)
 * The second forms are used: equal for every finite x, but free of the cancellation of the
 * first (x = -20, y = 0: -20 + 20.000000002), so tiny losses and gradients keep their digits.
 * Near x = 0 the gradient's terms a sigmoid(x) and b sigmoid(-x) (a = 1 - y, b = pw y) are both
 * about a / 2 and b / 2; when a ~ b their difference is a tanh(x / 2) / 2-sized, and
 * sigmoid(+-x) from a rounded e = exp(-|x|) carry an absolute error of ulp(1), 1e-6 of
 * tanh(x / 2) at |x| = 1e-10. So for |x| < SL_LOGITS_NEAR0 (2^-10) the gradient is taken as
 *         dl/dx = ((a - b) + lw * sign(x) * (1 - e) / (1 + e)) / 2,   lw = a + b,
 * with 1 - e = -expm1(-|x|) exact to rounding (x / 4 when y = 1/2, pw = 1: no digit lost).
 * Elsewhere the first form is kept: for large |x| it is the one without cancellation
 * (y = 1, x = 30: -sigmoid(-30) exactly, where the second form would subtract 1 - 1).
 * At x = -inf PyTorch's form gives NaN (inf - inf) for every y; so does this kernel. */
/* The unweighted loss of one element (returned) and its derivative d = dl/dx in *d (the
 * formulas above). */
static double logits_elem(double x, double t, double pw, double *d) {
  double e = exp(-fabs(x)); /* sigmoid(|x|) = 1 / (1 + e), sigmoid(-|x|) = e / (1 + e) */
  double l = logits_lw(pw, t);
  l = l * log1p(e) + (1.0 - t) * fmax(x, 0.0) + pw * t * fmax(-x, 0.0);
  if (x == -INFINITY)
    l = NAN;
  double a = 1.0 - t, b = pw * t;
  if (fabs(x) < SL_LOGITS_NEAR0) {
    double th = -expm1(-fabs(x)) / (1.0 + e); /* tanh(|x| / 2) */
    *d = 0.5 * ((a - b) + (a + b) * copysign(th, x));
  } else {
    double sp = x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e); /* sigmoid(x) */
    double sn = x >= 0.0 ? e / (1.0 + e) : 1.0 / (1.0 + e); /* sigmoid(-x) */
    *d = a * sp - b * sn;
  }
  return l;
}

double sl_bce_logits__scalar(const sl_bce_row *r, int *domain_error) {
  (void)domain_error;
  double sum = 0.0, pw = r->pos_weight;
  for (int64_t i = 0; i < r->len; i++) {
    if (unselected(r, i))
      continue;
    double w = r->w ? (double)sl_elem_get(r->w, i, r->wt) : 1.0, d;
    double l = w * logits_elem(sl_elem_get(r->x, i, r->xt), sl_elem_get(r->y, i, r->yt), pw, &d);
    sum += l;
    if (r->loss)
      r->loss[i] = (float)l;
    if (r->grad) {
      double g = r->gmap ? (double)r->gmap[i] : r->gscale;
      sl_elem_put(r->grad, i, (float)(g * w * d), r->gt);
    }
  }
  return sum;
}

/* input:  r->x logits, r->y targets, r->w, r->mask, r->gmap, r->focal_alpha (alpha),
 *         r->focal_gamma (gamma)
 * output: r->loss, r->grad; returns the sum over selected of w * l,
 *         torchvision.ops.sigmoid_focal_loss per element, with sp = sigmoid(x), sn = sigmoid(-x)
 *         from e = exp(-|x|), ce and dce = dce/dx as sl_bce_logits__scalar (pos_weight 1):
 *         m = 1 - p_t = sp (1 - t) + sn t   (torchvision: 1 - (p t + (1 - p)(1 - t)); this form
 *                                            has no cancellation for t in [0, 1])
 *         l = alpha_t m^gamma ce,           alpha_t = alpha t + (1 - alpha)(1 - t), 1 if alpha < 0
 *         dl/dx = alpha_t (gamma m^(gamma-1) sp sn (1 - 2 t) ce + m^gamma dce)
 *         (dm/dx = sp sn (1 - 2 t)). The first term is 0 for gamma = 0 and where sp sn or m is
 *         0 (its limit: m^(gamma-1) sp sn -> 0 with m); m^0 = 1 (pow(0, 0)). A NaN or infinite
 *         x: a NaN gradient (PyTorch's autograd gives NaN there: inf * 0 in its chain). */
double sl_sigmoid_focal__scalar(const sl_bce_row *r, int *domain_error) {
  (void)domain_error;
  double sum = 0.0, gam = r->focal_gamma, al = r->focal_alpha;
  for (int64_t i = 0; i < r->len; i++) {
    if (unselected(r, i))
      continue;
    double x = sl_elem_get(r->x, i, r->xt), t = sl_elem_get(r->y, i, r->yt), dce;
    double w = r->w ? (double)sl_elem_get(r->w, i, r->wt) : 1.0;
    double ce = logits_elem(x, t, 1.0, &dce);
    double e = exp(-fabs(x));
    double sp = x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    double sn = x >= 0.0 ? e / (1.0 + e) : 1.0 / (1.0 + e);
    double m = sp * (1.0 - t) + sn * t, mg = pow(m, gam);
    double at = al < 0.0 ? 1.0 : al * t + (1.0 - al) * (1.0 - t);
    double l = w * at * mg * ce;
    sum += l;
    if (r->loss)
      r->loss[i] = (float)l;
    if (r->grad) {
      double g = r->gmap ? (double)r->gmap[i] : r->gscale;
      double sps = sp * sn, d1 = 0.0;
      if (gam != 0.0 && m != 0.0 && sps != 0.0)
        d1 = gam * pow(m, gam - 1.0) * sps * (1.0 - 2.0 * t) * ce;
      double d = isfinite(x) ? at * (d1 + mg * dce) : NAN;
      sl_elem_put(r->grad, i, (float)(g * w * d), r->gt);
    }
  }
  return sum;
}
