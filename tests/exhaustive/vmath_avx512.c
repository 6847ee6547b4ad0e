// SPDX-License-Identifier: MIT
/*
 * exhaustive/vmath_avx512.c - checks the vector math of src/generic/vmath.h built on the AVX-512
 * layer (src/avx512/vec.h, with the overrides of src/avx512/vmath.h) the way
 * tests/exhaustive/vmath_avx2.c checks the AVX2 build: logf and expf on every one of the 2^32
 * float bit patterns against the correctly rounded result, and log1pf (x >= 0), log1pf_01
 * (x in [0, 1]), the CE kernel's lean exp (x in [-87, 0]) and exp(-|x|) (every x, deep set as
 * the kernels set it: some lane of the 16 above 87) on their domains; at most 2 ULP, special
 * values exact (reference, ULP distance and special values: vmath_check.h).
 *
 * Second check: the AVX-512 build claims the very results of the AVX2 build (the rounding
 * arithmetic is the same; only masks, fixups and the 2^k scaling differ, and those are exact).
 * Every function is compared bit for bit with the AVX2 build (tests/exhaustive/vmath_avx2_ref.c,
 * its own object compiled with -mavx2 -mfma) on the same inputs (a NaN
 * matches any NaN): logf and expf on all inputs; log1pf, expf_lean, log1pf_01 on their domains,
 * expf_nabs on every x (AVX2's deep flag taken per 8 lanes, as its kernels do), on the extra
 * inputs. A difference fails.
 *
 * logf and expf are checked on all 2^32 inputs; the others on every 4th block of 16 inputs (all
 * of them with --full). Prints, per function, the largest error, the input where it occurs, the
 * ULP histogram and the count of differences from AVX2; exits 1 on an error above the limit, a
 * wrong special value or a difference from AVX2. OpenMP over the input space.
 * Build and run: make test-exhaustive-avx512 (mk/avx512.mk). Needs AVX-512 F+BW+DQ+VL with the
 * OS's ZMM state (the library's own detection, sl_isa_available): exits 77 without.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avx512/vec.h"
#include "sectionloss.h"
#include "vmath_check.h"

/* Bit-for-bit comparison with the AVX2 functions. */
enum { SAME_LOG, SAME_EXP, SAME_LOG1P, SAME_EXPLEAN, SAME_LOG1P01, SAME_EXPNABS, SAME_COUNT };
static const char *const same_name[SAME_COUNT] = {"logf",      "expf",      "log1pf",
                                                  "expf_lean", "log1pf_01", "expf_nabs"};
typedef struct same {
  uint64_t diff[SAME_COUNT], tested[SAME_COUNT];
  uint32_t first[SAME_COUNT]; /* input bits of the first difference */
} same;

static void same_f(same *s, int fn, uint32_t xbits, float a, float b) {
  s->tested[fn]++;
  if ((isnan(a) && isnan(b)) || u_of(a) == u_of(b))
    return;
  if (s->diff[fn]++ == 0 || xbits < s->first[fn])
    s->first[fn] = xbits;
}

static vf nabs_avx512(vf x) {
  vf ax = v_abs(x);
  return v_exp_nabs(ax, m_any(v_gt(ax, v_set1(87.0f)))); /* deep per 16 lanes */
}

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
    fails += special_fails(&cases[i], _mm512_cvtss_f32(y));
  }
  return fails;
}

