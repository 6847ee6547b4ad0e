/*
 * contract.h - the accuracy contract of every SIMD kernel against the scalar reference, in one
 * place (docs/accuracy.md states it in words). Header-only, test side: used by the strict
 * direct-kernel test (tests/exhaustive/kernels_strict.c), the fuzzers (tests/fuzz/fuzz_common.h)
 * and the Criterion equivalence test (tests/test_equiv.c).
 *
 * Per output element (a loss-map value or a gradient element), with ref the scalar kernel's
 * float result and got the SIMD kernel's:
 *   - ref NaN: got must be NaN; ref +-inf: got must be the same infinity;
 *   - ref finite: got finite and |got - ref| <= CT_MAX_ULP * ulp(M), where
 *     M = max(|ref|, the magnitudes of the terms the output is the difference of), the terms
 *     computed in double from the element's inputs (functions below; a term that is not finite
 *     is left out of M), and ulp(M) = 2^(floor(log2 M) - 23) for M >= 2^-126, 2^-149 below
 *     (the float spacing at M, continued in double above FLT_MAX).
 * Reduced losses: ct_sum_err. No other tolerance exists; in particular no absolute one.
 * Shape legend: N, C, H, W as in sectionloss.h; BCE outputs are per element of N x C x H x W,
 * the CE loss per pixel of N x H x W, the CE gradient per element.
 */
#ifndef SL_TEST_CONTRACT_H
#define SL_TEST_CONTRACT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "sectionloss.h"

#define CT_MAX_ULP 4.0  /* per element, in ulp(M) */
#define CT_SUM_REL 1e-6 /* reduced losses, relative to the sum of |per-element loss| */

/* ulp(M) as defined above; M >= 0 and finite. */
static inline double ct_ulp(double m) {
  m = fabs(m);
  if (!(m >= 0x1p-126))
    return 0x1p-149;
  if (!isfinite(m))
    return INFINITY;
  int e;
  (void)frexp(m, &e); /* m = f 2^e, f in [0.5, 1): floor(log2 m) = e - 1 */
  return ldexp(1.0, e - 1 - 23);
}

/* max(m, |term|), leaving a non-finite term out. */
static inline double ct_max(double m, double term) {
  term = fabs(term);
  return isfinite(term) && term > m ? term : m;
}

/* The rule for a non-finite scalar result (and the trivial cases), shared by ct_err and
 * ct_sum_err: returns 1 and sets *e (0 = pass, INFINITY = fail) when it decides: ref NaN (got
 * must be NaN), ref +-inf (got must be the same infinity), got not finite, or got == ref. */
static inline int ct_decided(double got, double ref, double *e) {
  if (isnan(ref))
    *e = isnan(got) ? 0.0 : INFINITY;
  else if (isinf(ref))
    *e = got == ref ? 0.0 : INFINITY;
  else if (!isfinite(got))
    *e = INFINITY;
  else if (got == ref)
    *e = 0.0;
  else
    return 0;
  return 1;
}

/* The error of got against ref in ulp(M), M = max(|ref|, terms): 0 when equal, INFINITY when the
 * contract's non-finite rule is broken. The element passes when this is <= CT_MAX_ULP. */
static inline double ct_err(float got, float ref, double terms) {
  double e;
  if (ct_decided(got, ref, &e))
    return e;
  return fabs((double)got - (double)ref) / ct_ulp(ct_max(fabs((double)ref), terms));
}

static inline int ct_ok(float got, float ref, double terms) {
  return ct_err(got, ref, terms) <= CT_MAX_ULP;
}

/* Reduced losses. ref non-finite: got the same (NaN for NaN, the same infinity). Else got finite
 * and |got - ref| <= CT_SUM_REL * scale + ulp_ref, scale = the sum of |per-element loss|, each
 * evaluated in double from its inputs (ct_terms; divided by the MEAN normaliser for a MEAN loss),
 * ulp_ref = the float spacing at |ref| for the float loss value (its final rounding to float), 0
 * for the double stats.loss_sum. Returns the error in units of the allowed difference (<= 1
 * passes). */
static inline double ct_sum_err(double got, double ref, double scale, int is_float) {
  double e;
  if (ct_decided(got, ref, &e))
    return e;
  double tol = CT_SUM_REL * fabs(scale) + (is_float ? ct_ulp(ref) : 0.0);
  return fabs(got - ref) / tol;
}

