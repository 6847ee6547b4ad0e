// SPDX-License-Identifier: MIT
/*
 * ref.c - the double-precision reference (see ref.h). Written from PyTorch 1.13's formulas:
 *
 * Selection: element (n, c, y, x) is selected when (no box, or x1 <= x < x2 and y1 <= y < y2
 * for sample n's box: boxes[0] with num_boxes 1, boxes[n] with num_boxes N, any of
 * boxes[box_offsets[n] .. box_offsets[n + 1]) with box_offsets) and (no mask, or
 * mask[n, c or 0, y, x] != 0). CE: pixel (n, y, x) is counted when selected and its label is
 * not ignore_index; a selected label outside [0, C) that is not ignore_index is SL_ERR_LABEL.
 *
 * BCE (probabilities p, targets t, weights w), F.binary_cross_entropy:
 *   l = -w * (t * max(log p, -100) + (1 - t) * max(log q, -100)),  q = 1 - p rounded to float
 *   dl/dp = g * w * (p - t) / max(p * q, (double)1e-12f)
 *   a selected p or t outside [0, 1] or NaN: SL_ERR_DOMAIN.
 * BCE with logits (pos_weight pw of the channel, lw = 1 + (pw - 1) t, with pw - 1 split exactly
 * so that a tiny pw (t = 1) and the 1 beside a large t are both kept):
 *   l = w * ((1 - t) x + lw * softplus(-x)); for finite x evaluated without cancellation:
 *       x >= 0: (1 - t) x + lw log1p(e^-x);   x < 0: -pw t x + lw log1p(e^x)
 *   for x = +-inf or NaN PyTorch's own expression (1 - t) x + lw (log1p(e^-|x|) + max(-x, 0)),
 *   which gives NaN at -inf and at NaN, +inf at +inf for t < 1;
 *   dl/dx = g * w * ((1 - t) sigmoid(x) - pw t sigmoid(-x)).
 * CE (logits x_c, label t, class weights w_c, W = sum_c w_c, smoothing e, logp = log_softmax):
 *   l = (1 - e) w_t (-logp_t) + (e / C) sum_c w_c (-logp_c)   (second term only when e > 0)
 *   dl/dx_c = g * ((1 - e) w_t (p_c - [c == t]) + (e / C) (W p_c - w_c))
 *   a pixel with a NaN or +inf logit, or only -inf logits, is NaN (loss and every gradient).
 * Pixel weights pw (CE and softmax focal, per pixel, NULL = 1) multiply the whole per-pixel
 * loss (label smoothing included) and its gradient:
 *   (F.cross_entropy(x, t, weight, reduction="none", label_smoothing=e) * pw).sum()
 *       / (pw * weight[t]).sum()
 * Softmax focal (e = 0, gamma >= 0), p = softmax, q = 1 - p_t (as -expm1(logp_t)):
 *   l = pw w_t q^gamma (-logp_t)
 *   dl/dx_c = g pw w_t F (p_c - [c == t]), F = q^gamma - gamma q^(gamma-1) p_t logp_t
 *   (derived by hand from l; tests/test_softmax_focal.c checks it by central differences).
 * CE with probability targets q (F.cross_entropy(x, q, weight, label_smoothing=e)), per pixel:
 *   a_c = w_c ((1 - e) q_c + e / C),  l = pw sum_c a_c (-logp_c)
 *   dl/dx_c = g pw (p_c sum_k a_k - a_c)
 *   normaliser: the counted pixels (PyTorch's mean over the pixels), with pixel weights the sum
 *   of theirs; a NaN logit, a +inf one or only -inf ones: NaN (loss and every gradient).
 * g: MEAN grad_scale / normaliser (0 when the normaliser is 0), SUM grad_scale, NONE grad_map.
 * Normaliser: BCE the selected count; CE and softmax focal the sum of pw w_t over counted
 * pixels. MEAN of an empty selection is 0.
 *
 * log_softmax is computed as PyTorch does, logp_c = (x_c - max) - log(sum_k exp(x_k - max)).
 *
 * Natural magnitudes (for the tolerance, util.c t_tol): the sum of the absolute values of the
 * terms a float implementation has to add; for CE the rounding of logp_c is relative to
 * |x_c - max| + log(sum) (+ C/4 for the rounding of a float sum of C exponentials).
 */
#include "ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int in_box(const t_case *c, int64_t n, int64_t y, int64_t x) {
  return t_in_boxes(c, n, y, x);
}

