// SPDX-License-Identifier: MIT
/*
 * neon/neon.h - the one include of NEON intrinsics for the files in src/neon/.
 *
 * On AArch64: <arm_neon.h>. With SL_NEON_SIMDE (the x86 test build, make NEON_SIMDE=1): SIMDe's
 * portable implementation under the native names, so the same source compiles and runs on x86.
 * The kernels use AArch64 (A64) intrinsics (vdivq_f32, vmaxvq_u32, vrndnq_f32, float64x2_t):
 * 32-bit ARM NEON (ARMv7) is not built by this library; there the scalar kernels run.
 *
 * SIMDe 0.7.4 differs from the hardware in two ways that matter here, fixed below for the test
 * build only:
 *   - vfmaq_f32 / vfmsq_f32 without x86 FMA become mul + add (two roundings); AArch64's
 *     FMLA / FMLS round once. They are redirected to fmaf per lane, which rounds once, so the
 *     SIMDe build computes bit for bit what the hardware computes;
 *   - vdivq_f32 (A64 only) is missing: per-lane IEEE division, as FDIV does;
 *   - the same for the double forms vfmaq_f64 and vdivq_f64.
 */
#ifndef SL_NEON_NEON_H
#define SL_NEON_NEON_H

#if defined(SL_NEON_SIMDE)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <math.h>
#include <simde/arm/neon.h>

static inline float32x4_t sl_simde_vfmaq_f32(float32x4_t a, float32x4_t b, float32x4_t c) {
  float av[4], bv[4], cv[4];
  vst1q_f32(av, a);
  vst1q_f32(bv, b);
  vst1q_f32(cv, c);
  for (int i = 0; i < 4; i++)
    av[i] = fmaf(bv[i], cv[i], av[i]);
  return vld1q_f32(av);
}
static inline float32x4_t sl_simde_vfmsq_f32(float32x4_t a, float32x4_t b, float32x4_t c) {
  return sl_simde_vfmaq_f32(a, vnegq_f32(b), c);
}
static inline float32x4_t sl_simde_vdivq_f32(float32x4_t a, float32x4_t b) {
  float av[4], bv[4];
  vst1q_f32(av, a);
  vst1q_f32(bv, b);
  for (int i = 0; i < 4; i++)
    av[i] = av[i] / bv[i];
  return vld1q_f32(av);
}
static inline float64x2_t sl_simde_vfmaq_f64(float64x2_t a, float64x2_t b, float64x2_t c) {
  double av[2], bv[2], cv[2];
  vst1q_f64(av, a);
  vst1q_f64(bv, b);
  vst1q_f64(cv, c);
  for (int i = 0; i < 2; i++)
    av[i] = fma(bv[i], cv[i], av[i]);
  return vld1q_f64(av);
}
static inline float64x2_t sl_simde_vdivq_f64(float64x2_t a, float64x2_t b) {
  double av[2], bv[2];
  vst1q_f64(av, a);
  vst1q_f64(bv, b);
  for (int i = 0; i < 2; i++)
    av[i] = av[i] / bv[i];
  return vld1q_f64(av);
}
#undef vfmaq_f32
#undef vfmsq_f32
#undef vdivq_f32
#undef vfmaq_f64
#undef vdivq_f64
#define vfmaq_f32(a, b, c) sl_simde_vfmaq_f32((a), (b), (c))
#define vfmsq_f32(a, b, c) sl_simde_vfmsq_f32((a), (b), (c))
#define vdivq_f32(a, b)    sl_simde_vdivq_f32((a), (b))
#define vfmaq_f64(a, b, c) sl_simde_vfmaq_f64((a), (b), (c))
#define vdivq_f64(a, b)    sl_simde_vdivq_f64((a), (b))
#elif defined(__aarch64__)
#include <arm_neon.h>
#else
#error "src/neon needs AArch64 (or SL_NEON_SIMDE for the x86 test build)"
#endif

#define SL_INLINE static inline __attribute__((always_inline))

#endif /* SL_NEON_NEON_H */
