// SPDX-License-Identifier: MIT
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

#include "ops.h"
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
 * for the double stats.loss_sum. One exception, for the float loss only: when that bound itself
 * reaches beyond the float range, an infinity against a finite value (either way) is within it
 * if 2^128 (the least magnitude that rounds to the infinity) is: float cannot tell such a sum
 * from an overflow. Returns the error in units of the allowed difference (<= 1 passes). */
static inline double ct_sum_err(double got, double ref, double scale, int is_float) {
  double e;
  if (is_float && isfinite(scale) && !isnan(got) && !isnan(ref) && isinf(got) != isinf(ref)) {
    const double g = isinf(got) ? copysign(0x1p128, got) : got;
    const double r = isinf(ref) ? copysign(0x1p128, ref) : ref;
    return fabs(g - r) / (CT_SUM_REL * fabs(scale) + ct_ulp(r));
  }
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

/* ---- CE and the softmax focal loss: the bound of the shifted algorithm ----------------------
 * (Blanchard, Higham & Higham, "Accurate computation of the log-sum-exp and softmax
 * functions", IMA J. Numer. Anal. 41(4), 2021; docs/accuracy.md). The kernels round each
 * input-dependent intermediate once in float (d_c = x_c - m, each exponential, the sequential
 * class sum, log1p), so each output may carry what those roundings propagate to, with
 * u = 2^-24, p_c the softmax, l = -log p_t, P = sum_c p_c |d_c| (<= (C - 1) / e):
 *   loss     |error| <= K u |pw fl| (w_t (l + P) + (e/C)(sum_c |w_c d_c| + |W| (log s + P)))
 *                       + C 2^-52 |pw fl| (e/C) sum_c |w_c| (|d_c| + log s)
 *   gradient |error| <= K u |g fg| (A p_c (1 + |d_c|) + B'_c) + C 2^-52 |g fg| (e/C) p_c sum |w_c|
 * (the last terms: the double class sums of the smoothing term, the reference's and W's, whose
 * terms may cancel when class weights have opposite signs)
 * with w_t = (1 - e) w_t here, A = (1 - e) w_t + (e/C) W, B'_c = (1 - e) w_t [c == t] + (e/C) w_c,
 * except for the target when x_t is the max and p_t > 1/2, where the kernels use
 * p_t - 1 = -s1 / s: B'_t = A (1 - p_t) + (e/C) |W - w_t|.
 * K = CT_CE_K + 2 C: the exponential's 2 ULP (4 u), the rounding of d_c (|d_c| u), C - 1
 * sequential additions, log1p's 2 ULP, the divisions and products (u each), and p_c P <= p_c
 * (C - 1) / e from the sum's |d_c| terms in the gradient. An exact result in the subnormal
 * range may carry 2^-149 (1 + C Z) more, Z the factor that scales it (the exponentials' own
 * subnormal rounding; for the gradient also |w_c| times a subnormal g e / C). The softmax focal
 * loss's factors (q = 1 - p_t, q^gamma, F) multiply the relative error of q by gamma, whose own
 * relative error is that of 1 - p_t or s1 / s (P / q from the d_c terms): its bound is (1 + 2
 * gamma) times the above with w_t l P / q added to the loss's and A P / q to the gradient's bracket
 * (q^(gamma-1) times pw for both). */
#define CT_CE_K 10.0
static inline double ct_ce_k(int64_t C) {
  return CT_CE_K + 2.0 * (double)C;
}

/* CE at one counted pixel: logits x[c * stride], c < C, label t, class weights cw (NULL = 1),
 * W = sum of the class weights (C without), smoothing e; tolerances of its loss (tol_loss)
 * and the constants of its gradient's (ct_ce_grad_tol). */
typedef struct ct_ce_px {
  double m, ls, wt, wt1, ec, a, W, P, lt; /* lt = l = -log p_t, wt the raw class weight */
  int64_t C;
  int top;         /* x_t is the max and p_t > 1/2 */
  double loss;     /* the pixel's loss in double (times fl) */
  double tol_loss; /* its tolerance (absolute) */
  double fg, fk;   /* the gradient's per-pixel factor and its bound's multiplier */
  double pq;       /* focal: P / q added to the gradient's bracket (0 for CE) */
  double sabs;     /* sum_c |w_c|: the size of W's terms (W may cancel) */
} ct_ce_px;

static inline void ct_ce_pixel(ct_ce_px *k, const float *x, int64_t stride, int64_t C, int64_t t,
                               const float *cw, double W, double e) {
  double m = -INFINITY, s1 = 0.0;
  int64_t j = 0;
  for (int64_t c = 0; c < C; c++)
    if (x[c * stride] > m) {
      m = x[c * stride];
      j = c;
    }
  for (int64_t c = 0; c < C; c++)
    s1 += c == j && x[c * stride] == m ? 0.0 : exp(x[c * stride] - m);
  k->m = m;
  k->ls = log1p(s1);
  k->C = C;
  k->W = W;
  k->ec = e / (double)C;
  k->wt = cw ? (double)cw[t] : 1.0;
  k->wt1 = (1.0 - e) * k->wt;
  k->a = k->wt1 + k->ec * W;
  k->lt = (m - x[t * stride]) + k->ls;
  k->top = x[t * stride] == m && s1 < 1.0;
  double P = 0.0, swa = 0.0, sw = 0.0, sabs = 0.0;
  for (int64_t c = 0; c < C; c++) {
    double d = x[c * stride] - m, wc = cw ? (double)cw[c] : 1.0;
    double pc = exp(d - k->ls);
    P += pc > 0.0 ? pc * fabs(d) : 0.0; /* p_c |d_c| -> 0 as d_c -> -inf */
    swa += fabs(wc * d);
    sw += wc * -d;
    sabs += fabs(wc);
  }
  k->sabs = sabs;
  k->P = P;
  k->loss = k->wt1 * k->lt + (k->ec != 0.0 ? k->ec * (sw + W * k->ls) : 0.0);
  /* log s carries the d_c roundings too (u sum_c p_c |d_c| = u P): |W| (log s + P) */
  double b =
      fabs(k->wt1) * (k->lt + P) + (k->ec != 0.0 ? k->ec * (swa + fabs(W) * (k->ls + P)) : 0.0);
  /* without the final rounding's 2^-149, which the per-pixel factors do not scale; the smoothing
   * term's class sums are double sums (the reference's, and W's in the driver) whose terms may
   * cancel (weights of opposite signs): C 2^-52 of their size, sum_c |w_c| (|d_c| + log s) */
  k->tol_loss = ct_ce_k(C) * 0x1p-24 * b + 0x1p-149 * (double)C * (fabs(k->wt1) + k->ec * fabs(W)) +
                (k->ec != 0.0 ? k->ec * (double)C * 0x1p-52 * (swa + sabs * k->ls) : 0.0);
  k->fg = 1.0;
  k->fk = 1.0;
  k->pq = 0.0;
}

/* The tolerance of the gradient of class c (logit xc, weight wc) at upstream gradient g. */
static inline double ct_ce_grad_tol(const ct_ce_px *k, float xc, double wc, int is_target,
                                    double g) {
  double d = xc - k->m, p = exp(d - k->ls);
  double bc = is_target && k->top ? fabs(k->a) * -expm1(-k->lt) + k->ec * fabs(k->W - k->wt)
                                  : (is_target ? fabs(k->wt1) : 0.0) + k->ec * fabs(wc);
  double pd = p > 0.0 ? p * (1.0 + fabs(d) + k->pq) : 0.0; /* p_c |d_c| -> 0 as d_c -> -inf */
  double z = fabs(g * k->fg) * (fabs(k->a) * pd + bc * (1.0 + k->pq));
  /* W, a double sum whose terms may cancel: C 2^-52 sum_c |w_c| in A (times p_c) */
  double zw = k->ec != 0.0 ? fabs(g * k->fg) * k->ec * (double)k->C * 0x1p-52 * k->sabs * p : 0.0;
  /* subnormal intermediates: the exponentials (times g A) and g e / C (times w_c) */
  double zs = (double)k->C * fabs(g * k->fg * k->a) + (k->ec != 0.0 ? fabs(wc) : 0.0);
  return k->fk * (ct_ce_k(k->C) * 0x1p-24 * z + 0x1p-149 * (1.0 + zs) + zw);
}
/* CE with pixel weights, or the softmax focal loss (smoothing 0), at one counted pixel: the
 * loss and its tolerance times pw (and the focal factor), fg the gradient's factor. */
static inline void ct_ce_pixel_pw(ct_ce_px *k, const float *x, int64_t stride, int64_t C, int64_t t,
                                  const float *cw, double W, double e, double pw, int focal,
                                  double gamma) {
  ct_ce_pixel(k, x, stride, C, t, cw, W, e);
  double fl = pw, fg = pw;
  double tol = k->tol_loss * fabs(pw) + 0x1p-149;
  if (focal && gamma != 0.0) { /* the bound of the CE section above, for the focal factors */
    double lt = -k->lt, q = -expm1(lt), pt = exp(lt);
    double ptl = pt > 0.0 ? pt * -lt : 0.0;
    double qm1 = q > 0.0 ? pow(q, gamma - 1.0) : 0.0;
    fl *= q > 0.0 ? pow(q, gamma) : 0.0;
    fg *= q > 0.0 ? qm1 * (q + gamma * ptl) : 0.0;
    k->pq = q > 0.0 ? k->P / q : 0.0;
    k->fk = 1.0 + 2.0 * gamma;
    double b = fabs(k->wt1) * (k->lt + k->P);
    tol = k->fk * fabs(pw) *
              (ct_ce_k(C) * 0x1p-24 *
                   (fabs(q > 0.0 ? pow(q, gamma) : 0.0) * b + qm1 * fabs(k->wt1) * k->lt * k->P) +
               0x1p-149 * (double)C * fabs(k->wt1)) +
          0x1p-149;
  }
  k->loss *= fl;
  k->tol_loss = tol;
  k->fg = fg;
}

/* ---- CE with class-probability targets (sl_ce_prob): the same shifted algorithm ----------
 * Per counted pixel, a_c = w_c ((1 - e) q_c + e / C) (float in the kernels), |a_c| below its
 * terms' magnitude |w_c| ((1 - e) |q_c| + e / C) (1 - e and e / C are rounded once per call: a
 * negative target cancels them), A = sum_c |a_c|,
 * d_c = x_c - m, ls = log s, P = sum_c p_c |d_c|, the loss pw (sum_c a_c (-d_c) + Q ls) and the
 * gradient g pw (p_c Q - a_c), Q = sum_c a_c:
 *   loss     |error| <= |pw| (K u sum_c |a_c| (|d_c| + ls + P) + Fl) + 2^-149
 *   gradient |error| <= K u |g pw| (A p_c (1 + |d_c|) + |a_c|) + Fg_c
 * K = ct_ce_k(C) as for CE (the roundings of d_c, each exponential, the sequential class sums of
 * s1, Q and sum_c a_c d_c, log1p, a_c's three, the products); the subnormal floors: Fl = 2^-149
 * (C (A + 1) + sum_c (|w_c| + 1)(|d_c| + ls + 1)) (subnormal exponentials times Q, products
 * a_c d_c, a_c itself, which multiplies -logp_c), Fg_c = 2^-149 (2 + C |g pw| A + |g pw|
 * (|w_c| + 1) + |a_c|) (the exponentials times k; the float k and g pw, e_c k and the final
 * fnma each rounded once in the subnormal range, 2^-150 each, the one of g pw times |a_c|; a
 * subnormal a_c times g pw). Unlike CE's target class, no cancellation-free form: the
 * gradient's bound is relative to |a_c| and A p_c, not to their difference. */
typedef struct ct_ce_prob_px {
  double m, ls, A, gpw; /* gpw: |g pw| of the pixel */
  int64_t C;
  double loss, tol_loss;
} ct_ce_prob_px;

/* The weight a_c of class c in double from the kernels' float inputs, and |a|_c, the magnitude
 * of its terms (1 - e and e / C are rounded to float once per call, relative to their terms:
 * with a negative target they cancel) */
static inline double ct_ce_prob_a(double w, float q, double e, int64_t C) {
  return w * ((1.0 - e) * (double)q + e / (double)C);
}
static inline double ct_ce_prob_amag(double w, float q, double e, int64_t C) {
  return fabs(w) * ((1.0 - e) * fabs((double)q) + e / (double)C);
}

static inline void ct_ce_prob_pixel(ct_ce_prob_px *k, const float *x, const float *q,
                                    int64_t stride, int64_t C, const float *cw, double e,
                                    double pw) {
  double m = -INFINITY, s1 = 0.0;
  int64_t j = 0;
  for (int64_t c = 0; c < C; c++)
    if (x[c * stride] > m) {
      m = x[c * stride];
      j = c;
    }
  for (int64_t c = 0; c < C; c++)
    s1 += c == j && x[c * stride] == m ? 0.0 : exp(x[c * stride] - m);
  k->m = m;
  k->ls = log1p(s1);
  k->C = C;
  double P = 0.0, A = 0.0, l = 0.0, b = 0.0, fl = 0.0;
  for (int64_t c = 0; c < C; c++) {
    double d = x[c * stride] - m, pc = exp(d - k->ls);
    P += pc > 0.0 ? pc * fabs(d) : 0.0;
  }
  for (int64_t c = 0; c < C; c++) {
    double d = x[c * stride] - m, wc = cw ? (double)cw[c] : 1.0;
    double a = ct_ce_prob_a(wc, q[c * stride], e, C), am = ct_ce_prob_amag(wc, q[c * stride], e, C);
    A += am;
    l += a * (-d + k->ls);
    b += am * (fabs(d) + k->ls + P);
    fl += (fabs(wc) + 1.0) * (fabs(d) + k->ls + 1.0);
  }
  k->A = A;
  k->loss = pw * l;
  k->tol_loss =
      fabs(pw) * (ct_ce_k(C) * 0x1p-24 * b + 0x1p-149 * ((double)C * (A + 1.0) + fl)) + 0x1p-149;
}

/* The tolerance of the gradient of class c (logit xc, weight wc, target qc) at the pixel's
 * g pw. */
static inline double ct_ce_prob_grad_tol(const ct_ce_prob_px *k, float xc, double wc, float qc,
                                         double e, double gpw) {
  double d = xc - k->m, p = exp(d - k->ls), a = ct_ce_prob_amag(wc, qc, e, k->C);
  double pd = p > 0.0 ? k->A * p * (1.0 + fabs(d)) : 0.0;
  gpw = fabs(gpw);
  return ct_ce_k(k->C) * 0x1p-24 * gpw * (pd + a) +
         0x1p-149 * (2.0 + (double)k->C * gpw * k->A + gpw * (fabs(wc) + 1.0) + a);
}

/* The sigmoid focal loss's bound in ulp(M): m's relative error (about 2 float ULP, from the
 * float exp(-|x|) it is made of) is multiplied by gamma in m^gamma: 4 + 2 gamma (8 at gamma 2),
 * and its reduced losses CT_SUM_REL scaled by (4 + 2 gamma) / 8 above gamma 2. */
static inline double ct_focal_ulp(double gamma) {
  return CT_MAX_ULP + 2.0 * gamma;
}
static inline double ct_focal_sum_rel(double gamma) {
  return gamma > 2.0 ? (4.0 + 2.0 * gamma) / 8.0 : 1.0;
}

/* An output element's error in units of an absolute tolerance tol (<= 1 passes), with the
 * non-finite rule of ct_decided. */
static inline double ct_tol_err(float got, float ref, double tol) {
  double e;
  if (ct_decided(got, ref, &e))
    return e;
  return fabs((double)got - (double)ref) / tol;
}

/* One output element's error in units of its bound (<= 1 passes): for CE and the softmax focal
 * loss (T_CE, T_SOFTMAX_FOCAL) terms is the absolute tolerance of the section above; for the
 * others the magnitude M of ct_err, with ulp_bound ulp(M) allowed. */
static inline double ct_elem_err(t_op op, float got, float ref, double terms, double ulp_bound) {
  if (op == T_CE || op == T_SOFTMAX_FOCAL || op == T_CE_PROB)
    return ct_tol_err(got, ref, terms);
  return ct_err(got, ref, terms) / ulp_bound;
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

/* One call of sl_bce (T_BCE_PROB), sl_bce_logits (T_BCE_LOGITS), sl_ce (T_CE), sl_sigmoid_focal
 * (T_SIGMOID_FOCAL) or sl_softmax_focal (T_SOFTMAX_FOCAL), as the test made it. */
typedef struct ct_call {
  t_op op;
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
 * Returns the sum over counted elements of |per-element loss| (in double) plus each element's
 * tolerance over CT_SUM_REL: the reduced losses are within the sum of the per-element bounds
 * (CE's and the softmax focal loss's terms are absolute tolerances, ct_elem_err; the others'
 * CT_MAX_ULP ulp of the largest term). */
static inline double ct_terms(const ct_call *c, double *loss_terms, double *grad_terms) {
  const int64_t N = c->shape.n, C = c->shape.c, HW = c->shape.h * c->shape.w;
  double gs = c->reduction == SL_REDUCTION_MEAN
                  ? (c->normalizer != 0.0 ? c->grad_scale / c->normalizer : 0.0)
                  : c->grad_scale;
  double abs_sum = 0.0;
  if (c->op == T_CE_PROB) {
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < HW; i++) {
        int64_t p = n * HW + i;
        if (c->sel && !c->sel[p]) {
          if (c->abs_map)
            c->abs_map[p] = 0.0;
          if (loss_terms)
            loss_terms[p] = 0.0;
          for (int64_t k = 0; grad_terms && k < C; k++)
            grad_terms[(n * C + k) * HW + i] = 0.0;
          continue;
        }
        const float *x = c->x + n * C * HW + i, *q = c->t + n * C * HW + i;
        double pw = c->pixel_weight ? (double)c->pixel_weight[p] : 1.0;
        ct_ce_prob_px px;
        ct_ce_prob_pixel(&px, x, q, HW, C, c->weight, c->smoothing, pw);
        /* the reduced losses' scale: |l| (CT_SUM_REL of it) plus the element's tolerance; a
         * value not finite in double is left out (ct_sum_err decides a non-finite sum) */
        double scale = fabs(px.loss) + px.tol_loss / CT_SUM_REL;
        if (!isfinite(scale))
          scale = 0.0;
        abs_sum += scale;
        if (c->abs_map)
          c->abs_map[p] = scale;
        if (loss_terms)
          loss_terms[p] = px.tol_loss;
        double g =
            c->reduction == SL_REDUCTION_NONE ? (c->grad_map ? (double)c->grad_map[p] : 0.0) : gs;
        for (int64_t k = 0; grad_terms && k < C; k++)
          grad_terms[(n * C + k) * HW + i] =
              ct_ce_prob_grad_tol(&px, x[k * HW], c->weight ? (double)c->weight[k] : 1.0, q[k * HW],
                                  c->smoothing, g * pw);
      }
    return abs_sum;
  }
  if (c->op != T_CE && c->op != T_SOFTMAX_FOCAL) {
    for (int64_t i = 0; i < N * C * HW; i++) {
      int sel = !c->sel || c->sel[i];
      double w = c->weight ? (double)c->weight[i] : 1.0;
      double g =
          c->reduction == SL_REDUCTION_NONE ? (c->grad_map ? (double)c->grad_map[i] : 0.0) : gs;
      double pw = c->pos_weight ? (double)c->pos_weight[i / HW % C] : 1.0, l = 0.0;
      double lt = !sel                  ? 0.0
                  : c->op == T_BCE_PROB ? ct_bce_prob_loss_terms(c->x[i], c->t[i], w, &l)
                  : c->op == T_SIGMOID_FOCAL
                      ? ct_sfocal_loss_terms(c->x[i], c->t[i], w, c->gamma, c->alpha, &l)
                      : ct_logits_loss_terms(c->x[i], c->t[i], w, pw, &l);
      /* the reduced losses' scale: |l| plus the element's tolerance (CT_MAX_ULP ulp of its
       * largest term: an element whose terms cancel may carry more than CT_SUM_REL of |l|); a
       * value that is not finite in this double evaluation is left out, as from M (an infinite
       * or NaN sum is decided by ct_sum_err's rule for a non-finite reference) */
      double scale = sel ? fabs(l) + CT_MAX_ULP * ct_ulp(ct_max(fabs(l), lt)) / CT_SUM_REL : 0.0;
      if (!isfinite(scale))
        scale = 0.0;
      abs_sum += scale;
      if (c->abs_map)
        c->abs_map[i] = scale;
      if (loss_terms)
        loss_terms[i] = lt;
      if (grad_terms)
        grad_terms[i] = !sel                  ? 0.0
                        : c->op == T_BCE_PROB ? ct_bce_prob_grad_terms(c->x[i], c->t[i], w, g)
                        : c->op == T_SIGMOID_FOCAL
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
                     c->pixel_weight ? (double)c->pixel_weight[p] : 1.0, c->op == T_SOFTMAX_FOCAL,
                     c->gamma);
      /* the reduced losses' scale: |l| (CT_SUM_REL of it) plus the element's tolerance */
      double scale = fabs(px.loss) + px.tol_loss / CT_SUM_REL;
      abs_sum += scale;
      if (c->abs_map)
        c->abs_map[p] = scale;
      if (loss_terms)
        loss_terms[p] = px.tol_loss;
      double g =
          c->reduction == SL_REDUCTION_NONE ? (c->grad_map ? (double)c->grad_map[p] : 0.0) : gs;
      for (int64_t k = 0; grad_terms && k < C; k++)
        grad_terms[(n * C + k) * HW + i] =
            ct_ce_grad_tol(&px, x[k * HW], c->weight ? (double)c->weight[k] : 1.0, k == t, g);
    }
  return abs_sum;
}

#endif /* SL_TEST_CONTRACT_H */
