// SPDX-License-Identifier: MIT
/*
 * exhaustive/vmath_avx2.c - checks the vector math of src/generic/vmath.h built on the AVX2
 * layer (src/avx2/vec.h: v_log, v_exp) on every one of the 2^32 float bit patterns against the
 * correctly rounded result, and v_log1p, v_log1p01 (log1p on [0, 1]), the CE kernel's lean exp
 * v_exp_lean and v_exp_nabs (exp(-|x|)) on their own domains.
 *
 * Reference: the double libm function of the (exact) float input, rounded to float. The error of
 * a result is its distance in ULP from that reference: the count of floats between them (so it
 * covers subnormals, and crossing a power of two counts right). A result is wrong, whatever its
 * ULP distance, when its class differs: NaN where the reference is a number or the other way,
 * an infinity where the reference is finite or the other way, or a sign change. Fixed special
 * values are checked exactly: log(+-0) = -inf, log(1) = 0, log(+inf) = +inf, log(<0) = NaN,
 * exp(0) = 1, exp(-inf) = +0, exp(+inf) = +inf, NaN -> NaN.
 *
 * logf and expf are checked on all 2^32 inputs; the others on every 4th block of 8 inputs
 * (all of them with --full, about twice the run time): log1pf (x >= 0), log1pf_01 (x in
 * [0, 1]), expf_lean (x in [-87, 0]), expf_nabs (exp(-|x|), every x, deep set as the kernels
 * set it: some lane of the block above 87).
 * Prints, per function, the largest error, the input where it occurs and the ULP histogram;
 * exits 1 if any exceeds 2 ULP or a special value is wrong. OpenMP over the input space.
 * Build and run: make test-exhaustive (mk/avx2.mk). Needs AVX2 + FMA (exits 77 without).
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avx2/vec.h"
#include "vmath_check.h"

static int special_values(void) {
  static const special_case cases[] = SPECIAL_CASES;
  int fails = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    vf v = v_set1(cases[i].x), y;
    switch (cases[i].fn) {
    case FN_LOG:
      y = v_log(v);
      break;
    case FN_EXP:
      y = v_exp(v);
      break;
    case FN_LOG1P:
      y = v_log1p(v);
      break;
    case FN_EXPNEG:
      y = v_exp_lean(v);
      break;
    case FN_LOG1P01:
      y = v_log1p01(v);
      break;
    default:
      y = v_exp_nabs(v_abs(v), 1);
      break;
    }
    fails += special_fails(&cases[i], _mm256_cvtss_f32(y));
  }
  return fails;
}

int main(int argc, char **argv) {
  /* logf and expf: always all 2^32 inputs. The others: every 4th block of 8, or all (--full). */
  const int64_t extra_step = (argc > 1 && strcmp(argv[1], "--full") == 0) ? 1 : 4;
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    printf("vmath_avx2: no AVX2 + FMA on this CPU, skipped\n");
    return 77;
  }
  double t0 = omp_get_wtime();
  result total[FN_COUNT];
  memset(total, 0, sizeof total);
  const int64_t blocks = (int64_t)1 << 29; /* 2^32 inputs, 8 per block */
#pragma omp parallel
  {
    result loc[FN_COUNT];
    memset(loc, 0, sizeof loc);
#pragma omp for schedule(dynamic, 1 << 16)
    for (int64_t b = 0; b < blocks; b++) {
      uint32_t base = (uint32_t)(b * 8);
      __m256i bits =
          _mm256_add_epi32(_mm256_set1_epi32((int)base), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
      __m256 x = _mm256_castsi256_ps(bits);
      float xs[8], yl[8], ye[8], yp[8], yn[8], y1[8], ya[8];
      _mm256_storeu_ps(xs, x);
      v_store(yl, v_log(x));
      v_store(ye, v_exp(x));
      v_store(yp, v_log1p(x));
      v_store(yn, v_exp_lean(x));
      v_store(y1, v_log1p01(x));
      vf ax = v_abs(x);
      v_store(ya, v_exp_nabs(ax, m_any(v_gt(ax, v_set1(87.0f)))));
      for (int l = 0; l < 8; l++) {
        uint32_t u = base + (uint32_t)l;
        double xd = xs[l];
        check(&loc[FN_LOG], u, yl[l], (float)log(xd));
        check(&loc[FN_EXP], u, ye[l], (float)exp(xd));
        if (b % extra_step != 0)
          continue;
        if (!(xs[l] < 0.0f) && !(u == 0x80000000u))
          check(&loc[FN_LOG1P], u, yp[l], (float)log1p(xd));
        if (isnan(xd) || (xd <= 0.0 && xd >= -87.0))
          check(&loc[FN_EXPNEG], u, yn[l], (float)exp(xd));
        if (isnan(xd) || (xd >= 0.0 && xd <= 1.0))
          check(&loc[FN_LOG1P01], u, y1[l], (float)log1p(xd));
        check(&loc[FN_EXPNABS], u, ya[l], (float)exp(-fabs(xd)));
      }
    }
#pragma omp critical
    for (int f = 0; f < FN_COUNT; f++)
      merge(&total[f], &loc[f]);
  }
  int fails = special_values();
  fails += report_results(total);
  printf("vmath_avx2: %s (%.1f s, %d threads%s)\n", fails ? "FAILED" : "OK", omp_get_wtime() - t0,
         omp_get_max_threads(),
         extra_step == 1 ? ", --full" : ", the extra functions on 1/4 of the inputs");
  return fails ? 1 : 0;
}
