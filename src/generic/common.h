// SPDX-License-Identifier: MIT
/*
 * generic/common.h - what every generic kernel source shares: the kernel names (SL_FN), the
 * llvm-mca region markers and the focal powers. Needs the ISA's vector layer (<isa>/vec.h)
 * included before it, as every generic header does; otherwise self-contained.
 */
#ifndef SL_GENERIC_COMMON_H
#define SL_GENERIC_COMMON_H

#include <math.h>

/* sl_<loss>__<suffix>: the kernel of this ISA (SL_SUFFIX from vec.h) */
#define SL_CAT_(a, b) a##__##b
#define SL_CAT(a, b)  SL_CAT_(a, b)
#define SL_FN(name)   SL_CAT(name, SL_SUFFIX)

/* This ISA's kernels, one per SL_KERNEL line of the registry src/losses.def (function types:
 * src/kernels.h; definitions: generic/bce.h, ce.h, dice.h) */
#define SL_KERNEL(field, type) sl_##type##_kernel SL_FN(sl_##field);
#include "losses.def"

/* llvm-mca region markers (make mca builds with SL_MCA; nothing otherwise) */
#if defined(SL_MCA) /* '#' starts a line comment for llvm-mca on x86 and AArch64 alike */
#define SL_MCA_BEGIN(name) __asm__ volatile("# LLVM-MCA-BEGIN " name)
#define SL_MCA_END(name)   __asm__ volatile("# LLVM-MCA-END " name)
#else
#define SL_MCA_BEGIN(name) (void)0
#define SL_MCA_END(name)   (void)0
#endif

/* ---- typed element edges: element i of a tensor of element type t (float32, or a 2-byte type
 * through the vector layer's v_load_h and friends: exact in, rounded to nearest even out); the
 * CE-family rows' x, q, pw and grad (src/kernels.h). One branch on t per vector, the same for
 * every vector of a row (predicted). v_aligned_t: vector-aligned for v_stream_t. */
SL_V vf v_load_t(const void *p, int64_t i, sl_dtype t) {
  return t == SL_DTYPE_F32 ? v_load((const float *)p + i) : v_load_h((const uint16_t *)p + i, t);
}
SL_V vf v_loadn_t(const void *p, int64_t i, int64_t n, sl_dtype t) {
  return t == SL_DTYPE_F32 ? v_loadn((const float *)p + i, n)
                           : v_loadn_h((const uint16_t *)p + i, n, t);
}
/* the first n (<= SL_W) lanes: all of them (a plain load) when n is SL_W */
SL_V vf v_loadk_t(const void *p, int64_t i, int64_t n, sl_dtype t) {
  return n == SL_W ? v_load_t(p, i, t) : v_loadn_t(p, i, n, t);
}
SL_V void v_store_t(void *p, int64_t i, vf v, sl_dtype t) {
  if (t == SL_DTYPE_F32)
    v_store((float *)p + i, v);
  else
    v_store_h((uint16_t *)p + i, v, t);
}
SL_V void v_storen_t(void *p, int64_t i, vf v, int64_t n, sl_dtype t) {
  if (t == SL_DTYPE_F32)
    v_storen((float *)p + i, v, n);
  else
    v_storen_h((uint16_t *)p + i, v, n, t);
}
SL_V int v_aligned_t(const void *p, int64_t i, sl_dtype t) {
  return t == SL_DTYPE_F32 ? v_aligned((const float *)p + i) : v_aligned_h((const uint16_t *)p + i);
}
SL_V void v_stream_t(void *p, int64_t i, vf v, sl_dtype t) {
  if (t == SL_DTYPE_F32)
    v_stream((float *)p + i, v);
  else
    v_stream_h((uint16_t *)p + i, v, t);
}

/* An output block of n elements at element i of p, of type t (all SL_W when !tail: gradient,
 * NONE loss map; bce.h, ce.h): streamed
 * (non-temporal) when the driver asks (stream), the block is whole and vector-aligned and no lane
 * goes to the reference (which writes its lane after); otherwise as STN. */
SL_V void sl_store_out(int stream, void *p, int64_t i, sl_dtype t, vf v, int64_t n, int tail,
                       vm hard) {
  if (!tail && stream && !m_any(hard) && v_aligned_t(p, i, t))
    v_stream_t(p, i, v, t);
  else if (tail)
    v_storen_t(p, i, v, n, t);
  else
    v_store_t(p, i, v, t);
}

/* The focal powers of q > 0 (double lanes; both focal losses: generic/bce.h, generic/ce.h): *qm1 =
 * q^(gamma - 1), *qg = q^gamma (gamma 0: 0 and 1). gamma an integer in [1, 8] (gamma 2 by far the
 * most common): products, each rounded once. Any other gamma: pow per lane in double, q and the
 * result carried as float pairs hi + lo (48 bits, the vector layer has no double lane store); lanes
 * whose q^gamma is below 2^-100 (its pair would lose bits, a subnormal lo) are returned in *hard
 * for the reference. */
SL_V void focal_pow(vd q, double gam, vd *qm1, vd *qg, vm *hard) {
  if (gam == 0.0) { /* q^0 = 1; q^(gamma-1) only ever multiplies gamma: 0 */
    *qm1 = d_zero();
    *qg = d_set1(1.0);
    return;
  }
  if (gam <= 8.0 && gam == (double)(int)gam) {
    vd a = d_set1(1.0);
    for (int k = 1; k < (int)gam; k++)
      a = d_mul(a, q);
    *qm1 = a;
    *qg = d_mul(a, q);
    return;
  }
  float hi[SL_W], lo[SL_W];
  vf h = d_to_f(q);
  v_store(hi, h);
  v_store(lo, d_to_f(d_sub(q, d_from(h))));
  for (int l = 0; l < SL_W; l++) {
    double v = pow((double)hi[l] + (double)lo[l], gam);
    hi[l] = (float)v;
    lo[l] = (float)(v - (double)hi[l]);
  }
  vf gh = v_load(hi);
  *qg = d_add(d_from(gh), d_from(v_load(lo)));
  *qm1 = d_div(*qg, q);
  *hard = m_or(*hard, v_nge(gh, v_set1(0x1p-100f)));
}

#endif /* SL_GENERIC_COMMON_H */
