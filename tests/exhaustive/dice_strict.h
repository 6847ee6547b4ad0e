// SPDX-License-Identifier: MIT
/*
 * exhaustive/dice_strict.h - the Dice / Tversky row kernels of every SIMD table against
 * sl_kernels_scalar, called directly (included by kernels_strict.c, which calls dice_strict from
 * main; the same tables, PRNG and guard conventions), with the accuracy contract of
 * tests/contract.h (docs/accuracy.md):
 *   dice_grad: every element within CT_MAX_ULP of ulp(M), M = max(|ref|, |a| q, |b h| q), q = 1
 *     or (logits) p (1 - p) in double, h = t, or with l1 the step [p < t] + [p == t] / 2: with
 *     logits, where the double p lies within DS_STEP_ULP float ulps of t (the float sigmoid's
 *     error) the kernel's float p may fall on the other side of t, and the element passes
 *     within the same bound of the gradient with any of h = 0, 1/2, 1 (probabilities: p = x
 *     exactly, no such window); data: logits in [-40, 40] with +-inf, NaN and magnitudes
 *     87..104 (a subnormal exp(-|x|)), probabilities in [-1, 2], targets in [0, 1] and up to
 *     +-200 (and with l1 some targets equal to the element's p: the step's midpoint), constants
 *     a, b of spread magnitudes and signs, some with a + b t cancelling;
 *   dice_sums: each of I, P, T within CT_SUM_REL of the sum of the |terms| (ct_sum_err), with
 *     logits plus FLT_MIN per element (as dice_mc's below: a sigmoid below the float range);
 *     with l1 the first sum is sum |p - t|, its terms |p| + |p - t| (the float p's error is
 *     relative to p, and t may equal p);
 *   dice_mc (multiclass): gradient within CT_MAX_ULP of ulp(M), M = max(|ref|, p_c |G_c|,
 *     p_c sum_k p_k |G_k|); sums as above plus FLT_MIN per counted pixel (a softmax probability
 *     below the float range is rounded to the subnormal grid or to 0 by the float exp: an
 *     absolute 2^-126 at most, negligible in the score, whose denominator is >= 1 wherever
 *     T > 0); C in {1, 2, 3, 5, 21, 40}, logits in [-30, 30] and
 *     sometimes [-100, 100], NaN and -inf logits, uncounted pixels (cls -1) with NaN logits.
 * Every flag combination (mask, logits), row widths 1..67, input offsets 0..7 floats, guard
 * zones around every output. Shape legend: a row is len elements; a multiclass run is len
 * pixels x C classes, cstride apart.
 */
#include <float.h>
#include <math.h>

enum { DS_GRAD, DS_SUMS, DS_MCGRAD, DS_MCSUMS, DS_COUNT };
static const char *const ds_name[DS_COUNT] = {"dice grad", "dice sums (x tol)", "dice_mc grad",
                                              "dice_mc sums (x tol)"};
static double ds_max[MAX_TABLES][DS_COUNT];
static char ds_where[MAX_TABLES][DS_COUNT][160];
static long ds_fail[MAX_TABLES][DS_COUNT], ds_checked[MAX_TABLES][DS_COUNT];

/* err: in ulp(M) (gradients) or in units of the tolerance (sums, passing at <= 1) */
static void ds_note(int ti, int kind, double e, double lim, const char *where) {
  ds_checked[ti][kind]++;
  if (!(e <= lim)) {
    ds_fail[ti][kind]++;
    if (fails++ < 30)
      printf("%s %s: %s: %g\n", sl_isa_name(tables[ti]->isa), ds_name[kind], where, e);
  }
  if (e > ds_max[ti][kind] || isnan(e)) {
    ds_max[ti][kind] = e;
    snprintf(ds_where[ti][kind], sizeof ds_where[ti][kind], "%s", where);
  }
}

static float ds_logit(double spread) {
  float x = (float)((urand() * 2 - 1) * spread);
  double u = urand();
  if (u < 0.02)
    x = urand() < 0.5 ? INFINITY : -INFINITY;
  else if (u < 0.03)
    x = NAN;
  else if (u < 0.07)
    x = (float)((urand() < 0.5 ? -1 : 1) * (87 + urand() * 17));
  return x;
}

