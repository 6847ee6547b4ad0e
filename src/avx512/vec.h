// SPDX-License-Identifier: MIT
/*
 * avx512/vec.h - the AVX-512 vector layer: the types and operations the generic kernels
 * (src/generic/) are written against, for 16 float lanes. Include only from files compiled with
 * the AVX-512 flags (AVX512_FLAGS in the Makefile: src/avx512/kernels.c and its tests).
 *
 * The same names with the same meaning as src/avx2/vec.h (the interface is described there);
 * what differs here:
 *   SL_W 16       vf = __m512               vm = __mmask16 (an opmask: one bit per lane)
 *   vi = __m512i  vd = two __m512d (lanes 0-7 and 8-15)
 * Lane flags are opmasks, so compares write k registers, and blends, zeroing (v_keep) and the
 * flag logic are masked moves and k-register operations. Loads and stores of n < W lanes are
 * masked moves with the first-n opmask (fault suppression: nothing past them is read or
 * written), and the mask bytes of a tail are a masked byte load (AVX512BW + VL), not a copy
 * through a buffer. The vector math is src/generic/vmath.h with AVX-512's overrides
 * (src/avx512/vmath.h: VFIXUPIMMPS, VSCALEFPS): the results of the AVX2 build, bit for bit
 * (tests/exhaustive/vmath_avx512.c).
 * NaN: v_max returns the second operand for a NaN (as AVX2); the generic kernels never depend
 * on it. The interface, every name and its meaning: src/generic/README.md.
 */
#ifndef SL_AVX512_VEC_H
#define SL_AVX512_VEC_H

#include <immintrin.h>
#include <stdint.h>

#include "sectionloss.h"

#define SL_W      16
#define SL_SUFFIX avx512
#define SL_V      static inline __attribute__((always_inline))

typedef __m512 vf;
typedef __mmask16 vm;
typedef __m512i vi;
typedef struct vd {
  __m512d lo, hi;
} vd;

/* ---- float lanes ------------------------------------------------------------------------- */
SL_V vf v_set1(float a) {
  return _mm512_set1_ps(a);
}
SL_V vf v_zero(void) {
  return _mm512_setzero_ps();
}
SL_V vf v_load(const float *p) {
  return _mm512_loadu_ps(p);
}
/* non-temporal store of a vector-aligned p (v_aligned); v_stream_fence orders a call's
 * streamed stores before its return */
SL_V int v_aligned(const float *p) {
  return ((uintptr_t)p & 63) == 0;
}
SL_V void v_stream(float *p, vf v) {
  _mm512_stream_ps(p, v);
}
SL_V void v_stream_fence(void) {
  _mm_sfence();
}
SL_V void v_store(float *p, vf v) {
  _mm512_storeu_ps(p, v);
}
/* The first n (0 <= n <= W) lanes. */
SL_V vm m_first(int64_t n) {
  return (vm)((1u << n) - 1u);
}
/* The first n (0 <= n <= W) lanes; nothing past them is read or written (the rest read as 0). */
SL_V vf v_loadn(const float *p, int64_t n) {
  return _mm512_maskz_loadu_ps(m_first(n), p);
}
SL_V void v_storen(float *p, vf v, int64_t n) {
  _mm512_mask_storeu_ps(p, m_first(n), v);
}