/* ---- the terms, per loss ------------------------------------------------------------------ */

/* Each loss's terms function also stores the loss itself, evaluated in double, in *value when
 * value is not NULL (the scale of the reduced losses' tolerance: the sum of |per-element loss|).
 *
 * BCE on probabilities, loss w * l, l = -(t max(log p, -100) + (1 - t) max(log q, -100)),
 * q = 1 - p rounded to float: terms |w t lp|, |w (1 - t) lq|. */
static inline double ct_bce_prob_loss_terms(float pf, float tf, double w, double *value) {
  double p = pf, t = tf, q = (double)(1.0f - pf);
  double lp = fmax(log(p), -100.0), lq = fmax(log(q), -100.0);
  if (value)
    *value = -w * (t * lp + (1.0 - t) * lq);
  return ct_max(ct_max(0.0, w * t * lp), w * (1.0 - t) * lq);
}

/* Its gradient g w (p - t) / max(p q, 1e-12f): term |g w| max(|p|, |t|) / den. */
static inline double ct_bce_prob_grad_terms(float pf, float tf, double w, double g) {
  double p = pf, t = tf, q = (double)(1.0f - pf);
  double den = fmax(p * q, (double)1e-12f);
  return ct_max(0.0, fabs(g * w) * fmax(fabs(p), fabs(t)) / den);
}

/* BCE with logits, a = 1 - t, b = pw t, lw = (pw - 1) t + 1 = a + b (pw - 1 split exactly, as
 * the scalar kernel: neither a tiny b beside a = 0 nor the 1 beside a large t is lost),
 * e = exp(-|x|):
 * loss w (lw log1p(e) + a max(x, 0) + b max(-x, 0)): terms |w a log1p(e)|, |w b log1p(e)|
 * (lw is itself the difference of a and -b when t is outside [0, 1] or pw < 0),
 * |w a max(x, 0)|, |w b max(-x, 0)|. */
static inline double ct_logits_loss_terms(float xf, float tf, double w, double pw, double *value) {
  double x = xf, t = tf, a = 1.0 - t, b = pw * t;
  double lw = (pw - 1.0) * t + 1.0;
  if (isfinite(pw) && isfinite(t)) { /* pw - 1 = pm + em exactly */
    double pm = pw - 1.0, bm = pm - pw, em = (pw - (pm - bm)) + (-1.0 - bm);
    lw = fma(t, em, fma(t, pm, 1.0));
  }
  double e = exp(-fabs(x));
  if (value) /* NaN at x = -inf, as PyTorch's form (and the scalar kernel) */
    *value = x == -INFINITY ? NAN : w * (lw * log1p(e) + a * fmax(x, 0.0) + b * fmax(-x, 0.0));
  double m = ct_max(0.0, w * a * log1p(e));
  m = ct_max(m, w * b * log1p(e));
  m = ct_max(m, w * a * fmax(x, 0.0));
  return ct_max(m, w * b * fmax(-x, 0.0));
}

/* Its gradient g w (a sigmoid(x) - b sigmoid(-x)): terms |g w a sigmoid(x)|,
 * |g w b sigmoid(-x)|. */
static inline double ct_logits_grad_terms(float xf, float tf, double w, double pw, double g) {
  double x = xf, t = tf, a = 1.0 - t, b = pw * t;
  double e = exp(-fabs(x));
  double sp = x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
  double sn = x >= 0.0 ? e / (1.0 + e) : 1.0 / (1.0 + e);
  return ct_max(ct_max(0.0, g * w * a * sp), g * w * b * sn);
}

/* CE at one counted pixel: logits x[c * stride], c < C, label t, class weights cw (NULL = 1),
 * W = sum of the class weights (C without), smoothing e. m = max logit, ls = log sum exp(x - m)
 * (as log1p of the other classes' sum),
 * ec = e / C, A = (1 - e) w_t + ec W. */
typedef struct ct_ce_px {
  double m, ls, wt1, ec, a, loss_terms, loss; /* loss: the pixel's loss in double */
  double fg; /* the gradient's per-pixel factor (pixel weight, focal F; 1 from ct_ce_pixel) */
} ct_ce_px;

