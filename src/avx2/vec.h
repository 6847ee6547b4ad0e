// SPDX-License-Identifier: MIT
/*
 * avx2/vec.h - the AVX2 + FMA vector layer: the types and operations the generic kernels
 * (src/generic/) are written against, for 8 float lanes. Include only from files compiled with
 * -mavx2 -mfma (src/avx2/kernels.c and its tests).
 *
 * Every ISA's vec.h defines the same names with the same meaning (src/generic/README.md lists
 * them); only the instructions differ:
 *   SL_W          lanes per float vector        SL_SUFFIX    kernel name suffix (avx2)
 *   vf            W floats                      vm           W lane flags (a compare result)
 *   vd            W doubles (two halves here)   vi           W int32
 * Loads and stores of n < W lanes touch exactly n elements (masked moves) and fill the rest
 * with 0; these and the conversions are the only places that know the element type, so a
 * later bf16 / fp16 input only changes v_load*, v_store* and the mask-byte load.
 * NaN: v_max returns one of the operands but which one for a NaN is not specified
 * (x86 returns the second, NEON the NaN); the generic kernels never depend on it.
 */
#ifndef SL_AVX2_VEC_H
#define SL_AVX2_VEC_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "sectionloss.h"

#define SL_W      8
#define SL_SUFFIX avx2
#define SL_V      static inline __attribute__((always_inline))

typedef __m256 vf;
typedef __m256 vm;
typedef __m256i vi;
typedef struct vd {
  __m256d lo, hi;
} vd;

/* ---- float lanes ------------------------------------------------------------------------- */
SL_V vf v_set1(float a) {
  return _mm256_set1_ps(a);
}
SL_V vf v_zero(void) {
  return _mm256_setzero_ps();
}
SL_V vf v_load(const float *p) {
  return _mm256_loadu_ps(p);
}
SL_V void v_store(float *p, vf v) {
  _mm256_storeu_ps(p, v);
}
/* non-temporal store of a vector-aligned p (v_aligned); v_stream_fence orders a call's
 * streamed stores before its return */
SL_V int v_aligned(const float *p) {
  return ((uintptr_t)p & 31) == 0;
}
SL_V void v_stream(float *p, vf v) {
  _mm256_stream_ps(p, v);
}
SL_V void v_stream_fence(void) {
  _mm_sfence();
}
SL_V __m256i first_bits(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
/* The first n (0 <= n <= W) lanes; nothing past them is read or written. */
SL_V vf v_loadn(const float *p, int64_t n) {
  return _mm256_maskload_ps(p, first_bits(n));
}
SL_V void v_storen(float *p, vf v, int64_t n) {
  _mm256_maskstore_ps(p, first_bits(n), v);
}

SL_V vf v_add(vf a, vf b) {
  return _mm256_add_ps(a, b);
}
SL_V vf v_sub(vf a, vf b) {
  return _mm256_sub_ps(a, b);
}
SL_V vf v_mul(vf a, vf b) {
  return _mm256_mul_ps(a, b);
}
SL_V vf v_div(vf a, vf b) {
  return _mm256_div_ps(a, b);
}
SL_V vf v_fma(vf a, vf b, vf c) {
  return _mm256_fmadd_ps(a, b, c);
} /* a b + c */
SL_V vf v_fms(vf a, vf b, vf c) {
  return _mm256_fmsub_ps(a, b, c);
} /* a b - c */
SL_V vf v_fnma(vf a, vf b, vf c) {
  return _mm256_fnmadd_ps(a, b, c);
} /* c - a b */
SL_V vf v_max(vf a, vf b) {
  return _mm256_max_ps(a, b);
}
SL_V vf v_min(vf a, vf b) {
  return _mm256_min_ps(a, b);
}
SL_V vf v_abs(vf a) {
  return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a);
}
SL_V vf v_neg(vf a) {
  return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f));
}

/* ---- lane flags ---------------------------------------------------------------------------- */
/* Ordered compares: false for a NaN operand; v_nle, v_nge: not a <= b, not a >= b (true for
 * a NaN operand). */