/* a constant of spread magnitude and either sign */
static double ds_const(void) {
  return (urand() < 0.5 ? -1 : 1) * pow(10.0, urand() * 12 - 8);
}

/* The float sigmoid's error in float ulps of p (the float exp's and the quotient's), with
 * margin: the width of the l1 step's window (above). */
#define DS_STEP_ULP 8.0

static void dice_strict_binary(int iters, const int *ran, float *const *buf, uint8_t *mask) {
  for (int it = 0; it < iters; it++)
    for (int w = 1; w <= 67; w++)
      for (int off = 0; off < 8; off++)
        for (int fl = 0; fl < 8; fl++) {
          const int hasm = fl & 1, lg = (fl & 2) != 0, l1 = (fl & 4) != 0;
          float *x = buf[0] + off, *y = buf[1] + off, *g1 = buf[6] + GUARD, *g2 = buf[7] + GUARD;
          for (int i = 0; i < w; i++) {
            x[i] = lg ? ds_logit(urand() < 0.5 ? 4 : 40) : (float)(urand() * 3 - 1);
            y[i] = urand() < 0.3 ? (urand() < 0.5 ? 0.f : 1.f) : (float)urand();
            if (urand() < 0.03)
              y[i] = (float)((urand() * 2 - 1) * 200);
            mask[i] = urand() < 0.7 ? (uint8_t)(1 + urand() * 254) : 0;
            if (hasm && !mask[i] && urand() < 0.3)
              x[i] = NAN;            /* never reaches a selected result */
            if (l1 && urand() < 0.1) /* t == p: the step's midpoint h = 1/2 */
              y[i] = lg ? (float)(1.0 / (1.0 + exp(-(double)x[i]))) : x[i];
          }
          sl_dice_row r = {.x = x,
                           .y = y,
                           .mask = hasm ? mask : NULL,
                           .grad = g1,
                           .a = ds_const(),
                           .b = ds_const(),
                           .logits = lg,
                           .l1 = l1,
                           .len = w};
          if (urand() < 0.3) /* a + b t cancelling at the row's first target */
            r.a = -r.b * (double)y[0];
          double s1[3] = {0, 0, 0}, abs_s[3] = {0, 0, 0};
          for (int i = -GUARD; i < w + GUARD; i++)
            buf[6][GUARD + i] = buf[7][GUARD + i] = FILL;
          sl_kernels_scalar.dice_sums(&r, s1);
          sl_kernels_scalar.dice_grad(&r);
          for (int i = 0; i < w; i++) {
            if (hasm && !mask[i])
              continue;
            double xv = x[i], p = lg ? 1.0 / (1.0 + exp(-xv)) : xv;
            const double tiny = lg ? FLT_MIN / CT_SUM_REL : 0.0; /* as dice_mc's, below */
            /* |p - t|: the float p's error is relative to p (t == p gives a tiny difference) */
            abs_s[0] +=
                l1 ? fabs(p) + fabs(p - y[i]) + tiny : fabs(p * y[i]) + tiny * fabs((double)y[i]);
            abs_s[1] += fabs(p) + tiny;
            abs_s[2] += fabs((double)y[i]);
          }
          for (int ti = 0; tables[ti]; ti++) {
            if (!ran[ti])
              continue;
            double s2[3] = {0, 0, 0};
            sl_dice_row r2 = r;
            r2.grad = g2;
            tables[ti]->dice_sums(&r2, s2);
            tables[ti]->dice_grad(&r2);
            char where[200];
            for (int k = 0; k < 3; k++) {
              snprintf(where, sizeof where, "w%d o%d logits %d sum %d: %.17g vs %.17g", w, off, lg,
                       k, s2[k], s1[k]);
              ds_note(ti, DS_SUMS, ct_sum_err(s2[k], s1[k], abs_s[k], 0), 1.0, where);
            }
            for (int i = -GUARD; i < w + GUARD; i++) {
              if (i < 0 || i >= w) {
                if (g2[i] != FILL && fails++ < 30)
                  printf("%s: dice grad guard w%d i%d\n", sl_isa_name(tables[ti]->isa), w, i);
                continue;
              }
              double q = 1.0, p = lg ? 1.0 / (1.0 + exp(-(double)x[i])) : (double)x[i];
              if (lg) {
                double e = exp(-fabs((double)x[i]));
                q = e / ((1 + e) * (1 + e));
              }
              double h = l1 ? (p < y[i] ? 1.0 : p == y[i] ? 0.5 : 0.0) : (double)y[i];
              double terms = ct_max(fabs(r.a) * q, fabs(r.b * h) * q);
              double err = ct_err(g2[i], g1[i], terms);
              if (l1 && lg && fabs(p - y[i]) <= DS_STEP_ULP * 0x1p-24 * fabs(p)) /* the window */
                for (int k = 0; k <= 2; k++) {
                  double hk = 0.5 * k, gk = (r.a + r.b * hk) * q;
                  double ek = ct_err(g2[i], gk, ct_max(fabs(r.a) * q, fabs(r.b * hk) * q));
                  err = ek < err ? ek : err;
                }
              snprintf(where, sizeof where,
                       "w%d o%d i%d x %.9g t %.9g a %g b %g l1 %d: %.9g vs %.9g", w, off, i,
                       (double)x[i], (double)y[i], r.a, r.b, l1, (double)g2[i], (double)g1[i]);
              ds_note(ti, DS_GRAD, err, CT_MAX_ULP, where);
            }
          }
        }
}

