// SPDX-License-Identifier: MIT
/*
 * fuzz_common.h - the libFuzzer engine shared by the three targets (fuzz_bce.c, fuzz_bce_logits.c,
 * fuzz_ce.c); each defines FUZZ_OP (0 sl_bce, 1 sl_bce_logits, 2 sl_ce) and includes this file.
 *
 * The input bytes become one call: a shape N x C x H x W (small, zero, negative, or huge with
 * overflowing products), a section (NULL region, 0 / 1 / N / wrong number of boxes, boxes valid,
 * empty, inverted, negative or outside the image, a mask with 1, C or a wrong number of channels),
 * options (every field, invalid enums and out-of-range values included), outputs present or not,
 * sometimes aliased with an input, and data (probabilities, logits, targets, weights, labels)
 * drawn from ordinary values and specials: NaN, +-inf, +-0, subnormals, 1e30, 1 - 2^-24, labels
 * outside [0, C).
 * Buffers are allocated (with their exact size, so AddressSanitizer sees any overrun) only when
 * the shape is valid and small; otherwise the call is made with tiny buffers or NULL and the
 * fuzzer makes sure an argument error is due, so the library never legitimately reads more.
 *
 * Checks (any failure aborts, which libFuzzer reports as a crash with the input saved):
 *   1. no crash, no ASan / UBSan report (the build flags);
 *   2. the status agrees with an independent validity check written here from the contract in
 *      sectionloss.h: on an argument error, one of the argument errors this input has; otherwise
 *      SL_ERR_DOMAIN (sl_bce) exactly when a selected probability or target is outside [0, 1] or
 *      NaN, SL_ERR_LABEL (sl_ce) exactly when a selected label is outside [0, C) and not
 *      ignore_index, else SL_OK;
 *   3. on an argument or label error, loss, grad and stats are untouched (canary bytes); on a
 *      domain error the scalar loss and the stats are untouched; every other available ISA gives
 *      the same status with the same outputs untouched;
 *   4. on success: stats.count is the independently counted selection; grad and a NONE loss map
 *      are exactly 0 outside the section (and at ignored pixels);
 *   5. on success every available SIMD ISA (sl_isa_set, restored afterwards; AVX2 in the x86
 *      build, NEON in the SIMDe build, any later ISA) gives the scalar result within the accuracy
 *      contract of tests/contract.h (docs/accuracy.md), nothing more lenient: each element within
 *      4 ulp(M), M = max(|scalar|, the magnitudes of its terms), NaN for NaN and the same
 *      infinity for an infinity; exactly 0 outside the section; reduced loss and stats.loss_sum
 *      within 1e-6 of the sum of |per-element loss| (in double; / the MEAN normaliser),
 *      plus the float spacing at the scalar value for the float loss; count exact, CE's
 *      normaliser within FZ_NORM_REL of the sum of its |terms| (MEAN's value unchecked where
 *      the normaliser cancels to within that of 0).
 * fuzz_ce.c also covers sl_softmax_focal and options.pixel_weight: two bytes decoded after all
 * the others (so the committed corpus keeps its meaning) choose the entry point and focal_gamma
 * (invalid ones too: SL_ERR_FOCAL; label_smoothing != 0: SL_ERR_OPTION) and an N x H x W pixel
 * weight map (data as class weights); the normaliser is then the sum of pw w_t, and softmax
 * focal's bounds are ct_focal_ulp(gamma) per element and CT_SUM_REL ct_focal_sum_rel(gamma)
 * for the sums (tests/contract.h).
 * Online hard example mining: two bytes decoded after every other field (so the fields before
 * keep their meaning; an input that ends before them decodes mining off, one with unused
 * trailing bytes now decodes mining from them) choose ohem_thresh and ohem_min_kept: mostly off
 * (the default -1 and other values below 0), valid (thresholds 0, -0, 1 and binding ones; min_kept
 * 0, 1, small, or huge enough that min_kept x N overflows int64), or invalid (NaN or above 1,
 * min_kept < 0, min_kept without mining), which adds SL_ERR_OHEM to the allowed statuses, as valid
 * mining does in the BCE targets. On success with valid mining (sl_ce, sl_softmax_focal) the
 * harness computes the sampler's selection in double (fz_ohem_select: K' = min(min_kept N, n - 1),
 * threshold max(thresh, the (K' + 1)-th smallest p_t), kept when p_t is below it, a NaN p_t
 * always). When it is decided (no counted p_t within rounding reach of the threshold,
 * fz_ohem_select), the kept pixels narrow the section of checks 4 and 5 (counts, normaliser, zeros,
 * every ISA against scalar), and on every ISA the mined call equals bit for bit the same call
 * without mining whose mask is the kept set (fz_check_masked: loss, grad, stats, box_stats).
 * Undecided, only the checks that do not depend on the selection remain: the status on every ISA,
 * the zeros outside the region, untouched outputs.
 * Element types (bfloat16, float16): four bytes decoded after every other field (an input that
 * ends before them decodes float32 everywhere and makes no second call; one with unused trailing
 * bytes now decodes them) choose input_dtype, target_dtype, weight_dtype (fz_dtype: mostly
 * bfloat16 and float16, float32, sometimes not an sl_dtype: SL_ERR_DTYPE), grad_f32 (0, 1, or 2 /
 * -1: SL_ERR_DTYPE) and an in-place gradient (grad == the input; SL_ERR_ALIAS for sl_bce, and
 * SL_ERR_DTYPE with grad_f32 over a 2-byte input; so is the float32 call's own grad == x of
 * sl_bce, mapped onto the 2-byte input). The first byte outside [176, 232) (fz_dt_on), or no
 * options: no second call.
 * Otherwise the decoded data are first rounded to those types (fz_half_out: nearest even, NaN
 * stays NaN, overflow to inf; the harness's own conversion, not the library's), so that checks
 * 1-5 run on the float32 call over their exact values; then fz_dt_check makes the call with the
 * 2-byte tensors (exactly sized buffers: x, targets, weights / pixel weights, and the gradient
 * in 2 bytes unless grad_f32), its outputs aliased where the float32 call's are, and checks on
 * every ISA, against the float32 call on the same ISA: an argument error from this input's
 * (both calls' errors) with every output untouched and an in-place input unchanged; else the
 * same status (untouched outputs as above on an error), and on success the NONE loss map and the
 * counts bit for bit, the gradient the float32 one rounded to its type (nearest even; NaN for
 * NaN), and the sums (loss, stats.loss_sum, box_stats' loss_sum, CE's normalisers, whose double
 * terms a streamed CE call groups by the gradient's lines, which depend on its element size)
 * within FZ_DT_SUM: 4 n 2^-53 of the float32
 * call's sum of |terms| (the float loss: plus its final rounding), far below checks 5's.
 * Shape legend N, C, H, W as in sectionloss.h.
 */
#ifndef SL_FUZZ_COMMON_H
#define SL_FUZZ_COMMON_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../contract.h"
#include "fuzz_dtype.h"
#include "sectionloss.h"

#ifndef FUZZ_OP
#error "define FUZZ_OP (0 sl_bce, 1 sl_bce_logits, 2 sl_ce) before including fuzz_common.h"
#endif
/* FUZZ_OP is a number for the preprocessor's tests: that op's t_op (tests/ops.h). */
_Static_assert(T_BCE_PROB == 0 && T_BCE_LOGITS == 1 && T_CE == 2, "FUZZ_OP: t_op's numbers");
/* FUZZ_SFOCAL 1 (with FUZZ_OP 1): sl_sigmoid_focal instead of sl_bce_logits, its focal_gamma and
 * focal_alpha decoded after every other field (fuzz_sigmoid_focal.c) */
#ifndef FUZZ_SFOCAL
#define FUZZ_SFOCAL 0
#endif

enum { FZ_MAX_ELEMS = 4096, FZ_MAX_BOXES = 64 };

/* ---- input bytes -------------------------------------------------------------------------- */

typedef struct fz_in {
  const uint8_t *p;
  size_t n, at;
} fz_in;

static uint8_t fz_u8(fz_in *in) {
  return in->at < in->n ? in->p[in->at++] : 0;
}

static uint32_t fz_u32(fz_in *in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++)
    v = v << 8 | fz_u8(in);
  return v;
}

static int64_t fz_dim(fz_in *in) {
  static const int64_t huge[] = {65536,
                                 (int64_t)1 << 31,
                                 ((int64_t)1 << 31) - 1,
                                 (int64_t)1 << 32,
                                 3037000500LL, /* ~ sqrt(2^63) */
                                 (int64_t)1 << 40,
                                 (int64_t)1 << 61,
                                 INT64_MAX,
                                 INT64_MAX / 4 + 1,
                                 1000003};
  uint8_t m = fz_u8(in), v = fz_u8(in);
  switch (m % 10) {
  case 0:
  case 1:
  case 2:
  case 3:
  case 4:
    return 1 + v % 6;
  case 5: /* v in [200, 240): rows of 64..142 elements (the driver's 64-byte mask blocks, long
           * SIMD loops); a range no committed regression uses, so their decoding is unchanged */
    return v >= 200 && v < 240 ? 64 + (v - 200) * 2 : 1 + v % 40;
  case 6:
    return v % 3 == 0 ? 0 : v % 3 == 1 ? -1 - v : INT64_MIN;
  case 7:
    return huge[v % (sizeof huge / sizeof huge[0])];
  default:
    return 1 + v % 3;
  }
}

/* A float from the input: mostly ordinary, often special. kind 0: probability, 1: logit,
 * 2: target, 3: weight / scale. */
static float fz_float(fz_in *in, int kind) {
  static const float special[] = {0.0f,
                                  -0.0f,
                                  1.0f,
                                  NAN,
                                  INFINITY,
                                  -INFINITY,
                                  1e30f,
                                  -1e30f,
                                  FLT_MIN,
                                  1e-40f /* subnormal */,
                                  -1e-40f,
                                  FLT_TRUE_MIN,
                                  1.0f - 0x1p-24f,
                                  0x1p-24f,
                                  0.5f,
                                  100.0f,
                                  -100.0f,
                                  88.7f,
                                  -103.9f,
                                  2.0f,
                                  -1.0f,
                                  FLT_MAX,
                                  1e-7f,
                                  1.0f + 0x1p-23f};
  uint8_t m = fz_u8(in);
  uint32_t r = fz_u32(in);
  if (m < 40) {
    float f;
    memcpy(&f, &r, sizeof f);
    return f; /* any bit pattern */
  }
  if (m < 100)
    return special[r % (sizeof special / sizeof special[0])];
  float u = (float)(r >> 8) * 0x1p-24f; /* [0, 1) */
  switch (kind) {
  case 0:
    return u;
  case 1:
    return (u - 0.5f) * (m < 200 ? 20.0f : 200.0f);
  case 2:
    return m < 180 ? (float)(r & 1) : u;
  default:
    return 0.25f + 2.0f * u;
  }
}