static int in_mask(const t_case *c, int64_t n, int64_t ch, int64_t y, int64_t x) {
  if (!c->use_region || !c->region.mask)
    return 1;
  const int64_t C = c->shape.c, H = c->shape.h, W = c->shape.w;
  int64_t mc = c->region.mask_channels;
  int64_t k = mc == 1 ? 0 : ch;
  (void)C;
  return c->region.mask[((n * mc + k) * H + y) * W + x] != 0;
}

static double *dalloc(int64_t n) {
  double *p = t_alloc((size_t)n * sizeof(double));
  for (int64_t i = 0; i < n; i++)
    p[i] = 0.0;
  return p;
}

static double g_of(const t_case *c, double norm, int64_t map_index) {
  switch (c->opt.reduction) {
  case SL_REDUCTION_MEAN:
    return norm != 0.0 ? (double)c->opt.grad_scale / norm : 0.0;
  case SL_REDUCTION_SUM:
    return (double)c->opt.grad_scale;
  default:
    return c->opt.grad_map ? (double)c->opt.grad_map[map_index] : (double)c->opt.grad_scale;
  }
}

static double sigmoid(double x) {
  if (x >= 0)
    return 1.0 / (1.0 + exp(-x));
  double e = exp(x);
  return e / (1.0 + e);
}

/* Sigmoid focal: the factor alpha_t m^gamma of the BCE-with-logits loss, m = 1 - p_t =
 * p + t - 2 p t (written as sigmoid(x) (1 - t) + sigmoid(-x) t: no cancellation for t in
 * [0, 1]), and in *dfdx its derivative alpha_t gamma m^(gamma-1) dm/dx, dm/dx = p (1 - p)
 * (1 - 2 t) (0 where gamma = 0, m = 0 or p (1 - p) = 0: the limit). */
static double focal_factor(double x, double t, double gam, double al, double *dfdx) {
  double sp = sigmoid(x), sn = sigmoid(-x), m = sp * (1.0 - t) + sn * t;
  double at = al < 0 ? 1.0 : al * t + (1.0 - al) * (1.0 - t);
  if (dfdx)
    *dfdx = gam != 0.0 && m != 0.0 && sp * sn != 0.0
                ? at * gam * pow(m, gam - 1.0) * sp * sn * (1.0 - 2.0 * t)
                : 0.0;
  return at * pow(m, gam);
}

/* The call's results from its sums: stats, and the reduced loss and its natural magnitude
 * (MEAN over a zero normaliser: 0, as the library). */
static void ref_reduce(const t_case *c, ref_out *o, double sum, double nat, double norm,
                       int64_t count) {
  o->stats.loss_sum = sum;
  o->stats.normalizer = norm;
  o->stats.count = count;
  if (c->opt.reduction == SL_REDUCTION_MEAN) {
    o->loss = norm != 0.0 ? sum / norm : 0.0;
    o->loss_nat = norm != 0.0 ? nat / fabs(norm) : 0.0;
  } else {
    o->loss = sum;
    o->loss_nat = nat;
  }
}

