// SPDX-License-Identifier: MIT
/*
 * scalar/dice.c - reference Dice / Tversky row microkernels (sl_dice, sl_dice_multiclass), in
 * double: the sums of p t, p and t over a row's selected elements and the gradient pass after
 * them. Every SIMD kernel is tested against these (tests/exhaustive/kernels_strict.c).
 *
 * Shape legend: sl_dice: a row is len consecutive elements of one (n, c, y) row of an
 * N x C x H x W tensor; multiclass: a run of len pixels of one (n, y) row, class c of pixel i
 * at x[c * cstride + i], cstride = H * W.
 *
 * Formulas (p = x, or sigmoid(x) = 1 / (1 + exp(-x)) with logits; multiclass p = softmax(x)):
 *   sums:     I += p t (l1: D += |p - t|), P += p, T += t over the selected elements
 *             (multiclass: t = [cls == c])
 *   gradient: binary g_i = (a + b h_i) [* p_i (1 - p_i) = e / (1 + e)^2, e = exp(-|x_i|)],
 *             h_i = t_i, or with l1 [p_i < t_i] + [p_i == t_i] / 2 (smp 0.5+'s L1 intersection
 *             (P + T - D) / 2 through PyTorch's autograd, sign(0) = 0);
 *             multiclass grad_c = p_c (G_c - sum_k p_k G_k), G_k = a_k + b_k [cls == k].
 * NaN and infinite inputs propagate as in PyTorch (a NaN p makes the sums NaN).
 */
#include <math.h>

#include "kernels.h"

/* sigmoid in double: 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0, e = exp(-|x|) */
static double sig(double x) {
  double e = exp(-fabs(x));
  return x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}

/* input:  r->x, r->y, r->mask, r->logits, r->l1, r->len
 * output: sums[0] += sum p t (l1: sum |p - t|), sums[1] += sum p, sums[2] += sum t over the
 *         selected elements */
void sl_dice_sums__scalar(const sl_dice_row *r, double sums[3]) {
  double i_ = 0.0, p_ = 0.0, t_ = 0.0;
  for (int64_t i = 0; i < r->len; i++) {
    if (r->mask && !r->mask[i])
      continue;
    double p = r->logits ? sig((double)sl_elem_get(r->x, i, r->xt))
                         : (double)sl_elem_get(r->x, i, r->xt),
           t = (double)sl_elem_get(r->y, i, r->yt);
    i_ += r->l1 ? fabs(p - t) : p * t;
    p_ += p;
    t_ += t;
  }
  sums[0] += i_;
  sums[1] += p_;
  sums[2] += t_;
}

/* input:  r->x, r->y, r->mask, r->a, r->b, r->logits, r->l1, r->len
 * output: r->grad[i] = (a + b h_i) [* e / (1 + e)^2] where selected, 0 elsewhere */
void sl_dice_grad__scalar(const sl_dice_row *r) {
  for (int64_t i = 0; i < r->len; i++) {
    if (r->mask && !r->mask[i]) {
      sl_elem_put(r->grad, i, 0.0f, r->gt);
      continue;
    }
    double t = (double)sl_elem_get(r->y, i, r->yt), h = t;
    if (r->l1) {
      double p = r->logits ? sig((double)sl_elem_get(r->x, i, r->xt))
                           : (double)sl_elem_get(r->x, i, r->xt);
      h = p < t ? 1.0 : p == t ? 0.5 : 0.0;
    }
    double g = r->a + r->b * h;
    if (r->logits) {
      double e = exp(-fabs((double)sl_elem_get(r->x, i, r->xt)));
      g *= e / ((1.0 + e) * (1.0 + e));
    }
    sl_elem_put(r->grad, i, (float)g, r->gt);
  }
}

/* input:  r->x logits, r->cls, r->classes, r->cstride, r->len; r->ab (gradient pass)
 * output: sums pass (r->grad NULL): r->sums[3c ..] += (I_c, P_c, T_c) over the counted pixels;
 *         gradient pass: r->grad (layout of x), 0 for the classes of uncounted pixels */
void sl_dice_mc__scalar(const sl_dice_mc_row *r) {
  const int64_t C = r->classes, cs = r->cstride;
  for (int64_t i = 0; i < r->len; i++) {
    const int32_t t = r->cls[i];
    if (t < 0) {
      for (int64_t c = 0; r->grad && c < C; c++)
        sl_elem_put(r->grad, c * cs + i, 0.0f, r->gt);
      continue;
    }
    double m = -INFINITY, s = 0.0;
    int nan = 0;
    for (int64_t c = 0; c < C; c++) {
      double v = (double)sl_elem_get(r->x, c * cs + i, r->xt);
      nan |= isnan(v);
      m = v > m ? v : m;
    }
    if (nan)
      m = NAN;
    for (int64_t c = 0; c < C; c++)
      s += exp((double)sl_elem_get(r->x, c * cs + i, r->xt) - m);
    if (!r->grad) {
      for (int64_t c = 0; c < C; c++) {
        double p = exp((double)sl_elem_get(r->x, c * cs + i, r->xt) - m) / s;
        r->sums[3 * c + 0] += c == t ? p : 0.0;
        r->sums[3 * c + 1] += p;
      }
      r->sums[3 * t + 2] += 1.0;
      continue;
    }
    double sg = 0.0; /* sum_k p_k G_k */
    for (int64_t c = 0; c < C; c++)
      sg += exp((double)sl_elem_get(r->x, c * cs + i, r->xt) - m) / s *
            (r->ab[2 * c] + (c == t ? r->ab[2 * c + 1] : 0.0));
    for (int64_t c = 0; c < C; c++) {
      double p = exp((double)sl_elem_get(r->x, c * cs + i, r->xt) - m) / s;
      double gc = r->ab[2 * c] + (c == t ? r->ab[2 * c + 1] : 0.0);
      sl_elem_put(r->grad, c * cs + i, (float)(p * (gc - sg)), r->gt);
    }
  }
}
