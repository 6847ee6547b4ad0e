// SPDX-License-Identifier: MIT
/*
 * sl_subnormal.c - does a subnormal input slow a kernel down? (a benchmark, not a test)
 *
 * For each entry point, times the same fused forward+backward call (MEAN, whole tensor,
 * 1 thread) on ordinary inputs and on inputs whose values are all subnormal floats (logits,
 * probabilities; BCE targets too), in alternation, and prints the median time ratio
 * subnormal / normal for the active ISA (SECTIONLOSS_ISA picks it). Shape: N x C x H x W =
 * 4 x 8 x 128 x 128 (data in L2/L3, so the arithmetic, not memory, is what is timed).
 */
#define _POSIX_C_SOURCE 199309L
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sectionloss.h"

enum { N = 4, C = 8, H = 128, W = 128, E = N * C * H * W, REPS = 21 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One fused call of entry point op (0 bce, 1 bce_logits, 2 ce). */
static sl_status call(int op, const float *x, const float *t, const int64_t *lab, float *grad) {
  sl_shape s = {N, C, H, W};
  sl_options o = sl_options_default();
  o.num_threads = 1;
  float loss;
  if (op == 0)
    return sl_bce(&s, x, t, NULL, &o, &loss, grad);
  if (op == 1)
    return sl_bce_logits(&s, x, t, NULL, &o, &loss, grad);
  return sl_ce(&s, x, lab, SL_LABEL_I64, NULL, &o, &loss, grad);
}

int main(void) {
  static float xn[E], xs[E], tn[E], ts[E], grad[E];
  static int64_t lab[N * H * W];
  unsigned r = 12345;
  for (int i = 0; i < E; i++) {
    r = r * 1103515245u + 12345u;
    float u = (float)((r >> 8) & 0xffff) / 65536.0f; /* [0, 1) */
    xn[i] = 0.05f + 0.9f * u;                        /* ordinary probabilities/logits */
    xs[i] = FLT_MIN * (0.001f + 0.9f * u);           /* subnormal */
    tn[i] = (float)((r >> 4) & 1);
    ts[i] = tn[i] ? 1.0f : FLT_MIN * 0.5f; /* subnormal where not 1 */
  }
  for (int i = 0; i < N * H * W; i++)
    lab[i] = i % C;
  printf("sl-subnormal: ISA %s, 1 thread, %dx%dx%dx%d, fused, median of %d, ratio = "
         "subnormal / normal (the target: <= 2)\n",
         sl_isa_name(sl_isa_active()), N, C, H, W, REPS);
  const char *names[] = {"bce", "bce_logits", "ce"};
  int worst_ok = 1;
  for (int op = 0; op < 3; op++) {
    double tnorm[REPS], tsub[REPS];
    for (int k = 0; k < REPS; k++) {
      double t0 = now();
      if (call(op, xn, tn, lab, grad) != SL_OK)
        return 2;
      double t1 = now();
      if (call(op, xs, op == 2 ? tn : ts, lab, grad) != SL_OK)
        return 2;
      double t2 = now();
      tnorm[k] = t1 - t0;
      tsub[k] = t2 - t1;
    }
    qsort(tnorm, REPS, sizeof(double), cmp);
    qsort(tsub, REPS, sizeof(double), cmp);
    double ratio = tsub[REPS / 2] / tnorm[REPS / 2];
    worst_ok &= ratio <= 2.0;
    printf("  %-10s normal %8.3f ms  subnormal %8.3f ms  ratio %.2f\n", names[op],
           1e3 * tnorm[REPS / 2], 1e3 * tsub[REPS / 2], ratio);
  }
  printf("  %s\n", worst_ok ? "every ratio <= 2" : "a ratio is above 2");
  return 0;
}
