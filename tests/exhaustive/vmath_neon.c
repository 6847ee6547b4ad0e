// SPDX-License-Identifier: MIT
/*
 * vmath_neon.c - ULP test of the vector math of src/generic/vmath.h built on the NEON layer
 * (src/neon/vec.h: v_log, v_exp, v_exp_lean, v_log1p, v_log1p01, v_exp_nabs) against libm's
 * double log / exp / log1p (the double result is the reference).
 *
 *   vmath_neon         logf and expf on every one of the 2^32 float bit patterns, expf_lean
 *                      on every one in [-87, 0]; log1pf (x >= 0) on one group of 4 consecutive
 *                      patterns in 16, log1pf_01 (x in [0, 1]) and exp(-|x|) (every x, deep
 *                      set per 4 lanes as the NEON kernels set it) on one in 4 (OpenMP; SIMDe
 *                      on x86)
 *   vmath_neon STRIDE  every STRIDE-th bit pattern, at offsets 0 and STRIDE/2 + 1, so 2^33 /
 *                      STRIDE inputs per function (STRIDE 128: 2^26, the qemu-aarch64 run), all
 *                      six functions on every one in their domains
 * Error of y against the reference r: |y - r| / ulp(r), ulp(r) = 2^(e - 23) for r in
 * [2^e, 2^(e+1)), at least 2^-149. Special inputs must give exactly: NaN for NaN (any payload),
 * the same infinity, the same zero. Prints the max error of each function and where; exits 1
 * when a function exceeds 2 ULP or gives a wrong special value.
 *
 * Same bits as x86: in the SIMDe build on a CPU with AVX2 + FMA, every result above is also
 * compared bit for bit with the AVX2 build of the same generic code (tests/exhaustive/
 * vmath_avx2_ref.c; a NaN matches any NaN): the generic math is one algorithm on every ISA, and
 * SIMDe's NEON operations round as AArch64's do (src/neon/neon.h). A difference fails.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neon/vec.h"
#include "vmath_check.h"

/* the AVX2 build to compare with: x86 (the SIMDe build) only */
#if defined(SL_NEON_SIMDE) && defined(__x86_64__)
#define SL_AVX2_REF 1
#else
#define SL_AVX2_REF 0
#endif

enum { F_LOG, F_EXP, F_LOG1P, F_EXPLEAN, F_LOG1P01, F_EXPNABS, F_COUNT };
static const char *const names[F_COUNT] = {"logf",      "expf",      "log1pf",
                                           "expf_lean", "log1pf_01", "expf_nabs"};
static const double limits[F_COUNT] = {2.0, 2.0, 2.0, 2.0, 2.0, 2.0};
/* the index of each function in vmath_avx2_ref8's output (vmath_check.h) */
static const int ref_fn[F_COUNT] = {FN_LOG, FN_EXP, FN_LOG1P, FN_EXPNEG, FN_LOG1P01, FN_EXPNABS};

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
  case F_EXPNABS:
    x = -fabsf(x);
    /* fall through */
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

/* Whether x is in f's domain (NaN is in every one) and sampled in vector block b. */
static int tested(int f, float x, uint64_t b, uint64_t every_l1p, uint64_t every_extra) {
  switch (f) {
  case F_LOG1P:
    return (x >= 0.0f || isnan(x)) && b % every_l1p == 0;
  case F_EXPLEAN: /* CE: -87 <= x_c - max <= 0 */
    return (x >= -87.0f && x <= 0.0f) || isnan(x);
  case F_LOG1P01:
    return ((x >= 0.0f && x <= 1.0f) || isnan(x)) && b % every_extra == 0;
  case F_EXPNABS:
    return b % every_extra == 0;
  default:
    return 1;
  }
}

/* y and the AVX2 result r are the same float (any NaN matches any NaN) */
static int same_bits(float y, float r) {
  return (isnan(y) && isnan(r)) || memcmp(&y, &r, 4) == 0;
}