static void ref_bce(const t_case *c, ref_out *o) {
  const int64_t N = c->shape.n, C = c->shape.c, H = c->shape.h, W = c->shape.w;
  const int focal = c->op == T_SIGMOID_FOCAL, logits = c->op == T_BCE_LOGITS || focal;
  const double eps = (double)1e-12f, gam = c->opt.focal_gamma, al = c->opt.focal_alpha;
  double sum = 0.0, nat = 0.0;
  int64_t count = 0;
  /* pass 1: selection, loss, count, domain */
  for (int64_t n = 0; n < N; n++)
    for (int64_t ch = 0; ch < C; ch++)
      for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++) {
          int64_t i = ((n * C + ch) * H + y) * W + x;
          if (!in_box(c, n, y, x) || !in_mask(c, n, ch, y, x))
            continue;
          o->sel[i] = 1;
          o->norm_map[i] = 1.0;
          count++;
          double p = c->x[i], t = c->target[i];
          double w = c->weight ? (double)c->weight[i] : 1.0;
          double l, ln;
          if (!logits) {
            if (!(p >= 0.0 && p <= 1.0) || !(t >= 0.0 && t <= 1.0))
              o->status = SL_ERR_DOMAIN;
            double q = (double)(float)(1.0 - p);
            double lp = fmax(log(p), -100.0), lq = fmax(log(q), -100.0);
            l = -w * (t * lp + (1.0 - t) * lq);
            ln = fabs(w) * (fabs(t * lp) + fabs((1.0 - t) * lq));
          } else {
            double pw = c->pos_weight ? (double)c->pos_weight[ch] : 1.0;
            double lw = 1.0 + (pw - 1.0) * t;
            if (isfinite(pw) && isfinite(t)) { /* pw - 1 = pm + em exactly */
              double pm = pw - 1.0, bm = pm - pw, em = (pw - (pm - bm)) + (-1.0 - bm);
              lw = fma(t, em, fma(t, pm, 1.0));
            }
            if (isfinite(p)) {
              if (p >= 0)
                l = (1.0 - t) * p + lw * log1p(exp(-p));
              else
                l = -pw * t * p + lw * log1p(exp(p));
            } else {
              l = (1.0 - t) * p + lw * (log1p(exp(-fabs(p))) + fmax(-p, 0.0));
            }
            l *= w;
            ln = fabs(w) *
                 (fabs((1.0 - t) * p) + fabs(pw * t * p) + fabs(lw) * log1p(exp(-fabs(p))));
            if (focal) { /* torchvision: alpha_t (1 - p_t)^gamma ce */
              double f = focal_factor(p, t, gam, al, NULL);
              l *= f;
              ln *= fabs(f);
            }
          }
          o->map[i] = l;
          o->map_nat[i] = ln;
          sum += l;
          nat += ln;
        }
  double norm = (double)count;
  /* pass 2: gradient */
  for (int64_t i = 0; i < N * C * H * W; i++) {
    if (!o->sel[i])
      continue;
    double g = g_of(c, norm, i);
    double p = c->x[i], t = c->target[i];
    double w = c->weight ? (double)c->weight[i] : 1.0;
    if (!logits) {
      double q = (double)(float)(1.0 - p);
      o->grad[i] = g * w * (p - t) / fmax(p * q, eps);
      o->grad_nat[i] = fabs(o->grad[i]);
    } else {
      int64_t ch = (i / (H * W)) % C;
      double pw = c->pos_weight ? (double)c->pos_weight[ch] : 1.0;
      o->grad[i] = g * w * ((1.0 - t) * sigmoid(p) - pw * t * sigmoid(-p));
      o->grad_nat[i] = fabs(g * w) * (fabs(1.0 - t) + fabs(pw * t));
      if (focal) {
        double dm, f = focal_factor(p, t, gam, al, &dm);
        double ce =
            isfinite(p) ? (p >= 0 ? (1.0 - t) * p + log1p(exp(-p)) : -t * p + log1p(exp(p))) : NAN;
        double dce = (1.0 - t) * sigmoid(p) - t * sigmoid(-p);
        o->grad[i] = isfinite(p) ? g * w * (dm * ce + f * dce) : NAN;
        o->grad_nat[i] = fabs(g * w) * (fabs(dm * ce) + fabs(f) * (fabs(1.0 - t) + fabs(t)));
      }
    }
  }
  ref_reduce(c, o, sum, nat, norm, count);
}