static void dice_strict_mc(int iters, const int *ran, float *const *buf) {
  static const int Cs[] = {1, 2, 3, 5, 21, 40};
  int32_t cls[80];
  double ab[80], p[80 * 40];
  for (int it = 0; it < iters; it++)
    for (int ci = 0; ci < 6; ci++)
      for (int w = 1; w <= 67; w += (ci > 3 ? 5 : 1))
        for (int off = 0; off < 4; off++) {
          const int C = Cs[ci], cs = w + 3;
          float *x = buf[0] + off, *g1 = buf[6] + GUARD, *g2 = buf[7] + GUARD;
          double spread = urand() < 0.2 ? 100 : 30;
          for (int i = 0; i < w; i++) {
            cls[i] = (int32_t)(urand() * (C + 1)) - 1;
            for (int c = 0; c < C; c++) {
              float v = (float)((urand() * 2 - 1) * spread);
              double u = urand();
              if (u < 0.005)
                v = NAN;
              else if (u < 0.02)
                v = -INFINITY;
              if (cls[i] < 0 && u < 0.1)
                v = NAN;
              x[c * cs + i] = v;
            }
          }
          for (int c = 0; c < 2 * C; c++)
            ab[c] = ds_const();
          sl_dice_mc_row r = {
              .x = x, .cls = cls, .ab = ab, .cstride = cs, .classes = C, .len = w, .ws = t_ws()};
          double s1[120] = {0}, s2[120], abs_s[120] = {0};
          r.sums = s1;
          sl_kernels_scalar.dice_mc(&r);
          for (int i = -GUARD; i < C * cs + GUARD; i++)
            buf[6][GUARD + i] = buf[7][GUARD + i] = FILL;
          r.sums = NULL;
          r.grad = g1;
          sl_kernels_scalar.dice_mc(&r);
          /* the terms: p in double */
          for (int i = 0; i < w; i++) {
            if (cls[i] < 0)
              continue;
            double m = -INFINITY, z = 0;
            for (int c = 0; c < C; c++)
              m = fmax(m, (double)x[c * cs + i]);
            for (int c = 0; c < C; c++)
              z += exp((double)x[c * cs + i] - m);
            /* a p below the float range is an absolute FLT_MIN per pixel (the float exp
             * rounds it to the subnormal grid or to 0): scale FLT_MIN / CT_SUM_REL; each p
             * carries the float softmax's bound ct_ce_k(C) u p (1 + |x - max|) (contract.h) */
            const double tiny = FLT_MIN / CT_SUM_REL;
            for (int c = 0; c < C; c++) {
              double pc = exp((double)x[c * cs + i] - m) / z;
              double sc = pc > 0.0 ? fabs(pc) * (1.0 + ct_ce_k(C) * 0x1p-24 / CT_SUM_REL *
                                                           (1.0 + fabs((double)x[c * cs + i] - m)))
                                   : 0.0;
              p[c * w + i] = pc;
              abs_s[3 * c] += c == cls[i] ? sc + tiny : 0;
              abs_s[3 * c + 1] += sc + tiny;
            }
            abs_s[3 * cls[i] + 2] += 1;
          }
          for (int ti = 0; tables[ti]; ti++) {
            if (!ran[ti])
              continue;
            sl_dice_mc_row r2 = r;
            memset(s2, 0, sizeof s2);
            r2.grad = NULL;
            r2.sums = s2;
            tables[ti]->dice_mc(&r2);
            r2.sums = NULL;
            r2.grad = g2;
            tables[ti]->dice_mc(&r2);
            char where[200];
            for (int k = 0; k < 3 * C; k++) {
              snprintf(where, sizeof where, "C%d w%d sum %d: %.17g vs %.17g", C, w, k, s2[k],
                       s1[k]);
              ds_note(ti, DS_MCSUMS, ct_sum_err(s2[k], s1[k], abs_s[k], 0), 1.0, where);
            }
            for (int i = -GUARD; i < C * cs + GUARD; i++) {
              int col = ((i % cs) + cs) % cs;
              int in = i >= 0 && i < C * cs && col < w;
              if (!in) {
                if (g2[i] != FILL && fails++ < 30)
                  printf("%s: dice_mc grad guard C%d w%d i%d\n", sl_isa_name(tables[ti]->isa), C, w,
                         i);
                continue;
              }
              int c = i / cs, t = cls[col];
              /* the float softmax's bound (tests/contract.h): ct_ce_k(C) u p_c (1 + |x_c - max|)
               * (|G_c| + sum_k p_k |G_k| (1 + |x_k - max|)) */
              double tol = 0x1p-149;
              if (t >= 0) {
                double m = -INFINITY, sg = 0.0;
                for (int k = 0; k < C; k++)
                  m = fmax(m, (double)x[k * cs + col]);
                for (int k = 0; k < C; k++) /* p_k |x_k - max| -> 0 as x_k -> -inf */
                  if (p[k * w + col] > 0.0)
                    sg += p[k * w + col] * fabs(ab[2 * k] + (k == t ? ab[2 * k + 1] : 0.0)) *
                          (1.0 + fabs((double)x[k * cs + col] - m));
                /* p_c's own relative error (1 + |x_c - max|) u scales the whole bracket */
                double pc = p[c * w + col];
                if (pc > 0.0)
                  tol += ct_ce_k(C) * 0x1p-24 * pc * (1.0 + fabs((double)x[c * cs + col] - m)) *
                         (fabs(ab[2 * c] + (c == t ? ab[2 * c + 1] : 0.0)) + sg);
              }
              snprintf(where, sizeof where, "C%d w%d c%d px%d t%d x %.9g: %.9g vs %.9g", C, w, c,
                       col, t, (double)x[i], (double)g2[i], (double)g1[i]);
              ds_note(ti, DS_MCGRAD, ct_tol_err(g2[i], g1[i], tol), 1.0, where);
            }
          }
        }
}

/* Runs both, prints the largest errors per table. */
static void dice_strict(int iters, const int *ran, float *const *buf, uint8_t *mask) {
  dice_strict_binary(iters, ran, buf, mask);
  dice_strict_mc(iters, ran, buf);
  for (int ti = 0; tables[ti]; ti++) {
    if (!ran[ti])
      continue;
    printf("%s vs scalar, Dice kernels, largest error (ulp(M); sums in units of the tolerance):\n",
           sl_isa_name(tables[ti]->isa));
    for (int k = 0; k < DS_COUNT; k++)
      printf("  %-20s %10.4g  %ld of %ld fail  %s\n", ds_name[k], ds_max[ti][k], ds_fail[ti][k],
             ds_checked[ti][k], ds_where[ti][k]);
  }
}