SL_V vm v_lt(vf a, vf b) {
  return _mm256_cmp_ps(a, b, _CMP_LT_OQ);
}
SL_V vm v_le(vf a, vf b) {
  return _mm256_cmp_ps(a, b, _CMP_LE_OQ);
}
SL_V vm v_gt(vf a, vf b) {
  return _mm256_cmp_ps(a, b, _CMP_GT_OQ);
}
SL_V vm v_ge(vf a, vf b) {
  return _mm256_cmp_ps(a, b, _CMP_GE_OQ);
}
SL_V vm v_eq(vf a, vf b) {
  return _mm256_cmp_ps(a, b, _CMP_EQ_OQ);
}
SL_V vm v_nle(vf a, vf b) {
  return _mm256_cmp_ps(a, b, _CMP_NLE_UQ);
}
SL_V vm v_nge(vf a, vf b) {
  return _mm256_cmp_ps(a, b, _CMP_NGE_UQ);
}
SL_V vm m_and(vm a, vm b) {
  return _mm256_and_ps(a, b);
}
SL_V vm m_or(vm a, vm b) {
  return _mm256_or_ps(a, b);
}
SL_V vm m_andnot(vm a, vm b) {
  return _mm256_andnot_ps(b, a);
} /* a and not b */
SL_V vm m_all(void) {
  return _mm256_castsi256_ps(_mm256_set1_epi32(-1));
}
SL_V vm m_none(void) {
  return _mm256_setzero_ps();
}
SL_V vm m_first(int64_t n) {
  return _mm256_castsi256_ps(first_bits(n));
}
SL_V int m_any(vm m) {
  return _mm256_movemask_ps(m) != 0;
}
SL_V int m_lane(vm m, int l) {
  return (_mm256_movemask_ps(m) >> l) & 1;
}
/* m ? a : b, lane by lane (a blend: a NaN in the lanes not taken never shows) */
SL_V vf v_sel(vm m, vf a, vf b) {
  return _mm256_blendv_ps(b, a, m);
}
SL_V vf v_keep(vm m, vf a) {
  return _mm256_and_ps(m, a);
} /* m ? a : +0 */
SL_V vf v_sub_where(vm m, vf a, vf b) {
  return _mm256_sub_ps(a, _mm256_and_ps(m, b));
} /* m ? a - b : a */
SL_V vf v_drop(vm m, vf a) {
  return _mm256_andnot_ps(m, a);
} /* m ? +0 : a */
SL_V vf v_nan_if(vm m, vf a) {
  return _mm256_or_ps(a, m);
} /* m ? NaN (all bits set) : a */

/* Lanes whose mask byte is nonzero: W bytes, or the first n (nothing past them is read). */
SL_V vm m_bytes(const uint8_t *p) {
  __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
  return _mm256_castsi256_ps(
      _mm256_xor_si256(_mm256_cmpeq_epi32(v, _mm256_setzero_si256()), _mm256_set1_epi32(-1)));
}
SL_V vm m_bytesn(const uint8_t *p, int64_t n) {
  uint8_t b[8] = {0};
  memcpy(b, p, (size_t)n);
  return m_bytes(b);
}

/* ---- int32 lanes (CE class indices) -------------------------------------------------------- */
SL_V vi vi_load(const int32_t *p) {
  return _mm256_loadu_si256((const __m256i *)p);
}
SL_V vm vi_ge0(vi a) {
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(a, _mm256_set1_epi32(-1)));
}
SL_V vi vi_zero(void) {
  return _mm256_setzero_si256();
}
SL_V vi vi_sub_m(vi a, vm m) {
  return _mm256_sub_epi32(a, _mm256_castps_si256(m));
} /* a + [m] */
SL_V vf vi_to_f(vi a) {
  return _mm256_cvtepi32_ps(a);
}
SL_V vi vi_set1(int32_t a) {
  return _mm256_set1_epi32(a);
}
SL_V vi vi_max(vi a, vi b) {
  return _mm256_max_epi32(a, b);
}
SL_V vi vi_mul(vi a, vi b) {
  return _mm256_mullo_epi32(a, b);
}
SL_V vi vi_add(vi a, vi b) {
  return _mm256_add_epi32(a, b);
}
SL_V vi vi_sub(vi a, vi b) {
  return _mm256_sub_epi32(a, b);
}
SL_V vi vi_and(vi a, vi b) {
  return _mm256_and_si256(a, b);
}
/* shifts by a constant n: left, and right with the sign copied in */
#define vi_slli(a, n) _mm256_slli_epi32((a), (n))
#define vi_srai(a, n) _mm256_srai_epi32((a), (n))
/* float bits as int32 and back (no conversion); v_to_i: an integral float to int32 (exact) */
SL_V vi v_as_vi(vf a) {
  return _mm256_castps_si256(a);
}
SL_V vf vi_as_vf(vi a) {
  return _mm256_castsi256_ps(a);
}
SL_V vi v_to_i(vf a) {
  return _mm256_cvtps_epi32(a);
}
SL_V vm vi_eq(vi a, vi b) {
  return _mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b));
}
SL_V vi vi_iota(void) {
  return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
} /* 0, 1, .., W-1 */
/* p[idx[l]] per lane (every idx a valid index) */
SL_V vf v_gather(const float *p, vi idx) {
  return _mm256_i32gather_ps(p, idx, 4);
}

