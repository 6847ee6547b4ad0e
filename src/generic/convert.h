// SPDX-License-Identifier: MIT
/*
 * generic/convert.h - bfloat16 / float16 to and from float32 (sl_cvt_in, sl_cvt_out: contract
 * in src/kernels.h), over the vector layer's 2-byte element edges (v_load_h, v_store_h, ...).
 * The drivers stage a 2-byte tensor's block through them (src/section.c): every kernel then
 * reads and writes float32. Results equal the scalar reference's (src/scalar/convert.c) bit for
 * bit but a NaN's payload (tests/test_dtype.c).
 */
#ifndef SL_GENERIC_CONVERT_H
#define SL_GENERIC_CONVERT_H

#include "generic/common.h"

/* SL_CVT_OUT_ONLY: sl_cvt_out alone (src/avx512/cvt_bf16.c, whose input conversion would be
 * the AVX-512 one again) */
#if !defined(SL_CVT_OUT_ONLY)
/* input: src, n 2-byte elements of type t; output: dst[0 .. n) as float (exact) */
void SL_FN(sl_cvt_in)(float *dst, const void *src, int64_t n, sl_dtype t) {
  const uint16_t *h = src;
  int64_t i = 0;
  if (t == SL_DTYPE_BF16) {
    for (; i + SL_W <= n; i += SL_W)
      v_store(dst + i, v_load_h(h + i, SL_DTYPE_BF16));
  } else {
    for (; i + SL_W <= n; i += SL_W)
      v_store(dst + i, v_load_h(h + i, SL_DTYPE_F16));
  }
  if (i < n)
    v_storen(dst + i, v_loadn_h(h + i, n - i, t), n - i);
}
#endif

/* input: src[0 .. n); output: dst, n 2-byte elements of type t (rounded to nearest even);
 * stream: non-temporal stores from the first aligned element on (ordinary ones before it and
 * for the tail) */
void SL_FN(sl_cvt_out)(void *dst, const float *src, int64_t n, sl_dtype t, int stream) {
  uint16_t *h = dst;
  int64_t i = 0;
  if (stream) { /* a head of fewer than W elements up to the first aligned one */
    int64_t head = 0;
    while (head < SL_W && head < n && !v_aligned_h(h + head))
      head++;
    if (head < SL_W && head < n) {
      if (head > 0)
        v_storen_h(h, v_loadn(src, head), head, t);
      for (i = head; i + SL_W <= n; i += SL_W)
        v_stream_h(h + i, v_load(src + i), t);
    }
  }
  if (t == SL_DTYPE_BF16) {
    for (; i + SL_W <= n; i += SL_W)
      v_store_h(h + i, v_load(src + i), SL_DTYPE_BF16);
  } else {
    for (; i + SL_W <= n; i += SL_W)
      v_store_h(h + i, v_load(src + i), SL_DTYPE_F16);
  }
  if (i < n)
    v_storen_h(h + i, v_loadn(src + i, n - i), n - i, t);
}

#endif /* SL_GENERIC_CONVERT_H */