static void ref_ce(const t_case *c, ref_out *o) {
  const int64_t N = c->shape.n, C = c->shape.c, H = c->shape.h, W = c->shape.w;
  const double e = c->opt.label_smoothing, ec = e / (double)C;
  double wsum = 0.0;
  for (int64_t k = 0; k < C; k++)
    wsum += c->weight ? (double)c->weight[k] : 1.0;
  double norm = 0.0;
  int64_t count = 0;
  /* pass 1: which pixels count, labels, the normaliser */
  for (int64_t n = 0; n < N; n++)
    for (int64_t y = 0; y < H; y++)
      for (int64_t x = 0; x < W; x++) {
        int64_t pi = (n * H + y) * W + x;
        if (!in_box(c, n, y, x) || !in_mask(c, n, 0, y, x))
          continue;
        int64_t lab = t_label_at(c, pi);
        if (lab == c->opt.ignore_index)
          continue;
        if (lab < 0 || lab >= C) {
          o->status = SL_ERR_LABEL;
          continue;
        }
        o->sel[pi] = 1;
        count++;
        o->norm_map[pi] = (c->weight ? (double)c->weight[lab] : 1.0) *
                          (c->pixel_weight ? (double)c->pixel_weight[pi] : 1.0);
        norm += o->norm_map[pi];
      }
  double sum = 0.0, nat = 0.0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t y = 0; y < H; y++)
      for (int64_t x = 0; x < W; x++) {
        int64_t pi = (n * H + y) * W + x;
        if (!o->sel[pi])
          continue;
        int64_t t = t_label_at(c, pi);
        double g = g_of(c, norm, pi);
#define XC(k) ((double)c->x[((n * C + (k)) * H + y) * W + x])
#define WC(k) (c->weight ? (double)c->weight[k] : 1.0)
        int bad = 0;
        double m = -INFINITY;
        for (int64_t k = 0; k < C; k++) {
          if (isnan(XC(k)))
            bad = 1;
          else if (XC(k) > m)
            m = XC(k);
        }
        if (isinf(m))
          bad = 1; /* +inf: inf - inf; all -inf: -inf - -inf */
        if (bad) {
          o->map[pi] = NAN;
          sum += NAN;
          for (int64_t k = 0; k < C; k++)
            o->grad[((n * C + k) * H + y) * W + x] = NAN;
          continue;
        }
        /* log_softmax as (x_c - max) - log(sum exp(x_k - max)): never x_c - (max + log s),
         * which loses log s when |max| is large (max = 1e30: 1e30 + log 2 == 1e30) */
        double s = 0.0;
        for (int64_t k = 0; k < C; k++)
          s += exp(XC(k) - m);
        double ls = log(s);
#define LOGP(k) ((XC(k) - m) - ls)
#define NATP(k) (fabs(XC(k) - m) + ls + 0.25 * (double)C)
        double wt = WC(t);
        double l = -(1.0 - e) * wt * LOGP(t);
        double ln = (1.0 - e) * fabs(wt) * NATP(t);
        if (e > 0) {
          double sm = 0.0, smn = 0.0;
          for (int64_t k = 0; k < C; k++) {
            sm -= WC(k) * LOGP(k);
            smn += fabs(WC(k)) * NATP(k);
          }
          l += ec * sm;
          ln += ec * smn;
        }
        /* the per-pixel factors: pixel weight and focal (on loss fl and gradient fg); the
         * focal loss's q comes from float exponentials in a SIMD kernel: its relative error
         * (a few float eps), gamma times in q^gamma, is in the natural magnitude */
        double pw = c->pixel_weight ? (double)c->pixel_weight[pi] : 1.0, fl = pw, fg = pw;
        double gam = c->op == T_SOFTMAX_FOCAL ? (double)c->opt.focal_gamma : 0.0;
        if (gam != 0.0) {
          double lpt = LOGP(t), q = -expm1(lpt), pt = exp(lpt);
          fl *= pow(q, gam);
          fg *= q > 0.0 ? pow(q, gam) - gam * pow(q, gam - 1.0) * (pt > 0.0 ? pt * lpt : 0.0) : 0.0;
        }
        l *= fl;
        ln = ln * fabs(fl) + 2.0 * gam * fabs(l);
        o->map[pi] = l;
        o->map_nat[pi] = ln;
        sum += l;
        nat += ln;
        g *= fg;
        double a = (1.0 - e) * wt + ec * wsum;
        for (int64_t k = 0; k < C; k++) {
          double p = exp(LOGP(k));
          double d = (1.0 - e) * wt * (p - (k == t ? 1.0 : 0.0)) + ec * (wsum * p - WC(k));
          double dn = (k == t ? (1.0 - e) * fabs(wt) : 0.0) + ec * fabs(WC(k));
          if (p > 0)
            dn += fabs(a) * p * (1.0 + NATP(k));
          int64_t gi = ((n * C + k) * H + y) * W + x;
          o->grad[gi] = g * d;
          o->grad_nat[gi] = fabs(g) * dn * (1.0 + 2.0 * gam);
        }
#undef LOGP
#undef NATP
#undef XC
#undef WC
      }
  ref_reduce(c, o, sum, nat, norm, count);
}

