/*
 * exhaustive/vmath_avx512.c - checks the AVX-512 vector logf and expf (src/avx512/vmath.h) on
 * every one of the 2^32 float bit patterns against the correctly rounded result, and log1p, the
 * CE kernel's lean exp and the double exp / expm1 on their own domains; the model is
 * tests/exhaustive/vmath_avx2.c (same reference, same ULP distance, same limits).
 *
 * Reference: the double libm function of the (exact) float input, rounded to float. The error of
 * a result is its distance in ULP from that reference: the count of floats between them (so it
 * covers subnormals, and crossing a power of two counts right). A result is wrong, whatever its
 * ULP distance, when its class differs: NaN where the reference is a number or the other way,
 * an infinity where the reference is finite or the other way, or a sign change. Fixed special
 * values are checked exactly: log(+-0) = -inf, log(1) = 0, log(+inf) = +inf, log(<0) = NaN,
 * exp(0) = 1, exp(-inf) = +0, exp(+inf) = +inf, NaN -> NaN.
 *
 * Second check: src/avx512/vmath.h claims the very results of src/avx2/vmath.h (the rounding
 * arithmetic is the same; only masks, fixups and the 2^k scaling differ, and those are exact).
 * Every function is compared bit for bit with its AVX2 counterpart on the same inputs (a NaN
 * matches any NaN): logf and expf on all inputs, log1pf (x >= 0), expf_neg (x <= 0), exp_pd
 * (x <= 0), expf_neg2 (x - 1.5 <= 0, split by sub_exact), expf_sum (x - 1.5, every x), sigmoid and
 * log1p(exp(-|x|)) on the extra inputs. A difference fails the run.
 *
 * logf and expf are checked on all 2^32 inputs; the others on every 4th block of 16 inputs (all
 * of them with --full). Prints, per function, the largest error, the input where it occurs, the
 * ULP histogram and the count of differences from AVX2; exits 1 if logf or expf exceeds 2 ULP
 * (log1p 2, expf_neg 2 above its 0-flush threshold, exp_pd 1 float ULP after rounding,
 * expm1_small_pd 1e-15 relative in double on every float in [-1/4, 0]), a special value is wrong
 * or a result differs from AVX2. OpenMP over the input space.
 * Build and run: make test-exhaustive-avx512 (mk/avx512.mk). Needs AVX-512 F+BW+DQ+VL with the
 * OS's ZMM state (the library's own detection, sl_isa_available): exits 77 without.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avx2/vmath.h"
#include "avx512/vmath.h"
#include "vmath_check.h"
#include "sectionloss.h"

/* Bit-for-bit comparison with the AVX2 functions. */
enum {
  SAME_LOG,
  SAME_EXP,
  SAME_LOG1P,
  SAME_EXPNEG,
  SAME_EXPPD,
  SAME_EXPNEG2,
  SAME_EXPSUM,
  SAME_SIGMOID,
  SAME_SOFTPLUS,
  SAME_COUNT
};
/* clang-format off */
static const char *const same_name[SAME_COUNT] = {
    "logf", "expf", "log1pf", "expf_neg", "exp_pd", "expf_neg2(sub_exact)", "expf_sum(sub_exact)",
    "sigmoid", "log1pexp_negabs"};
/* clang-format on */
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

static void same_d(same *s, int fn, uint32_t xbits, double a, double b) {
  s->tested[fn]++;
  uint64_t ua, ub;
  memcpy(&ua, &a, 8);
  memcpy(&ub, &b, 8);
  if ((isnan(a) && isnan(b)) || ua == ub)
    return;
  if (s->diff[fn]++ == 0 || xbits < s->first[fn])
    s->first[fn] = xbits;
}

static int special_values(void) {
  static const special_case cases[] = SPECIAL_CASES;
  int fails = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    __m512 v = _mm512_set1_ps(cases[i].x), y;
    switch (cases[i].fn) {
    case FN_LOG:
      y = sl_v16_logf(v);
      break;
    case FN_EXP:
      y = sl_v16_expf(v);
      break;
    case FN_LOG1P:
      y = sl_v16_log1pf(v);
      break;
    default:
      y = sl_v16_expf_neg(v);
      break;
    }
    fails += special_fails(&cases[i], _mm512_cvtss_f32(y));
  }
  return fails;
}