/* One block of 16 consecutive bit patterns from base. */
static void block(uint32_t base, int extra, result *loc, same *sm) {
  __m512i bits =
      _mm512_add_epi32(_mm512_set1_epi32((int)base),
                       _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __m512 x = _mm512_castsi512_ps(bits);
  float xs[16], yl[16], ye[16], ref[2][FN_COUNT][8];
  v_store(xs, x);
  v_store(yl, v_log(x));
  v_store(ye, v_exp(x));
  vmath_avx2_ref8(xs, ref[0]);
  vmath_avx2_ref8(xs + 8, ref[1]);
#define AVX2(fn, l) ref[(l) / 8][fn][(l) % 8]
  for (int l = 0; l < 16; l++) {
    uint32_t u = base + (uint32_t)l;
    double xd = xs[l];
    check(&loc[FN_LOG], u, yl[l], (float)log(xd));
    check(&loc[FN_EXP], u, ye[l], (float)exp(xd));
    same_f(sm, SAME_LOG, u, yl[l], AVX2(FN_LOG, l));
    same_f(sm, SAME_EXP, u, ye[l], AVX2(FN_EXP, l));
  }
  if (!extra)
    return;
  float yp[16], yn[16], y1[16], ya[16];
  v_store(yp, v_log1p(x));
  v_store(yn, v_exp_lean(x));
  v_store(y1, v_log1p01(x));
  v_store(ya, nabs_avx512(x));
  for (int l = 0; l < 16; l++) {
    uint32_t u = base + (uint32_t)l;
    double xd = xs[l];
    if (!(xs[l] < 0.0f) && !(u == 0x80000000u)) {
      check(&loc[FN_LOG1P], u, yp[l], (float)log1p(xd));
      same_f(sm, SAME_LOG1P, u, yp[l], AVX2(FN_LOG1P, l));
    }
    if (isnan(xd) || (xd <= 0.0 && xd >= -87.0)) {
      check(&loc[FN_EXPNEG], u, yn[l], (float)exp(xd));
      same_f(sm, SAME_EXPLEAN, u, yn[l], AVX2(FN_EXPNEG, l));
    }
    if (isnan(xd) || (xd >= 0.0 && xd <= 1.0)) {
      check(&loc[FN_LOG1P01], u, y1[l], (float)log1p(xd));
      same_f(sm, SAME_LOG1P01, u, y1[l], AVX2(FN_LOG1P01, l));
    }
    check(&loc[FN_EXPNABS], u, ya[l], (float)exp(-fabs(xd)));
    same_f(sm, SAME_EXPNABS, u, ya[l], AVX2(FN_EXPNABS, l));
  }
#undef AVX2
}

__attribute__((noinline)) static int run(int64_t extra_step) {
  double t0 = omp_get_wtime();
  result total[FN_COUNT];
  same stotal;
  memset(total, 0, sizeof total);
  memset(&stotal, 0, sizeof stotal);
  const int64_t blocks = (int64_t)1 << 28; /* 2^32 inputs, 16 per block */
#pragma omp parallel
  {
    result loc[FN_COUNT];
    same sm;
    memset(loc, 0, sizeof loc);
    memset(&sm, 0, sizeof sm);
#pragma omp for schedule(dynamic, 1 << 15)
    for (int64_t b = 0; b < blocks; b++)
      block((uint32_t)(b * 16), b % extra_step == 0, loc, &sm);
#pragma omp critical
    {
      for (int f = 0; f < FN_COUNT; f++)
        merge(&total[f], &loc[f]);
      for (int f = 0; f < SAME_COUNT; f++) {
        if (sm.diff[f] && (!stotal.diff[f] || sm.first[f] < stotal.first[f]))
          stotal.first[f] = sm.first[f];
        stotal.diff[f] += sm.diff[f];
        stotal.tested[f] += sm.tested[f];
      }
    }
  }
  int fails = special_values();
  fails += report_results(total);
  for (int f = 0; f < SAME_COUNT; f++) {
    printf("same as AVX2: %-27s inputs %11" PRIu64 "  differences %" PRIu64 "\n", same_name[f],
           stotal.tested[f], stotal.diff[f]);
    if (stotal.diff[f]) {
      printf("FAIL %s differs from the AVX2 function, first at x bits 0x%08x\n", same_name[f],
             stotal.first[f]);
      fails++;
    }
  }
  printf("vmath_avx512: %s (%.1f s, %d threads%s)\n", fails ? "FAILED" : "OK", omp_get_wtime() - t0,
         omp_get_max_threads(),
         extra_step == 1 ? ", --full" : ", the functions after expf on 1/4 of the inputs");
  return fails ? 1 : 0;
}

int main(int argc, char **argv) {
  /* The library's own detection (CPUID F/BW/DQ/VL, AVX2, FMA, XCR0 & 0xE6), before any code
   * of this AVX-512-compiled file that could use a ZMM register. */
  if (!sl_isa_available(SL_ISA_AVX512)) {
    printf("vmath_avx512: no AVX-512 F+BW+DQ+VL (or no OS ZMM state) on this CPU, skipped\n");
    return 77;
  }
  /* logf and expf: always all 2^32 inputs. The others: every 4th block of 16, or all (--full). */
  return run((argc > 1 && strcmp(argv[1], "--full") == 0) ? 1 : 4);
}
