// SPDX-License-Identifier: MIT
/*
 * scalar/convert.c - bfloat16 / float16 to and from float32, portable C (the reference the
 * SIMD conversions are tested against: tests/test_dtype.c). Bit arithmetic only: no
 * floating-point operation, so no exception flag and no dependence on the rounding mode.
 */
#include <string.h>

#include "kernels.h"

static float f_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static uint32_t f_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/* binary16 bits to float bits: exact (subnormals normalised, inf and NaN kept, the payload
 * shifted up) */
static uint32_t f16_to_f32_bits(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) /* inf, NaN */
    return sign | 0x7f800000u | m << 13;
  if (e != 0)
    return sign | (e + 112) << 23 | m << 13;
  if (m == 0)
    return sign;
  int k = 0; /* subnormal: m 2^-24, normalise */
  uint32_t mm = m;
  while (!(mm & 0x400u)) {
    mm <<= 1;
    k++;
  }
  return sign | (uint32_t)(113 - k) << 23 | (mm & 0x3ffu) << 13;
}

/* float bits to binary16 bits, rounded to nearest even */
static uint16_t f32_to_f16_bits(uint32_t u) {
  const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) /* inf, NaN (quieted, top payload bits kept) */
    return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u | ((a >> 13) & 0x3ffu) : 0));
  if (a >= 0x477ff000u) /* rounds to >= 65520: infinity */
    return (uint16_t)(sign | 0x7c00u);
  if (a >= 0x38800000u) { /* normal result: rebias, round the 13 dropped bits */
    uint32_t r = a - 0x38000000u;
    r += 0xfffu + ((r >> 13) & 1u);
    return (uint16_t)(sign | (r >> 13));
  }
  if (a < 0x33000000u) /* below half the smallest subnormal: +-0 */
    return sign;
  /* subnormal result: the 24-bit significand shifted right by 126 - e (14 to 24), rounded */
  const uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u, sh = 126 - e;
  uint32_t q = m >> sh, rem = m & ((1u << sh) - 1), half = 1u << (sh - 1);
  q += rem > half || (rem == half && (q & 1u));
  return (uint16_t)(sign | q);
}

/* float bits to bfloat16 bits, rounded to nearest even (NaN quieted) */
static uint16_t f32_to_bf16_bits(uint32_t u) {
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (uint16_t)((u >> 16) | 0x40u);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

void sl_cvt_in__scalar(float *dst, const void *src, int64_t n, sl_dtype t) {
  const uint16_t *h = src;
  if (t == SL_DTYPE_BF16) {
    for (int64_t i = 0; i < n; i++)
      dst[i] = f_from_bits((uint32_t)h[i] << 16);
  } else {
    for (int64_t i = 0; i < n; i++)
      dst[i] = f_from_bits(f16_to_f32_bits(h[i]));
  }
}

void sl_cvt_out__scalar(void *dst, const float *src, int64_t n, sl_dtype t, int stream) {
  (void)stream;
  uint16_t *h = dst;
  if (t == SL_DTYPE_BF16) {
    for (int64_t i = 0; i < n; i++)
      h[i] = f32_to_bf16_bits(f_bits(src[i]));
  } else {
    for (int64_t i = 0; i < n; i++)
      h[i] = f32_to_f16_bits(f_bits(src[i]));
  }
}
