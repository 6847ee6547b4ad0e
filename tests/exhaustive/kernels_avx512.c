// SPDX-License-Identifier: MIT
/*
 * exhaustive/kernels_avx512.c - the AVX-512 row microkernels against the AVX2 ones, element by
 * element and bit for bit, called directly (below the driver).
 *
 * Both tables run the same generic kernels (src/generic/) on vector layers whose arithmetic is
 * the same per lane (both build src/generic/vmath.h; the overrides of src/avx512/vmath.h, the
 * lane flags and the masked tails are exact), so every per-element output must be the same
 * float: loss map and gradient, NaN for NaN (any payload). Only the row sums may differ (the
 * double lanes are added in another order): within 1e-12 relative, or both NaN, or equal
 * infinities. domain_error must be equal; guard zones around every output untouched.
 * Data: BCE probabilities with exact 0 / 1, tiny values, values outside [0, 1] and NaN (domain
 * errors); logits in [-40, 40] with +-inf, NaN, subnormals and |x| > 87; weights and grad_map
 * with 0, huge and subnormal entries; random masks; CE with C in {1, 2, 3, 5, 21, 40}, logits in
 * [-30, 30] with -inf / NaN, uncounted pixels, class weights, smoothing, grad_map (and sl_ce_prob
 * with one-hot, distribution and any-float targets, NaN and huge ones, pixel weights); every flag
 * combination, row widths 1..67 and a few long ones (CE segments), input offsets 0..15 floats.
 * The AVX-512-vs-scalar accuracy is the Criterion suite's (make test ISA=avx512, test_equiv.c)
 * and, for the accuracy contract, the strict kernel test once it takes a table argument.
 * make test-avx512-kernels (mk/avx512.mk); argument: passes over the matrix (default 4). Exits
 * 77 without AVX-512 (this file is baseline code: the kernels run from the library).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "workspace.h"

/* The kernels' workspace of this thread (the driver's job in the library). */
static void *t_ws(void) {
  void *w = sl_workspace(SL_WS_KERNEL, SL_WS_KERNEL_BYTES);
  if (!w) {
    fprintf(stderr, "kernels_avx512: no workspace\n");
    exit(1);
  }
  return w;
}

enum { GUARD = 16, MAXW = 1100, MAXC = 40 };
static const float SENT = 12345.0f;

static uint64_t rs = 88172645463325252ull;
static double urand(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return (double)(rs >> 11) * (1.0 / 9007199254740992.0);
}

static long fails = 0, compared = 0;

static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static void same(const char *what, const float *a, const float *b, int64_t n, int w, int off) {
  for (int64_t i = 0; i < n; i++) {
    compared++;
    if ((isnan(a[i]) && isnan(b[i])) || bits(a[i]) == bits(b[i]))
      continue;
    if (fails++ < 20)
      printf("%s w%d o%d i%lld: avx512 %a, avx2 %a\n", what, w, off, (long long)i, (double)a[i],
             (double)b[i]);
  }
}

static void same_sum(const char *what, double a, double b, int w) {
  if ((isnan(a) && isnan(b)) || a == b)
    return;
  if (isfinite(a) && isfinite(b) && fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b)))
    return;
  if (fails++ < 20)
    printf("%s sum w%d: avx512 %.17g, avx2 %.17g\n", what, w, a, b);
}

static void guards(const char *what, const float *p, int64_t n, int w) {
  for (int64_t i = -GUARD; i < 0; i++)
    if (bits(p[i]) != bits(SENT) && fails++ < 20)
      printf("%s guard before w%d i%lld\n", what, w, (long long)i);
  for (int64_t i = n; i < n + GUARD; i++)
    if (bits(p[i]) != bits(SENT) && fails++ < 20)
      printf("%s guard after w%d i%lld\n", what, w, (long long)i);
}

static float special(void) {
  double u = urand();
  return u < 0.25f ? INFINITY : u < 0.5 ? -INFINITY : u < 0.75 ? NAN : 1e-40f;
}

static float *out_buf(float *base, int64_t n) {
  for (int64_t i = 0; i < n + 2 * GUARD; i++)
    base[i] = SENT;
  return base + GUARD;
}