static inline void ct_ce_pixel(ct_ce_px *k, const float *x, int64_t stride, int64_t C, int64_t t,
                               const float *cw, double W, double e) {
  double m = -INFINITY, s = 0.0;
  int64_t j = 0;
  for (int64_t c = 0; c < C; c++)
    if (x[c * stride] > m) {
      m = x[c * stride];
      j = c;
    }
  /* ls = log1p(the sum over the classes other than the (first) largest): its digits survive
   * where log(1 + that sum) would round them away (a confident pixel, ls ~ 1e-20) */
  for (int64_t c = 0; c < C; c++)
    s += c == j && x[c * stride] == m ? 0.0 : exp(x[c * stride] - m);
  k->m = m;
  k->ls = log1p(s);
  k->ec = e / (double)C;
  k->wt1 = (1.0 - e) * (cw ? (double)cw[t] : 1.0);
  k->a = k->wt1 + k->ec * W;
  /* loss terms |(1 - e) w_t (m - x_t)|, |(1 - e) w_t ls|, |ec sum_c w_c (m - x_c)|, |ec W ls| */
  double sw = 0.0;
  for (int64_t c = 0; c < C; c++)
    sw += (cw ? (double)cw[c] : 1.0) * (m - x[c * stride]);
  double lt = ct_max(0.0, k->wt1 * (m - x[t * stride]));
  lt = ct_max(lt, k->wt1 * k->ls);
  lt = ct_max(lt, k->ec * sw);
  k->loss_terms = ct_max(lt, k->ec * W * k->ls);
  k->loss =
      k->wt1 * ((m - x[t * stride]) + k->ls) + (k->ec != 0.0 ? k->ec * (sw + W * k->ls) : 0.0);
  k->fg = 1.0;
}

/* The gradient of class c (logit xc, weight wc), g (p_c A - B_c), B_c = (1 - e) w_t [c == t] +
 * ec w_c: terms |g p_c A|, |g B_c|. */
static inline double ct_ce_grad_terms(const ct_ce_px *k, float xc, double wc, int is_target,
                                      double g) {
  double p = exp((xc - k->m) - k->ls);
  double bc = (is_target ? k->wt1 : 0.0) + k->ec * wc;
  return ct_max(ct_max(0.0, g * k->fg * p * k->a), g * k->fg * bc);
}

/* ---- pixel weights (sl_ce, sl_softmax_focal) and the softmax focal loss ---------------------
 * Both multiply the CE pixel (smoothing 0 for focal) by per-pixel factors: the loss and its
 * terms by pw q^gamma, the gradient and its terms by pw F, q = 1 - p_t, F = q^(gamma-1) (q +
 * gamma p_t L), L = -log p_t (focal = 0: the factors are pw). The loss is a product of several
 * rounded factors (w_t L, q, q^gamma), and q's relative error (about 1.5 float ULP, from the
 * float exponentials it is made of) is multiplied by gamma in q^gamma: the bound of the loss and
 * of the gradient is ct_focal_ulp(gamma) = 4 + 2 gamma ulp(M) (8 at gamma 2; measured by
 * make test-kernels-strict: 5 at gamma 2, 8 at 4, 15 at 8, 32 at 20), not CT_MAX_ULP; with
 * gamma 0 (and for sl_ce with pixel weights, one exact double product) it is CT_MAX_ULP. */
static inline double ct_focal_ulp(double gamma) {
  return CT_MAX_ULP + 2.0 * gamma;
}

/* The softmax focal loss's reduced losses: within CT_SUM_REL up to gamma 2, beyond it
 * CT_SUM_REL (4 + 2 gamma) / 8, as its per-element bound (ct_focal_ulp) grows with gamma. */
static inline double ct_focal_sum_rel(double gamma) {
  return gamma > 2.0 ? (4.0 + 2.0 * gamma) / 8.0 : 1.0;
}

