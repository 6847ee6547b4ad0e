// SPDX-License-Identifier: MIT
/*
 * fuzz_dtype.h - element types (bfloat16, float16) for the libFuzzer harnesses (fuzz_common.h,
 * fuzz_ce_prob.c, fuzz_dice_common.h): the harness's own conversions, the decoding of an
 * element-type byte, and the comparison of a 2-byte call's sums with the float32 call's.
 */
#ifndef SL_FUZZ_DTYPE_H
#define SL_FUZZ_DTYPE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../contract.h"
#include "sectionloss.h"

/* ---- element types (bfloat16, float16): the harness's own conversions ----------------------
 * fz_half_out: float -> 2-byte, round to nearest even, NaN stays NaN (quiet), overflow to inf,
 * float16's subnormals by the same rule; fz_half_in: 2-byte -> float, exactly (from the fields,
 * with ldexp). Written from the formats, independently of the library's sl_cvt_in / _out. */
static inline int fz_dt_half(sl_dtype t) {
  return t == SL_DTYPE_BF16 || t == SL_DTYPE_F16;
}

static inline size_t fz_dt_size(sl_dtype t) { /* an invalid value: float32's (the call must fail) */
  return fz_dt_half(t) ? 2 : 4;
}

static inline uint16_t fz_half_out(float f, sl_dtype t) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  const uint16_t sign = (uint16_t)(u >> 16 & 0x8000);
  if (t == SL_DTYPE_BF16) {
    if (isnan(f))
      return (uint16_t)(sign | 0x7fc0);
    return (uint16_t)((u + 0x7fffu + (u >> 16 & 1)) >> 16); /* carries into the exponent: inf */
  }
  const double a = fabs((double)f);
  if (isnan(f))
    return (uint16_t)(sign | 0x7e00);
  if (a >= 65520.0) /* the midpoint between 65504 and 2^16 rounds to the even one: inf */
    return (uint16_t)(sign | 0x7c00);
  if (a < 0x1p-14) /* subnormal (or 0): a multiple of 2^-24; 2^-14 itself is 0x0400 */
    return (uint16_t)(sign | (uint16_t)rint(a * 0x1p24));
  int e;
  (void)frexp(a, &e);                        /* a = f 2^e, f in [0.5, 1) */
  double m = rint(ldexp(a, 11 - e));         /* 11 significant bits, in [1024, 2048] */
  const int be = e - 1 + 15 + (m == 2048.0); /* biased exponent */
  if (m == 2048.0)
    m = 1024.0;
  if (be >= 31)
    return (uint16_t)(sign | 0x7c00);
  return (uint16_t)(sign | be << 10 | ((int)m - 1024));
}

static inline float fz_half_in(uint16_t h, sl_dtype t) {
  const int eb = t == SL_DTYPE_BF16 ? 8 : 5, mb = t == SL_DTYPE_BF16 ? 7 : 10;
  const int e = (h >> mb) & ((1 << eb) - 1), m = h & ((1 << mb) - 1), bias = (1 << (eb - 1)) - 1;
  double v = e == (1 << eb) - 1 ? (m ? NAN : INFINITY)
             : e == 0           ? ldexp((double)m, 1 - bias - mb)
                                : ldexp((double)(m | 1 << mb), e - bias - mb);
  return (float)(h >> 15 ? -v : v);
}

/* v rounded to t in place (a 2-byte type; else unchanged): the exact values of the 2-byte
 * tensor the harness passes, for the float32 call it compares with */
static inline void fz_dt_round(float *v, size_t n, sl_dtype t) {
  for (size_t i = 0; v && fz_dt_half(t) && i < n; i++)
    v[i] = fz_half_in(fz_half_out(v[i], t), t);
}

/* a copy of v (n elements) in element type t, exactly n elements long */
static inline void *fz_dt_pack(const float *v, size_t n, sl_dtype t) {
  void *p = malloc(n * fz_dt_size(t) + (n == 0));
  for (size_t i = 0; i < n; i++) {
    if (fz_dt_half(t))
      ((uint16_t *)p)[i] = fz_half_out(v[i], t);
    else
      ((float *)p)[i] = v[i];
  }
  return p;
}

/* The first element-type byte turns the call with element types on: values in [176, 232), a
 * range that no committed regression of any target has at that byte (an input whose bytes go
 * on past the fields before decodes it; a regression then keeps its float32 call unchanged). */
static inline int fz_dt_on(uint8_t b) {
  return b >= 176 && b < 232;
}

/* A decoded element type: mostly bfloat16 and float16, float32, sometimes not an sl_dtype. */
static inline sl_dtype fz_dtype(uint8_t b) {
  static const int bad[] = {3, -1, 0x100, INT32_MIN};
  const int m = b % 16;
  return m < 6    ? SL_DTYPE_BF16
         : m < 12 ? SL_DTYPE_F16
         : m < 15 ? SL_DTYPE_F32
                  : (sl_dtype)bad[b / 16 % 4];
}

/* ---- sums: the 2-byte call's against the float32 call's --------------------------------------
 * Two groupings of the same double terms (the library's per-element terms, summed over
 * stretches cut at the gradient's lines when CE streams, whose size is the element's) differ by at
 * most 2 (n - 1) 2^-53 of the sum of their magnitudes; FZ_DT_SUM(n) is 4 n 2^-53 of it, n counting
 * every element and the few correction terms of a row. The scale is the float32 call's (ct_terms:
 * each element's |loss| plus its contract tolerance over CT_SUM_REL, which bounds the magnitude of
 * the library's terms). */
#define FZ_DT_SUM(n) ((double)(n)*0x1p-51)

/* got and ref (two groupings) within tol; the float loss: plus the float spacing of its final
 * rounding, and an infinity against a finite value (overflow of one rounding) as 2^128. */
static inline int fz_dt_close(double got, double ref, double tol, int is_float) {
  if (got == ref)
    return 1;
  if (isnan(tol)) /* a scale that is not finite (an infinite weight): a non-finite sum */
    tol = INFINITY;
  if (isnan(ref) || isnan(got))
    return isnan(ref) && isnan(got);
  if (is_float && isinf(got) != isinf(ref)) {
    got = isinf(got) ? copysign(0x1p128, got) : got;
    ref = isinf(ref) ? copysign(0x1p128, ref) : ref;
  } else if (isinf(ref) || isinf(got)) {
    return got == ref;
  }
  return fabs(got - ref) <= tol + (is_float ? ct_ulp(fmax(fabs(got), fabs(ref))) : 0.0);
}

/* every byte of p[0, bytes) is still the canary */
static inline int fz_untouched_bytes(const void *p, size_t bytes, uint8_t canary) {
  for (size_t i = 0; i < bytes; i++)
    if (((const uint8_t *)p)[i] != canary)
      return 0;
  return 1;
}

static inline int fz_same_f32(float a, float b) {
  return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

#endif /* SL_FUZZ_DTYPE_H */
