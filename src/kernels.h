// SPDX-License-Identifier: MIT
/*
 * kernels.h - the internal microkernel interface shared by every ISA.
 *
 * The drivers (src/loss_*.c, on the section walk of section.c) call one *row microkernel*
 * per contiguous run of elements inside a box row. Microkernels know nothing about
 * shapes, boxes, label types, ignore_index or reductions: the driver resolves all of those into
 * the row structs below. Every ISA fills one sl_kernels table (the fields of struct sl_kernels):
 * the scalar reference in src/scalar/ (table.c), the SIMD ISAs from the generic sources
 * (src/generic/, table.h) built in src/avx2/, src/avx512/ and src/neon/. dispatch.c picks the
 * best table the CPU can run. Names say loss and ISA: sl_bce_prob__avx2, sl_ce__scalar.
 *
 * Shape legend: N, C, H, W as in sectionloss.h.
 *
 * Contract for every kernel:
 *   - reads exactly len elements of each non-NULL per-element input and writes exactly len
 *     elements of each non-NULL output (CE: len pixels x C classes); never past the end;
 *   - pointers carry no alignment guarantee beyond that of float;
 *   - unselected elements (mask byte 0, CE class < 0) get 0 in loss and grad and are never
 *     checked or allowed to leak NaN into the sum (blend, never multiply by 0);
 *   - returns the double-precision sum over selected elements of the weighted loss; per-row
 *     results must not depend on thread count or call history (the driver sums rows in order);
 *   - allocates nothing, locks nothing, prints nothing, leaves MXCSR/FPCR alone.
 */
#ifndef SL_KERNELS_H
#define SL_KERNELS_H

#include <stdint.h>

#include "sectionloss.h"

/* One row of BCE work: len consecutive elements of one (n, c, y) row.
 * Element types: x, y, w and grad hold elements of type xt, yt, wt and gt (float32 or 2-byte,
 * 0 = float32), read and written through the typed edges as sl_ce_row's below.
 * input:  x (probabilities or logits), y (targets), w (weights or NULL = 1),
 *         mask (bytes, nonzero = selected, or NULL = all selected),
 *         gmap (upstream gradient per element, reduction NONE) or NULL (use gscale)
 * output: loss (per-element weighted loss, NONE) or NULL; grad (d loss / d x) or NULL */
typedef struct sl_bce_row {
  const void *x;
  const void *y;
  const void *w;
  const uint8_t *mask;
  const float *gmap;
  float *loss;
  void *grad;
  sl_dtype xt, yt, wt, gt; /* element types of x, y, w and grad */
  double gscale;           /* upstream gradient when gmap is NULL: grad_scale / normaliser (MEAN) */
  float pos_weight;  /* logits only: pos_weight of this row's channel (1 without pos_weight) */
  float focal_alpha; /* sigmoid focal only: alpha <= 1 (< 0: no alpha weighting) */
  float focal_gamma; /* sigmoid focal only: gamma >= 0, finite */
  int64_t len;
  int stream; /* 1: gradient and loss map written with non-temporal stores (beyond the caches) */
} sl_bce_row;

/* BCE row kernel: returns sum(w * l) over selected elements.
 * sl_bce_prob__*: sets *domain_error = 1 when a selected x or y is outside [0, 1] or NaN
 * (otherwise leaves it alone). sl_bce_logits__* never touches domain_error. */
typedef double sl_bce_kernel(const sl_bce_row *r, int *domain_error);
typedef sl_bce_kernel *sl_bce_fn;

/* BCE with logits: below this |x| the gradient is formed from tanh(|x| / 2) via expm1 (the
 * difference of two sigmoids near 1/2, from a rounded exp(-|x|), has a relative error of about
 * 1.1e-16 / |x|), at and above it from the sigmoids (src/scalar/bce.c). Every ISA whose gradient
 * is computed in double uses the same switch; 2^-10 keeps that error below 1.2e-13 and the
 * branch rare for ordinary logits. (NEON's float gradient needs its own, larger one.) */
#define SL_LOGITS_NEAR0 0x1p-10