static void ref_ce_prob(const t_case *c, ref_out *o) {
  const int64_t N = c->shape.n, C = c->shape.c, H = c->shape.h, W = c->shape.w;
  const double e = c->opt.label_smoothing, ec = e / (double)C;
  double norm = 0.0;
  int64_t count = 0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t y = 0; y < H; y++)
      for (int64_t x = 0; x < W; x++) {
        int64_t pi = (n * H + y) * W + x;
        if (!in_box(c, n, y, x) || !in_mask(c, n, 0, y, x))
          continue;
        o->sel[pi] = 1;
        count++;
        o->norm_map[pi] = c->pixel_weight ? (double)c->pixel_weight[pi] : 1.0;
        norm += o->norm_map[pi];
      }
  double sum = 0.0, nat = 0.0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t y = 0; y < H; y++)
      for (int64_t x = 0; x < W; x++) {
        int64_t pi = (n * H + y) * W + x;
        if (!o->sel[pi])
          continue;
#define XC(k) ((double)c->x[((n * C + (k)) * H + y) * W + x])
#define AC(k)                                                                                      \
  ((c->weight ? (double)c->weight[k] : 1.0) *                                                      \
   ((1.0 - e) * (double)c->target[((n * C + (k)) * H + y) * W + x] + ec))
        int bad = 0;
        double m = -INFINITY;
        for (int64_t k = 0; k < C; k++) {
          if (isnan(XC(k)))
            bad = 1;
          else if (XC(k) > m)
            m = XC(k);
        }
        if (isinf(m))
          bad = 1;
        if (bad) {
          o->map[pi] = NAN;
          sum += NAN;
          for (int64_t k = 0; k < C; k++)
            o->grad[((n * C + k) * H + y) * W + x] = NAN;
          continue;
        }
        double s = 0.0;
        for (int64_t k = 0; k < C; k++)
          s += exp(XC(k) - m);
        double ls = log(s);
#define LOGP(k) ((XC(k) - m) - ls)
#define NATP(k) (fabs(XC(k) - m) + ls + 0.25 * (double)C)
        double pw = c->pixel_weight ? (double)c->pixel_weight[pi] : 1.0;
        double l = 0.0, ln = 0.0, Q = 0.0, Qa = 0.0;
        for (int64_t k = 0; k < C; k++) {
          l -= AC(k) * LOGP(k);
          ln += fabs(AC(k)) * NATP(k);
          Q += AC(k);
          Qa += fabs(AC(k));
        }
        l *= pw;
        ln *= fabs(pw);
        o->map[pi] = l;
        o->map_nat[pi] = ln;
        sum += l;
        nat += ln;
        double g = g_of(c, norm, pi) * pw;
        for (int64_t k = 0; k < C; k++) {
          double p = exp(LOGP(k));
          int64_t gi = ((n * C + k) * H + y) * W + x;
          o->grad[gi] = g * (p * Q - AC(k));
          o->grad_nat[gi] = fabs(g) * ((p > 0 ? Qa * p * (1.0 + NATP(k)) : 0.0) + fabs(AC(k)));
        }
#undef LOGP
#undef NATP
#undef XC
#undef AC
      }
  ref_reduce(c, o, sum, nat, norm, count);
}

void ref_run(const t_case *c, ref_out *o) {
  memset(o, 0, sizeof *o);
  int64_t me = t_map_elems(c), ne = t_elems(&c->shape);
  o->status = SL_OK;
  o->map = dalloc(me);
  o->map_nat = dalloc(me);
  o->norm_map = dalloc(me);
  o->sel = t_alloc((size_t)me);
  memset(o->sel, 0, (size_t)me);
  o->grad = dalloc(ne);
  o->grad_nat = dalloc(ne);
  if (c->op == T_CE_PROB)
    ref_ce_prob(c, o);
  else if (t_op_labels(c->op))
    ref_ce(c, o);
  else
    ref_bce(c, o);
}

void ref_free(ref_out *o) {
  free(o->map);
  free(o->map_nat);
  free(o->sel);
  free(o->norm_map);
  free(o->grad);
  free(o->grad_nat);
  memset(o, 0, sizeof *o);
}

int ref_check_by_differences(t_case *c, int64_t *bad_i, double *bad_ref, double *bad_fd) {
  ref_out r0;
  ref_run(c, &r0);
  const double h = 0x1p-10;
  int fails = 0;
  for (int64_t i = 0; i < t_elems(&c->shape); i++) {
    float x0 = c->x[i];
    ref_out rp, rm;
    c->x[i] = (float)(x0 + h);
    ref_run(c, &rp);
    c->x[i] = (float)(x0 - h);
    ref_run(c, &rm);
    c->x[i] = x0;
    double fd = (rp.loss - rm.loss) / (2 * h);
    if (!(fabs(fd - r0.grad[i]) <= 1e-5 * (1.0 + fabs(r0.loss))) && fails++ == 0) {
      *bad_i = i;
      *bad_ref = r0.grad[i];
      *bad_fd = fd;
    }
    ref_free(&rp);
    ref_free(&rm);
  }
  ref_free(&r0);
  return fails;
}