/* sl_v8d_expm1_small on every float in [-1/4, 0]: relative error against libm's expm1 in double.
 * Returns the largest relative error; *worst gets its input. */
static double expm1_small_check(float *worst) {
  const uint32_t lo = 0x80000000u, hi = 0xbe800000u; /* -0.0 .. -0.25 */
  double maxrel = 0.0;
  float wx = 0.0f;
#pragma omp parallel
  {
    double m = 0.0;
    float w = 0.0f;
#pragma omp for schedule(static)
    for (int64_t u = lo; u <= (int64_t)hi; u += 8) {
      double xs[8], ys[8];
      for (int l = 0; l < 8; l++)
        xs[l] = f_of((uint32_t)(u + l > (int64_t)hi ? hi : u + l));
      _mm512_storeu_pd(ys, sl_v8d_expm1_small(_mm512_loadu_pd(xs)));
      for (int l = 0; l < 8; l++) {
        double ref = expm1(xs[l]);
        double rel = ref == 0.0 ? fabs(ys[l]) : fabs(ys[l] - ref) / fabs(ref);
        if (!(rel <= m)) {
          m = rel;
          w = (float)xs[l];
        }
      }
    }
#pragma omp critical
    if (!(m <= maxrel)) {
      maxrel = m;
      wx = w;
    }
  }
  *worst = wx;
  return maxrel;
}

