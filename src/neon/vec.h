// SPDX-License-Identifier: MIT
/*
 * neon/vec.h - the NEON vector layer (AArch64; x86 through SIMDe in the test build): the types
 * and operations the generic kernels (src/generic/) are written against, for 4 float lanes.
 * The same names and meanings as src/avx2/vec.h (the list: src/generic/README.md); only the
 * instructions differ. Loads and stores of n < W lanes go through a zeroed copy, so nothing
 * past the n elements is touched. NEON FMAX / FMIN propagate NaN (the generic kernels do not
 * depend on which operand a NaN max returns). The vector math is src/generic/vmath.h with no
 * override: the bits of the x86 builds (tests/exhaustive/vmath_neon.c compares them).
 */
#ifndef SL_NEON_VEC_H
#define SL_NEON_VEC_H

#include <stdint.h>
#include <string.h>

#include "sectionloss.h"

#include "neon/neon.h"

#define SL_W      4
#define SL_SUFFIX neon
#define SL_V      SL_INLINE

typedef float32x4_t vf;
typedef uint32x4_t vm;
typedef int32x4_t vi;
typedef struct vd {
  float64x2_t lo, hi;
} vd;

/* ---- float lanes ------------------------------------------------------------------------- */
SL_V vf v_set1(float a) {
  return vdupq_n_f32(a);
}
SL_V vf v_zero(void) {
  return vdupq_n_f32(0.0f);
}
SL_V vf v_load(const float *p) {
  return vld1q_f32(p);
}
/* NEON has no non-temporal vector store here: v_stream is v_store (v_aligned for the
 * interface: 16-byte alignment) */
SL_V int v_aligned(const float *p) {
  return ((uintptr_t)p & 15) == 0;
}
SL_V void v_stream(float *p, vf v) {
  vst1q_f32(p, v);
}
SL_V void v_stream_fence(void) {}
SL_V void v_store(float *p, vf v) {
  vst1q_f32(p, v);
}
SL_V vf v_loadn(const float *p, int64_t n) {
  float t[SL_W] = {0.0f, 0.0f, 0.0f, 0.0f};
  memcpy(t, p, (size_t)n * sizeof(float));
  return vld1q_f32(t);
}
SL_V void v_storen(float *p, vf v, int64_t n) {
  float t[SL_W];
  vst1q_f32(t, v);
  memcpy(p, t, (size_t)n * sizeof(float));
}
SL_V vf v_add(vf a, vf b) {
  return vaddq_f32(a, b);
}
SL_V vf v_sub(vf a, vf b) {
  return vsubq_f32(a, b);
}
SL_V vf v_mul(vf a, vf b) {
  return vmulq_f32(a, b);
}
SL_V vf v_div(vf a, vf b) {
  return vdivq_f32(a, b);
}
SL_V vf v_fma(vf a, vf b, vf c) {
  return vfmaq_f32(c, a, b);
} /* a b + c */
SL_V vf v_fms(vf a, vf b, vf c) {
  return vnegq_f32(vfmsq_f32(c, a, b));
} /* a b - c */
SL_V vf v_fnma(vf a, vf b, vf c) {
  return vfmsq_f32(c, a, b);
} /* c - a b */
SL_V vf v_max(vf a, vf b) {
  return vmaxq_f32(a, b);
}
SL_V vf v_min(vf a, vf b) {
  return vminq_f32(a, b);
}
SL_V vf v_abs(vf a) {
  return vabsq_f32(a);
}
SL_V vf v_neg(vf a) {
  return vnegq_f32(a);
}