/* ---- helpers ------------------------------------------------------------------------------ */

/* The coverage build (make fuzz-coverage) writes its profile before a failed check aborts. */
#ifdef FZ_COVERAGE
int __llvm_profile_write_file(void);
#define FZ_FLUSH() ((void)__llvm_profile_write_file())
#else
#define FZ_FLUSH() ((void)0)
#endif

#define FZ_CHECK(cond, ...)                                                                        \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "fuzz check failed: %s (%s:%d): ", #cond, __FILE__, __LINE__);               \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fprintf(stderr, "\n");                                                                       \
      FZ_FLUSH();                                                                                  \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

static const uint8_t FZ_CANARY = 0xA7;

/* CE's normaliser (the sum over counted pixels of pixel weight x class weight, in double) against
 * the harness's sequential sum: within FZ_NORM_REL of the sum of the |terms| (the library adds
 * per run, then per chunk: another order, which cancelling weights such as +-1e30 expose). */
#define FZ_NORM_REL 1e-12

static int fz_untouched(const void *p, size_t bytes) {
  const uint8_t *b = p;
  for (size_t i = 0; i < bytes; i++)
    if (b[i] != FZ_CANARY)
      return 0;
  return 1;
}

/* __int128 products for the independent overflow check. */
typedef __int128 fz_i128;

typedef struct fz_case {
  sl_shape shape;
  int shape_ok; /* every dim > 0 */
  int small;    /* valid and at most FZ_MAX_ELEMS elements: buffers allocated */
  int64_t elems, pix, map;
  /* the argument errors this input has (bit per status); must_err: at least one is certain */
  uint32_t allowed;
  int must_err;
} fz_case;

#define FZ_BIT(s) (1u << (unsigned)(s))

static void fz_allow(fz_case *k, sl_status s) {
  k->allowed |= FZ_BIT(s);
  k->must_err = 1;
}

/* ---- the call ----------------------------------------------------------------------------- */

typedef struct fz_call {
  const float *x, *t;
  int focal; /* sl_ce (FUZZ_OP 2): 1 = sl_softmax_focal instead */
  const void *labels;
  sl_label_type lt;
  sl_region reg;
  const sl_region *regp;
  sl_options opt;
  const sl_options *optp;
  float *loss, *grad;
  const uint8_t *kept; /* OHEM: the expected kept pixels (N x H x W, fz_ohem_select), narrowing
                          the section; NULL = not mining, or the selection is not decided */
} fz_call;

/* The call with element types (decoded after every other field): the types as passed (maybe not
 * sl_dtype values), and the argument errors they add to the float32 call's. */
typedef struct fz_dt {
  int on; /* a second call, with these types, follows the float32 one */
  sl_dtype xt, tt, wt;
  int grad_f32, inplace; /* inplace: grad == the input (its 2-byte copy) */
  uint32_t allowed;      /* argument errors due to the types or the in-place gradient */
} fz_dt;

static sl_status fz_run(const sl_shape *s, const fz_call *c) {
#if FUZZ_OP == 0
  return sl_bce(s, c->x, c->t, c->regp, c->optp, c->loss, c->grad);
#elif FUZZ_OP == 1
  return FUZZ_SFOCAL ? sl_sigmoid_focal(s, c->x, c->t, c->regp, c->optp, c->loss, c->grad)
                     : sl_bce_logits(s, c->x, c->t, c->regp, c->optp, c->loss, c->grad);
#else
  if (c->focal)
    return sl_softmax_focal(s, c->x, c->labels, c->lt, c->regp, c->optp, c->loss, c->grad);
  return sl_ce(s, c->x, c->labels, c->lt, c->regp, c->optp, c->loss, c->grad);
#endif
}

static const char *sl_reduction_name_(sl_reduction r) {
  return r == SL_REDUCTION_MEAN ? "MEAN" : r == SL_REDUCTION_SUM ? "SUM" : "NONE";
}

static int64_t fz_label(const void *l, sl_label_type t, int64_t i) {
  if (t == SL_LABEL_I64)
    return ((const int64_t *)l)[i];
  if (t == SL_LABEL_I32)
    return ((const int32_t *)l)[i];
  return ((const uint8_t *)l)[i];
}

static int fz_in_box(const sl_box *b, int64_t y, int64_t x) {
  return x >= b->x1 && x < b->x2 && y >= b->y1 && y < b->y2;
}

/* Element (n, c, y, x) is inside the region (BCE) / pixel (n, y, x) is (CE, before labels). */
static int fz_in_region(const fz_case *k, const fz_call *c, int64_t n, int64_t ch, int64_t y,
                        int64_t x) {
  const sl_region *r = c->regp;
  if (!r)
    return 1;
  if (r->box_offsets) { /* the union of sample n's boxes */
    int in = 0;
    for (int64_t i = r->box_offsets[n]; i < r->box_offsets[n + 1] && !in; i++)
      in = fz_in_box(&r->boxes[i], y, x);
    if (!in)
      return 0;
  } else if (r->num_boxes > 0) {
    if (!fz_in_box(&r->boxes[r->num_boxes == 1 ? 0 : n], y, x))
      return 0;
  }
  if (r->mask) {
    int64_t mc = r->mask_channels, H = k->shape.h, W = k->shape.w;
    if (!r->mask[((n * mc + (mc == 1 ? 0 : ch)) * H + y) * W + x])
      return 0;
  }
  return 1;
}

/* Element (n, c, y, x) is selected (BCE) / pixel (n, y, x) is in the section (CE, before labels):
 * inside the region and, when mining, kept. */
static int fz_selected(const fz_case *k, const fz_call *c, int64_t n, int64_t ch, int64_t y,
                       int64_t x) {
  if (c->kept && !c->kept[(n * k->shape.h + y) * k->shape.w + x])
    return 0;
  return fz_in_region(k, c, n, ch, y, x);
}

/* box_stats' counts and normalisers against an independent count: the elements (BCE) or
 * counted pixels (CE) inside each box, the mask and (CE) not ignored; CE's normaliser the sum
 * of their class weights. */
static void fz_check_box_counts(const fz_case *k, const fz_call *c, const void *labels,
                                const sl_stats *bs, const double *abs_map, double *box_abs) {
  const int64_t N = k->shape.n, C = k->shape.c, H = k->shape.h, W = k->shape.w;
  for (int64_t b = 0; b < c->reg.num_boxes; b++) {
    const sl_box *bx = &c->reg.boxes[b];
    int64_t n0 = 0, n1 = N; /* the samples this box applies to */
    if (c->reg.box_offsets) {
      while (c->reg.box_offsets[n0 + 1] <= b)
        n0++;
      n1 = n0 + 1;
    } else if (c->reg.num_boxes == N && N > 1) {
      n0 = b;
      n1 = b + 1;
    }
    int64_t cnt = 0;
    double norm = 0.0, abs_norm = 0.0, abs_sum = 0.0;
    for (int64_t n = n0; n < n1; n++)
      for (int64_t y = bx->y1; y < bx->y2; y++)
        for (int64_t x = bx->x1; x < bx->x2; x++)
          for (int64_t ch = 0; ch < (FUZZ_OP == 2 ? 1 : C); ch++) {
            if (!fz_selected(k, c, n, ch, y, x))
              continue;
            int64_t p = FUZZ_OP == 2 ? (n * H + y) * W + x : ((n * C + ch) * H + y) * W + x;
            if (FUZZ_OP == 2) {
              int64_t lab = fz_label(labels, c->lt, p);
              if (lab == c->opt.ignore_index)
                continue;
              const double term = (c->opt.weight ? (double)c->opt.weight[lab] : 1.0) *
                                  (c->opt.pixel_weight ? (double)c->opt.pixel_weight[p] : 1.0);
              norm += term;
              abs_norm += fabs(term);
            } else {
              norm += 1.0;
            }
            if (abs_map)
              abs_sum += abs_map[p];
            cnt++;
          }
    if (box_abs)
      box_abs[b] = abs_sum;
    FZ_CHECK(bs[b].count == cnt, "box_stats[%lld].count %lld, want %lld", (long long)b,
             (long long)bs[b].count, (long long)cnt);
    FZ_CHECK(bs[b].normalizer == norm || (isnan(norm) && isnan(bs[b].normalizer)) ||
                 fabs(bs[b].normalizer - norm) <= FZ_NORM_REL * (abs_norm + 1.0),
             "box_stats[%lld].normalizer %.17g, want %.17g", (long long)b, bs[b].normalizer, norm);
  }
}

/* The inputs of output element i (a gradient element, or a loss-map element when map), for
 * failure messages. */
static const char *fz_describe(char *buf, size_t len, const fz_case *k, const fz_call *c, int op,
                               const void *labels, int64_t i, int map) {
  const int64_t C = k->shape.c, HW = k->shape.h * k->shape.w;
  if (op != 2) {
    snprintf(buf, len, "x %.9g, t %.9g, w %.9g, pw %.9g, gmap %.9g, grad_scale %.9g", c->x[i],
             c->t[i], c->opt.weight ? c->opt.weight[i] : 1.0f,
             c->opt.pos_weight ? c->opt.pos_weight[i / HW % C] : 1.0f,
             c->opt.grad_map ? c->opt.grad_map[i] : 0.0f, c->opt.grad_scale);
    return buf;
  }
  int64_t p = map ? i : i / (C * HW) * HW + i % HW, n = p / HW, q = p % HW;
  int at = snprintf(
      buf, len, "C %lld, label %lld, smoothing %g, gmap %.9g, grad_scale %.9g, class %lld; logits",
      (long long)C, (long long)fz_label(labels, c->lt, p), c->opt.label_smoothing,
      c->opt.grad_map ? c->opt.grad_map[p] : 0.0f, c->opt.grad_scale,
      map ? -1LL : (long long)(i / HW % C));
  for (int64_t ch = 0; ch < C && at > 0 && (size_t)at < len; ch++)
    at += snprintf(buf + at, len - (size_t)at, " %.9g", c->x[(n * C + ch) * HW + q]);
  for (int64_t ch = 0; c->opt.weight && ch < C && at > 0 && (size_t)at < len; ch++)
    at += snprintf(buf + at, len - (size_t)at, "%s%.9g", ch ? " " : "; class weights ",
                   c->opt.weight[ch]);
  return buf;
}

