// SPDX-License-Identifier: MIT
/*
 * example_data.h - deterministic data, timing and the report line shared by the examples.
 *
 * The data come from splitmix64, replicated bit for bit in examples/torch_values.py, which
 * feeds the same tensors to PyTorch and prints the reference values stored in the examples.
 * Every value is built from integers, so C and Python produce the same float32 numbers:
 *   probability  v * 2^-24             v = the top 24 bits of a draw: [0, 1)
 *   logit        (v - 2^23) * 2^-22    [-2, 2)
 *   binary label the top bit of a draw
 *   class label  the top 2 bits of a draw (4 classes)
 * Tensors are filled in memory order (NCHW, then labels NHW), one draw per element.
 * Shape legend N, C, H, W as in sectionloss.h.
 */
#ifndef EXAMPLE_DATA_H
#define EXAMPLE_DATA_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sectionloss.h"

/* ---- data -------------------------------------------------------------------------------- */

typedef struct ex_rng {
  uint64_t state;
} ex_rng;

static inline uint64_t ex_next(ex_rng *r) {
  uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* input: rng, n; output: p[0..n) probabilities in [0, 1) */
static inline void ex_fill_prob(ex_rng *r, float *p, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    p[i] = (float)(ex_next(r) >> 40) * 0x1p-24f;
}

/* input: rng, n; output: x[0..n) logits in [-2, 2) */
static inline void ex_fill_logit(ex_rng *r, float *x, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    x[i] = (float)((int64_t)(ex_next(r) >> 40) - (1 << 23)) * 0x1p-22f;
}

/* input: rng, n; output: t[0..n) binary targets, 0 or 1 */
static inline void ex_fill_binary(ex_rng *r, float *t, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    t[i] = (float)(ex_next(r) >> 63);
}

/* input: rng, n; output: labels[0..n) class indices in [0, 4) */
static inline void ex_fill_class4(ex_rng *r, int64_t *labels, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    labels[i] = (int64_t)(ex_next(r) >> 62);
}

/* The disc mask of examples 2 and 3: sample k has its own centre and radius, so the samples
 * select different numbers of pixels. input: N, H, W; output: mask N x 1 x H x W, 1 inside. */
static inline void ex_disc_mask(uint8_t *mask, int64_t n, int64_t h, int64_t w) {
  for (int64_t k = 0; k < n; k++) {
    int64_t cy = 30 + 2 * k, cx = 26 + 4 * k, r = 14 + 3 * k;
    for (int64_t y = 0; y < h; y++)
      for (int64_t x = 0; x < w; x++)
        mask[(k * h + y) * w + x] = (y - cy) * (y - cy) + (x - cx) * (x - cx) <= r * r;
  }
}

/* ---- checking and timing ------------------------------------------------------------------- */

/* Stops the example with a readable message when a call fails. */
static inline void ex_check(sl_status s, const char *what) {
  if (s != SL_OK) {
    fprintf(stderr, "%s failed: %s (status %d)\n", what, sl_status_string(s), (int)s);
    exit(1);
  }
}

static inline double ex_l1(const float *g, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++)
    s += fabs((double)g[i]);
  return s;
}

static inline double ex_now(void) {
  struct timespec ts;
  timespec_get(&ts, TIME_UTC);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int ex_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

enum { EX_REPS = 21 };

/* A section-loss call with all its arguments bound, so it can be timed. */
typedef sl_status (*ex_call_fn)(const void *ctx, float *loss, float *grad);

/* Median wall time of EX_REPS calls, in milliseconds (after one warm-up call). */
static inline double ex_median_ms(ex_call_fn fn, const void *ctx, float *loss, float *grad) {
  double t[EX_REPS];
  ex_check(fn(ctx, loss, grad), "warm-up call");
  for (int i = 0; i < EX_REPS; i++) {
    double t0 = ex_now();
    ex_check(fn(ctx, loss, grad), "timed call");
    t[i] = 1e3 * (ex_now() - t0);
  }
  qsort(t, EX_REPS, sizeof t[0], ex_cmp_double);
  return t[EX_REPS / 2];
}

/* Relative difference |a - b| / |b| (0 when both are 0). */
static inline double ex_rel(double a, double b) {
  return a == b ? 0.0 : fabs(a - b) / fabs(b);
}

/* Prints the comparison with PyTorch and the timings; returns the exit status: 0 when the loss
 * and the gradient's L1 norm are within 1e-6 (relative) of PyTorch's, 1 otherwise.
 * torch_loss is PyTorch's float32 loss (printed with 9 digits, so (float) recovers it). */
static inline int ex_report(float loss, double torch_loss, double grad_l1, double torch_grad_l1,
                            double ms_fused, double ms_forward) {
  double tl = (float)torch_loss;
  double rl = ex_rel(loss, tl), rg = ex_rel(grad_l1, torch_grad_l1);
  int ok = rl <= 1e-6 && rg <= 1e-6;
  printf("   loss       sectionloss %.9g   PyTorch %.9g   rel. diff %.2e\n", (double)loss, tl, rl);
  printf("   |grad|_1   sectionloss %.9g   PyTorch %.9g   rel. diff %.2e\n", grad_l1, torch_grad_l1,
         rg);
  const char *emu = getenv("SL_BENCH_EMULATED"); /* set by make for a qemu (CROSS=) run */
  printf("   ISA %s; time per call (median of %d): forward+backward %.3f ms, forward %.3f ms%s\n",
         sl_isa_name(sl_isa_active()), EX_REPS, ms_fused, ms_forward,
         emu && emu[0] && emu[0] != '0' ? " (emulated: timings mean nothing)" : "");
  printf("   %s\n", ok ? "OK: within 1e-6 of PyTorch" : "FAILED: more than 1e-6 from PyTorch");
  return ok ? 0 : 1;
}

#endif /* EXAMPLE_DATA_H */