static inline void ct_ce_pixel_pw(ct_ce_px *k, const float *x, int64_t stride, int64_t C, int64_t t,
                                  const float *cw, double W, double e, double pw, int focal,
                                  double gamma) {
  ct_ce_pixel(k, x, stride, C, t, cw, W, e);
  double fl = pw, fg = pw;
  if (focal && gamma != 0.0) {
    double lt = (x[t * stride] - k->m) - k->ls, q = -expm1(lt), pt = exp(lt);
    double ptl = pt > 0.0 ? pt * -lt : 0.0;
    fl *= q > 0.0 ? pow(q, gamma) : 0.0;
    fg *= q > 0.0 ? pow(q, gamma - 1.0) * (q + gamma * ptl) : 0.0;
  }
  k->loss *= fl;
  k->loss_terms *= fabs(fl);
  k->fg = fg;
}

/* ---- the sigmoid focal loss -----------------------------------------------------------------
 * BCE with logits (pos_weight 1) times f = alpha_t m^gamma, m = 1 - p_t = sigmoid(x) (1 - t) +
 * sigmoid(-x) t; gradient g w (f' ce + f dce), f' = alpha_t gamma m^(gamma-1) sp sn (1 - 2t).
 * Loss terms: the BCE terms times |f|; gradient terms |g w f' ce|, |g w f a sp|, |g w f b sn|.
 * m's relative error (about 2 float ULP, from the float exp(-|x|) it is made of) is multiplied
 * by gamma in m^gamma: the bound is ct_focal_ulp(gamma) as for the softmax focal loss. */
static inline double ct_sfocal_factor(double x, double t, double gamma, double alpha, double *df) {
  double e = exp(-fabs(x));
  double sp = x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
  double sn = x >= 0.0 ? e / (1.0 + e) : 1.0 / (1.0 + e);
  double m = sp * (1.0 - t) + sn * t;
  double at = alpha < 0.0 ? 1.0 : alpha * t + (1.0 - alpha) * (1.0 - t);
  if (df)
    *df = gamma != 0.0 && m != 0.0 && sp * sn != 0.0
              ? at * gamma * pow(m, gamma - 1.0) * sp * sn * (1.0 - 2.0 * t)
              : 0.0;
  return at * pow(m, gamma);
}
static inline double ct_sfocal_loss_terms(float xf, float tf, double w, double gamma, double alpha,
                                          double *value) {
  double f = ct_sfocal_factor(xf, tf, gamma, alpha, NULL);
  double lt = ct_logits_loss_terms(xf, tf, w, 1.0, value);
  if (value)
    *value *= f;
  return lt * fabs(f);
}
static inline double ct_sfocal_grad_terms(float xf, float tf, double w, double g, double gamma,
                                          double alpha) {
  double x = xf, t = tf, df, ce = 0.0;
  double f = ct_sfocal_factor(x, t, gamma, alpha, &df);
  (void)ct_logits_loss_terms(xf, tf, 1.0, 1.0, &ce);
  return ct_max(ct_logits_grad_terms(xf, tf, w * f, 1.0, g), g * w * df * ce);
}

/* ---- whole calls (the public API's view) ------------------------------------------------- */

/* One call of sl_bce (op 0), sl_bce_logits (1), sl_ce (2), sl_sigmoid_focal
 * (CT_OP_SIGMOID_FOCAL) or sl_softmax_focal (CT_OP_SOFTMAX_FOCAL), as the test made it. */
#define CT_OP_SIGMOID_FOCAL 3
#define CT_OP_SOFTMAX_FOCAL 4
typedef struct ct_call {
  int op;
  sl_shape shape;
  const float *x, *t; /* t: BCE targets */
  const void *labels; /* CE labels of type lt */
  sl_label_type lt;
  const float *weight; /* BCE per element, CE per class, or NULL */
  const float *pos_weight, *grad_map;
  sl_reduction reduction;
  double grad_scale, normalizer; /* MEAN: the upstream gradient is grad_scale / normalizer */
  double smoothing;
  const uint8_t *sel;        /* per map element (BCE N*C*H*W, CE N*H*W): 1 = counted; NULL = all */
  const float *pixel_weight; /* CE, softmax focal: N x H x W or NULL */
  double gamma;              /* focal losses */
  double alpha;              /* sigmoid focal */
  double *abs_map;           /* optional out, per map element: |per-element loss| (0 where not
                                counted), the scale of a partial sum's tolerance (box_stats) */
} ct_call;