/* One BCE row: op 0 probabilities, 1 logits, 2 the sigmoid focal loss; fl bits: loss, grad, weight,
 * gmap, mask. */
static void bce_case(int op, int w, int off, int fl, float *in[4], uint8_t *mask, float *o[4]) {
  float *x = in[0] + off, *y = in[1] + off, *wt = in[2] + off, *gm = in[3] + off;
  for (int i = 0; i < w; i++) {
    double u = urand();
    if (op == 0) {
      x[i] = u < 0.05 ? 0.0f : u < 0.1 ? 1.0f : (float)urand();
      if (urand() < 0.02)
        x[i] = (float)(urand() * 1e-30);
      if (urand() < 0.003)
        x[i] = urand() < 0.5 ? NAN : 1.5f; /* a domain error */
      y[i] = urand() < 0.7 ? (urand() < 0.5 ? 0.0f : 1.0f) : (float)urand();
    } else {
      x[i] = (float)((urand() * 2 - 1) * (urand() < 0.5 ? 4 : 40));
      if (urand() < 0.03)
        x[i] = special();
      if (urand() < 0.02)
        x[i] = (float)((urand() * 2 - 1) * 100);
      if (urand() < 0.02)
        x[i] = (float)((urand() * 2 - 1) * 1e-3);
      y[i] = urand() < 0.6 ? (urand() < 0.5 ? 0.0f : 1.0f) : (float)urand();
    }
    wt[i] = (float)(urand() * 2);
    if (urand() < 0.02)
      wt[i] = urand() < 0.5 ? 0.0f : urand() < 0.5 ? 1e30f : 1e-40f;
    gm[i] = (float)(urand() * 2 - 1);
    if (urand() < 0.02)
      gm[i] = urand() < 0.5 ? 0.0f : urand() < 0.5 ? 1e30f : 1e-40f;
    mask[i] = urand() < 0.7;
  }
  int hasl = fl & 1, hasg = fl & 2;
  static const float gammas[] = {2.0f, 0.0f, 1.0f, 3.0f, 0.5f, 2.5f};
  sl_bce_row r = {.x = x,
                  .y = y,
                  .w = (fl & 4) ? wt : NULL,
                  .mask = (fl & 16) ? mask : NULL,
                  .gmap = (hasg && (fl & 8)) ? gm : NULL,
                  .loss = hasl ? out_buf(o[0], w) : NULL,
                  .grad = hasg ? out_buf(o[2], w) : NULL,
                  .gscale = urand() < 0.1 ? 1e-40 : (urand() * 2 - 1) / 64.0,
                  .pos_weight = op == 1 && urand() < 0.5 ? (float)(urand() * 4) : 1.0f,
                  .focal_alpha = urand() < 0.2 ? -1.0f : (float)urand(),
                  .focal_gamma = gammas[(int)(urand() * 6)],
                  .len = w};
  sl_bce_row r2 = r;
  r2.loss = hasl ? out_buf(o[1], w) : NULL;
  r2.grad = hasg ? out_buf(o[3], w) : NULL;
  int de5 = 0, de2 = 0;
  const sl_kernels *k5 = &sl_kernels_avx512, *k2 = &sl_kernels_avx2;
  double s5 = op == 0   ? k5->bce_prob(&r, &de5)
              : op == 1 ? k5->bce_logits(&r, &de5)
                        : k5->sigmoid_focal(&r, &de5);
  double s2 = op == 0   ? k2->bce_prob(&r2, &de2)
              : op == 1 ? k2->bce_logits(&r2, &de2)
                        : k2->sigmoid_focal(&r2, &de2);
  static const char *const names[3][3] = {
      {"bce", "bce loss", "bce grad"},
      {"bce_logits", "bce_logits loss", "bce_logits grad"},
      {"sigmoid_focal", "sigmoid_focal loss", "sigmoid_focal grad"}};
  const char *nm = names[op][0];
  if (de5 != de2 && fails++ < 20)
    printf("%s w%d: domain_error avx512 %d, avx2 %d\n", nm, w, de5, de2);
  if (!de5) /* outputs are unspecified after a domain error */
    same_sum(nm, s5, s2, w);
  if (hasl) {
    guards(nm, r.loss, w, w);
    if (!de5)
      same(names[op][1], r.loss, r2.loss, w, w, off);
  }
  if (hasg) {
    guards(nm, r.grad, w, w);
    if (!de5)
      same(names[op][2], r.grad, r2.grad, w, w, off);
  }
}