/* The per-element bound in ulp(M) of this input: CT_MAX_ULP, or ct_focal_ulp(gamma) for
 * the focal losses (tests/contract.h); the reduced losses' CT_SUM_REL is scaled by fz_sum_rel
 * (ct_focal_sum_rel(gamma) for the focal losses, else 1). */
static double fz_ulp_bound = CT_MAX_ULP, fz_sum_rel = 1.0;

/* Every output element of one kind (map: the NONE loss map, else the gradient) of an ISA's
 * result against scalar's, by the accuracy contract (values; else only the zeros); exactly 0
 * outside the section (sel: per map element). */
static void fz_check_outputs(const fz_case *k, const fz_call *c, int op, const void *labels,
                             const char *isa, int map, const float *got, const float *ref,
                             const double *terms, size_t n, const uint8_t *sel, sl_reduction r,
                             int values) {
  const int64_t C = k->shape.c, hw = k->shape.h * k->shape.w;
  const char *what = map ? "loss" : "grad";
  char dbuf[1024];
  for (size_t i = 0; i < n; i++) {
    int64_t mi = !map && op == 2 ? (int64_t)i / (C * hw) * hw + (int64_t)i % hw : (int64_t)i;
    if (!sel[mi])
      FZ_CHECK(got[i] == 0.0f, "%s: %s[%zu] = %g outside the section", isa, what, i, got[i]);
    if (!values)
      continue;
    FZ_CHECK(ct_elem_err(op, got[i], ref[i], terms[i], fz_ulp_bound) <= 1.0,
             "%s: %s[%zu] = %.9g, scalar %.9g, terms %.9g: %g x bound (%s, %s)", isa, what, i,
             got[i], ref[i], terms[i], ct_elem_err(op, got[i], ref[i], terms[i], fz_ulp_bound),
             sl_reduction_name_(r),
             fz_describe(dbuf, sizeof dbuf, k, c, op, labels, (int64_t)i, map));
  }
}

/* The call c again on isa, its outputs first filled with canary bytes; its status must be st
 * (scalar's). Returns the ISA's name. */
static const char *fz_run_isa(sl_isa isa, const sl_shape *s, const fz_call *c, sl_status st,
                              void *loss, size_t loss_bytes, void *grad, size_t grad_bytes,
                              void *stats, size_t stats_bytes) {
  const char *nm = sl_isa_name(isa);
  FZ_CHECK(sl_isa_set(isa) == SL_OK, "isa_set");
  memset(loss, FZ_CANARY, loss_bytes);
  memset(grad, FZ_CANARY, grad_bytes);
  memset(stats, FZ_CANARY, stats_bytes);
  if (c->opt.box_stats)
    memset(c->opt.box_stats, FZ_CANARY, FZ_MAX_BOXES * sizeof(sl_stats));
  sl_status s3 = fz_run(s, c);
  FZ_CHECK(s3 == st, "%s: status %s, scalar %s", nm, sl_status_string(s3), sl_status_string(st));
  return nm;
}

/* ---- online hard example mining: the sampler's selection, independently -------------------
 * Over the counted pixels (in the region, label in [0, C), not ignore_index), in double:
 * l = -log p_t (ct_ce_pixel's log-sum-exp form, which keeps a confident pixel's digits; p_t < T
 * <=> l > -log T), K' = min(min_kept N, n - 1) (N x min_kept in 128 bits), L = min(-log thresh,
 * the (K' + 1)-th largest l), NaN above every value; a pixel is kept when l > L or l is NaN
 * (a NaN p_t is always kept). fz_ohem_select returns whether the library, which compares the
 * float kernel's l, must select exactly these pixels: no counted l within reach of L, the reach
 * being the sum of two margins, a pixel's 2 (its contract tolerance tol_loss + ulp(l)) (every
 * ISA's float l lies within tol_loss of scalar's, which is l rounded once), that of -log thresh
 * its float ulp (its rounding), and 0 for values that float holds exactly: l = +inf (a -inf
 * target logit), l = 0 (every other class more than 745 below the max: exponentials 0 in double,
 * so in float), -log 1 = 0, -log 0 = +inf. A pixel whose inputs (label, logits' bits) are those
 * of the pixel that defines L ties with it exactly (the same float l). Also undecided: a counted
 * pixel with a +inf logit or no logit above -inf (inf - inf: whether l is NaN or +inf is the
 * kernels' arithmetic, not this formula's) or with l >= 2^127 (float's l overflows). */
typedef struct fz_ohem_px {
  double l, margin;
  int64_t p;
} fz_ohem_px;

static int fz_ohem_desc(const void *a, const void *b) { /* NaN first, then descending, then p */
  const fz_ohem_px *u = a, *v = b;
  if (isnan(u->l) != isnan(v->l))
    return isnan(v->l) - isnan(u->l);
  if (!isnan(u->l) && u->l != v->l)
    return (u->l < v->l) - (u->l > v->l);
  return (u->p > v->p) - (u->p < v->p);
}

/* Values a and b (margins ma, mb) may fall on either side of each other in float. */
static int fz_ohem_near(double a, double ma, double b, double mb) {
  return !(ma == 0.0 && mb == 0.0) && fabs(a - b) <= ma + mb;
}

/* Pixels p and q have the same label and logits (bits). */
static int fz_same_pixel(const fz_case *k, const fz_call *c, const void *labels, int64_t p,
                         int64_t q) {
  const int64_t C = k->shape.c, HW = k->shape.h * k->shape.w;
  if (fz_label(labels, c->lt, p) != fz_label(labels, c->lt, q))
    return 0;
  const float *xp = c->x + p / HW * C * HW + p % HW, *xq = c->x + q / HW * C * HW + q % HW;
  for (int64_t ch = 0; ch < C; ch++)
    if (memcmp(&xp[ch * HW], &xq[ch * HW], sizeof(float)) != 0)
      return 0;
  return 1;
}

/* The expected kept pixels (N x H x W bytes) of c's mining (options valid, labels valid);
 * returns 1 when decided (above). */
static int fz_ohem_select(const fz_case *k, const fz_call *c, const void *labels, uint8_t *kept) {
  const int64_t N = k->shape.n, C = k->shape.c, H = k->shape.h, W = k->shape.w, HW = H * W;
  fz_ohem_px *v = malloc((size_t)(k->pix > 0 ? k->pix : 1) * sizeof *v);
  int64_t n = 0;
  int decided = 1;
  memset(kept, 0, (size_t)k->pix);
  for (int64_t s = 0; s < N; s++)
    for (int64_t y = 0; y < H; y++)
      for (int64_t x = 0; x < W; x++) {
        const int64_t p = (s * H + y) * W + x, lab = fz_label(labels, c->lt, p);
        if (!fz_in_region(k, c, s, 0, y, x) || lab == c->opt.ignore_index || lab < 0 || lab >= C)
          continue;
        const float *xs = c->x + s * C * HW + y * W + x;
        double m = -INFINITY;
        for (int64_t ch = 0; ch < C; ch++) {
          if (xs[ch * HW] == INFINITY)
            decided = 0;
          m = xs[ch * HW] > m ? xs[ch * HW] : m;
        }
        if (m == -INFINITY)
          decided = 0;
        ct_ce_px px;
        ct_ce_pixel(&px, xs, HW, C, lab, NULL, (double)C, 0.0);
        const double l = px.lt;
        if (isfinite(l) && l >= 0x1p127)
          decided = 0;
        const double margin =
            !isfinite(l) || l == 0.0 ? 0.0 : 2.0 * (px.tol_loss + ct_ulp(fabs(l)));
        v[n++] = (fz_ohem_px){l, margin, p};
      }
  qsort(v, (size_t)n, sizeof *v, fz_ohem_desc);
  const double lthr = -log((double)c->opt.ohem_thresh);
  const double mthr = isinf(lthr) || lthr == 0.0 ? 0.0 : ct_ulp(fabs(lthr));
  double L = lthr, mL = mthr;
  int64_t def = -1; /* the pixel that defines L, if one does */
  if (n > 0) {
    const fz_i128 K = (fz_i128)c->opt.ohem_min_kept * N;
    const fz_ohem_px *d = &v[K < n - 1 ? (int64_t)K : n - 1];
    if (!isnan(d->l) && d->l < lthr) {
      L = d->l;
      mL = d->margin;
      def = d->p;
      if (fz_ohem_near(d->l, d->margin, lthr, mthr))
        decided = 0;
    }
  }
  for (int64_t i = 0; i < n; i++) {
    const fz_ohem_px *e = &v[i];
    kept[e->p] = (uint8_t)(isnan(e->l) || e->l > L);
    if (!isnan(e->l) && e->p != def && fz_ohem_near(e->l, e->margin, L, mL) &&
        !(def >= 0 && fz_same_pixel(k, c, labels, e->p, def)))
      decided = 0;
  }
  free(v);
  return decided;
}

/* The mining call's outputs (got_*, on isa) against the same call without mining whose mask is
 * the kept set (c->kept, inside the region's own mask), on the same ISA: equal bit for bit
 * (loss, grad, stats, box_stats). */
static void fz_check_masked(sl_isa isa, const fz_case *k, const fz_call *c, const float *got_loss,
                            size_t loss_bytes, const float *got_grad, size_t grad_bytes,
                            const sl_stats *got_stats, const sl_stats *got_box, size_t box_bytes) {
  const char *nm = sl_isa_name(isa);
  fz_call m = *c;
  m.opt.ohem_thresh = -1.0f;
  m.opt.ohem_min_kept = 0;
  m.optp = &m.opt;
  m.reg = c->regp ? c->reg : sl_region_default();
  m.reg.mask = c->kept;
  m.reg.mask_channels = 1;
  m.regp = &m.reg;
  m.kept = NULL;
  float *ml = malloc(loss_bytes), *mg = malloc(grad_bytes);
  sl_stats ms, mb[FZ_MAX_BOXES];
  memset(ml, FZ_CANARY, loss_bytes);
  memset(mg, FZ_CANARY, grad_bytes);
  memset(&ms, FZ_CANARY, sizeof ms);
  memset(mb, FZ_CANARY, sizeof mb);
  m.loss = c->loss ? ml : NULL;
  m.grad = c->grad ? mg : NULL;
  m.opt.stats = c->opt.stats ? &ms : NULL;
  m.opt.box_stats = c->opt.box_stats ? mb : NULL;
  FZ_CHECK(sl_isa_set(isa) == SL_OK, "isa_set");
  sl_status st = fz_run(&k->shape, &m);
  FZ_CHECK(st == SL_OK, "%s: the call masked by the kept pixels: status %s", nm,
           sl_status_string(st));
  for (size_t i = 0; c->loss && i < loss_bytes / sizeof(float); i++)
    FZ_CHECK(memcmp(&got_loss[i], &ml[i], sizeof(float)) == 0,
             "%s: OHEM loss[%zu] = %.9g, the masked call's %.9g", nm, i, got_loss[i], ml[i]);
  for (size_t i = 0; c->grad && i < grad_bytes / sizeof(float); i++)
    FZ_CHECK(memcmp(&got_grad[i], &mg[i], sizeof(float)) == 0,
             "%s: OHEM grad[%zu] = %.9g, the masked call's %.9g", nm, i, got_grad[i], mg[i]);
  if (c->opt.stats)
    FZ_CHECK(memcmp(got_stats, &ms, sizeof ms) == 0,
             "%s: OHEM stats (%.17g, %.17g, %lld), the masked call's (%.17g, %.17g, %lld)", nm,
             got_stats->loss_sum, got_stats->normalizer, (long long)got_stats->count, ms.loss_sum,
             ms.normalizer, (long long)ms.count);
  if (c->opt.box_stats)
    FZ_CHECK(memcmp(got_box, mb, box_bytes) == 0,
             "%s: OHEM box_stats differ from the masked call's", nm);
  free(ml);
  free(mg);
}

