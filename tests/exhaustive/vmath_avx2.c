// SPDX-License-Identifier: MIT
/*
 * exhaustive/vmath_avx2.c - checks the AVX2 vector logf and expf (src/avx2/vmath.h) on every one
 * of the 2^32 float bit patterns against the correctly rounded result, and log1p, log1p on
 * [0, 1], the CE kernel's lean exp and exp(-|x|) on their own domains.
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
#include <inttypes.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avx2/vmath.h"

enum { HIST = 5 }; /* 0, 1, 2, 3, >3 ULP */

typedef struct result {
  uint64_t maxulp;
  uint32_t worst;     /* input bits of the largest error */
  uint64_t bad_class; /* results of the wrong class (NaN / inf / sign) */
  uint32_t first_bad; /* input bits of the first such */
  uint64_t hist[HIST];
  uint64_t tested;
} result;

static float f_of(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static uint32_t u_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* Floats in order as integers: the ULP distance of two same-signed finite floats (or across 0). */
static int64_t ordered(float f) {
  uint32_t u = u_of(f);
  return (u & 0x80000000u) ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
}

/* Folds one result y for input x against reference ref into r. */
static void check(result *r, uint32_t xbits, float y, float ref) {
  r->tested++;
  int bad = 0;
  if (isnan(ref) || isnan(y))
    bad = isnan(ref) != isnan(y);
  else if (isinf(ref) || isinf(y))
    bad = y != ref;
  else if (ref != 0.0f && y != 0.0f && signbit(ref) != signbit(y))
    bad = 1;
  if (bad) {
    if (r->bad_class++ == 0)
      r->first_bad = xbits;
    return;
  }
  if (isnan(ref) || isinf(ref))
    return;
  int64_t d = ordered(y) - ordered(ref);
  uint64_t ad = (uint64_t)(d < 0 ? -d : d);
  r->hist[ad > 3 ? 4 : ad]++;
  if (ad > r->maxulp) {
    r->maxulp = ad;
    r->worst = xbits;
  }
}

static void merge(result *into, const result *r) {
  if (r->maxulp > into->maxulp ||
      (r->maxulp == into->maxulp && r->worst < into->worst && into->tested && r->maxulp)) {
    into->maxulp = r->maxulp;
    into->worst = r->worst;
  }
  if (r->bad_class && (!into->bad_class || r->first_bad < into->first_bad))
    into->first_bad = r->first_bad;
  into->bad_class += r->bad_class;
  for (int i = 0; i < HIST; i++)
    into->hist[i] += r->hist[i];
  into->tested += r->tested;
}

enum { FN_LOG, FN_EXP, FN_LOG1P, FN_EXPNEG, FN_LOG1P01, FN_EXPNABS, FN_COUNT };
static const char *const fn_name[FN_COUNT] = {"logf",
                                              "expf",
                                              "log1pf (x >= 0)",
                                              "expf_lean (-87 <= x <= 0)",
                                              "log1pf_01 (0 <= x <= 1)",
                                              "expf_nabs (exp(-|x|))"};
static const uint64_t fn_limit[FN_COUNT] = {2, 2, 2, 2, 2, 2};

static int special_values(void) {
  int fails = 0;
  const float inf = INFINITY;
  struct {
    int fn;
    float x, want; /* want NaN: any NaN */
  } cases[] = {
      {FN_LOG, 0.0f, -inf},
      {FN_LOG, -0.0f, -inf},
      {FN_LOG, 1.0f, 0.0f},
      {FN_LOG, inf, inf},
      {FN_LOG, -inf, NAN},
      {FN_LOG, -1.0f, NAN},
      {FN_LOG, -1e-45f, NAN},
      {FN_LOG, NAN, NAN},
      {FN_EXP, 0.0f, 1.0f},
      {FN_EXP, -0.0f, 1.0f},
      {FN_EXP, -inf, 0.0f},
      {FN_EXP, inf, inf},
      {FN_EXP, NAN, NAN},
      {FN_EXP, -NAN, NAN},
      {FN_EXP, 1e-45f, 1.0f},
      {FN_LOG1P, 0.0f, 0.0f},
      {FN_LOG1P, inf, inf},
      {FN_LOG1P, NAN, NAN},
      {FN_EXPNEG, 0.0f, 1.0f},
      {FN_EXPNEG, -0.0f, 1.0f},
      {FN_EXPNEG, NAN, NAN},
      {FN_LOG1P01, 0.0f, 0.0f},
      {FN_LOG1P01, 1.0f, 0x1.62e430p-1f},
      {FN_LOG1P01, NAN, NAN},
      {FN_EXPNABS, 0.0f, 1.0f},
      {FN_EXPNABS, inf, 0.0f},
      {FN_EXPNABS, -inf, 0.0f},
      {FN_EXPNABS, NAN, NAN},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    __m256 v = _mm256_set1_ps(cases[i].x), y;
    switch (cases[i].fn) {
    case FN_LOG:
      y = sl_v_logf(v);
      break;
    case FN_EXP:
      y = sl_v_expf(v);
      break;
    case FN_LOG1P:
      y = sl_v_log1pf(v);
      break;
    case FN_EXPNEG:
      y = sl_v_expf_lean(v);
      break;
    case FN_LOG1P01:
      y = sl_v_log1pf_01(v);
      break;
    default:
      y = sl_v_expf_nabs(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), v), 1);
      break;
    }
    float got = _mm256_cvtss_f32(y), want = cases[i].want;
    int ok = isnan(want) ? isnan(got) : (u_of(got) == u_of(want));
    if (!ok) {
      printf("SPECIAL FAIL %s(%a) = %a, want %a\n", fn_name[cases[i].fn], (double)cases[i].x,
             (double)got, (double)want);
      fails++;
    }
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
      _mm256_storeu_ps(yl, sl_v_logf(x));
      _mm256_storeu_ps(ye, sl_v_expf(x));
      _mm256_storeu_ps(yp, sl_v_log1pf(x));
      _mm256_storeu_ps(yn, sl_v_expf_lean(x));
      _mm256_storeu_ps(y1, sl_v_log1pf_01(x));
      __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
      int deep = _mm256_movemask_ps(_mm256_cmp_ps(ax, _mm256_set1_ps(87.0f), _CMP_GT_OQ)) != 0;
      _mm256_storeu_ps(ya, sl_v_expf_nabs(ax, deep));
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
  for (int f = 0; f < FN_COUNT; f++) {
    const result *r = &total[f];
    float wx = f_of(r->worst);
    printf("%-40s inputs %11" PRIu64 "  max %" PRIu64 " ULP at x = %a (%.9g)\n", fn_name[f],
           r->tested, r->maxulp, (double)wx, (double)wx);
    printf("%-40s ULP histogram 0:%" PRIu64 " 1:%" PRIu64 " 2:%" PRIu64 " 3:%" PRIu64 " >3:%" PRIu64
           "  wrong class: %" PRIu64 "\n",
           "", r->hist[0], r->hist[1], r->hist[2], r->hist[3], r->hist[4], r->bad_class);
    if (r->bad_class) {
      printf("FAIL %s: wrong class (NaN/inf/sign) first at x bits 0x%08x\n", fn_name[f],
             r->first_bad);
      fails++;
    }
    if (r->maxulp > fn_limit[f]) {
      printf("FAIL %s: %" PRIu64 " ULP > %" PRIu64 "\n", fn_name[f], r->maxulp, fn_limit[f]);
      fails++;
    }
  }
  printf("vmath_avx2: %s (%.1f s, %d threads%s)\n", fails ? "FAILED" : "OK", omp_get_wtime() - t0,
         omp_get_max_threads(),
         extra_step == 1 ? ", --full" : ", the extra functions on 1/4 of the inputs");
  return fails ? 1 : 0;
}
