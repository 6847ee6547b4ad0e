/*
 * exhaustive/kernels_avx2.c - stress equivalence of the AVX2 row microkernels with the scalar
 * reference, called directly (below the driver), on data wider than the Criterion suite's:
 * BCE probabilities with exact 0 / 1 and tiny values, logits in [-40, 40] with +-inf and NaN,
 * CE logits spread over [-30, 30] (where the rounding of x - max costs up to 8 ULP unless taken
 * exactly), confident predictions (p_t near 1), NaN and -inf logits, NaN in unselected lanes;
 * every flag combination (loss map, grad, weights, grad_map, mask / smoothing), row widths
 * 1..67, input offsets 0..7 floats, guard zones around every output.
 * Criteria: per element, NaN / inf classes equal, else within 4 float ULP of scalar, or within
 * 1e-6 absolute where scalar's value is below 1e-6 in magnitude (no scaling); sums within 1e-6
 * relative; domain_error equal; guards untouched. Prints the largest ULP error per output.
 * Shape legend: a BCE row is len elements; a CE run is len pixels x C classes, cstride apart.
 * make test-avx2-kernels (mk/avx2.mk); argument: number of passes over the matrix (default 3).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "kernels.h"
static uint64_t rs = 88172645463325252ull;
static double urand(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return (rs >> 11) * (1.0 / 9007199254740992.0);
}
static int64_t ord(float f) {
  int32_t u;
  memcpy(&u, &f, 4);
  return u < 0 ? -(int64_t)(u & 0x7fffffff) : u;
}
static double maxulp[8];
static long fails = 0;
static void cmp(int kind, const char *what, float a, float ref, int w, int off, int i) {
  if (isnan(ref) || isnan(a)) {
    if (isnan(ref) != isnan(a)) {
      if (fails++ < 20)
        printf("%s NaN mismatch w%d o%d i%d %g %g\n", what, w, off, i, a, ref);
    }
    return;
  }
  if (isinf(ref) || isinf(a)) {
    if (a != ref) {
      if (fails++ < 20)
        printf("%s inf mismatch %g %g\n", what, a, ref);
    }
    return;
  }
  if (fabs(ref) < 1e-6) {
    if (fabs(a - ref) > 1e-6) {
      if (fails++ < 20)
        printf("%s abs %g %g\n", what, a, ref);
    }
    return;
  }
  double d = fabs((double)(ord(a) - ord(ref)));
  if (d > maxulp[kind])
    maxulp[kind] = d;
  if (d > 4) {
    if (fails++ < 20)
      printf("%s w%d o%d i%d: %.9g vs %.9g (%g ulp)\n", what, w, off, i, a, ref, d);
  }
}
#define GUARD 16
int main(int argc, char **argv) {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    printf("kernels_avx2: no AVX2 + FMA, skipped\n");
    return 77;
  }
  int iters = argc > 1 ? atoi(argv[1]) : 3;
  float *buf[8];
  for (int k = 0; k < 8; k++)
    buf[k] = malloc(sizeof(float) * 4096 * 32);
  uint8_t *mask = malloc(4096);
  double maxrel = 0;
  for (int it = 0; it < iters; it++)
    for (int op = 0; op < 3; op++)
      for (int w = 1; w <= 67; w++)
        for (int off = 0; off < 8; off++)
          for (int fl = 0; fl < 32; fl++) {
            int hasl = fl & 1, hasg = fl & 2, hasw = fl & 4, hasgm = fl & 8, hasm = fl & 16;
            if (op < 2) {
              float *x = buf[0] + off, *y = buf[1] + off, *wt = buf[2] + off, *gm = buf[3] + off;
              float *l1 = buf[4] + GUARD, *l2 = buf[5] + GUARD, *g1 = buf[6] + GUARD,
                    *g2 = buf[7] + GUARD;
              for (int i = 0; i < w + GUARD * 2; i++) {
                buf[4][i] = buf[5][i] = buf[6][i] = buf[7][i] = 12345.f;
              }
              for (int i = 0; i < w; i++) {
                double u = urand();
                if (op == 0) {
                  x[i] = u < 0.05 ? 0.0f : u < 0.1 ? 1.0f : (float)urand();
                  if (urand() < 0.02)
                    x[i] = (float)(urand() * 1e-30);
                } else {
                  x[i] = (float)((urand() * 2 - 1) * (urand() < 0.5 ? 4 : 40));
                  if (urand() < 0.02)
                    x[i] = urand() < 0.5 ? INFINITY : -INFINITY;
                  if (urand() < 0.01)
                    x[i] = NAN;
                }
                y[i] = urand() < 0.3 ? (urand() < 0.5 ? 0.f : 1.f) : (float)urand();
                wt[i] = (float)(urand() * 2);
                gm[i] = (float)(urand() * 4 - 2);
                mask[off + i] = urand() < 0.3 ? 0 : (uint8_t)(1 + urand() * 200);
                if (op == 0 && hasm && !mask[off + i] && urand() < 0.3)
                  x[i] = NAN; // unselected garbage
              }
              sl_bce_row r = {x,
                              y,
                              hasw ? wt : NULL,
                              hasm ? mask + off : NULL,
                              hasgm ? gm : NULL,
                              hasl ? l1 : NULL,
                              hasg ? g1 : NULL,
                              0.37 / (w + 1),
                              (float)(0.5 + urand() * 3),
                              w};
              sl_bce_row r2 = r;
              r2.loss = hasl ? l2 : NULL;
              r2.grad = hasg ? g2 : NULL;
              int de1 = 0, de2 = 0;
              double s1 = op == 0 ? sl_bce_prob__scalar(&r, &de1) : sl_bce_logits__scalar(&r, &de1);
              double s2 =
                  op == 0 ? sl_kernels_avx2.bce_prob(&r2, &de2) : sl_kernels_avx2.bce_logits(&r2, &de2);
              if (de1 != de2) {
                if (fails++ < 20)
                  printf("domain mismatch op%d w%d\n", op, w);
              }
              if (!(isnan(s1) && isnan(s2))) {
                double rel = fabs(s1 - s2) / fmax(fabs(s1), 1e-300);
                if (s1 != s2 && rel > maxrel && !isinf(s1))
                  maxrel = rel;
                if (rel > 1e-6 && !(s1 == s2)) {
                  if (fails++ < 20)
                    printf("sum op%d w%d: %.17g %.17g\n", op, w, s1, s2);
                }
              }
              for (int i = -GUARD; i < w + GUARD; i++) {
                int in = i >= 0 && i < w;
                if (!in) {
                  if (l2[i] != 12345.f || g2[i] != 12345.f) {
                    if (fails++ < 20)
                      printf("GUARD overwritten op%d w%d o%d i%d\n", op, w, off, i);
                  }
                  continue;
                }
                if (hasl)
                  cmp(op * 2, "loss", l2[i], l1[i], w, off, i);
                if (hasg)
                  cmp(op * 2 + 1, "grad", g2[i], g1[i], w, off, i);
              }
            } else {
              int C = 1 + (int)(urand() * 23);
              int cs = w + 3 + (int)(urand() * 5);
              float *x = buf[0] + off;
              int32_t cls[80];
              float cw[32];
              float *l1 = buf[4] + GUARD, *l2 = buf[5] + GUARD, *g1 = buf[6] + GUARD,
                    *g2 = buf[7] + GUARD;
              int tot = C * cs + GUARD * 2;
              for (int i = 0; i < tot; i++) {
                buf[4][i] = buf[5][i] = buf[6][i] = buf[7][i] = 12345.f;
              }
              double sc = urand() < 0.3 ? 30 : 5;
              for (int i = 0; i < C * cs; i++) {
                x[i] = (float)((urand() * 2 - 1) * sc);
                if (urand() < 0.003)
                  x[i] = NAN;
                if (urand() < 0.003)
                  x[i] = -INFINITY;
              }
              for (int i = 0; i < w; i++) {
                cls[i] = urand() < 0.25 ? -1 : (int)(urand() * C);
                if (cls[i] < 0 && urand() < 0.5)
                  for (int c = 0; c < C; c++)
                    x[c * cs + i] = NAN;
              }
              if (urand() < 0.2)
                for (int i = 0; i < w; i++) {
                  int t = cls[i];
                  if (t >= 0)
                    x[t * cs + i] += 8;
                } // confident
              double cwsum = 0;
              for (int c = 0; c < C; c++) {
                cw[c] = (float)(urand() * 2);
                cwsum += cw[c];
              }
              float *gm = buf[3];
              for (int i = 0; i < w; i++)
                gm[i] = (float)(urand() * 4 - 2);
              float eps = (fl & 16) ? (float)(urand() * 0.3) : 0.f;
              sl_ce_row r = {x,
                             cls,
                             hasw ? cw : NULL,
                             hasgm ? gm : NULL,
                             hasl ? l1 : NULL,
                             hasg ? g1 : NULL,
                             1.0 / (w + 3),
                             hasw ? cwsum : C,
                             eps,
                             cs,
                             C,
                             w};
              sl_ce_row r2 = r;
              r2.loss = hasl ? l2 : NULL;
              r2.grad = hasg ? g2 : NULL;
              double s1 = sl_ce__scalar(&r), s2 = sl_kernels_avx2.ce(&r2);
              if (!(isnan(s1) && isnan(s2))) {
                double rel = fabs(s1 - s2) / fmax(fabs(s1), 1e-300);
                if (s1 != s2 && rel > maxrel && !isinf(s1))
                  maxrel = rel;
                if (rel > 1e-6 && s1 != s2) {
                  if (fails++ < 20)
                    printf("ce sum w%d: %.17g %.17g\n", w, s1, s2);
                }
              }
              for (int i = -GUARD; i < w + GUARD; i++) {
                int in = i >= 0 && i < w;
                if (!in) {
                  if (l2[i] != 12345.f) {
                    if (fails++ < 20)
                      printf("CE loss GUARD w%d i%d\n", w, i);
                  }
                } else if (hasl)
                  cmp(4, "celoss", l2[i], l1[i], w, off, i);
              }
              for (int i = -GUARD; i < C * cs + GUARD; i++) {
                int col = i % cs;
                int in = i >= 0 && i < C * cs && col < w;
                if (!in) {
                  if (g2[i] != 12345.f && i < C * cs + GUARD) {
                    if (fails++ < 20)
                      printf("CE grad GUARD w%d i%d C%d cs%d\n", w, i, C, cs);
                  }
                } else if (hasg) {
                  char nm[64];
                  snprintf(nm, 64, "cegrad(eps=%g,c=%d,t=%d)", eps, i / cs, cls[col]);
                  cmp(5, nm, g2[i], g1[i], w, off, i);
                }
              }
            }
          }
  printf("kernels_avx2: %s\n", fails ? "FAILED" : "OK");
  printf("max ulp: probloss %g probgrad %g logitloss %g logitgrad %g celoss %g cegrad %g; max sum "
         "rel %g; fails %ld\n",
         maxulp[0], maxulp[1], maxulp[2], maxulp[3], maxulp[4], maxulp[5], maxrel, fails);
  return fails != 0;
}