/* The call c with dt's element types (its tensors x, t, w / pixw copied into them; the data are
 * already the types' values), after the float32 call c (status st) passed its checks: on every
 * ISA, an argument error from this input's (c's and dt's) with every output untouched (and the
 * input under an in-place gradient unchanged); else st, with the same outputs untouched on an
 * error, and on success the float32 call's results on the same ISA: the NONE map, count and
 * gradient (rounded to its type, nearest even) exactly, the sums within FZ_DT_SUM (above). */
static void fz_dt_check(const fz_case *k, const fz_call *c, const fz_dt *dt, sl_status st,
                        const float *x, const float *t, const float *w, const float *pixw,
                        size_t ne, size_t np, float *loss_buf, size_t loss_bytes, float *grad_buf,
                        sl_stats *stats_buf, sl_stats *box_buf, double abs_sum, double abs_norm,
                        double norm, int64_t count) {
  const int op = FUZZ_OP;
  const sl_dtype gt = dt->grad_f32 == 1 || !fz_dt_half(dt->xt) ? SL_DTYPE_F32 : dt->xt;
  const size_t xsz = fz_dt_size(dt->xt), gsz = fz_dt_size(gt);
  const size_t grad_bytes = ne * 4, dgrad_bytes = ne * gsz;
  const int none = c->opt.reduction == SL_REDUCTION_NONE;
  const size_t nmap = none ? loss_bytes / 4 : 1;
  const int64_t nbox = c->opt.box_stats ? c->reg.num_boxes : 0;
  void *xd0 = fz_dt_pack(x, ne, dt->xt), *xd = malloc(ne * xsz);
  void *td = op != 2 ? fz_dt_pack(t, ne, dt->tt) : NULL;
  void *wd = op != 2 ? fz_dt_pack(w, ne, dt->wt) : pixw ? fz_dt_pack(pixw, np, dt->wt) : NULL;
  float *dloss = malloc(loss_bytes), *ref_grad = malloc(grad_bytes);
  void *dgrad = malloc(dgrad_bytes);
  sl_stats dstats[2], dbox[FZ_MAX_BOXES + 1];
  fz_call d = *c;
  d.optp = &d.opt; /* (dt is on only with options) */
  if (c->regp) {
    d.reg = c->reg;
    d.regp = &d.reg;
  }
  char *xb = xd;
  d.x = c->x ? (const float *)xd : NULL;
  if (op != 2) {
    d.t = c->t ? (const float *)td : NULL;
    d.opt.weight = c->opt.weight ? (const float *)wd : NULL;
  } else {
    d.opt.pixel_weight = c->opt.pixel_weight ? (const float *)wd : NULL;
  }
  d.opt.input_dtype = dt->xt;
  d.opt.target_dtype = dt->tt;
  d.opt.weight_dtype = dt->wt;
  d.opt.grad_f32 = dt->grad_f32;
  d.opt.stats = c->opt.stats ? dstats : NULL;
  d.opt.box_stats = c->opt.box_stats ? dbox : NULL;
  /* the outputs; where the float32 call's overlap an input or each other, the same overlap */
  d.grad = !c->grad              ? NULL
           : dt->inplace         ? (float *)xd
           : c->grad == grad_buf ? (float *)dgrad
                                 : (float *)(void *)(xb + (size_t)(c->grad - x) * xsz);
  d.loss = !c->loss              ? NULL
           : c->loss == loss_buf ? dloss
           : c->loss == c->grad  ? d.grad
                                 : (float *)(void *)(xb + (size_t)(c->loss - x) * xsz);
  /* a float gradient written over 2-byte logits (here also sl_bce's overlap grad == x of the
   * float32 call, which is SL_ERR_ALIAS there): SL_ERR_DTYPE */
  const uint32_t allowed = k->allowed | dt->allowed |
                           (d.grad && (const void *)d.grad == (const void *)d.x &&
                                    dt->grad_f32 == 1 && fz_dt_half(dt->xt)
                                ? FZ_BIT(SL_ERR_DTYPE)
                                : 0);
  const int must_err = k->must_err || allowed != k->allowed;
  const double dsum = FZ_DT_SUM(2 * ne + 64) * abs_sum;
  const double dnorm = op == 2 ? FZ_DT_SUM(ne + 64) * abs_norm : 0.0;
  for (int isa = 0; isa < SL_ISA_COUNT_; isa++) {
    if (!sl_isa_available((sl_isa)isa))
      continue;
    const char *nm = fz_run_isa((sl_isa)isa, &k->shape, c, st, loss_buf, loss_bytes, grad_buf,
                                grad_bytes, stats_buf, 2 * sizeof(sl_stats));
    memcpy(ref_grad, grad_buf, grad_bytes);
    memcpy(xd, xd0, ne * xsz);
    memset(dloss, FZ_CANARY, loss_bytes);
    memset(dgrad, FZ_CANARY, dgrad_bytes);
    memset(dstats, FZ_CANARY, sizeof dstats);
    memset(dbox, FZ_CANARY, sizeof dbox);
    const sl_status s2 = fz_run(&k->shape, &d);
    const int arg_err = st != SL_OK && st != SL_ERR_DOMAIN && st != SL_ERR_LABEL;
    const int untouched = fz_untouched(dloss, loss_bytes) && fz_untouched(dgrad, dgrad_bytes) &&
                          fz_untouched(dstats, sizeof dstats) && fz_untouched(dbox, sizeof dbox) &&
                          memcmp(xd, xd0, ne * xsz) == 0;
    if (must_err || arg_err) {
      FZ_CHECK((unsigned)s2 < 32 && (allowed & FZ_BIT(s2)) && (must_err || s2 == st),
               "%s: types %d %d %d, grad_f32 %d, in place %d: status %s, want an argument error "
               "(this input's: mask 0x%x; float32: %s)",
               nm, (int)dt->xt, (int)dt->tt, (int)dt->wt, dt->grad_f32, dt->inplace,
               sl_status_string(s2), allowed, sl_status_string(st));
      FZ_CHECK(untouched, "%s: an output (or the input) written on %s with element types", nm,
               sl_status_string(s2));
      continue;
    }
    FZ_CHECK(s2 == st, "%s: types %d %d %d, grad_f32 %d, in place %d: status %s, float32 %s", nm,
             (int)dt->xt, (int)dt->tt, (int)dt->wt, dt->grad_f32, dt->inplace, sl_status_string(s2),
             sl_status_string(st));
    if (st == SL_ERR_LABEL) {
      FZ_CHECK(untouched, "%s: an output written on SL_ERR_LABEL with element types", nm);
      continue;
    }
    if (st == SL_ERR_DOMAIN) {
      FZ_CHECK((none || fz_untouched(dloss, loss_bytes)) && fz_untouched(dstats, sizeof dstats),
               "%s: scalar loss or stats written on SL_ERR_DOMAIN with element types", nm);
      continue;
    }
    /* success: the float32 call's results */
    if (!d.loss)
      FZ_CHECK(fz_untouched(dloss, loss_bytes), "%s: loss written though NULL (types)", nm);
    for (size_t i = 0; d.loss && none && i < nmap; i++)
      FZ_CHECK(fz_same_f32(d.loss[i], loss_buf[i]),
               "%s: types %d %d %d: loss[%zu] %.9g, float32 %.9g", nm, (int)dt->xt, (int)dt->tt,
               (int)dt->wt, i, d.loss[i], loss_buf[i]);
    if (d.loss && !none) {
      double tol = dsum; /* SUM; MEAN: over the normaliser */
      int exact = 0;
      if (c->opt.reduction == SL_REDUCTION_MEAN) {
        const double nlo = op == 2 ? fabs(norm) - FZ_NORM_REL * abs_norm - dnorm : (double)count;
        exact = op == 2 ? abs_norm == 0.0 : count == 0; /* a normaliser of exactly 0 */
        tol = nlo > 0.0 ? dsum / nlo + abs_sum * dnorm / (nlo * nlo) : INFINITY;
      }
      FZ_CHECK(exact ? fz_same_f32(d.loss[0], loss_buf[0])
                     : fz_dt_close(d.loss[0], loss_buf[0], tol, 1),
               "%s: types %d %d %d: loss %.9g, float32 %.9g (tolerance %g)", nm, (int)dt->xt,
               (int)dt->tt, (int)dt->wt, d.loss[0], loss_buf[0], tol);
    }
    if (!d.grad)
      FZ_CHECK(fz_untouched(dgrad, dgrad_bytes), "%s: grad written though NULL (types)", nm);
    for (size_t i = 0; d.grad && i < ne; i++) {
      if (gt == SL_DTYPE_F32) {
        FZ_CHECK(fz_same_f32(d.grad[i], ref_grad[i]),
                 "%s: types %d %d %d, grad_f32 %d, in place %d: grad[%zu] %.9g, float32 %.9g", nm,
                 (int)dt->xt, (int)dt->tt, (int)dt->wt, dt->grad_f32, dt->inplace, i, d.grad[i],
                 ref_grad[i]);
      } else {
        const uint16_t got = ((const uint16_t *)(const void *)d.grad)[i],
                       want = fz_half_out(ref_grad[i], gt);
        FZ_CHECK(got == want || (isnan(fz_half_in(got, gt)) && isnan(fz_half_in(want, gt))),
                 "%s: types %d %d %d, in place %d: grad[%zu] 0x%04x (%.9g), float32 %.9g "
                 "rounded 0x%04x",
                 nm, (int)dt->xt, (int)dt->tt, (int)dt->wt, dt->inplace, i, got,
                 fz_half_in(got, gt), ref_grad[i], want);
      }
    }
    if (!d.opt.stats)
      FZ_CHECK(fz_untouched(dstats, sizeof dstats), "%s: stats written though NULL (types)", nm);
    else
      FZ_CHECK(fz_untouched(&dstats[1], sizeof(sl_stats)) &&
                   dstats[0].count == stats_buf[0].count &&
                   fz_dt_close(dstats[0].normalizer, stats_buf[0].normalizer, dnorm, 0) &&
                   fz_dt_close(dstats[0].loss_sum, stats_buf[0].loss_sum, dsum, 0),
               "%s: types %d %d %d: stats (%.17g, %.17g, %lld), float32 (%.17g, %.17g, %lld)", nm,
               (int)dt->xt, (int)dt->tt, (int)dt->wt, dstats[0].loss_sum, dstats[0].normalizer,
               (long long)dstats[0].count, stats_buf[0].loss_sum, stats_buf[0].normalizer,
               (long long)stats_buf[0].count);
    FZ_CHECK(fz_untouched(dbox + nbox, sizeof dbox - (size_t)nbox * sizeof(sl_stats)),
             "%s: box_stats written past its last box (types)", nm);
    for (int64_t b = 0; b < nbox; b++)
      FZ_CHECK(dbox[b].count == box_buf[b].count &&
                   fz_dt_close(dbox[b].normalizer, box_buf[b].normalizer, dnorm, 0) &&
                   fz_dt_close(dbox[b].loss_sum, box_buf[b].loss_sum, dsum, 0),
               "%s: types %d %d %d: box_stats[%lld] (%.17g, %.17g, %lld), float32 (%.17g, %.17g, "
               "%lld)",
               nm, (int)dt->xt, (int)dt->tt, (int)dt->wt, (long long)b, dbox[b].loss_sum,
               dbox[b].normalizer, (long long)dbox[b].count, box_buf[b].loss_sum,
               box_buf[b].normalizer, (long long)box_buf[b].count);
  }
  free(xd0);
  free(xd);
  free(td);
  free(wd);
  free(dloss);
  free(ref_grad);
  free(dgrad);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size, 0};
  fz_case k;
  memset(&k, 0, sizeof k);
  const int op = FUZZ_OP;

  /* -- shape -- */
  k.shape.n = fz_dim(&in);
  k.shape.c = fz_dim(&in);
  k.shape.h = fz_dim(&in);
  k.shape.w = fz_dim(&in);
  if (op == 2 && k.shape.c > 0 && k.shape.c < 64 && fz_u8(&in) % 4 == 0)
    k.shape.c = 1; /* one class: a degenerate but valid CE */
  const int64_t N = k.shape.n, C = k.shape.c, H = k.shape.h, W = k.shape.w;
  k.shape_ok = N > 0 && C > 0 && H > 0 && W > 0;
  if (!k.shape_ok) {
    fz_allow(&k, SL_ERR_SHAPE);
  } else {
    /* exact in __int128 when the double estimate shows that it cannot overflow it */
    double ed = (double)N * (double)C * (double)H * (double)W;
    int huge = ed > 0x1p100;
    fz_i128 e = huge ? 0 : (fz_i128)N * C * H * W, pix = huge ? 0 : (fz_i128)N * H * W;
    /* the contract: elements x 4 bytes must fit int64 / size_t. The library may also refuse
     * N*H*W*8 (its int64 label bytes) and H or W above INT32_MAX (box coordinates). */
    if (huge || e * 4 > INT64_MAX)
      fz_allow(&k, SL_ERR_OVERFLOW);
    else if (pix * 8 > INT64_MAX || H > INT32_MAX || W > INT32_MAX)
      k.allowed |= FZ_BIT(SL_ERR_OVERFLOW);
    if (!huge && e <= FZ_MAX_ELEMS) {
      k.small = 1;
      k.elems = (int64_t)e;
      k.pix = (int64_t)pix;
    }
  }
  k.map = op == 2 ? k.pix : k.elems;

  /* -- options -- */
  fz_call c;
  memset(&c, 0, sizeof c);
  c.opt = sl_options_default();
  uint8_t ob = fz_u8(&in);
  c.optp = ob % 16 == 0 ? NULL : &c.opt;
  uint8_t red = fz_u8(&in);
  c.opt.reduction = red < 240 ? (sl_reduction)(red % 3) : (sl_reduction)(red % 2 ? 3 : -1);
  if (c.optp && red >= 240)
    fz_allow(&k, SL_ERR_REDUCTION);
  uint8_t lt = fz_u8(&in);
  c.lt = lt < 245 ? (sl_label_type)(lt % 3) : (sl_label_type)(lt % 2 ? 3 : -7);
  if (op == 2 && lt >= 245)
    fz_allow(&k, SL_ERR_LABEL_TYPE);
  uint8_t ls = fz_u8(&in);
  static const float smooth[] = {0.1f, 0.5f, 1.0f, -0.1f, 1.1f, NAN, INFINITY, 1e-40f};
  c.opt.label_smoothing = ls < 160 ? 0.0f : smooth[ls % 8];
  float lsv = c.opt.label_smoothing;
  int ls_ok = op == 2 ? (lsv >= 0.0f && lsv <= 1.0f) : lsv == 0.0f;
  uint8_t gs = fz_u8(&in);
  static const float gscale[] = {0.5f, -2.0f, 0.0f, 1e30f, 1e-40f, INFINITY, NAN, -INFINITY};
  c.opt.grad_scale = gs < 128 ? 1.0f : gscale[gs % 8];
  uint8_t nt = fz_u8(&in);
  c.opt.num_threads = nt < 200 ? 1 : nt < 230 ? 0 : nt < 250 ? 2 : -1;
  uint8_t ii = fz_u8(&in);
  static const int64_t ign[] = {0, 1, 255, 256, -1, INT64_MIN, 2};
  c.opt.ignore_index = ii < 128 ? -100 : ign[ii % 7];
  uint8_t wsel = fz_u8(&in), pwsel = fz_u8(&in), gmsel = fz_u8(&in), stsel = fz_u8(&in);
  if (c.optp && (!ls_ok || !isfinite(c.opt.grad_scale) || c.opt.num_threads < 0 ||
                 (pwsel % 4 == 0 && op != 1)))
    fz_allow(&k, SL_ERR_OPTION);

  /* -- outputs -- */
  uint8_t outsel = fz_u8(&in);
  int want_loss = outsel % 4 != 0, want_grad = (outsel / 4) % 3 != 0;
  int want_stats = c.optp && stsel % 2 == 0;
  sl_reduction r_eff = c.optp ? c.opt.reduction : SL_REDUCTION_MEAN;
  int none = r_eff == SL_REDUCTION_NONE;
  int has_gmap = c.optp && (none ? (want_grad && gmsel % 8 != 0) : gmsel % 16 == 0);
  if (!want_loss && !want_grad && !want_stats)
    fz_allow(&k, SL_ERR_NO_OUTPUT);
  if (c.optp && ((none && want_grad && !has_gmap) || (!none && has_gmap)))
    fz_allow(&k, SL_ERR_GRAD_MAP);

  /* -- region -- */
  uint8_t rsel = fz_u8(&in);
  c.regp = rsel % 8 == 0 ? NULL : &c.reg;
  int64_t nb_opts[6] = {0, 1, N, N < 64 ? N + 1 : -5, 2, -1};
  int64_t nb = nb_opts[fz_u8(&in) % 6];
  if (nb == N && (N > FZ_MAX_BOXES || N <= 0))
    nb = 1;
  if (N > 0 && N < FZ_MAX_BOXES && nb == N + 1 && N + 1 > FZ_MAX_BOXES)
    nb = -1;
  sl_box boxes[FZ_MAX_BOXES + 1];
  int boxes_null = fz_u8(&in) % 32 == 0;
  int nbox_alloc = nb > 0 ? (int)nb : 0;
  for (int i = 0; i < nbox_alloc; i++) {
    uint8_t m = fz_u8(&in);
    int32_t hh = H > 0 && H < 100000 ? (int32_t)H : 100000,
            ww = W > 0 && W < 100000 ? (int32_t)W : 100000;
    int32_t a = (int32_t)(fz_u8(&in) % (ww + 1)), b2 = (int32_t)(fz_u8(&in) % (ww + 1));
    int32_t y0 = (int32_t)(fz_u8(&in) % (hh + 1)), y1 = (int32_t)(fz_u8(&in) % (hh + 1));
    sl_box bx = {a < b2 ? a : b2, y0 < y1 ? y0 : y1, a < b2 ? b2 : a, y0 < y1 ? y1 : y0};
    switch (m % 12) {
    case 0: /* inverted */
      bx = (sl_box){bx.x2, bx.y1, bx.x1, bx.y2};
      if (fz_u8(&in) % 2)
        bx = (sl_box){bx.x2, bx.y2, bx.x1, bx.y1};
      break;
    case 1: /* outside */
      bx.x2 = (int32_t)(ww + 1 + (m >> 4));
      break;
    case 2:
      bx.y1 = -1 - (m >> 4);
      break;
    case 3:
      bx = (sl_box){INT32_MIN, 0, INT32_MAX, INT32_MAX};
      break;
    case 4:
      bx = (sl_box){0, 0, ww, hh};
      break;
    default:
      break;
    }
    boxes[i] = bx;
  }
  int64_t mcsel[6] = {1, 1, C, 0, C < INT64_MAX ? C + 1 : 2, -1};
  uint8_t msel = fz_u8(&in);
  int has_mask = msel % 3 == 0;
  c.reg = sl_region_default();
  c.reg.num_boxes = nb;
  c.reg.boxes = nb > 0 && !boxes_null ? boxes : NULL;
  c.reg.mask_channels = mcsel[(msel / 3) % 6];
  if (c.regp) {
    if (nb != 0 && nb != 1 && nb != N)
      fz_allow(&k, SL_ERR_NUM_BOXES);
    else if (nb > 0 && boxes_null)
      fz_allow(&k, SL_ERR_NULL_POINTER);
    else
      for (int i = 0; i < nbox_alloc; i++) {
        const sl_box *b = &boxes[i];
        if (b->x1 < 0 || b->y1 < 0 || b->x1 > b->x2 || b->y1 > b->y2 || (int64_t)b->x2 > W ||
            (int64_t)b->y2 > H)
          fz_allow(&k, SL_ERR_BOX);
      }
    if (has_mask) {
      int64_t mc = c.reg.mask_channels;
      if (mc != 1 && (mc != C || op == 2))
        fz_allow(&k, SL_ERR_MASK_CHANNELS);
    }
  }

  /* -- buffers -- */
  uint8_t psel = fz_u8(&in);
  int x_null = psel % 32 == 1, t_null = psel % 32 == 2;
  /* a valid but large shape: make sure an argument error is due, so nothing is read */
  if (k.shape_ok && !k.small && !k.must_err) {
    switch (psel % 4) {
    case 0:
      x_null = 1;
      break;
    case 1:
      if (c.optp)
        c.opt.reduction = (sl_reduction)7;
      else
        x_null = 1;
      break;
    case 2:
      if (c.optp)
        c.opt.num_threads = -3;
      else
        x_null = 1;
      break;
    default:
      want_loss = want_grad = want_stats = 0;
      break;
    }
  }
  /* recompute the argument errors that the forcing above may have added */
  if (x_null || t_null)
    fz_allow(&k, SL_ERR_NULL_POINTER);
  if (c.optp == &c.opt && (c.opt.reduction < 0 || c.opt.reduction > 2))
    fz_allow(&k, SL_ERR_REDUCTION);
  if (c.optp == &c.opt && c.opt.num_threads < 0)
    fz_allow(&k, SL_ERR_OPTION);
  if (!want_loss && !want_grad && !want_stats)
    fz_allow(&k, SL_ERR_NO_OUTPUT);

  size_t ne = k.small ? (size_t)k.elems : 4, np = k.small ? (size_t)k.pix : 4;
  size_t nmap = k.small ? (size_t)k.map : 4;
  size_t lsize = c.lt == SL_LABEL_I64 ? 8 : c.lt == SL_LABEL_I32 ? 4 : 1;
  float *x = malloc(ne * 4), *t = malloc(ne * 4),
        *w = malloc((op == 2 ? (size_t)(k.small ? C : 4) : ne) * 4);
  float *pw = malloc((size_t)(k.small ? C : 4) * 4), *gmap = malloc(nmap * 4);
  void *labels = malloc(np * lsize);
  int64_t mchan = has_mask && k.small && (c.reg.mask_channels == 1 || c.reg.mask_channels == C)
                      ? c.reg.mask_channels
                      : 1;
  uint8_t *mask = malloc(np * (size_t)mchan);
  for (size_t i = 0; i < ne; i++) {
    x[i] = fz_float(&in, op == 0 ? 0 : 1);
    t[i] = fz_float(&in, 2);
  }
  size_t nw = op == 2 ? (size_t)(k.small ? C : 4) : ne;
  for (size_t i = 0; i < nw; i++)
    w[i] = fz_float(&in, 3);
  for (int64_t i = 0; i < (k.small ? C : 4); i++)
    pw[i] = fz_float(&in, 3);
  for (size_t i = 0; i < nmap; i++)
    gmap[i] = fz_float(&in, 3);
  for (size_t i = 0; i < np * (size_t)mchan; i++)
    mask[i] = fz_u8(&in) % 3 != 0 ? (uint8_t)(1 + fz_u8(&in) % 255) : 0;
  for (size_t i = 0; i < np; i++) {
    uint8_t m = fz_u8(&in);
    int64_t v = m < 200   ? (int64_t)(m % (C > 0 && C < 256 ? C : 1))
                : m < 220 ? c.opt.ignore_index
                : m < 235 ? C
                : m < 245 ? -1
                          : (int64_t)m * 1000003;
    if (lsize == 8)
      ((int64_t *)labels)[i] = v;
    else if (lsize == 4)
      ((int32_t *)labels)[i] = (int32_t)v;
    else
      ((uint8_t *)labels)[i] = (uint8_t)v;
  }
  c.x = x_null ? NULL : x;
  c.t = op != 2 && t_null ? NULL : t;
  c.labels = op == 2 ? (t_null ? NULL : labels) : NULL;
  c.opt.weight = wsel % 3 == 0 ? w : NULL;
  c.opt.pos_weight = pwsel % 4 == 0 || (op == 1 && pwsel % 4 == 1) ? pw : NULL;
  c.opt.grad_map = has_gmap ? gmap : NULL;
  c.reg.mask = has_mask ? mask : NULL;
  sl_stats stats_buf[2];
  float *loss_buf = malloc((none ? nmap : 1) * 4), *grad_buf = malloc(ne * 4);
  size_t loss_bytes = (none ? nmap : 1) * 4, grad_bytes = ne * 4;

  /* aliasing: an output on top of an input or of the other output (small shapes only) */
  uint8_t asel = fz_u8(&in);
  float *loss_p = want_loss ? loss_buf : NULL, *grad_p = want_grad ? grad_buf : NULL;
  int aliased = 0;
  if (k.small && asel >= 248) {
    aliased = 1;
    if (asel == 255 && want_loss && want_grad)
      loss_p = grad_p; /* two outputs on top of each other */
    else if (want_grad && !x_null && (op == 0 || ne > 1))
      grad_p = op == 0 ? x : x + 1; /* grad == x on logits is the in-place gradient (allowed;
                                       tests/test_inplace.c), so an overlap of one element less */
    else if (want_loss && !x_null)
      loss_p = x + (ne > 1 ? 1 : 0);
    else
      aliased = 0;
    if (aliased)
      fz_allow(&k, SL_ERR_ALIAS);
  }
  c.loss = loss_p;
  c.grad = grad_p;
  memset(stats_buf, FZ_CANARY, sizeof stats_buf);
  c.opt.stats = want_stats ? &stats_buf[0] : NULL;

  /* -- many boxes per image (box_offsets: 0..3 valid boxes per sample, or offsets that are
   * wrong) and per-box statistics; read after everything else, and only where no argument error
   * is due yet, so the inputs decoded before them keep their meaning and statuses -- */
  int64_t offs[FZ_MAX_BOXES + 1];
  sl_box mboxes[FZ_MAX_BOXES];
  sl_stats box_buf[FZ_MAX_BOXES + 1];
  memset(box_buf, FZ_CANARY, sizeof box_buf);
  uint8_t osel = fz_u8(&in), bsel = fz_u8(&in);
  if (osel >= 128 && k.small && !k.must_err && c.regp && N <= FZ_MAX_BOXES / 3) {
    int64_t total = 0;
    offs[0] = 0;
    for (int64_t n = 0; n < N; n++) {
      for (int cnt = fz_u8(&in) % 4; cnt > 0; cnt--, total++) {
        int32_t a = (int32_t)(fz_u8(&in) % (W + 1)), b2 = (int32_t)(fz_u8(&in) % (W + 1));
        int32_t y0 = (int32_t)(fz_u8(&in) % (H + 1)), y1 = (int32_t)(fz_u8(&in) % (H + 1));
        mboxes[total] =
            (sl_box){a < b2 ? a : b2, y0 < y1 ? y0 : y1, a < b2 ? b2 : a, y0 < y1 ? y1 : y0};
      }
      offs[n + 1] = total;
    }
    c.reg.boxes = total > 0 ? mboxes : NULL;
    c.reg.num_boxes = total;
    c.reg.box_offsets = offs;
    if (osel >= 240) { /* wrong offsets: a start past 0, a decrease, or the wrong end */
      if (osel % 3 == 0)
        offs[0] = 1;
      else if (osel % 3 == 1 && N > 1 && offs[1] > 0)
        offs[1] = offs[2] + 1;
      else
        c.reg.num_boxes = total + 1;
      if (c.reg.num_boxes > total && total == 0)
        c.reg.boxes = mboxes; /* a box count without boxes would be SL_ERR_NULL_POINTER */
      fz_allow(&k, SL_ERR_BOX_OFFSETS);
    }
  }
  int want_box = c.optp && bsel % 2 == 0 && !k.must_err && k.small && c.regp &&
                 c.reg.num_boxes > 0 && c.reg.num_boxes <= FZ_MAX_BOXES;
  if (want_box) {
    c.opt.box_stats = box_buf;
  }
  const size_t box_bytes = (size_t)(want_box ? c.reg.num_boxes : 0) * sizeof(sl_stats);

  /* -- sl_ce only: the entry point (sl_ce or sl_softmax_focal), focal_gamma and a pixel_weight
   * map (N x H x W); read after everything else, so the inputs decoded before them (and the
   * committed corpus, which ends before them: 0 bytes = sl_ce without pixel weights) keep their
   * meaning -- */
  fz_ulp_bound = CT_MAX_ULP;
  fz_sum_rel = 1.0;
  uint8_t fsel = fz_u8(&in), pxsel = fz_u8(&in);
  float *pixw = NULL;
  if (op == 2 && c.optp && fsel % 2 == 1) {
    static const float gam[] = {2.0f, 0.0f,  0.5f,  1.0f, 3.0f,     4.5f,
                                8.0f, 20.0f, -1.0f, NAN,  INFINITY, 1e-40f};
    c.focal = 1;
    c.opt.focal_gamma = gam[(fsel / 2) % (sizeof gam / sizeof gam[0])];
    if (!(isfinite(c.opt.focal_gamma) && c.opt.focal_gamma >= 0.0f))
      fz_allow(&k, SL_ERR_FOCAL);
    if (c.opt.label_smoothing != 0.0f) /* label_smoothing must be 0 for softmax focal */
      fz_allow(&k, SL_ERR_OPTION);
  }
  if (op == 2 && c.optp && k.small && pxsel % 2 == 1) {
    pixw = malloc((size_t)(k.pix > 0 ? k.pix : 1) * sizeof(float));
    for (int64_t i = 0; i < k.pix; i++)
      pixw[i] = fz_float(&in, 3);
    c.opt.pixel_weight = pixw;
  }

  /* -- the sigmoid focal loss's options, last (gamma: valid, both paths of the power, and
   * invalid; alpha: valid, < 0, and invalid); pos_weight is an error there -- */
  if (FUZZ_SFOCAL) {
    static const float gtab[10] = {2.0f, 0.0f, 1.0f, 3.0f, 0.5f, 2.5f, 8.0f, -1.0f, NAN, INFINITY};
    static const float atab[8] = {0.25f, -1.0f, 0.0f, 1.0f, 0.75f, 1.5f, NAN, -INFINITY};
    uint8_t gsel = fz_u8(&in), asel2 = fz_u8(&in);
    if (c.optp) {
      c.opt.focal_gamma = gtab[gsel % 10];
      c.opt.focal_alpha = atab[asel2 % 8];
      if (!(c.opt.focal_gamma >= 0.0f && isfinite(c.opt.focal_gamma)) ||
          !(c.opt.focal_alpha <= 1.0f))
        fz_allow(&k, SL_ERR_FOCAL);
      if (c.opt.pos_weight)
        fz_allow(&k, SL_ERR_OPTION);
    }
    double g = c.optp ? (double)c.opt.focal_gamma : 2.0;
    if (isfinite(g) && g >= 0.0) {
      fz_ulp_bound = ct_focal_ulp(g);
      fz_sum_rel = ct_focal_sum_rel(g);
    }
  }

  /* -- online hard example mining (ohem_thresh, ohem_min_kept), read last of all so that the
   * fields decoded before keep their meaning (an input that ends before: 0 = off): mostly off (the
   * default and other values below 0); valid thresholds (0, -0, 1 and binding ones) with min_kept
   * 0, 1, small or huge (min_kept N beyond int64); invalid ones (NaN, above 1, min_kept < 0,
   * min_kept without mining): SL_ERR_OHEM, as is mining with a loss other than sl_ce and
   * sl_softmax_focal (the BCE targets) -- */
  uint8_t hsel = fz_u8(&in), ksel = fz_u8(&in);
  int ohem = 0; /* valid mining requested */
  if (c.optp) {
    static const float off[] = {-1.0f, -0.5f, -INFINITY, -1e-40f};
    static const float on[] = {0.7f,  0.3f,  0.0f, 1.0f, -0.0f,  0.5f,
                               0.05f, 0.95f, 0.9f, 0.1f, 1e-40f, 1.0f - 0x1p-24f};
    static const float bad[] = {NAN, 1.5f, INFINITY, 1.0f + 0x1p-23f};
    static const int64_t huge_k[] = {INT64_MAX, INT64_MAX / 2 + 1, (int64_t)1 << 40, 4096, 100000};
    const int64_t mk = ksel < 96    ? 0
                       : ksel < 160 ? 1
                       : ksel < 240 ? 2 + ksel % 40
                                    : huge_k[ksel % 5];
    if (hsel < 128) {
      c.opt.ohem_thresh = off[hsel % 4];
    } else if (hsel < 224) {
      c.opt.ohem_thresh = on[hsel % 12];
      c.opt.ohem_min_kept = mk;
      ohem = 1;
    } else {
      switch (hsel % 4) {
      case 0: /* threshold NaN or above 1 */
        c.opt.ohem_thresh = bad[hsel / 4 % 4];
        c.opt.ohem_min_kept = mk;
        break;
      case 1: /* min_kept < 0 */
        c.opt.ohem_thresh = on[hsel / 4 % 12];
        c.opt.ohem_min_kept = ksel % 2 ? -1 : INT64_MIN;
        break;
      case 2: /* min_kept without mining */
        c.opt.ohem_thresh = off[hsel / 4 % 4];
        c.opt.ohem_min_kept = mk > 0 ? mk : 1;
        break;
      default: /* both wrong */
        c.opt.ohem_thresh = bad[hsel / 4 % 4];
        c.opt.ohem_min_kept = -1 - mk;
        break;
      }
      fz_allow(&k, SL_ERR_OHEM);
    }
    if (ohem && op != 2)
      fz_allow(&k, SL_ERR_OHEM);
  }

  /* -- element types (input_dtype, target_dtype, weight_dtype, grad_f32, an in-place gradient),
   * read after every other field (an input that ends before them: float32 everywhere, no second
   * call). When on, the data are first rounded to the decoded 2-byte types (the float32 call that
   * every check above runs on then holds their exact values), and after those checks the call
   * with the element types runs on every ISA against that ISA's float32 call (fz_dt below) -- */
  const uint8_t dsel = fz_u8(&in), dtsel = fz_u8(&in), dwsel = fz_u8(&in), dgsel = fz_u8(&in);
  fz_dt dt = {.on = c.optp && fz_dt_on(dsel)};
  if (dt.on) {
    dt.xt = fz_dtype(dsel);
    dt.tt = fz_dtype(dtsel);
    dt.wt = fz_dtype(dwsel);
    dt.grad_f32 = dgsel % 16 == 15 ? (dgsel / 16 % 2 ? 2 : -1) : dgsel % 2;
    /* the gradient written over (a copy of) the input: allowed for the losses on logits */
    dt.inplace = dgsel / 2 % 4 == 0 && want_grad && !x_null && !aliased && k.small;
    const sl_dtype ts[3] = {dt.xt, dt.tt, dt.wt};
    for (int i = 0; i < 3; i++)
      if ((unsigned)ts[i] > SL_DTYPE_F16)
        dt.allowed |= FZ_BIT(SL_ERR_DTYPE);
    if ((unsigned)dt.grad_f32 > 1 || (dt.inplace && dt.grad_f32 == 1 && fz_dt_half(dt.xt)))
      dt.allowed |= FZ_BIT(SL_ERR_DTYPE);
    if (dt.inplace && op == 0) /* sl_bce's gradient may not overlap its probabilities */
      dt.allowed |= FZ_BIT(SL_ERR_ALIAS);
    fz_dt_round(x, ne, dt.xt);
    if (op != 2) {
      fz_dt_round(t, ne, dt.tt);
      fz_dt_round(w, ne, dt.wt);
    } else {
      fz_dt_round(pixw, pixw ? np : 0, dt.wt);
    }
  }

  uint8_t *kept = NULL;   /* OHEM: the expected selection (fz_ohem_select) */
  int ohem_undecided = 0; /* OHEM on success without a decided selection */
  double dt_abs = 0.0;    /* on success: the reduced losses' scale (ct_terms), for fz_dt */

  if (!c.optp) { /* the library uses the defaults: so do the checks below */
    c.opt = sl_options_default();
    c.opt.stats = NULL;
  }

  /* -- the call, with the scalar kernels -- */
  memset(loss_buf, FZ_CANARY, loss_bytes);
  memset(grad_buf, FZ_CANARY, grad_bytes);
  sl_isa isa0 = sl_isa_active();
  FZ_CHECK(sl_isa_set(SL_ISA_SCALAR) == SL_OK, "scalar must be available");
  sl_status st = fz_run(&k.shape, &c);

  int arg_err = st != SL_OK && st != SL_ERR_DOMAIN && st != SL_ERR_LABEL;
  if (k.must_err)
    FZ_CHECK(arg_err, "status %d (%s), want an argument error (this input's errors: mask 0x%x)",
             (int)st, sl_status_string(st), k.allowed);
  if (arg_err) {
    FZ_CHECK((unsigned)st < 32 && (k.allowed & FZ_BIT(st)),
             "status %d (%s) is not among this input's errors (mask 0x%x)", (int)st,
             sl_status_string(st), k.allowed);
    FZ_CHECK(fz_untouched(loss_buf, loss_bytes) && fz_untouched(grad_buf, grad_bytes) &&
                 fz_untouched(stats_buf, sizeof stats_buf) && fz_untouched(box_buf, sizeof box_buf),
             "an output was written on argument error %s", sl_status_string(st));
    goto done;
  }

  /* -- OHEM: the expected selection; decided, it narrows the section of every check below
   * (fz_selected), else only the checks that do not depend on it remain (the status, on every
   * ISA, and the zeros outside the region) -- */
  if (ohem && op == 2 && st == SL_OK) {
    kept = malloc(np > 0 ? np : 1);
    if (fz_ohem_select(&k, &c, labels, kept))
      c.kept = kept;
    else
      ohem_undecided = 1;
  }

  /* -- data errors, from the data, independently -- */
  int64_t count = 0;
  double norm = 0.0, abs_norm = 0.0; /* CE: the normaliser and the sum of its |terms| */
  {
    int domain = 0, label = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t y = 0; y < H; y++)
        for (int64_t xx = 0; xx < W; xx++) {
          if (op == 2) {
            if (!fz_in_region(&k, &c, n, 0, y, xx))
              continue;
            int64_t lab = fz_label(labels, c.lt, (n * H + y) * W + xx);
            if (lab == c.opt.ignore_index && c.optp)
              continue;
            if (!c.optp && lab == -100)
              continue;
            if (lab < 0 || lab >= C) {
              label = 1;
              continue;
            }
            if (!fz_selected(&k, &c, n, 0, y, xx)) /* OHEM: not kept */
              continue;
            count++;
            const double term =
                (c.opt.weight && c.optp ? (double)c.opt.weight[lab] : 1.0) *
                (c.opt.pixel_weight ? (double)c.opt.pixel_weight[(n * H + y) * W + xx] : 1.0);
            norm += term;
            abs_norm += fabs(term);
            continue;
          }
          for (int64_t ch = 0; ch < C; ch++) {
            if (!fz_selected(&k, &c, n, ch, y, xx))
              continue;
            int64_t i = ((n * C + ch) * H + y) * W + xx;
            if (op == 0 && !(x[i] >= 0.0f && x[i] <= 1.0f && t[i] >= 0.0f && t[i] <= 1.0f))
              domain = 1;
            count++;
          }
        }
    sl_status want = label ? SL_ERR_LABEL : domain ? SL_ERR_DOMAIN : SL_OK;
    FZ_CHECK(st == want, "status %d (%s), want %d (%s)", (int)st, sl_status_string(st), (int)want,
             sl_status_string(want));
    if (st == SL_ERR_LABEL) {
      FZ_CHECK(fz_untouched(loss_buf, loss_bytes) && fz_untouched(grad_buf, grad_bytes) &&
                   fz_untouched(stats_buf, sizeof stats_buf) &&
                   fz_untouched(box_buf, sizeof box_buf),
               "an output was written on SL_ERR_LABEL");
      goto done;
    }
    if (st == SL_ERR_DOMAIN) {
      if (!none)
        FZ_CHECK(fz_untouched(loss_buf, loss_bytes), "scalar loss written on SL_ERR_DOMAIN");
      FZ_CHECK(fz_untouched(stats_buf, sizeof stats_buf), "stats written on SL_ERR_DOMAIN");
      goto done;
    }
    /* success: count, zeros outside, untouched buffers where nothing is due */
    FZ_CHECK(fz_untouched(box_buf + (want_box ? c.reg.num_boxes : 0), sizeof box_buf - box_bytes),
             "box_stats written past its last box");
    if (want_box && !ohem_undecided)
      fz_check_box_counts(&k, &c, labels, box_buf, NULL, NULL);
    if (want_stats && c.opt.stats && !ohem_undecided) {
      FZ_CHECK(stats_buf[0].count == count, "count %lld, want %lld", (long long)stats_buf[0].count,
               (long long)count);
      if (op == 2)
        FZ_CHECK(stats_buf[0].normalizer == norm ||
                     (isnan(norm) && isnan(stats_buf[0].normalizer)) ||
                     fabs(stats_buf[0].normalizer - norm) <= FZ_NORM_REL * (abs_norm + 1.0),
                 "normalizer %.17g, want %.17g (sum of |terms| %g)", stats_buf[0].normalizer, norm,
                 abs_norm);
      else
        FZ_CHECK(stats_buf[0].normalizer == (double)count, "normalizer");
    }
    if (!want_grad)
      FZ_CHECK(fz_untouched(grad_buf, grad_bytes), "grad written though NULL");
    if (!want_loss)
      FZ_CHECK(fz_untouched(loss_buf, loss_bytes), "loss written though NULL");
    for (int64_t n = 0; n < N; n++)
      for (int64_t y = 0; y < H; y++)
        for (int64_t xx = 0; xx < W; xx++) {
          int64_t p = (n * H + y) * W + xx;
          int pix_counted = 1;
          if (op == 2) {
            int64_t lab = fz_label(labels, c.lt, p);
            pix_counted =
                fz_selected(&k, &c, n, 0, y, xx) && lab != (c.optp ? c.opt.ignore_index : -100);
            if (want_loss && none && !pix_counted)
              FZ_CHECK(loss_buf[p] == 0.0f, "CE loss map not 0 outside the section");
          }
          for (int64_t ch = 0; ch < C; ch++) {
            int64_t i = ((n * C + ch) * H + y) * W + xx;
            int sel = op == 2 ? pix_counted : fz_selected(&k, &c, n, ch, y, xx);
            if (sel)
              continue;
            if (want_grad)
              FZ_CHECK(grad_buf[i] == 0.0f, "grad[%lld] = %g outside the section", (long long)i,
                       grad_buf[i]);
            if (want_loss && none && op != 2)
              FZ_CHECK(loss_buf[i] == 0.0f, "loss map not 0 outside the section");
          }
        }
  }

  /* -- every other ISA against scalar: the accuracy contract (tests/contract.h) -- */
  {
    float *ref_loss = malloc(loss_bytes), *ref_grad = malloc(grad_bytes);
    memcpy(ref_loss, loss_buf, loss_bytes);
    memcpy(ref_grad, grad_buf, grad_bytes);
    sl_stats ref_stats = stats_buf[0], ref_box[FZ_MAX_BOXES];
    memcpy(ref_box, box_buf, box_bytes);
    /* which map elements are counted (BCE: selected elements; CE: counted pixels) */
    uint8_t *sel = calloc(nmap, 1);
    for (int64_t n = 0; n < N; n++)
      for (int64_t ch = 0; ch < (op == 2 ? 1 : C); ch++)
        for (int64_t y = 0; y < H; y++)
          for (int64_t xx = 0; xx < W; xx++) {
            int64_t p = op == 2 ? (n * H + y) * W + xx : ((n * C + ch) * H + y) * W + xx;
            sel[p] = (uint8_t)(fz_selected(&k, &c, n, ch, y, xx) &&
                               (op != 2 || fz_label(labels, c.lt, p) != c.opt.ignore_index));
          }
    ct_call cc = {.op = FUZZ_SFOCAL ? T_SIGMOID_FOCAL
                        : c.focal   ? T_SOFTMAX_FOCAL
                                    : (t_op)op,
                  .shape = k.shape,
                  .x = x,
                  .t = t,
                  .labels = labels,
                  .lt = c.lt,
                  .weight = c.opt.weight,
                  .pos_weight = op == 1 && !FUZZ_SFOCAL ? c.opt.pos_weight : NULL,
                  .grad_map = c.opt.grad_map,
                  .reduction = r_eff,
                  .grad_scale = c.opt.grad_scale,
                  .normalizer = op == 2 ? norm : (double)count,
                  .smoothing = op == 2 ? c.opt.label_smoothing : 0.0,
                  .pixel_weight = op == 2 ? c.opt.pixel_weight : NULL,
                  .sel = sel,
                  .gamma = c.opt.focal_gamma,
                  .alpha = c.opt.focal_alpha,
                  .abs_map = calloc(nmap, sizeof(double))};
    double *lterms = calloc(nmap, sizeof *lterms), *gterms = calloc(ne, sizeof *gterms);
    /* the sum of |per-element loss|, in double: the scale of the reduced losses' tolerance */
    const double abs_sum =
        ct_terms(&cc, none && want_loss ? lterms : NULL, want_grad ? gterms : NULL);
    dt_abs = abs_sum;
    double box_abs[FZ_MAX_BOXES]; /* the same per box */
    if (want_box && !ohem_undecided)
      fz_check_box_counts(&k, &c, labels, ref_box, cc.abs_map, box_abs);
    if (c.kept) /* OHEM: mining equals masking by its selection, bit for bit */
      fz_check_masked(SL_ISA_SCALAR, &k, &c, ref_loss, loss_bytes, ref_grad, grad_bytes, &ref_stats,
                      ref_box, box_bytes);
    /* MEAN divides by the library's normaliser, which may differ from norm by its summation
     * order (FZ_NORM_REL): the loss's scale takes the smallest |normaliser| that allows, and a
     * normaliser that cancels to within that of 0 leaves the MEAN value unchecked */
    const double norm_lo = fabs(norm) - FZ_NORM_REL * abs_norm;
    const int mean_lost = r_eff == SL_REDUCTION_MEAN && op == 2 && norm != 0.0 && !(norm_lo > 0.0);
    const double mean_norm = r_eff == SL_REDUCTION_MEAN && op == 2 && norm_lo > 0.0 ? norm_lo
                             : r_eff == SL_REDUCTION_MEAN && norm > 0               ? norm
                                                                                    : 1.0;
    for (int isa = 1; isa < SL_ISA_COUNT_; isa++) {
      if (!sl_isa_available((sl_isa)isa))
        continue;
      const char *nm = fz_run_isa((sl_isa)isa, &k.shape, &c, st, loss_buf, loss_bytes, grad_buf,
                                  grad_bytes, stats_buf, sizeof stats_buf);
      if (want_grad)
        fz_check_outputs(&k, &c, op, labels, nm, 0, grad_buf, ref_grad, gterms, ne, sel, r_eff,
                         !ohem_undecided);
      if (want_loss && none)
        fz_check_outputs(&k, &c, op, labels, nm, 1, loss_buf, ref_loss, lterms, nmap, sel, r_eff,
                         !ohem_undecided);
      if (ohem_undecided) /* the ISA's selection may differ from scalar's: only the zeros */
        continue;
      if (c.kept)
        fz_check_masked((sl_isa)isa, &k, &c, loss_buf, loss_bytes, grad_buf, grad_bytes,
                        &stats_buf[0], box_buf, box_bytes);
      if (want_loss && !none && !mean_lost)
        FZ_CHECK(ct_sum_err(loss_buf[0], ref_loss[0], fz_sum_rel * abs_sum / mean_norm, 1) <= 1.0,
                 "%s: loss %.9g, scalar %.9g (sum |l| %g, normaliser %g)", nm, loss_buf[0],
                 ref_loss[0], abs_sum, mean_norm);
      for (int64_t b = 0; want_box && b < c.reg.num_boxes; b++) {
        FZ_CHECK(box_buf[b].count == ref_box[b].count &&
                     (box_buf[b].normalizer == ref_box[b].normalizer ||
                      (isnan(ref_box[b].normalizer) && isnan(box_buf[b].normalizer))),
                 "%s: box_stats[%lld] count or normalizer", nm, (long long)b);
        FZ_CHECK(ct_sum_err(box_buf[b].loss_sum, ref_box[b].loss_sum, fz_sum_rel * box_abs[b], 0) <=
                     1.0,
                 "%s: box_stats[%lld].loss_sum %.17g, scalar %.17g (sum |l| %g)", nm, (long long)b,
                 box_buf[b].loss_sum, ref_box[b].loss_sum, box_abs[b]);
      }
      if (want_stats && c.opt.stats) {
        FZ_CHECK(stats_buf[0].count == ref_stats.count, "%s: stats.count", nm);
        FZ_CHECK(stats_buf[0].normalizer == ref_stats.normalizer ||
                     (isnan(ref_stats.normalizer) && isnan(stats_buf[0].normalizer)),
                 "%s: stats.normalizer", nm);
        FZ_CHECK(ct_sum_err(stats_buf[0].loss_sum, ref_stats.loss_sum, fz_sum_rel * abs_sum, 0) <=
                     1.0,
                 "%s: loss_sum %.17g, scalar %.17g (sum |l| %g)", nm, stats_buf[0].loss_sum,
                 ref_stats.loss_sum, abs_sum);
      }
    }
    free(ref_loss);
    free(ref_grad);
    free(sel);
    free(cc.abs_map);
    free(lterms);
    free(gterms);
  }