/* One CE run of w pixels, C classes, plane stride cs >= w; fl bits: loss, grad, cw, gmap,
 * smoothing. */
static void ce_case(int w, int C, int off, int fl, float *in[4], int32_t *cls, float *o[4]) {
  int64_t cs = w + (int64_t)(urand() * 9);
  float *x = in[0] + off, *gm = in[3] + off, cw[MAXC];
  double cwsum = 0;
  for (int c = 0; c < C; c++) {
    cw[c] = (float)(urand() * 2);
    cwsum += cw[c];
  }
  double spread = urand() < 0.5 ? 4 : 30;
  for (int64_t i = 0; i < C * cs; i++) {
    x[i] = (float)((urand() * 2 - 1) * spread);
    if (urand() < 0.005)
      x[i] = urand() < 0.5 ? -INFINITY : NAN;
  }
  for (int i = 0; i < w; i++) {
    cls[i] = urand() < 0.15 ? -1 : (int32_t)(urand() * C);
    if (cls[i] >= 0 && urand() < 0.2) /* a confident prediction */
      x[cls[i] * cs + i] = (float)(urand() * 40);
    gm[i] = (float)(urand() * 2 - 1);
  }
  int hasl = fl & 1, hasg = fl & 2;
  int64_t n = C * cs;
  sl_ce_row r = {.x = x,
                 .cls = cls,
                 .cw = (fl & 4) ? cw : NULL,
                 .gmap = (hasg && (fl & 8)) ? gm : NULL,
                 .loss = hasl ? out_buf(o[0], w) : NULL,
                 .grad = hasg ? out_buf(o[2], n) : NULL,
                 .gscale = urand() < 0.05 ? 1e-40 : (urand() * 2 - 1) / 64.0,
                 .cw_sum = (fl & 4) ? cwsum : (double)C,
                 .smoothing = (fl & 16) ? 0.1f : 0.0f,
                 .cstride = cs,
                 .classes = C,
                 .len = w,
                 .ws = t_ws()};
  sl_ce_row r2 = r;
  r2.loss = hasl ? out_buf(o[1], w) : NULL;
  r2.grad = hasg ? out_buf(o[3], n) : NULL;
  if (hasg) { /* the kernels write only the pixels of the run: fill the plane gaps alike */
    float *g5 = r.grad, *g2 = r2.grad;
    for (int64_t i = 0; i < n; i++)
      g5[i] = g2[i] = SENT;
  }
  double s5 = sl_kernels_avx512.ce(&r), s2 = sl_kernels_avx2.ce(&r2);
  same_sum("ce", s5, s2, w);
  if (hasl) {
    guards("ce loss", r.loss, w, w);
    same("ce loss", r.loss, r2.loss, w, w, off);
  }
  if (hasg) {
    guards("ce grad", r.grad, n, w);
    same("ce grad", r.grad, r2.grad, n, w, off);
  }
}

/* One sl_ce_prob run (class-probability targets q in in[1], pixel weights in in[2]), as
 * ce_case; fl bits: loss, grad, cw, gmap, smoothing; pixel weights on every other call. */