/* One run of CE work: len consecutive pixels (n, y, x0 .. x0+len) across all C classes.
 * Element types: x, q, pw and grad hold elements of type xt, qt, pwt and gt (float32 or 2-byte:
 * sl_dtype, 0 = float32), read and written through the typed edges (sl_elem_get / _put here,
 * generic/common.h's v_load_t and friends in the SIMD kernels): the kernels convert as they
 * copy a segment in and out, never through a float copy of the tensor.
 * input:  x   logits; class c of pixel i at element c * cstride + i
 *         cls target class in [0, C) per pixel, or < 0: pixel not counted (outside the mask,
 *             or ignore_index) -> loss 0, grad 0 for every class, logits not read
 *         cw  class weights [C] or NULL (= 1)
 *         gmap upstream gradient per pixel (NONE) or NULL (use gscale)
 * output: loss per pixel (NONE) or NULL; grad with the layout of x, or NULL; grad may be x
 *         itself (the gradient written over the logits: each pixel's logits are read before
 *         its gradient is written)
 * Per counted pixel with label t, logp = log_softmax(x[:, i]), e = smoothing, W = cw_sum:
 *   loss_i = (1 - e) * w_t * (-logp_t) + (e / C) * sum_c (-w_c * logp_c)
 *   grad_c = g_i * (p_c * ((1 - e) * w_t + (e / C) * W) - (1 - e) * w_t * [c == t] - (e / C) * w_c)
 * both times the pixel weight pw_i (NULL = 1). The softmax focal kernels (e = 0) multiply the
 * loss by pw_i q^gamma and g_i by pw_i F, q = 1 - p_t, F = q^gamma + gamma q^(gamma-1) p_t
 * (-logp_t) (src/scalar/ce.c).
 */
typedef struct sl_ce_row {
  const void *x;
  const int32_t *cls; /* ce_prob: 0 (counted) or < 0 (not counted) per pixel */
  const void *q;      /* ce_prob only: class-probability targets, the layout of x (NULL else) */
  const float *cw;
  const void *pw; /* pixel weights per pixel (multiplying w_t, loss and gradient) or NULL */
  const float *gmap;
  float *loss;
  void *grad;
  sl_dtype xt, qt, pwt, gt; /* element types of x, q, pw and grad */
  double gscale;
  double cw_sum;   /* sum of class weights (C when cw is NULL) */
  float smoothing; /* label smoothing e in [0, 1] */
  float gamma;     /* softmax focal only: gamma >= 0 (the CE kernels ignore it) */
  int64_t cstride; /* H * W */
  int64_t classes; /* C */
  int64_t len;
  int stream; /* 1: gradient and loss map written with non-temporal stores (beyond the caches) */
  void *ws;   /* the SIMD kernels' scratch: SL_WS_KERNEL_BYTES, 64-byte aligned, this thread's
                 alone (sl_workspace(SL_WS_KERNEL, ...)); the scalar kernels take none */
} sl_ce_row;

/* ce_prob (class-probability targets q, src/scalar/ce_prob.c): per counted pixel, with
 * a_c = w_c ((1 - e) q_c + e / C) and Q = sum_c a_c,
 *   loss_i = pw_i sum_c a_c (-logp_c),   grad_c = g_i pw_i (p_c Q - a_c)
 * (cw_sum and gamma unused). */
typedef double sl_ce_kernel(const sl_ce_row *r);
typedef sl_ce_kernel *sl_ce_fn;

/* The SIMD kernels' scratch over the classes (generic/ce.h, generic/dice.h): SL_CE_SCR floats
 * hold the class planes of a segment of pixels (planes SL_CE_PAD floats apart), followed by
 * per-pixel arrays; SL_WS_KERNEL_BYTES in all (checked at compile time there). With more than
 * SL_CE_VEC_CMAX(lanes) classes not even one vector of pixels fits, and a run takes the
 * reference kernel (the class limit of the vector path: 1024 on AVX-512, 1365 on AVX2, 1638 on
 * NEON). */
enum { SL_CE_SCR = 32768, SL_CE_PAD = 16, SL_WS_KERNEL_BYTES = 144 << 10 };
#define SL_CE_VEC_CMAX(lanes) (SL_CE_SCR / ((lanes) + SL_CE_PAD))