/* ---- lane flags ---------------------------------------------------------------------------- */
SL_V vm v_lt(vf a, vf b) {
  return vcltq_f32(a, b);
}
SL_V vm v_le(vf a, vf b) {
  return vcleq_f32(a, b);
}
SL_V vm v_gt(vf a, vf b) {
  return vcgtq_f32(a, b);
}
SL_V vm v_ge(vf a, vf b) {
  return vcgeq_f32(a, b);
}
SL_V vm v_eq(vf a, vf b) {
  return vceqq_f32(a, b);
}
SL_V vm v_nle(vf a, vf b) {
  return vmvnq_u32(vcleq_f32(a, b));
}
SL_V vm v_nge(vf a, vf b) {
  return vmvnq_u32(vcgeq_f32(a, b));
}
SL_V vm m_and(vm a, vm b) {
  return vandq_u32(a, b);
}
SL_V vm m_or(vm a, vm b) {
  return vorrq_u32(a, b);
}
SL_V vm m_andnot(vm a, vm b) {
  return vbicq_u32(a, b);
} /* a and not b */
SL_V vm m_all(void) {
  return vdupq_n_u32(0xffffffffu);
}
SL_V vm m_none(void) {
  return vdupq_n_u32(0);
}
SL_V vm m_first(int64_t n) {
  const uint32_t idx[SL_W] = {0, 1, 2, 3};
  return vcltq_u32(vld1q_u32(idx), vdupq_n_u32((uint32_t)n));
}
SL_V int m_any(vm m) {
  return vmaxvq_u32(m) != 0;
}
SL_V int m_lane(vm m, int l) {
  uint32_t t[SL_W];
  vst1q_u32(t, m);
  return t[l] != 0;
}
SL_V vf v_sel(vm m, vf a, vf b) {
  return vbslq_f32(m, a, b);
}
SL_V vf v_keep(vm m, vf a) {
  return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(a), m));
} /* m ? a : +0 */
SL_V vf v_sub_where(vm m, vf a, vf b) {
  return vsubq_f32(a, vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(b), m)));
} /* m ? a - b : a */
SL_V vf v_drop(vm m, vf a) {
  return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(a), m));
} /* m ? +0 : a */
SL_V vf v_nan_if(vm m, vf a) {
  return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(a), m));
} /* m ? NaN (all bits set) : a */
SL_V vm m_bytes(const uint8_t *p) {
  uint32_t b;
  memcpy(&b, p, 4);
  uint16x8_t h = vmovl_u8(vcreate_u8((uint64_t)b));
  return vtstq_u32(vmovl_u16(vget_low_u16(h)), vdupq_n_u32(0xffu));
}
SL_V vm m_bytesn(const uint8_t *p, int64_t n) {
  uint8_t b[SL_W] = {0};
  memcpy(b, p, (size_t)n);
  return m_bytes(b);
}

/* ---- int32 lanes (CE class indices) -------------------------------------------------------- */
SL_V vi vi_load(const int32_t *p) {
  return vld1q_s32(p);
}
SL_V vm vi_eq(vi a, vi b) {
  return vceqq_s32(a, b);
}
SL_V vm vi_ge0(vi a) {
  return vcgezq_s32(a);
}
SL_V vi vi_zero(void) {
  return vdupq_n_s32(0);
}
SL_V vi vi_sub_m(vi a, vm m) {
  return vsubq_s32(a, vreinterpretq_s32_u32(m));
} /* a + [m] */
SL_V vf vi_to_f(vi a) {
  return vcvtq_f32_s32(a);
}
SL_V vi vi_set1(int32_t a) {
  return vdupq_n_s32(a);
}
SL_V vi vi_max(vi a, vi b) {
  return vmaxq_s32(a, b);
}
SL_V vi vi_mul(vi a, vi b) {
  return vmulq_s32(a, b);
}
SL_V vi vi_add(vi a, vi b) {
  return vaddq_s32(a, b);
}
SL_V vi vi_sub(vi a, vi b) {
  return vsubq_s32(a, b);
}
SL_V vi vi_and(vi a, vi b) {
  return vandq_s32(a, b);
}
/* shifts by a constant n (macros: the intrinsics take an immediate): left, and right with the
 * sign copied in */
#define vi_slli(a, n) vshlq_n_s32((a), (n))
#define vi_srai(a, n) vshrq_n_s32((a), (n))
/* float bits as int32 and back (no conversion); v_to_i: an integral float to int32 (exact) */
SL_V vi v_as_vi(vf a) {
  return vreinterpretq_s32_f32(a);
}
SL_V vf vi_as_vf(vi a) {
  return vreinterpretq_f32_s32(a);
}
SL_V vi v_to_i(vf a) {
  return vcvtq_s32_f32(a);
}
SL_V vi vi_iota(void) {
  const int32_t idx[SL_W] = {0, 1, 2, 3};
  return vld1q_s32(idx);
}
/* p[idx[l]] per lane (every idx a valid index): NEON has no gather */
SL_V vf v_gather(const float *p, vi idx) {
  int32_t ix[SL_W];
  float t[SL_W];
  vst1q_s32(ix, idx);
  for (int l = 0; l < SL_W; l++)
    t[l] = p[ix[l]];
  return vld1q_f32(t);
}

