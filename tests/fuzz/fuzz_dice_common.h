// SPDX-License-Identifier: MIT
/*
 * fuzz_dice_common.h - the libFuzzer engine of the Dice targets (fuzz_dice.c: sl_dice,
 * fuzz_dice_mc.c: sl_dice_multiclass); each defines FUZZ_DICE_MC (0 / 1) and includes this file.
 *
 * The input bytes become one call: a small shape N x C x H x W (N <= 3, C <= 6, H <= 9,
 * W <= 70), a section (NULL region, 1 / N boxes, box_offsets with 0..3 boxes per sample, boxes
 * empty or sometimes invalid, a mask with 1 or C channels), every Dice option (valid values and
 * invalid ones: negative, 0, NaN, inf, enums out of range), a reduction (also invalid), outputs
 * present or not (grad, loss, stats, dice_sums; grad_map with NONE or not), and data drawn from
 * ordinary values and specials (NaN, +-inf, +-0, subnormals, 1e30, |x| 87..104; labels outside
 * [0, C), ignore_index).
 *
 * Checks (any failure aborts: libFuzzer saves the input):
 *   1. no crash, no ASan / UBSan report (the build flags);
 *   2. the status is an argument error exactly when the independent check written here from
 *      sectionloss.h says so (Dice options, reduction, grad_map, boxes, offsets, mask channels,
 *      weight / box_stats never given here), SL_ERR_LABEL (multiclass) exactly when a counted
 *      label is outside [0, C), else SL_OK;
 *   3. on an error every output is untouched (canary bytes);
 *   4. on success: stats.count is the independently counted selection, normaliser C; grad is
 *      exactly 0 outside the section (and at ignored pixels); 1 and 2 threads give identical
 *      bits;
 *   5. every available SIMD ISA gives the same status, count and zeros, and dice_sums within
 *      the kernels' contract of the scalar ISA's (ct_sum_err: 1e-6 of the sum of |terms| plus
 *      FLT_MIN per element, docs/accuracy.md; Tversky's I = (P + T - sum |p - t|) / 2: the
 *      terms of its three sums, halved). (Losses and gradients are functions of the sums
 *      that may be arbitrarily ill-conditioned for such data; the per-element gradient bound is
 *      checked on the kernels directly by make test-kernels-strict.)
 *   6. element types (fuzz_dtype.h), four bytes read after every other field (an input that
 *      ends before them, or whose first byte is outside fz_dt_on's range: no second call):
 * input_dtype (x and the gradient), target_dtype (sl_dice's targets; float32 for the multiclass
 * loss, which has none), weight_dtype (float32: Dice has no weight tensor), grad_f32; invalid
 * values: SL_ERR_DTYPE. The data are rounded to the types first, and on every ISA the 2-byte
 *      call gives the float32 call's status, count, normaliser, dice_sums, loss and gradient
 *      (rounded to its type) bit for bit: the kernels convert at their loads and stores, over
 *      the float32 call's runs.
 * Shape legend N, C, H, W as in sectionloss.h.
 */
#ifndef SL_FUZZ_DICE_COMMON_H
#define SL_FUZZ_DICE_COMMON_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../contract.h"
#include "fuzz_dtype.h"
#include "sectionloss.h"

#ifndef FUZZ_DICE_MC
#error "define FUZZ_DICE_MC (0 sl_dice, 1 sl_dice_multiclass) before including this file"
#endif

#define FD_CHECK(cond, what)                                                                       \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "fuzz_dice: check failed: %s (%s:%d)\n", what, __FILE__, __LINE__);          \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

typedef struct fd_in {
  const uint8_t *p;
  size_t n, at;
} fd_in;

static uint8_t fd_u8(fd_in *in) {
  return in->at < in->n ? in->p[in->at++] : 0;
}

static float fd_float(fd_in *in) {
  static const float sp[] = {0.0f,      -0.0f,   1.0f,   0.5f,  NAN,    INFINITY,
                             -INFINITY, 1e-45f,  1e-38f, 1e30f, -1e30f, 90.0f,
                             -95.0f,    -104.5f, 2.0f,   -1.0f, 1e-7f,  0.99999994f};
  uint8_t k = fd_u8(in);
  if (k < 24)
    return sp[k % (sizeof sp / sizeof sp[0])];
  uint32_t v = (uint32_t)fd_u8(in) << 8 | fd_u8(in);
  return ((float)v / 65535.0f) * 16.0f - 8.0f;
}