SL_V vf v_add(vf a, vf b) {
  return _mm512_add_ps(a, b);
}
SL_V vf v_sub(vf a, vf b) {
  return _mm512_sub_ps(a, b);
}
SL_V vf v_mul(vf a, vf b) {
  return _mm512_mul_ps(a, b);
}
SL_V vf v_div(vf a, vf b) {
  return _mm512_div_ps(a, b);
}
SL_V vf v_fma(vf a, vf b, vf c) { /* a b + c */
  return _mm512_fmadd_ps(a, b, c);
}
SL_V vf v_fms(vf a, vf b, vf c) { /* a b - c */
  return _mm512_fmsub_ps(a, b, c);
}
SL_V vf v_fnma(vf a, vf b, vf c) { /* c - a b */
  return _mm512_fnmadd_ps(a, b, c);
}
SL_V vf v_max(vf a, vf b) {
  return _mm512_max_ps(a, b);
}
SL_V vf v_min(vf a, vf b) {
  return _mm512_min_ps(a, b);
}
SL_V vf v_abs(vf a) {
  return _mm512_abs_ps(a);
}
SL_V vf v_neg(vf a) {
  return _mm512_xor_ps(a, _mm512_set1_ps(-0.0f));
}

/* ---- lane flags (opmasks) -------------------------------------------------------------------- */
/* Ordered compares: false for a NaN operand; v_nle, v_nge: not a <= b, not a >= b (true for
 * a NaN operand). */
SL_V vm v_lt(vf a, vf b) {
  return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ);
}
SL_V vm v_le(vf a, vf b) {
  return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ);
}
SL_V vm v_gt(vf a, vf b) {
  return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ);
}
SL_V vm v_ge(vf a, vf b) {
  return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ);
}
SL_V vm v_eq(vf a, vf b) {
  return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ);
}
SL_V vm v_nle(vf a, vf b) {
  return _mm512_cmp_ps_mask(a, b, _CMP_NLE_UQ);
}
SL_V vm v_nge(vf a, vf b) {
  return _mm512_cmp_ps_mask(a, b, _CMP_NGE_UQ);
}
SL_V vm m_and(vm a, vm b) {
  return (vm)(a & b);
}
SL_V vm m_or(vm a, vm b) {
  return (vm)(a | b);
}
SL_V vm m_andnot(vm a, vm b) { /* a and not b */
  return (vm)(a & ~b);
}
SL_V vm m_all(void) {
  return (vm)0xffff;
}
SL_V vm m_none(void) {
  return (vm)0;
}
SL_V int m_any(vm m) {
  return m != 0;
}
SL_V int m_lane(vm m, int l) {
  return (m >> l) & 1;
}
/* m ? a : b, lane by lane (a masked move: a NaN in the lanes not taken never shows) */
SL_V vf v_sel(vm m, vf a, vf b) {
  return _mm512_mask_blend_ps(m, b, a);
}
SL_V vf v_keep(vm m, vf a) { /* m ? a : +0 */
  return _mm512_maskz_mov_ps(m, a);
}
SL_V vf v_sub_where(vm m, vf a, vf b) { /* m ? a - b : a */
  return _mm512_mask_sub_ps(a, m, a, b);
}
SL_V vf v_drop(vm m, vf a) { /* m ? +0 : a */
  return _mm512_maskz_mov_ps((vm)~m, a);
}
SL_V vf v_nan_if(vm m, vf a) { /* m ? NaN (all bits set) : a */
  return _mm512_mask_mov_ps(a, m, _mm512_castsi512_ps(_mm512_set1_epi32(-1)));
}

/* Lanes whose mask byte is nonzero: W bytes, or the first n (a masked byte load: nothing past
 * them is read). */
SL_V vm m_bytes(const uint8_t *p) {
  __m128i b = _mm_loadu_si128((const __m128i *)p);
  return _mm_test_epi8_mask(b, b);
}
SL_V vm m_bytesn(const uint8_t *p, int64_t n) {
  __m128i b = _mm_maskz_loadu_epi8(m_first(n), p);
  return _mm_test_epi8_mask(b, b);
}