/* ---- double lanes (sums and per-pixel arithmetic) ------------------------------------------ */
SL_V vd d_set1(double a) {
  return (vd){_mm256_set1_pd(a), _mm256_set1_pd(a)};
}
SL_V vd d_zero(void) {
  return d_set1(0.0);
}
SL_V vd d_from(vf a) {
  return (vd){_mm256_cvtps_pd(_mm256_castps256_ps128(a)),
              _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1))};
}
SL_V vf d_to_f(vd a) {
  return _mm256_set_m128(_mm256_cvtpd_ps(a.hi), _mm256_cvtpd_ps(a.lo));
}
SL_V vd d_add(vd a, vd b) {
  return (vd){_mm256_add_pd(a.lo, b.lo), _mm256_add_pd(a.hi, b.hi)};
}
SL_V vd d_sub(vd a, vd b) {
  return (vd){_mm256_sub_pd(a.lo, b.lo), _mm256_sub_pd(a.hi, b.hi)};
}
SL_V vd d_mul(vd a, vd b) {
  return (vd){_mm256_mul_pd(a.lo, b.lo), _mm256_mul_pd(a.hi, b.hi)};
}
SL_V vd d_div(vd a, vd b) {
  return (vd){_mm256_div_pd(a.lo, b.lo), _mm256_div_pd(a.hi, b.hi)};
}
SL_V vd d_fma(vd a, vd b, vd c) {
  return (vd){_mm256_fmadd_pd(a.lo, b.lo, c.lo), _mm256_fmadd_pd(a.hi, b.hi, c.hi)};
}
/* m ? a : b with a float-lane flag m (lane l of m governs double lane l). */
SL_V vd d_sel(vm m, vd a, vd b) {
  __m256i mi = _mm256_castps_si256(m);
  __m256d ml = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(mi)));
  __m256d mh = _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_extracti128_si256(mi, 1)));
  return (vd){_mm256_blendv_pd(b.lo, a.lo, ml), _mm256_blendv_pd(b.hi, a.hi, mh)};
}
SL_V double d_hsum(vd a) {
  __m256d v = _mm256_add_pd(a.lo, a.hi);
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* ---- vector math: v_log, v_log1p, v_log1p01, v_exp, v_exp_lean, v_exp_nabs, v_exp_neg ---- */
#include "generic/vmath.h"

/* ---- 2-byte element types (sl_dtype bf16, f16: generic/convert.h) ---------------------------
 * v_load_h: W elements as floats (exact); v_store_h: W floats rounded to nearest even (NaN
 * quieted; f16 by F16C's VCVTPS2PH with its rounding in the instruction, never MXCSR's);
 * v_loadn_h / v_storen_h: the first n lanes only; v_stream_h: non-temporal, v_aligned_h. */
SL_V vf v_load_h(const uint16_t *p, sl_dtype t) {
  __m128i h = _mm_loadu_si128((const __m128i *)p);
  if (t == SL_DTYPE_BF16)
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  return _mm256_cvtph_ps(h);
}
SL_V __m128i h_bits(vf v, sl_dtype t) {
  if (t == SL_DTYPE_F16)
    return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256i u = _mm256_castps_si256(v);
  __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff)));
  __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  r = _mm256_srli_epi32(_mm256_blendv_epi8(r, _mm256_or_si256(u, _mm256_set1_epi32(0x400000)), nan),
                        16);
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}
SL_V void v_store_h(uint16_t *p, vf v, sl_dtype t) {
  _mm_storeu_si128((__m128i *)p, h_bits(v, t));
}
SL_V int v_aligned_h(const uint16_t *p) {
  return ((uintptr_t)p & 15) == 0;
}
SL_V void v_stream_h(uint16_t *p, vf v, sl_dtype t) {
  _mm_stream_si128((__m128i *)p, h_bits(v, t));
}
SL_V vf v_loadn_h(const uint16_t *p, int64_t n, sl_dtype t) {
  uint16_t b[8] = {0};
  memcpy(b, p, (size_t)n * sizeof *p);
  return v_load_h(b, t);
}
SL_V void v_storen_h(uint16_t *p, vf v, int64_t n, sl_dtype t) {
  uint16_t b[8];
  _mm_storeu_si128((__m128i *)b, h_bits(v, t));
  memcpy(p, b, (size_t)n * sizeof *p);
}

#endif /* SL_AVX2_VEC_H */