/* an option value: mostly valid, sometimes 0, negative, NaN or inf */
static float fd_opt(fd_in *in, float valid) {
  uint8_t k = fd_u8(in);
  switch (k % 16) {
  case 0:
    return 0.0f;
  case 1:
    return -0.5f;
  case 2:
    return NAN;
  case 3:
    return INFINITY;
  case 4:
    return 1e-30f;
  case 5:
    return 3.0f;
  default:
    return valid * (float)(1 + k % 5) / 3.0f;
  }
}

static int fd_in_box(const sl_region *rg, int64_t n, int64_t y, int64_t x) {
  int64_t b0, b1;
  if (!rg || (rg->num_boxes == 0 && !rg->box_offsets))
    return 1;
  if (rg->box_offsets) {
    b0 = rg->box_offsets[n];
    b1 = rg->box_offsets[n + 1];
  } else {
    b0 = rg->num_boxes == 1 ? 0 : n;
    b1 = b0 + 1;
  }
  for (int64_t b = b0; b < b1; b++) {
    const sl_box *bx = &rg->boxes[b];
    if (x >= bx->x1 && x < bx->x2 && y >= bx->y1 && y < bx->y2)
      return 1;
  }
  return 0;
}

typedef struct fd_out {
  float loss[8], *grad;
  sl_stats st;
  double sums[24];
  sl_status status;
} fd_out;

/* The scale of dice_sums[3 c + k] (I, P, T of class c): the sum of |terms| over the selection,
 * plus FLT_MIN / CT_SUM_REL per element where p comes from a float exp (ct_sum_err's scale). */
static void fd_scales(double *scale, const sl_shape *sh, const sl_options *o, const float *x,
                      const float *t, const int64_t *lab, const uint8_t *sel) {
  const int mc = FUZZ_DICE_MC;
  const int64_t N = sh->n, C = sh->c, hw = sh->h * sh->w;
  for (int64_t c = 0; c < C; c++)
    for (int k = 0; k < 3; k++) {
      double abs_sum = 0.0;
      for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < hw; i++) {
          int64_t e = (n * C + c) * hw + i;
          if (!sel[e])
            continue;
          double xv = x[e], p, tv;
          if (mc) {
            double m = -INFINITY, z = 0.0;
            for (int64_t q = 0; q < C; q++)
              m = fmax(m, (double)x[(n * C + q) * hw + i]);
            for (int64_t q = 0; q < C; q++)
              z += exp((double)x[(n * C + q) * hw + i] - m);
            p = exp(xv - m) / z;
            tv = lab[n * hw + i] == c;
          } else {
            p = o->dice_from_logits ? 1.0 / (1.0 + exp(-xv)) : xv;
            tv = t[e];
          }
          double tiny = (mc || o->dice_from_logits) ? FLT_MIN / CT_SUM_REL : 0.0;
          /* multiclass I_c adds p where the label is c and nothing elsewhere (a
           * selection, not the product p t: a NaN p of a pixel labelled k != c must
           * not make the scale of I_c NaN); sl_dice's I multiplies p t, or (Tversky)
           * is (P + T - sum |p - t|) / 2 from the three sums */
          double i_terms = mc                ? (tv != 0.0 ? fabs(p) : 0.0)
                           : o->dice_tversky ? (fabs(p) + fabs(tv) + fabs(p - tv)) / 2.0
                                             : fabs(p * tv);
          abs_sum += k == 0   ? i_terms + tiny * (mc || !o->dice_tversky ? fabs(tv) : 1.0)
                     : k == 1 ? fabs(p) + tiny
                              : fabs(tv);
        }
      scale[3 * c + k] = abs_sum;
    }
}

typedef struct fd_dt {
  int on; /* a call with element types follows */
  sl_dtype xt, tt, wt;
  int grad_f32, err; /* err: an argument error (SL_ERR_DTYPE) */
} fd_dt;

/* One call on the current ISA, one thread, dice_sums always (stats always: never
 * SL_ERR_NO_OUTPUT, so they change no status); x, t, grad in the types of *ob (cast). */