/* ---- Dice / Tversky (formulas: src/scalar/dice.c, driver: src/loss_dice.c) ----------------
 * One row of sl_dice work: len consecutive elements of one (n, c, y) row.
 * input:  x (probabilities, or logits when logits), y (targets), mask (or NULL = all selected)
 * sums pass:     adds to sums[0..3) the sums over the selected elements of p t (|p - t| with
 *                l1), p and t (p = x, or sigmoid(x)), in double (a NaN p or t reaches the sums)
 * gradient pass: grad[i] = (a + b h_i) [* p_i (1 - p_i) with logits] where selected, else 0 */
typedef struct sl_dice_row {
  const void *x;
  const void *y;
  const uint8_t *mask;
  void *grad;
  sl_dtype xt, yt, gt; /* element types of x, y and grad (as sl_bce_row's) */
  double a, b;         /* gradient pass: d loss / d p_i = a + b h_i */
  int logits;          /* 1: p = sigmoid(x) */
  int l1;              /* 0: sums[0] += p t, h_i = t_i; 1 (smp 0.5+'s L1 intersection): sums[0] +=
                          |p - t|, h_i = d/dp (p + t - |p - t|) / 2 = [p < t] + [p == t] / 2 */
  int64_t len;
} sl_dice_row;
typedef void sl_dice_sums_kernel(const sl_dice_row *r, double sums[3]);
typedef sl_dice_sums_kernel *sl_dice_sums_fn;
typedef void sl_dice_grad_kernel(const sl_dice_row *r);
typedef sl_dice_grad_kernel *sl_dice_grad_fn;

/* One run of sl_dice_multiclass work: len consecutive pixels (n, y, x0 .. x0+len) across all C
 * classes (layout as sl_ce_row), p = softmax over the C classes of each counted pixel.
 * input:  x logits (class c of pixel i at x[c * cstride + i]), cls (class per pixel in [0, C),
 *         or < 0: not counted: its logits are not read, its gradient is 0)
 * sums pass (grad NULL): adds to sums[3c + 0..3) the sums over the counted pixels of
 *         p_c [cls == c], p_c and [cls == c], in double
 * gradient pass (grad given): with G_k = ab[2k] + ab[2k + 1] [cls == k],
 *         grad_c = p_c (G_c - sum_k p_k G_k) */
typedef struct sl_dice_mc_row {
  const void *x;
  const int32_t *cls;
  void *grad;
  sl_dtype xt, gt;  /* element types of x and grad (as sl_ce_row's) */
  const double *ab; /* gradient pass: 2 C doubles */
  double *sums;     /* sums pass: 3 C doubles (added to) */
  int64_t cstride;  /* H * W */
  int64_t classes;  /* C */
  int64_t len;
  void *ws; /* the SIMD kernels' scratch, as sl_ce_row.ws */
} sl_dice_mc_row;
typedef void sl_dice_mc_kernel(const sl_dice_mc_row *r);
typedef sl_dice_mc_kernel *sl_dice_mc_fn;

/* ---- element types (sl_dtype) -------------------------------------------------------------
 * The vector layer's 2-byte edges as whole-array kernels: the scalar ones are the reference
 * kernels' sl_elem_get / sl_elem_put (above), the SIMD ones give tests every ISA's edges
 * (v_load_h, v_store_h, ... through generic/convert.h) over all bit patterns.
 * sl_cvt_in:  dst[i] = src[i] as float, for i < n (src: n 2-byte elements of type t, bf16 or
 *             f16; exact).
 * sl_cvt_out: dst[i] = src[i] rounded to type t (nearest, ties to even; NaN stays a quiet NaN,
 *             overflow to infinity), for i < n; stream: non-temporal stores where aligned (the
 *             caller fences). Neither reads or writes past n elements. */
typedef void sl_cvt_in_kernel(float *dst, const void *src, int64_t n, sl_dtype t);
typedef sl_cvt_in_kernel *sl_cvt_in_fn;
typedef void sl_cvt_out_kernel(void *dst, const float *src, int64_t n, sl_dtype t, int stream);
typedef sl_cvt_out_kernel *sl_cvt_out_fn;

/* One field per row kernel of the registry (src/losses.def): bce_prob, bce_logits,
 * sigmoid_focal (formulas: src/scalar/bce.c), ce, softmax_focal (src/scalar/ce.c), dice_sums,
 * dice_grad, dice_mc (sums or gradient pass; src/scalar/dice.c). */