/* One block of 16 consecutive bit patterns from base. */
static void block(uint32_t base, int extra, result *loc, same *sm) {
  __m512i bits =
      _mm512_add_epi32(_mm512_set1_epi32((int)base),
                       _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __m512 x = _mm512_castsi512_ps(bits);
  __m256 x0 = _mm512_castps512_ps256(x), x1 = _mm512_extractf32x8_ps(x, 1);
  float xs[16], yl[16], ye[16], al[16], ae[16];
  _mm512_storeu_ps(xs, x);
  _mm512_storeu_ps(yl, sl_v16_logf(x));
  _mm512_storeu_ps(ye, sl_v16_expf(x));
  _mm256_storeu_ps(al, sl_v_logf(x0));
  _mm256_storeu_ps(al + 8, sl_v_logf(x1));
  _mm256_storeu_ps(ae, sl_v_expf(x0));
  _mm256_storeu_ps(ae + 8, sl_v_expf(x1));
  for (int l = 0; l < 16; l++) {
    uint32_t u = base + (uint32_t)l;
    double xd = xs[l];
    check(&loc[FN_LOG], u, yl[l], (float)log(xd));
    check(&loc[FN_EXP], u, ye[l], (float)exp(xd));
    same_f(sm, SAME_LOG, u, yl[l], al[l]);
    same_f(sm, SAME_EXP, u, ye[l], ae[l]);
  }
  if (!extra)
    return;
  float yp[16], yn[16], ap[16], an[16], yn2[16], an2[16], ys[16], as[16], yt[16], at[16];
  float yq[16], aq[16];
  double yd[16], ad[16];
  _mm512_storeu_ps(yp, sl_v16_log1pf(x));
  _mm512_storeu_ps(yn, sl_v16_expf_neg(x));
  _mm256_storeu_ps(ap, sl_v_log1pf(x0));
  _mm256_storeu_ps(ap + 8, sl_v_log1pf(x1));
  _mm256_storeu_ps(an, sl_v_expf_neg(x0));
  _mm256_storeu_ps(an + 8, sl_v_expf_neg(x1));
  __m512d xlo = _mm512_cvtps_pd(x0), xhi = _mm512_cvtps_pd(x1);
  _mm512_storeu_pd(yd, sl_v8d_exp(xlo));
  _mm512_storeu_pd(yd + 8, sl_v8d_exp(xhi));
  _mm256_storeu_pd(ad, sl_v_exp_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x0))));
  _mm256_storeu_pd(ad + 4, sl_v_exp_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x0, 1))));
  _mm256_storeu_pd(ad + 8, sl_v_exp_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x1))));
  _mm256_storeu_pd(ad + 12, sl_v_exp_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x1, 1))));
  /* the CE pair: exp((x - 1.5) exactly) */
  __m512 rr;
  __m256 rr0, rr1;
  __m512 d = sl_v16_sub_exact(x, _mm512_set1_ps(1.5f), &rr);
  __m256 d0 = sl_v_sub_exact(x0, _mm256_set1_ps(1.5f), &rr0);
  __m256 d1 = sl_v_sub_exact(x1, _mm256_set1_ps(1.5f), &rr1);
  _mm512_storeu_ps(yn2, sl_v16_expf_neg2(d, rr));
  _mm256_storeu_ps(an2, sl_v_expf_neg2(d0, rr0));
  _mm256_storeu_ps(an2 + 8, sl_v_expf_neg2(d1, rr1));
  _mm512_storeu_ps(yq, sl_v16_expf_sum(d, rr));
  _mm256_storeu_ps(aq, sl_v_expf_sum(d0, rr0));
  _mm256_storeu_ps(aq + 8, sl_v_expf_sum(d1, rr1));
  _mm512_storeu_ps(ys, sl_v16_sigmoid(x));
  _mm256_storeu_ps(as, sl_v_sigmoid(x0));
  _mm256_storeu_ps(as + 8, sl_v_sigmoid(x1));
  _mm512_storeu_ps(yt, sl_v16_log1pexp_negabs(x));
  _mm256_storeu_ps(at, sl_v_log1pexp_negabs(x0));
  _mm256_storeu_ps(at + 8, sl_v_log1pexp_negabs(x1));
  for (int l = 0; l < 16; l++) {
    uint32_t u = base + (uint32_t)l;
    double xd = xs[l];
    if (!(xs[l] < 0.0f) && !(u == 0x80000000u)) {
      check(&loc[FN_LOG1P], u, yp[l], (float)log1p(xd));
      same_f(sm, SAME_LOG1P, u, yp[l], ap[l]);
    }
    if (!(xs[l] > 0.0f)) {
      double ref = exp(xd);
      if (isnan(xd) || ref >= 0x1.7p-126) /* above the documented 0-flush */
        check(&loc[FN_EXPNEG], u, yn[l], (float)ref);
      else if (!(yn[l] == 0.0f || fabs(yn[l] - ref) < 1.7e-38))
        check(&loc[FN_EXPNEG], u, -1.0f, 0.0f); /* a wrong flush: class error */
      check(&loc[FN_EXPPD], u, (float)yd[l], (float)(xd < -708.0 ? 0.0 : ref));
      same_f(sm, SAME_EXPNEG, u, yn[l], an[l]);
      same_d(sm, SAME_EXPPD, u, yd[l], ad[l]);
    }
    if (!(xs[l] > 1.5f)) /* the domain d = x - 1.5 <= 0 (or NaN) */
      same_f(sm, SAME_EXPNEG2, u, yn2[l], an2[l]);
    same_f(sm, SAME_EXPSUM, u, yq[l], aq[l]); /* every float x */
    same_f(sm, SAME_SIGMOID, u, ys[l], as[l]);
    same_f(sm, SAME_SOFTPLUS, u, yt[l], at[l]);
  }
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
  float em_worst;
  double em_rel = expm1_small_check(&em_worst);
  printf("%-40s inputs %11u  max %.3g relative at x = %a\n", "expm1_small_pd (-1/4 <= x <= 0)",
         0xbe800000u - 0x80000000u + 1u, em_rel, (double)em_worst);
  if (!(em_rel <= 1e-15)) {
    printf("FAIL expm1_small_pd: relative error %.3g > 1e-15\n", em_rel);
    fails++;
  }
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