static sl_status fd_call(const sl_shape *sh, const void *x, const void *t, const int64_t *lab,
                         const sl_region *rg, const sl_options *ob, float *loss, void *grad,
                         sl_stats *st, double *sums) {
  sl_options oo = *ob;
  oo.num_threads = 1;
  oo.stats = st;
  oo.dice_sums = sums;
  return FUZZ_DICE_MC
             ? sl_dice_multiclass(sh, (const float *)x, lab, SL_LABEL_I64, rg, &oo, loss,
                                  (float *)grad)
             : sl_dice(sh, (const float *)x, (const float *)t, rg, &oo, loss, (float *)grad);
}

/* Check 6: the call with element types against the float32 call on every ISA. */
static void fd_dt_check(const sl_shape *sh, const sl_region *rg, const sl_options *o,
                        const float *x, const float *t, const int64_t *lab, const fd_dt *dt,
                        int valid, int bad_label, int want_loss, int want_grad) {
  const int64_t C = sh->c, E = sh->n * C * sh->h * sh->w;
  const sl_dtype gt = dt->grad_f32 == 1 || !fz_dt_half(dt->xt) ? SL_DTYPE_F32 : dt->xt;
  const size_t gsz = fz_dt_size(gt);
  void *xd = fz_dt_pack(x, (size_t)E, dt->xt), *td = fz_dt_pack(t, (size_t)E, dt->tt);
  float *g32 = malloc((size_t)E * 4), l32[8], l16[8];
  void *g16 = malloc((size_t)E * gsz);
  sl_stats s32, s16;
  double d32[24], d16[24];
  sl_options od = *o;
  od.input_dtype = dt->xt;
  od.target_dtype = dt->tt;
  od.weight_dtype = dt->wt;
  od.grad_f32 = dt->grad_f32;
  for (int isa = 0; isa < SL_ISA_COUNT_; isa++) {
    if (!sl_isa_available((sl_isa)isa))
      continue;
    FD_CHECK(sl_isa_set((sl_isa)isa) == SL_OK, "isa_set");
    const sl_status st32 =
        fd_call(sh, x, t, lab, rg, o, want_loss ? l32 : NULL, want_grad ? g32 : NULL, &s32, d32);
    memset(l16, 0xA7, sizeof l16);
    memset(g16, 0xA7, (size_t)E * gsz);
    memset(&s16, 0xA7, sizeof s16);
    memset(d16, 0xA7, sizeof d16);
    const sl_status st = fd_call(sh, xd, td, lab, rg, &od, want_loss ? l16 : NULL,
                                 want_grad ? g16 : NULL, &s16, d16);
    const int untouched = fz_untouched_bytes(l16, sizeof l16, 0xA7) &&
                          fz_untouched_bytes(g16, (size_t)E * gsz, 0xA7) &&
                          fz_untouched_bytes(&s16, sizeof s16, 0xA7) &&
                          fz_untouched_bytes(d16, sizeof d16, 0xA7);
    if (dt->err || !valid) {
      FD_CHECK((dt->err && st == SL_ERR_DTYPE) || (!valid && st == st32 && st != SL_OK),
               "element types: the argument error due");
      FD_CHECK(untouched, "element types: outputs untouched on an error");
      continue;
    }
    FD_CHECK(st == st32 && st == (bad_label ? SL_ERR_LABEL : SL_OK),
             "element types: the float32 call's status");
    if (st != SL_OK) {
      FD_CHECK(untouched, "element types: outputs untouched on SL_ERR_LABEL");
      continue;
    }
    FD_CHECK(s16.count == s32.count && s16.normalizer == s32.normalizer,
             "element types: count and normaliser");
    /* the sums: the kernels convert at their loads over the float32 call's runs (Dice never
     * streams, its cuts never depend on an address): the same sums bit for bit */
    for (int64_t k = 0; k < 3 * C; k++) {
      if (memcmp(&d16[k], &d32[k], sizeof(double)) != 0)
        fprintf(stderr, "%s: types %d %d: dice_sums[%lld] %.17g, float32 %.17g\n",
                sl_isa_name((sl_isa)isa), (int)dt->xt, (int)dt->tt, (long long)k, d16[k], d32[k]);
      FD_CHECK(memcmp(&d16[k], &d32[k], sizeof(double)) == 0,
               "element types: dice_sums the float32 call's bit for bit");
    }
    FD_CHECK(fz_untouched_bytes(d16 + 3 * C, sizeof d16 - (size_t)(3 * C) * sizeof(double), 0xA7),
             "element types: dice_sums written past 3 C");
    if (!want_loss)
      FD_CHECK(fz_untouched_bytes(l16, sizeof l16, 0xA7), "element types: loss untouched");
    if (!want_grad)
      FD_CHECK(fz_untouched_bytes(g16, (size_t)E * gsz, 0xA7), "element types: grad untouched");
    /* the loss and the gradient, bit for bit (the gradient rounded to its type) */
    const int64_t nl = o->reduction == SL_REDUCTION_NONE ? C : 1;
    for (int64_t k = 0; want_loss && k < nl; k++)
      FD_CHECK(fz_same_f32(l16[k], l32[k]), "element types: the float32 call's loss");
    for (int64_t i = 0; want_grad && i < E; i++) {
      if (gt == SL_DTYPE_F32) {
        FD_CHECK(fz_same_f32(((const float *)g16)[i], g32[i]),
                 "element types: the float32 call's gradient");
      } else {
        const uint16_t got = ((const uint16_t *)g16)[i], want = fz_half_out(g32[i], gt);
        FD_CHECK(got == want || (isnan(fz_half_in(got, gt)) && isnan(fz_half_in(want, gt))),
                 "element types: the float32 call's gradient, rounded to its type");
      }
    }
  }
  free(xd);
  free(td);
  free(g32);
  free(g16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fd_in in = {data, size, 0};
  const int mc = FUZZ_DICE_MC;
  sl_shape sh = {1 + fd_u8(&in) % 3, 1 + fd_u8(&in) % 6, 1 + fd_u8(&in) % 9, 1 + fd_u8(&in) % 70};
  const int64_t N = sh.n, C = sh.c, H = sh.h, W = sh.w, hw = H * W, E = N * C * hw;
  float *x = malloc((size_t)E * sizeof(float)), *t = malloc((size_t)E * sizeof(float));
  int64_t *lab = malloc((size_t)(N * hw) * sizeof(int64_t));
  for (int64_t i = 0; i < E; i++) {
    x[i] = fd_float(&in);
    t[i] = fd_u8(&in) < 200 ? (float)(fd_u8(&in) & 1) : fd_float(&in);
  }
  sl_options o = sl_options_default();
  o.ignore_index = fd_u8(&in) & 1 ? -100 : 2;
  for (int64_t i = 0; i < N * hw; i++) {
    uint8_t v = fd_u8(&in);
    lab[i] = v < 240 ? v % C : v < 248 ? o.ignore_index : (int64_t)C + v % 3;
  }
  /* region */
  sl_box boxes[16];
  int64_t off[4] = {0, 0, 0, 0};
  uint8_t *mask = NULL;
  sl_region rg = {sizeof(sl_region), boxes, 0, NULL, 1, NULL};
  int valid = 1;
  const uint8_t rk = fd_u8(&in) % 6;
  int use_region = rk != 0;
  if (rk == 1 || rk == 2 || rk == 3) {
    int64_t nb = rk == 1 ? 1 : rk == 2 ? N : 0;
    if (rk == 3) {
      for (int64_t n = 0; n < N; n++)
        off[n + 1] = off[n] + fd_u8(&in) % 4;
      nb = off[N];
      rg.box_offsets = off;
    }
    for (int64_t b = 0; b < nb; b++) {
      int32_t x1 = fd_u8(&in) % (W + 1), x2 = x1 + fd_u8(&in) % (W + 1 - x1);
      int32_t y1 = fd_u8(&in) % (H + 1), y2 = y1 + fd_u8(&in) % (H + 1 - y1);
      if (fd_u8(&in) == 255) { /* an invalid box */
        x2 = (int32_t)W + 1;
        valid = 0;
      }
      sl_box bx = {x1, y1, x2, y2};
      boxes[b] = bx;
    }
    rg.num_boxes = nb;
  }
  if (rk == 4 || rk == 5 || (rk >= 1 && fd_u8(&in) < 64)) {
    int64_t mch = (rk == 5 && C > 1) ? C : 1;
    if (fd_u8(&in) == 255) { /* a wrong channel count */
      mch = C + 1;
      valid = 0;
    }
    if (mc && mch != 1)
      valid = 0;
    mask = malloc((size_t)(N * mch * hw));
    for (int64_t i = 0; i < N * mch * hw; i++)
      mask[i] = fd_u8(&in) & 3 ? 1 : 0;
    rg.mask = mask;
    rg.mask_channels = mch;
  }
  /* options */
  uint8_t ob = fd_u8(&in);
  o.reduction = (sl_reduction)(ob % 4);
  if (ob % 4 == 3)
    valid = 0;
  o.dice_tversky = fd_u8(&in) % 3 == 1;
  o.dice_log_loss = (ob >> 2) & 1;
  o.dice_from_logits = (ob >> 3) & 1;
  if (fd_u8(&in) == 7) {
    o.dice_tversky = 2;
    valid = 0;
  }
  o.tversky_alpha = fd_opt(&in, 0.5f);
  o.tversky_beta = fd_opt(&in, 0.5f);
  o.tversky_gamma = fd_opt(&in, 1.0f);
  o.dice_smooth = fd_opt(&in, 0.5f);
  o.dice_eps = fd_opt(&in, 1e-7f);
  if (!(isfinite(o.tversky_alpha) && o.tversky_alpha >= 0) ||
      !(isfinite(o.tversky_beta) && o.tversky_beta >= 0) ||
      !(isfinite(o.dice_smooth) && o.dice_smooth >= 0) ||
      !(isfinite(o.tversky_gamma) && o.tversky_gamma > 0) ||
      !(isfinite(o.dice_eps) && o.dice_eps > 0))
    valid = 0;
  float gmap[8];
  for (int k = 0; k < 8; k++)
    gmap[k] = fd_float(&in);
  const int want_grad = (ob >> 4) & 1, want_loss = (ob >> 5) & 1, want_sums = (ob >> 6) & 1;
  const int gm_given = (ob >> 7) & 1;
  o.grad_map = gm_given ? gmap : NULL;
  if ((o.reduction == SL_REDUCTION_NONE && want_grad && !gm_given) ||
      (o.reduction != SL_REDUCTION_NONE && o.reduction <= 2 && gm_given))
    valid = 0;
  /* the independent selection and label check */
  int bad_label = 0;
  int64_t count = 0;
  uint8_t *sel = calloc((size_t)E, 1);
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t y = 0; y < H; y++)
        for (int64_t xx = 0; xx < W; xx++) {
          int64_t p = (n * H + y) * W + xx, e = (n * C + c) * hw + y * W + xx;
          int s = use_region ? fd_in_box(&rg, n, y, xx) : 1;
          if (s && mask && valid)
            s = mask[((n * rg.mask_channels + (rg.mask_channels == 1 ? 0 : c)) * H + y) * W + xx] !=
                0;
          if (mc && s && lab[p] == o.ignore_index)
            s = 0;
          if (mc && s && (lab[p] < 0 || lab[p] >= C))
            bad_label = 1;
          sel[e] = (uint8_t)s;
          count += s && (!mc || c == 0);
        }
  /* element types (check 6), read after every other field */
  const uint8_t dsel = fd_u8(&in), dtsel = fd_u8(&in), dwsel = fd_u8(&in), dgsel = fd_u8(&in);
  fd_dt dt = {fz_dt_on(dsel),
              fz_dtype(dsel),
              fz_dtype(dtsel),
              fz_dtype(dwsel),
              dgsel % 16 == 15 ? (dgsel / 16 % 2 ? 2 : -1) : dgsel % 2,
              0};
  if (mc && fz_dt_half(dt.tt)) /* no target tensor: float32 (or an invalid value) */
    dt.tt = SL_DTYPE_F32;
  if (fz_dt_half(dt.wt)) /* no weight tensor either */
    dt.wt = SL_DTYPE_F32;
  dt.err = (unsigned)dt.xt > SL_DTYPE_F16 || (unsigned)dt.tt > SL_DTYPE_F16 ||
           (unsigned)dt.wt > SL_DTYPE_F16 || (unsigned)dt.grad_f32 > 1;
  if (dt.on) {
    fz_dt_round(x, (size_t)E, dt.xt);
    fz_dt_round(t, (size_t)E, dt.tt);
  }
  sl_isa isa0 = sl_isa_active();
  fd_out ref = {0};
  ref.grad = malloc((size_t)E * sizeof(float));
  /* the scales of the sums (ct_sum_err), for check 5 */
  double scale[18] = {0};
  if (valid && !(mc && bad_label) && (want_sums || dt.on))
    fd_scales(scale, &sh, &o, x, t, lab, sel);
  for (int isa = 0; isa < SL_ISA_COUNT_; isa++) {
    if (!sl_isa_available((sl_isa)isa))
      continue;
    FD_CHECK(sl_isa_set((sl_isa)isa) == SL_OK, "isa_set");
    for (int th = 1; th <= 2; th++) {
      fd_out a;
      a.grad = malloc((size_t)E * sizeof(float));
      memset(a.grad, 0xA7, (size_t)E * sizeof(float));
      memset(a.loss, 0xA7, sizeof a.loss);
      memset(&a.st, 0xA7, sizeof a.st);
      memset(a.sums, 0xA7, sizeof a.sums);
      sl_options oo = o;
      oo.num_threads = th;
      oo.stats = &a.st;
      oo.dice_sums = want_sums ? a.sums : NULL;
      const sl_region *r = use_region ? &rg : NULL;
      a.status =
          mc ? sl_dice_multiclass(&sh, x, lab, SL_LABEL_I64, r, &oo, want_loss ? a.loss : NULL,
                                  want_grad ? a.grad : NULL)
             : sl_dice(&sh, x, t, r, &oo, want_loss ? a.loss : NULL, want_grad ? a.grad : NULL);
      if (!valid) {
        FD_CHECK(a.status != SL_OK && a.status != SL_ERR_LABEL, "an argument error is due");
      } else if (mc && bad_label) {
        FD_CHECK(a.status == SL_ERR_LABEL, "SL_ERR_LABEL is due");
      } else {
        FD_CHECK(a.status == SL_OK, "SL_OK is due");
      }
      if (a.status != SL_OK) {
        uint8_t can[sizeof a.sums];
        memset(can, 0xA7, sizeof can);
        FD_CHECK(!memcmp(a.loss, can, sizeof a.loss) && !memcmp(&a.st, can, sizeof a.st) &&
                     !memcmp(a.sums, can, sizeof a.sums),
                 "outputs untouched on an error");
        for (int64_t e = 0; e < E; e++)
          FD_CHECK(!memcmp(&a.grad[e], can, sizeof(float)), "grad untouched on an error");
      } else {
        FD_CHECK(a.st.count == count && a.st.normalizer == (double)C, "stats count");
        for (int64_t e = 0; want_grad && e < E; e++)
          FD_CHECK(sel[e] || (a.grad[e] == 0.0f && !signbit(a.grad[e])), "0 outside");
      }
      if (isa == SL_ISA_SCALAR && th == 1) {
        ref.status = a.status;
        memcpy(ref.loss, a.loss, sizeof a.loss);
        memcpy(ref.sums, a.sums, sizeof a.sums);
        memcpy(ref.grad, a.grad, (size_t)E * sizeof(float));
        ref.st = a.st;
      } else if (th == 2 && isa == SL_ISA_SCALAR) {
        FD_CHECK(!memcmp(a.grad, ref.grad, (size_t)E * sizeof(float)) &&
                     !memcmp(a.loss, ref.loss, sizeof a.loss) &&
                     !memcmp(a.sums, ref.sums, sizeof a.sums),
                 "thread-count identity");
      } else {
        FD_CHECK(a.status == ref.status, "same status on every ISA");
        if (a.status == SL_OK && want_sums) {
          for (int64_t c = 0; c < C; c++)
            for (int k = 0; k < 3; k++) {
              const double abs_sum = scale[3 * c + k];
              double s1 = ref.sums[3 * c + k], s2 = a.sums[3 * c + k];
              if (!(ct_sum_err(s2, s1, abs_sum, 0) <= 1.0))
                fprintf(stderr,
                        "%s, %d threads: dice_sums[%lld] %.17g, scalar %.17g, scale %.17g\n",
                        sl_isa_name((sl_isa)isa), th, (long long)(3 * c + k), s2, s1, abs_sum);
              FD_CHECK(ct_sum_err(s2, s1, abs_sum, 0) <= 1.0, "dice_sums within the contract");
            }
        }
      }
      free(a.grad);
    }
  }
  if (dt.on)
    fd_dt_check(&sh, use_region ? &rg : NULL, &o, x, t, lab, &dt, valid, mc && bad_label, want_loss,
                want_grad);
  sl_isa_set(isa0);
  free(ref.grad);
  free(sel);
  free(mask);
  free(x);
  free(t);
  free(lab);
  return 0;
}

#endif /* SL_FUZZ_DICE_COMMON_H */