static inline int64_t ct_label(const ct_call *c, int64_t i) {
  if (c->lt == SL_LABEL_I64)
    return ((const int64_t *)c->labels)[i];
  if (c->lt == SL_LABEL_I32)
    return ((const int32_t *)c->labels)[i];
  return ((const uint8_t *)c->labels)[i];
}

/* The terms of every output: loss_terms per map element (NONE map; may be NULL), grad_terms per
 * element of N x C x H x W (may be NULL). 0 where not counted (the outputs are 0 there).
 * Returns the sum over counted elements of |per-element loss| (in double). */
static inline double ct_terms(const ct_call *c, double *loss_terms, double *grad_terms) {
  const int64_t N = c->shape.n, C = c->shape.c, HW = c->shape.h * c->shape.w;
  double gs = c->reduction == SL_REDUCTION_MEAN
                  ? (c->normalizer != 0.0 ? c->grad_scale / c->normalizer : 0.0)
                  : c->grad_scale;
  double abs_sum = 0.0;
  if (c->op != 2 && c->op != CT_OP_SOFTMAX_FOCAL) {
    for (int64_t i = 0; i < N * C * HW; i++) {
      int sel = !c->sel || c->sel[i];
      double w = c->weight ? (double)c->weight[i] : 1.0;
      double g =
          c->reduction == SL_REDUCTION_NONE ? (c->grad_map ? (double)c->grad_map[i] : 0.0) : gs;
      double pw = c->pos_weight ? (double)c->pos_weight[i / HW % C] : 1.0, l = 0.0;
      double lt = !sel         ? 0.0
                  : c->op == 0 ? ct_bce_prob_loss_terms(c->x[i], c->t[i], w, &l)
                  : c->op == CT_OP_SIGMOID_FOCAL
                      ? ct_sfocal_loss_terms(c->x[i], c->t[i], w, c->gamma, c->alpha, &l)
                      : ct_logits_loss_terms(c->x[i], c->t[i], w, pw, &l);
      abs_sum += fabs(l);
      if (c->abs_map)
        c->abs_map[i] = fabs(l);
      if (loss_terms)
        loss_terms[i] = lt;
      if (grad_terms)
        grad_terms[i] = !sel         ? 0.0
                        : c->op == 0 ? ct_bce_prob_grad_terms(c->x[i], c->t[i], w, g)
                        : c->op == CT_OP_SIGMOID_FOCAL
                            ? ct_sfocal_grad_terms(c->x[i], c->t[i], w, g, c->gamma, c->alpha)
                            : ct_logits_grad_terms(c->x[i], c->t[i], w, pw, g);
    }
    return abs_sum;
  }
  double W = 0.0;
  if (c->weight)
    for (int64_t k = 0; k < C; k++)
      W += c->weight[k];
  else
    W = (double)C;
  for (int64_t n = 0; n < N; n++)
    for (int64_t i = 0; i < HW; i++) {
      int64_t p = n * HW + i;
      int sel = !c->sel || c->sel[p];
      if (!sel) {
        if (c->abs_map)
          c->abs_map[p] = 0.0;
        if (loss_terms)
          loss_terms[p] = 0.0;
        for (int64_t k = 0; grad_terms && k < C; k++)
          grad_terms[(n * C + k) * HW + i] = 0.0;
        continue;
      }
      int64_t t = ct_label(c, p);
      const float *x = c->x + n * C * HW + i;
      ct_ce_px px;
      ct_ce_pixel_pw(&px, x, HW, C, t, c->weight, W, c->smoothing,
                     c->pixel_weight ? (double)c->pixel_weight[p] : 1.0,
                     c->op == CT_OP_SOFTMAX_FOCAL, c->gamma);
      abs_sum += fabs(px.loss);
      if (c->abs_map)
        c->abs_map[p] = fabs(px.loss);
      if (loss_terms)
        loss_terms[p] = px.loss_terms;
      double g =
          c->reduction == SL_REDUCTION_NONE ? (c->grad_map ? (double)c->grad_map[p] : 0.0) : gs;
      for (int64_t k = 0; grad_terms && k < C; k++)
        grad_terms[(n * C + k) * HW + i] =
            ct_ce_grad_terms(&px, x[k * HW], c->weight ? (double)c->weight[k] : 1.0, k == t, g);
    }
  return abs_sum;
}

#endif /* SL_TEST_CONTRACT_H */