/* ---- int32 lanes (CE class indices) -------------------------------------------------------- */
SL_V vi vi_load(const int32_t *p) {
  return _mm512_loadu_si512(p);
}
SL_V vm vi_eq(vi a, vi b) {
  return _mm512_cmpeq_epi32_mask(a, b);
}
SL_V vm vi_ge0(vi a) {
  return _mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(-1));
}
SL_V vi vi_zero(void) {
  return _mm512_setzero_si512();
}
/* a + [m]: 1 added in the lanes of m */
SL_V vi vi_sub_m(vi a, vm m) {
  return _mm512_mask_add_epi32(a, m, a, _mm512_set1_epi32(1));
}
SL_V vf vi_to_f(vi a) {
  return _mm512_cvtepi32_ps(a);
}
SL_V vi vi_set1(int32_t a) {
  return _mm512_set1_epi32(a);
}
SL_V vi vi_max(vi a, vi b) {
  return _mm512_max_epi32(a, b);
}
SL_V vi vi_mul(vi a, vi b) {
  return _mm512_mullo_epi32(a, b);
}
SL_V vi vi_add(vi a, vi b) {
  return _mm512_add_epi32(a, b);
}
SL_V vi vi_sub(vi a, vi b) {
  return _mm512_sub_epi32(a, b);
}
SL_V vi vi_and(vi a, vi b) {
  return _mm512_and_si512(a, b);
}
/* shifts by a constant n: left, and right with the sign copied in */
#define vi_slli(a, n) _mm512_slli_epi32((a), (n))
#define vi_srai(a, n) _mm512_srai_epi32((a), (n))
/* float bits as int32 and back (no conversion); v_to_i: an integral float to int32 (exact) */
SL_V vi v_as_vi(vf a) {
  return _mm512_castps_si512(a);
}
SL_V vf vi_as_vf(vi a) {
  return _mm512_castsi512_ps(a);
}
SL_V vi v_to_i(vf a) {
  return _mm512_cvtps_epi32(a);
}
SL_V vi vi_iota(void) { /* 0, 1, .., W-1 */
  return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
/* p[idx[l]] per lane (every idx a valid index) */
SL_V vf v_gather(const float *p, vi idx) {
  return _mm512_i32gather_ps(idx, p, 4);
}

/* ---- double lanes (sums and per-pixel arithmetic) ------------------------------------------ */
SL_V vd d_set1(double a) {
  return (vd){_mm512_set1_pd(a), _mm512_set1_pd(a)};
}
SL_V vd d_zero(void) {
  return d_set1(0.0);
}
SL_V vd d_from(vf a) {
  return (vd){_mm512_cvtps_pd(_mm512_castps512_ps256(a)),
              _mm512_cvtps_pd(_mm512_extractf32x8_ps(a, 1))};
}
SL_V vf d_to_f(vd a) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(a.lo)), _mm512_cvtpd_ps(a.hi),
                            1);
}
SL_V vd d_add(vd a, vd b) {
  return (vd){_mm512_add_pd(a.lo, b.lo), _mm512_add_pd(a.hi, b.hi)};
}
SL_V vd d_sub(vd a, vd b) {
  return (vd){_mm512_sub_pd(a.lo, b.lo), _mm512_sub_pd(a.hi, b.hi)};
}
SL_V vd d_mul(vd a, vd b) {
  return (vd){_mm512_mul_pd(a.lo, b.lo), _mm512_mul_pd(a.hi, b.hi)};
}
SL_V vd d_div(vd a, vd b) {
  return (vd){_mm512_div_pd(a.lo, b.lo), _mm512_div_pd(a.hi, b.hi)};
}
SL_V vd d_fma(vd a, vd b, vd c) {
  return (vd){_mm512_fmadd_pd(a.lo, b.lo, c.lo), _mm512_fmadd_pd(a.hi, b.hi, c.hi)};
}
/* m ? a : b with a float-lane flag m (bit l of m governs double lane l). */
SL_V vd d_sel(vm m, vd a, vd b) {
  return (vd){_mm512_mask_blend_pd((__mmask8)m, b.lo, a.lo),
              _mm512_mask_blend_pd((__mmask8)(m >> 8), b.hi, a.hi)};
}
/* Sum of the 16 lanes, in a fixed order. */
SL_V double d_hsum(vd a) {
  __m512d v = _mm512_add_pd(a.lo, a.hi);
  __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1));
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* ---- vector math: generic/vmath.h, with AVX-512's overrides (avx512/vmath.h) ----------------- */
#include "avx512/vmath.h"
#include "generic/vmath.h"