/* ---- double lanes (sums and per-pixel arithmetic) ------------------------------------------ */
SL_V vd d_set1(double a) {
  return (vd){vdupq_n_f64(a), vdupq_n_f64(a)};
}
SL_V vd d_zero(void) {
  return d_set1(0.0);
}
SL_V vd d_from(vf a) {
  return (vd){vcvt_f64_f32(vget_low_f32(a)), vcvt_f64_f32(vget_high_f32(a))};
}
SL_V vf d_to_f(vd a) {
  return vcombine_f32(vcvt_f32_f64(a.lo), vcvt_f32_f64(a.hi));
}
SL_V vd d_add(vd a, vd b) {
  return (vd){vaddq_f64(a.lo, b.lo), vaddq_f64(a.hi, b.hi)};
}
SL_V vd d_sub(vd a, vd b) {
  return (vd){vsubq_f64(a.lo, b.lo), vsubq_f64(a.hi, b.hi)};
}
SL_V vd d_mul(vd a, vd b) {
  return (vd){vmulq_f64(a.lo, b.lo), vmulq_f64(a.hi, b.hi)};
}
SL_V vd d_div(vd a, vd b) {
  return (vd){vdivq_f64(a.lo, b.lo), vdivq_f64(a.hi, b.hi)};
}
SL_V vd d_fma(vd a, vd b, vd c) {
  return (vd){vfmaq_f64(c.lo, a.lo, b.lo), vfmaq_f64(c.hi, a.hi, b.hi)};
}
/* m ? a : b with a float-lane flag m (lane l of m governs double lane l) */
SL_V vd d_sel(vm m, vd a, vd b) {
  int32x4_t s = vreinterpretq_s32_u32(m);
  uint64x2_t ml = vreinterpretq_u64_s64(vmovl_s32(vget_low_s32(s)));
  uint64x2_t mh = vreinterpretq_u64_s64(vmovl_s32(vget_high_s32(s)));
  return (vd){vbslq_f64(ml, a.lo, b.lo), vbslq_f64(mh, a.hi, b.hi)};
}
SL_V double d_hsum(vd a) {
  float64x2_t v = vaddq_f64(a.lo, a.hi);
  return vgetq_lane_f64(v, 0) + vgetq_lane_f64(v, 1);
}

/* ---- vector math: v_log, v_log1p, v_log1p01, v_exp, v_exp_lean, v_exp_nabs, v_exp_neg ---- */
/* logf branches around its rare lanes (subnormal, <= 0, +inf, NaN): cheaper here than fixing
 * them in every vector (llvm-mca, Neoverse N1 / V1) */
#define SL_VMATH_RARE_BRANCH 1
#include "generic/vmath.h"

/* ---- 2-byte element types (sl_dtype bf16, f16: generic/convert.h) ---------------------------
 * As src/avx2/vec.h's, on 4 lanes: FCVTL / FCVTN (round to nearest even, the FPCR default this
 * library assumes) for f16, a widening shift and integer rounding for bf16; no non-temporal
 * store (v_stream_h stores). */
SL_V vf v_load_h(const uint16_t *p, sl_dtype t) {
  uint16x4_t h = vld1_u16(p);
  if (t == SL_DTYPE_BF16)
    return vreinterpretq_f32_u32(vshlq_n_u32(vmovl_u16(h), 16));
  return vcvt_f32_f16(vreinterpret_f16_u16(h));
}
SL_V uint16x4_t h_bits(vf v, sl_dtype t) {
  if (t == SL_DTYPE_F16)
    return vreinterpret_u16_f16(vcvt_f16_f32(v));
  uint32x4_t u = vreinterpretq_u32_f32(v);
  uint32x4_t odd = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1));
  uint32x4_t r = vaddq_u32(u, vaddq_u32(odd, vdupq_n_u32(0x7fff)));
  uint32x4_t nan = vmvnq_u32(vceqq_f32(v, v));
  r = vbslq_u32(nan, vorrq_u32(u, vdupq_n_u32(0x400000)), r);
  return vshrn_n_u32(r, 16);
}
SL_V void v_store_h(uint16_t *p, vf v, sl_dtype t) {
  vst1_u16(p, h_bits(v, t));
}
SL_V int v_aligned_h(const uint16_t *p) {
  return ((uintptr_t)p & 7) == 0;
}
SL_V void v_stream_h(uint16_t *p, vf v, sl_dtype t) {
  vst1_u16(p, h_bits(v, t));
}
SL_V vf v_loadn_h(const uint16_t *p, int64_t n, sl_dtype t) {
  uint16_t b[4] = {0};
  memcpy(b, p, (size_t)n * sizeof *p);
  return v_load_h(b, t);
}
SL_V void v_storen_h(uint16_t *p, vf v, int64_t n, sl_dtype t) {
  uint16_t b[4];
  vst1_u16(b, h_bits(v, t));
  memcpy(p, b, (size_t)n * sizeof *p);
}

#endif /* SL_NEON_VEC_H */