static void ce_prob_case(int w, int C, int off, int fl, float *in[4], int32_t *cls, float *o[4]) {
  int64_t cs = w + (int64_t)(urand() * 9);
  float *x = in[0] + off, *q = in[1] + off, *pw = in[2] + off, *gm = in[3] + off, cw[MAXC];
  for (int c = 0; c < C; c++)
    cw[c] = (float)(urand() * 2);
  double spread = urand() < 0.5 ? 4 : 30;
  const double kind = urand(); /* one-hot, distributions, any floats */
  for (int64_t i = 0; i < C * cs; i++) {
    x[i] = (float)((urand() * 2 - 1) * spread);
    if (urand() < 0.005)
      x[i] = urand() < 0.5 ? -INFINITY : NAN;
    q[i] = kind < 0.3 ? 0.0f : kind < 0.7 ? (float)(urand() / C) : (float)(urand() * 3 - 1);
    if (urand() < 0.005)
      q[i] = urand() < 0.5 ? 1e30f : NAN;
  }
  for (int i = 0; i < w; i++) {
    int hot = (int)(urand() * C);
    if (kind < 0.3)
      q[hot * cs + i] = 1.0f;
    cls[i] = urand() < 0.15 ? -1 : 0;
    if (cls[i] >= 0 && urand() < 0.2) /* a confident prediction */
      x[hot * cs + i] = (float)(urand() * 40);
    gm[i] = (float)(urand() * 2 - 1);
    pw[i] = urand() < 0.05 ? 0.0f : (float)(urand() * 2);
  }
  int hasl = fl & 1, hasg = fl & 2;
  int64_t n = C * cs;
  sl_ce_row r = {.x = x,
                 .cls = cls,
                 .q = q,
                 .cw = (fl & 4) ? cw : NULL,
                 .pw = (w + off) % 2 ? pw : NULL,
                 .gmap = (hasg && (fl & 8)) ? gm : NULL,
                 .loss = hasl ? out_buf(o[0], w) : NULL,
                 .grad = hasg ? out_buf(o[2], n) : NULL,
                 .gscale = urand() < 0.05 ? 1e-40 : (urand() * 2 - 1) / 64.0,
                 .smoothing = (fl & 16) ? 0.1f : 0.0f,
                 .cstride = cs,
                 .classes = C,
                 .len = w,
                 .ws = t_ws()};
  sl_ce_row r2 = r;
  r2.loss = hasl ? out_buf(o[1], w) : NULL;
  r2.grad = hasg ? out_buf(o[3], n) : NULL;
  if (hasg) {
    float *g5 = r.grad, *g2 = r2.grad;
    for (int64_t i = 0; i < n; i++)
      g5[i] = g2[i] = SENT;
  }
  double s5 = sl_kernels_avx512.ce_prob(&r), s2 = sl_kernels_avx2.ce_prob(&r2);
  same_sum("ce_prob", s5, s2, w);
  if (hasl) {
    guards("ce_prob loss", r.loss, w, w);
    same("ce_prob loss", r.loss, r2.loss, w, w, off);
  }
  if (hasg) {
    guards("ce_prob grad", r.grad, n, w);
    same("ce_prob grad", r.grad, r2.grad, n, w, off);
  }
}

int main(int argc, char **argv) {
  if (!sl_isa_available(SL_ISA_AVX512)) {
    printf("kernels_avx512: no AVX-512 F+BW+DQ+VL (or no OS ZMM state), skipped\n");
    return 77;
  }
  int passes = argc > 1 ? atoi(argv[1]) : 4;
  const int big = MAXC * (MAXW + 16) + 64;
  float *in[4], *o[4];
  for (int k = 0; k < 4; k++) {
    in[k] = malloc(sizeof(float) * (size_t)big);
    o[k] = malloc(sizeof(float) * (size_t)(big + 2 * GUARD));
  }
  uint8_t *mask = malloc(MAXW);
  int32_t *cls = malloc(sizeof(int32_t) * MAXW);
  static const int widths_long[] = {100, 255, 256, 257, 511, 1000, 1100};
  static const int classes[] = {1, 2, 3, 5, 21, 40};
  for (int p = 0; p < passes; p++)
    for (int wi = 1; wi <= 67 + 7; wi++) {
      int w = wi <= 67 ? wi : widths_long[wi - 68];
      for (int off = 0; off < 16; off++)
        for (int fl = 0; fl < 32; fl++) {
          bce_case(0, w, off, fl, in, mask, o);
          bce_case(1, w, off, fl, in, mask, o);
          bce_case(2, w, off, fl, in, mask, o); /* the sigmoid focal loss */
          int C = classes[(off + fl) % 6];
          if (w <= 67 || off % 4 == 0) {
            ce_case(w, C, off, fl, in, cls, o);
            ce_prob_case(w, C, off, fl, in, cls, o);
          }
        }
    }
  printf("kernels_avx512: %s (%ld elements compared bit for bit with AVX2, %ld differences)\n",
         fails ? "FAILED" : "OK", compared, fails);
  for (int k = 0; k < 4; k++) {
    free(in[k]);
    free(o[k]);
  }
  free(mask);
  free(cls);
  return fails != 0;
}