/* ---- 2-byte element types (sl_dtype bf16, f16: generic/convert.h) ---------------------------
 * As src/avx2/vec.h's, on 16 lanes: VCVTPH2PS / VCVTPS2PH (rounding in the instruction) for
 * f16, shifts and VPMOVDW for bf16, masked moves for the tails. Compiled with -mavx512bf16
 * (src/avx512/kernels_bf16.c, the table for CPUs with AVX512_BF16), bf16 output rounds with
 * VCVTNEPS2BF16. AVX512-FP16 adds nothing here: its VCVTPS2PHX rounds 16 floats to float16 as
 * AVX-512F's VCVTPS2PH does (same result, one instruction either way), and VCVTPH2PSX widens as
 * VCVTPH2PS; neither is used. Loads of bf16 stay a widening shift: AVX512_BF16 has no widening
 * conversion (_mm512_cvtpbh_ps is this shift). */
SL_V vf v_load_h(const uint16_t *p, sl_dtype t) {
  __m256i h = _mm256_loadu_si256((const __m256i *)p);
  if (t == SL_DTYPE_BF16)
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}
/* bf16 bits of 16 floats: nearest even by integer rounding, NaN quieted (as the reference) */
SL_V __m256i bf16_bits(vf v) {
  __m512i u = _mm512_castps_si512(v);
  __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff)));
  __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  r = _mm512_mask_or_epi32(r, nan, u, _mm512_set1_epi32(0x400000));
  return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
}
SL_V __m256i h_bits(vf v, sl_dtype t) {
  if (t == SL_DTYPE_F16)
    return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#if defined(__AVX512BF16__)
  /* VCVTNEPS2BF16 rounds as bf16_bits (nearest even, NaN quieted with the same bits) but takes a
   * subnormal float as a signed zero, whatever MXCSR says: those lanes (exponent field 0,
   * significand not), rare, from bf16_bits (tests/exhaustive/cvt_out.c: all 2^32 floats). Found
   * by integer tests: VFPCLASSPS would miss them under MXCSR.DAZ. */
  const __m512i u = _mm512_castps_si512(v);
  __m256i r = (__m256i)_mm512_cvtneps_pbh(v);
  __mmask16 sub = _mm512_mask_test_epi32_mask(
      _mm512_testn_epi32_mask(u, _mm512_set1_epi32(0x7f800000)), u, _mm512_set1_epi32(0x7fffff));
  if (__builtin_expect(sub != 0, 0))
    r = _mm256_mask_blend_epi16(sub, r, bf16_bits(v));
  return r;
#else
  return bf16_bits(v);
#endif
}
SL_V void v_store_h(uint16_t *p, vf v, sl_dtype t) {
  _mm256_storeu_si256((__m256i *)p, h_bits(v, t));
}
SL_V int v_aligned_h(const uint16_t *p) {
  return ((uintptr_t)p & 31) == 0;
}
SL_V void v_stream_h(uint16_t *p, vf v, sl_dtype t) {
  _mm256_stream_si256((__m256i *)p, h_bits(v, t));
}
SL_V vf v_loadn_h(const uint16_t *p, int64_t n, sl_dtype t) {
  __m256i h = _mm256_maskz_loadu_epi16((__mmask16)((1u << n) - 1), p);
  if (t == SL_DTYPE_BF16)
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  return _mm512_cvtph_ps(h);
}
SL_V void v_storen_h(uint16_t *p, vf v, int64_t n, sl_dtype t) {
  _mm256_mask_storeu_epi16(p, (__mmask16)((1u << n) - 1), h_bits(v, t));
}

#endif /* SL_AVX512_VEC_H */