done:
  /* an error status: every other ISA gives the same one and leaves the same outputs untouched */
  for (int isa = 1; st != SL_OK && isa < SL_ISA_COUNT_; isa++) {
    if (!sl_isa_available((sl_isa)isa))
      continue;
    const char *nm = fz_run_isa((sl_isa)isa, &k.shape, &c, st, loss_buf, loss_bytes, grad_buf,
                                grad_bytes, stats_buf, sizeof stats_buf);
    if (st == SL_ERR_DOMAIN)
      FZ_CHECK((none || fz_untouched(loss_buf, loss_bytes)) &&
                   fz_untouched(stats_buf, sizeof stats_buf),
               "%s: scalar loss or stats written on SL_ERR_DOMAIN", nm);
    else
      FZ_CHECK(fz_untouched(loss_buf, loss_bytes) && fz_untouched(grad_buf, grad_bytes) &&
                   fz_untouched(stats_buf, sizeof stats_buf),
               "%s: an output was written on %s", nm, sl_status_string(st));
  }
  if (dt.on)
    fz_dt_check(&k, &c, &dt, st, x, t, w, pixw, ne, np, loss_buf, loss_bytes, grad_buf, stats_buf,
                box_buf, dt_abs, abs_norm, norm, count);
  sl_isa_set(isa0);
  free(x);
  free(t);
  free(w);
  free(pw);
  free(gmap);
  free(labels);
  free(mask);
  free(pixw);
  free(kept);
  free(loss_buf);
  free(grad_buf);
  return 0;
}

#endif /* SL_FUZZ_COMMON_H */
