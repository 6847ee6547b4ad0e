// SPDX-License-Identifier: MIT
/*
 * exhaustive/vmath_check.h - what the exhaustive vector-math tests (vmath_avx2.c,
 * vmath_avx512.c, vmath_neon.c) share: the ULP distance against the correctly rounded result, the
 * per-function tallies and their report, the function list with its limits, and the special-value
 * table.
 *
 * Reference: the double libm function of the (exact) float input, rounded to float. The error of
 * a result is its distance in ULP from that reference: the count of floats between them (so it
 * covers subnormals, and crossing a power of two counts right). A result is wrong, whatever its
 * ULP distance, when its class differs: NaN where the reference is a number or the other way,
 * an infinity where the reference is finite or the other way, or a sign change.
 */
#ifndef SL_VMATH_CHECK_H
#define SL_VMATH_CHECK_H

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { HIST = 5 }; /* 0, 1, 2, 3, >3 ULP */

typedef struct result {
  uint64_t maxulp;
  uint32_t worst;     /* input bits of the largest error */
  uint64_t bad_class; /* results of the wrong class (NaN / inf / sign) */
  uint32_t first_bad; /* input bits of the first such */
  uint64_t hist[HIST];
  uint64_t tested;
} result;

static inline float f_of(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static inline uint32_t u_of(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

/* Floats in order as integers: the ULP distance of two same-signed finite floats (or across 0). */
static inline int64_t ordered(float f) {
  uint32_t u = u_of(f);
  return (u & 0x80000000u) ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
}

/* Folds one result y for input x against reference ref into r. */
static inline void check(result *r, uint32_t xbits, float y, float ref) {
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

static inline void merge(result *into, const result *r) {
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

/* Prints each function's largest error, where, and its histogram; returns the failures (a wrong
 * class, or an error above the function's limit). */
static inline int report_results(const result total[FN_COUNT]) {
  int fails = 0;
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
  return fails;
}

/* Fixed special values, checked exactly: log(+-0) = -inf, log(1) = 0, log(+inf) = +inf,
 * log(<0) = NaN, exp(0) = 1, exp(-inf) = +0, exp(+inf) = +inf, NaN -> NaN. */
typedef struct special_case {
  int fn;        /* an FN_ value */
  float x, want; /* want NaN: any NaN */
} special_case;

/* clang-format off */
#define SPECIAL_CASES                                                                              \
  {                                                                                                \
    {FN_LOG, 0.0f, -INFINITY},    {FN_LOG, -0.0f, -INFINITY},   {FN_LOG, 1.0f, 0.0f},            \
    {FN_LOG, INFINITY, INFINITY}, {FN_LOG, -INFINITY, NAN},     {FN_LOG, -1.0f, NAN},            \
    {FN_LOG, -1e-45f, NAN},       {FN_LOG, NAN, NAN},           {FN_EXP, 0.0f, 1.0f},            \
    {FN_EXP, -0.0f, 1.0f},        {FN_EXP, -INFINITY, 0.0f},    {FN_EXP, INFINITY, INFINITY},    \
    {FN_EXP, NAN, NAN},           {FN_EXP, -NAN, NAN},          {FN_EXP, 1e-45f, 1.0f},          \
    {FN_LOG1P, 0.0f, 0.0f},       {FN_LOG1P, INFINITY, INFINITY}, {FN_LOG1P, NAN, NAN},          \
    {FN_EXPNEG, 0.0f, 1.0f},      {FN_EXPNEG, -0.0f, 1.0f},     {FN_EXPNEG, NAN, NAN},           \
    {FN_LOG1P01, 0.0f, 0.0f},     {FN_LOG1P01, 1.0f, 0x1.62e430p-1f}, {FN_LOG1P01, NAN, NAN},    \
    {FN_EXPNABS, 0.0f, 1.0f},     {FN_EXPNABS, INFINITY, 0.0f}, {FN_EXPNABS, -INFINITY, 0.0f},   \
    {FN_EXPNABS, NAN, NAN},                                                                        \
  }
/* clang-format on */

/* The AVX2 build of the generic vector math on 8 inputs (tests/exhaustive/vmath_avx2_ref.c,
 * compiled with -mavx2 -mfma in its own object): y[fn][l] for each FN_ value (FN_EXPNABS:
 * exp(-|x|), deep set per 8 lanes as the AVX2 kernels set it). For the bit-for-bit comparisons. */
void vmath_avx2_ref8(const float x[8], float y[FN_COUNT][8]);

/* 1 (and a message) when got is not want for case c (a NaN want matches any NaN). */
static inline int special_fails(const special_case *c, float got) {
  int ok = isnan(c->want) ? isnan(got) : (u_of(got) == u_of(c->want));
  if (!ok)
    printf("SPECIAL FAIL %s(%a) = %a, want %a\n", fn_name[c->fn], (double)c->x, (double)got,
           (double)c->want);
  return !ok;
}

#endif /* SL_VMATH_CHECK_H */
