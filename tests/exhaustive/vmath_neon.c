// SPDX-License-Identifier: MIT
/*
 * vmath_neon.c - ULP test of the NEON vector logf, expf, expf_lean and log1pf (src/neon/vmath.h)
 * against libm's double log / exp / log1p (the double result is the reference).
 *
 *   vmath_neon         logf and expf on every one of the 2^32 float bit patterns, expf_lean
 *                      on every one in [-87, 0]; log1pf on one group of 4 consecutive
 *                      patterns in 16 (OpenMP; SIMDe on x86)
 *   vmath_neon STRIDE  every STRIDE-th bit pattern, at offsets 0 and STRIDE/2 + 1, so 2^33 /
 *                      STRIDE inputs per function (STRIDE 128: 2^26, the qemu-aarch64 run)
 * Error of y against the reference r: |y - r| / ulp(r), ulp(r) = 2^(e - 23) for r in
 * [2^e, 2^(e+1)), at least 2^-149. Special inputs must give exactly: NaN for NaN (any payload),
 * the same infinity, the same zero. Prints the max error of each function and where; exits 1
 * when a function exceeds 2 ULP or gives a wrong special value.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neon/vmath.h"

enum { F_LOG, F_EXP, F_LOG1P, F_EXPLEAN, F_COUNT };
static const char *const names[F_COUNT] = {"logf", "expf", "log1pf", "expf_lean"};
static const double limits[F_COUNT] = {2.0, 2.0, 2.0, 2.0};

static double ulp_err(float y, double r, int *bad) {
  if (isnan(r)) {
    *bad |= !isnan(y);
    return 0.0;
  }
  if (isinf(r) || r == 0.0) {
    *bad |= !(y == (float)r);
    return 0.0;
  }
  if (isnan(y) || isinf(y)) {
    /* a finite reference at or above FLT_MAX + ulp / 2 rounds to +inf: that is exact */
    if (y == INFINITY && r >= ldexp(1.0, 128) - ldexp(1.0, 103))
      return 0.0;
    *bad = 1;
    return 0.0;
  }
  uint64_t rb; /* ulp(r) from the exponent field of r (double, normal here): fast */
  memcpy(&rb, &r, sizeof rb);
  int ue = (int)((rb >> 52) & 0x7ff) - 1023 - 23;
  if (ue < -149)
    ue = -149;
  uint64_t ub = (uint64_t)(ue + 1023) << 52;
  double ulp;
  memcpy(&ulp, &ub, sizeof ulp);
  return fabs((double)y - r) / ulp;
}

/* The reference in double; the cases whose float result is known exactly skip libm (speed). */
static double ref(int f, float x) {
  switch (f) {
  case F_LOG:
    if (x < 0.0f)
      return NAN;
    return x == 0.0f ? -INFINITY : log((double)x);
  case F_EXP:
    if (x >= 89.0f) /* exp(89) > FLT_MAX + ulp / 2: rounds to +inf */
      return INFINITY;
    if (x <= -104.0f) /* exp(-104) < 2^-150: rounds to 0 */
      return 0.0;
    return exp((double)x);
  case F_EXPLEAN:
    return exp((double)x);
  default:
    return x < 0.0f ? NAN : log1p((double)x); /* log1pf's domain is u >= 0 */
  }
}

int main(int argc, char **argv) {
  uint64_t stride = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
  if (stride == 0 || (stride & (stride - 1)) != 0) {
    fprintf(stderr, "vmath_neon: STRIDE must be a power of two\n");
    return 2;
  }
  uint64_t offs[2] = {0, stride > 1 ? stride / 2 + 1 : 0};
  int noffs = stride > 1 ? 2 : 1;
  double maxerr[F_COUNT] = {0};
  uint32_t argmax[F_COUNT] = {0};
  int bad[F_COUNT] = {0};
  uint32_t badx[F_COUNT] = {0};
  uint64_t tested = 0;
  /* log1pf (not required exhaustive): every 16th vector in the full run, all in a strided one */
  const uint64_t l1p_every = stride == 1 ? 16 : 1;
  const uint64_t blocks = (1ull << 32) / 4 / stride; /* 4 inputs per vector call */
  for (int o = 0; o < noffs; o++) {
#pragma omp parallel
    {
      double lmax[F_COUNT] = {0};
      uint32_t larg[F_COUNT] = {0};
      int lbad[F_COUNT] = {0};
      uint32_t lbadx[F_COUNT] = {0};
#pragma omp for schedule(static) reduction(+ : tested)
      for (uint64_t b = 0; b < blocks; b++) {
        uint32_t bits[4];
        float x[4], y[F_COUNT][4];
        for (int l = 0; l < 4; l++) {
          bits[l] = (uint32_t)((b * 4 + (uint64_t)l) * stride + offs[o]);
          memcpy(&x[l], &bits[l], 4);
        }
        float32x4_t vx = vld1q_f32(x);
        vst1q_f32(y[F_LOG], sl_v_logf(vx));
        vst1q_f32(y[F_EXP], sl_v_expf(vx));
        vst1q_f32(y[F_LOG1P], sl_v_log1pf(vx));
        vst1q_f32(y[F_EXPLEAN], sl_v_expf_lean(vx));
        for (int l = 0; l < 4; l++) {
          for (int f = 0; f < F_COUNT; f++) {
            if (f == F_LOG1P && ((!(x[l] >= 0.0f) && !isnan(x[l])) || b % l1p_every != 0))
              continue; /* outside log1pf's domain, or not sampled */
            if (f == F_EXPLEAN && !(x[l] >= -87.0f && x[l] <= 0.0f) && !isnan(x[l]))
              continue; /* outside expf_lean's domain (CE: -87 <= x_c - max <= 0) */
            int b1 = 0;
            double e = ulp_err(y[f][l], ref(f, x[l]), &b1);
            if (b1 && !lbad[f]) {
              lbad[f] = 1;
              lbadx[f] = bits[l];
            }
            if (e > lmax[f]) {
              lmax[f] = e;
              larg[f] = bits[l];
            }
          }
        }
        tested += 4;
      }
#pragma omp critical
      for (int f = 0; f < F_COUNT; f++) {
        if (lmax[f] > maxerr[f]) {
          maxerr[f] = lmax[f];
          argmax[f] = larg[f];
        }
        if (lbad[f] && !bad[f]) {
          bad[f] = 1;
          badx[f] = lbadx[f];
        }
      }
    }
  }
  int fail = 0;
  printf("vmath_neon: %llu inputs per function (stride %llu)\n", (unsigned long long)tested,
         (unsigned long long)stride);
  for (int f = 0; f < F_COUNT; f++) {
    float ax;
    memcpy(&ax, &argmax[f], 4);
    printf("  %-7s max %.3f ULP at x = %a (0x%08x)%s\n", names[f], maxerr[f], (double)ax, argmax[f],
           maxerr[f] > limits[f] ? "  FAIL: above the bound" : "");
    if (bad[f]) {
      float bx;
      memcpy(&bx, &badx[f], 4);
      printf("  %-7s FAIL: wrong special value at x = %a (0x%08x)\n", names[f], (double)bx,
             badx[f]);
    }
    fail |= maxerr[f] > limits[f] || bad[f];
  }
  printf("vmath_neon: %s\n", fail ? "FAIL" : "ok");
  return fail;
}