int main(int argc, char **argv) {
  uint64_t stride = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;
  if (stride == 0 || (stride & (stride - 1)) != 0) {
    fprintf(stderr, "vmath_neon: STRIDE must be a power of two\n");
    return 2;
  }
#if SL_AVX2_REF
  const int compare = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  const int compare = 0;
#endif
  uint64_t offs[2] = {0, stride > 1 ? stride / 2 + 1 : 0};
  int noffs = stride > 1 ? 2 : 1;
  double maxerr[F_COUNT] = {0};
  uint32_t argmax[F_COUNT] = {0};
  int bad[F_COUNT] = {0};
  uint32_t badx[F_COUNT] = {0};
  uint64_t diffs[F_COUNT] = {0};
  uint32_t diffx[F_COUNT] = {0};
  uint64_t tested_n = 0;
  /* log1pf: every 16th vector in the full run; log1pf_01, expf_nabs: every 4th; all in a
   * strided one */
  const uint64_t every_l1p = stride == 1 ? 16 : 1, every_extra = stride == 1 ? 4 : 1;
  const uint64_t blocks = (1ull << 32) / 4 / stride; /* 4 inputs per vector call */
  for (int o = 0; o < noffs; o++) {
#pragma omp parallel
    {
      double lmax[F_COUNT] = {0};
      uint32_t larg[F_COUNT] = {0};
      int lbad[F_COUNT] = {0};
      uint32_t lbadx[F_COUNT] = {0};
      uint64_t ldiff[F_COUNT] = {0};
      uint32_t ldiffx[F_COUNT] = {0};
#pragma omp for schedule(static) reduction(+ : tested_n)
      for (uint64_t b = 0; b < blocks; b++) {
        uint32_t bits[4];
        float x[8] = {0}, y[F_COUNT][4], r[FN_COUNT][8];
        for (int l = 0; l < 4; l++) {
          bits[l] = (uint32_t)((b * 4 + (uint64_t)l) * stride + offs[o]);
          memcpy(&x[l], &bits[l], 4);
        }
        vf vx = v_load(x), ax = v_abs(vx);
        v_store(y[F_LOG], v_log(vx));
        v_store(y[F_EXP], v_exp(vx));
        v_store(y[F_LOG1P], v_log1p(vx));
        v_store(y[F_EXPLEAN], v_exp_lean(vx));
        v_store(y[F_LOG1P01], v_log1p01(vx));
        v_store(y[F_EXPNABS], v_exp_nabs(ax, m_any(v_gt(ax, v_set1(87.0f)))));
#if SL_AVX2_REF
        if (compare)
          vmath_avx2_ref8(x, r); /* lanes 4-7: zeros */
#endif
        for (int l = 0; l < 4; l++) {
          for (int f = 0; f < F_COUNT; f++) {
            if (!tested(f, x[l], b, every_l1p, every_extra))
              continue;
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
            /* log1p(-0): the AVX-512 fixup gives -0, the compare-and-blend default +0 */
            if (compare && !(f == F_LOG1P && bits[l] == 0x80000000u) &&
                !same_bits(y[f][l], r[ref_fn[f]][l]) && ldiff[f]++ == 0)
              ldiffx[f] = bits[l];
          }
        }
        tested_n += 4;
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
        if (ldiff[f] && (!diffs[f] || ldiffx[f] < diffx[f]))
          diffx[f] = ldiffx[f];
        diffs[f] += ldiff[f];
      }
    }
  }
  int fail = 0;
  printf("vmath_neon: %llu inputs (stride %llu)%s\n", (unsigned long long)tested_n,
         (unsigned long long)stride,
         compare ? ", every result compared bit for bit with the AVX2 build" : "");
  for (int f = 0; f < F_COUNT; f++) {
    float ax;
    memcpy(&ax, &argmax[f], 4);
    printf("  %-9s max %.3f ULP at x = %a (0x%08x)%s\n", names[f], maxerr[f], (double)ax, argmax[f],
           maxerr[f] > limits[f] ? "  FAIL: above the bound" : "");
    if (bad[f]) {
      float bx;
      memcpy(&bx, &badx[f], 4);
      printf("  %-9s FAIL: wrong special value at x = %a (0x%08x)\n", names[f], (double)bx,
             badx[f]);
    }
    if (diffs[f])
      printf("  %-9s FAIL: %llu results differ from the AVX2 build, first at x bits 0x%08x\n",
             names[f], (unsigned long long)diffs[f], diffx[f]);
    fail |= maxerr[f] > limits[f] || bad[f] || diffs[f] != 0;
  }
  printf("vmath_neon: %s\n", fail ? "FAIL" : "ok");
  return fail;
}