typedef struct sl_kernels {
  sl_isa isa;
#define SL_KERNEL(field, type) sl_##type##_fn field;
#include "losses.def"
} sl_kernels;

/* Per-ISA tables: src/scalar/table.c, and generic/table.h compiled by src/<isa>/kernels.c for
 * the SIMD ISAs, naming that ISA's microkernels (sl_ce__avx2 and the like). Only the tables of the
 * ISAs in this build exist: SL_BUILD_AVX2 on x86-64, SL_BUILD_NEON on AArch64 and in the SIMDe test
 * build (SL_NEON_SIMDE). */
extern const sl_kernels sl_kernels_scalar;
#define SL_KERNEL(field, type) sl_##type##_kernel sl_##field##__scalar;
#include "losses.def"

/* Element i of a tensor of element type t (float32, bf16 or f16): its address, its value as a
 * float (exact), and a float stored rounded to t (the scalar conversions) */
static inline const void *sl_elem_at(const void *p, int64_t i, sl_dtype t) {
  return (const char *)p + i * (t == SL_DTYPE_F32 ? 4 : 2);
}
static inline void *sl_elem_at_w(void *p, int64_t i, sl_dtype t) {
  return (char *)p + i * (t == SL_DTYPE_F32 ? 4 : 2);
}
static inline float sl_elem_get(const void *p, int64_t i, sl_dtype t) {
  float f;
  if (t == SL_DTYPE_F32)
    return ((const float *)p)[i];
  sl_cvt_in__scalar(&f, sl_elem_at(p, i, t), 1, t);
  return f;
}
static inline void sl_elem_put(void *p, int64_t i, float v, sl_dtype t) {
  if (t == SL_DTYPE_F32)
    ((float *)p)[i] = v;
  else
    sl_cvt_out__scalar(sl_elem_at_w(p, i, t), &v, 1, t, 0);
}
/* A CE row's logit of class c at pixel i, as a double (the reference kernels) */
static inline double sl_ce_x(const sl_ce_row *r, int64_t c, int64_t i) {
  return (double)sl_elem_get(r->x, c * r->cstride + i, r->xt);
}
#if defined(SL_BUILD_AVX2)
extern const sl_kernels sl_kernels_avx2;
#endif
#if defined(SL_BUILD_NEON)
extern const sl_kernels sl_kernels_neon;
#endif
#if defined(SL_BUILD_AVX512)
extern const sl_kernels sl_kernels_avx512;
/* The AVX-512 kernels with AVX512_BF16's bfloat16 rounding (VCVTNEPS2BF16 in every bf16
 * store: src/avx512/kernels_bf16.c), the same results bit for bit; dispatch.c gives it for
 * SL_ISA_AVX512 when the CPU has AVX512_BF16. */
extern const sl_kernels sl_kernels_avx512_bf16;
#endif

/* The active table (dispatch.c): filled once, thread-safely, at first use. */
const sl_kernels *sl_kernels_active(void);
/* Makes k the active table (not exported from the shared library): sl-bench's pattern floor
 * (bench/pattern_*.c, generic/table.h's SL_PATTERN); sl_isa_set() restores a real one. */
void sl__kernels_use(const sl_kernels *k);
/* 0: SL_ISA_AVX512 means the portable table sl_kernels_avx512 even where the CPU has AVX512_BF16,
 * from the next choice of the table on (sl_isa_set, or the first use); 1 (the default): the
 * detected one. Not exported: the tests' view of a CPU without AVX512_BF16 (tests/test_dtype.c). */
void sl__avx512_bf16_allow(int allow);

/* CPU feature detection (cpu_x86.c, cpu_arm.c; each returns 0 for the ISAs of the other
 * architecture): 1 when the CPU and OS can run that ISA's kernels. Called once by dispatch.c. */
int sl_cpu_has_avx2_fma(void);    /* AVX2, FMA, F16C; XCR0 & 0x6 == 0x6 */
int sl_cpu_has_avx512(void);      /* AVX-512 F+BW+DQ+VL, AVX2, FMA; XCR0 & 0xE6 == 0xE6 */
int sl_cpu_has_avx512_bf16(void); /* sl_cpu_has_avx512 and AVX512_BF16 (CPUID.7.1:EAX bit 5) */
int sl_cpu_has_neon(void);

#endif /* SL_KERNELS_H */
