// SPDX-License-Identifier: MIT
/*
 * fuzz_ce_prob.c - libFuzzer target for sl_ce_prob() (cross-entropy with class-probability
 * targets). Its own decoder, smaller than fuzz_common.h's (which serves the three 1.0 entry
 * points): the input bytes become a small shape (C up to 40), a section (NULL region, one box,
 * N boxes, box_offsets with 0..3 boxes per sample, a one-channel mask; sometimes a C-channel
 * mask), options (reduction, class weights, pixel weights, label smoothing, ignore_index,
 * grad_scale, grad_map; invalid reductions, smoothings and ignore_index too), outputs present or
 * not, the gradient sometimes written over the logits, and data drawn from ordinary values and
 * specials (NaN, +-inf, +-0, subnormals, +-1e30, 3e38, logits beyond the exp range; targets
 * one-hot, distributions or any floats). Buffers have their exact sizes (AddressSanitizer).
 * Checks (a failure aborts; libFuzzer saves the input), the acceptance rules of
 * docs/accuracy.md:
 *   1. no crash, no ASan / UBSan report;
 *   2. the status is one of the argument errors the input has (written here from
 *      sectionloss.h: SL_ERR_REDUCTION, SL_ERR_OPTION for a label_smoothing outside [0, 1] or
 *      an ignore_index other than -100, SL_ERR_MASK_CHANNELS for C mask channels with C > 1),
 *      else SL_OK; on an error nothing is written (canaries);
 *   3. on success (scalar): stats.count is the independently counted selection, the normaliser
 *      the count (or the sum of the selected pixel weights, within 1e-12 of the sum of their
 *      |values|), grad and a NONE loss map exactly 0 outside the section;
 *   4. every other available ISA gives the same status and results within the contract of
 *      tests/contract.h (ct_ce_prob_*: the shifted algorithm's bound per element, the reduced
 *      losses within 1e-6 of the sum of |per-pixel loss| plus the per-pixel bounds), count and
 *      normaliser equal; in place as out of place;
 *   5. element types (fuzz_dtype.h), four bytes read after every other field (an input that
 *      ends before them: float32, no second call; the first byte outside fz_dt_on's range: the
 *      same): input_dtype
 *      (the logits and the gradient), target_dtype (the probabilities), weight_dtype (the pixel
 *      weights), grad_f32 and a gradient over the 2-byte logits; invalid values give
 *      SL_ERR_DTYPE. The data are rounded to the types first (checks 2-4 then hold for the float32
 * call on their values), and on every ISA the 2-byte call gives the float32 call's status and
 * results on that ISA: the NONE map and the count bit for bit, the gradient that call's rounded to
 * its type, the sums within FZ_DT_SUM (fuzz_common.h's rule 7 in docs/accuracy.md). Shape legend N,
 * C, H, W as in sectionloss.h.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../contract.h"
#include "fuzz_dtype.h"
#include "sectionloss.h"

typedef struct fz_in {
  const uint8_t *p;
  size_t n, i;
} fz_in;

static uint8_t u8(fz_in *in) {
  return in->i < in->n ? in->p[in->i++] : 0;
}

static float fz_float(fz_in *in, int target) {
  static const float sp[] = {0.0f,   -0.0f, 1.0f,    -1.0f,    0.5f,      1e-40f, 1e30f,
                             -1e30f, 88.0f, -104.0f, INFINITY, -INFINITY, NAN,    3e38f};
  uint8_t k = u8(in);
  if (k < 24)
    return sp[k % (sizeof sp / sizeof sp[0])];
  float v = (float)(u8(in) | (u8(in) << 8)) / 65535.0f;
  return target ? v : 16.0f * v - 8.0f;
}

#define FZ_FAIL(...)                                                                               \
  do {                                                                                             \
    fprintf(stderr, "fuzz_ce_prob: " __VA_ARGS__);                                                 \
    fprintf(stderr, "\n");                                                                         \
    abort();                                                                                       \
  } while (0)

static int canary_ok(const void *p, size_t bytes) {
  const uint8_t *b = p;
  for (size_t i = 0; i < bytes; i++)
    if (b[i] != 0xA7)
      return 0;
  return 1;
}

typedef struct fz_out {
  sl_status st;
  float *loss, *grad, *xin; /* xin: the logits (a copy: the in-place gradient overwrites it) */
  sl_stats stats;
} fz_out;

typedef struct fz_dt_ce_prob_types {
  sl_dtype xt, tt, wt;
  int grad_f32, inplace;
} fz_dt_ce_prob_types;

/* Check 5: the call with element types d on every ISA (isas[k]) against the float32 call's
 * results there (out[k]; ok: its options without stats). dt_err: the types are an argument error
 * (SL_ERR_DTYPE); any_bad: the float32 call's own argument errors (its status is then one). */
static void fz_dt_ce_prob(const sl_shape *sh, const sl_region *reg, const sl_options *ok,
                          const float *x, const float *q, const float *pw, const uint8_t *sel,
                          const fz_out *out, const sl_isa *isas, int nout, int want_loss,
                          int want_grad, fz_dt_ce_prob_types d, int dt_err, int any_bad,
                          double norm, double norm_abs) {
  const int64_t C = sh->c, E = sh->n * C * sh->h * sh->w, P = sh->n * sh->h * sh->w;
  const int none = ok->reduction == SL_REDUCTION_NONE;
  const int64_t nl = none ? P : 1;
  const sl_dtype gt = d.grad_f32 == 1 || !fz_dt_half(d.xt) ? SL_DTYPE_F32 : d.xt;
  const size_t xsz = fz_dt_size(d.xt), gsz = fz_dt_size(gt);
  void *xd0 = fz_dt_pack(x, (size_t)E, d.xt), *xd = malloc((size_t)E * xsz);
  void *qd = fz_dt_pack(q, (size_t)E, d.tt), *pwd = fz_dt_pack(pw, (size_t)P, d.wt);
  float *dl = malloc((size_t)nl * 4);
  void *dg = malloc((size_t)E * gsz);
  double abs_sum = 0.0; /* the float32 call's sum of |terms| (fuzz_dtype.h) */
  if (out[0].st == SL_OK) {
    ct_call cc = {.op = T_CE_PROB,
                  .shape = *sh,
                  .x = x,
                  .t = q,
                  .weight = ok->weight,
                  .grad_map = ok->grad_map,
                  .reduction = ok->reduction,
                  .grad_scale = ok->grad_scale,
                  .normalizer = out[0].stats.normalizer,
                  .smoothing = ok->label_smoothing,
                  .sel = sel,
                  .pixel_weight = ok->pixel_weight};
    abs_sum = ct_terms(&cc, NULL, NULL);
  }
  const double dsum = FZ_DT_SUM(2 * E + 64) * abs_sum, dnorm = FZ_DT_SUM(P + 64) * norm_abs;
  const sl_isa before = sl_isa_active();
  for (int k = 0; k < nout; k++) {
    const fz_out *r = &out[k];
    const char *nm = sl_isa_name(isas[k]);
    sl_options od = *ok;
    sl_stats ds;
    od.input_dtype = d.xt;
    od.target_dtype = d.tt;
    od.weight_dtype = d.wt;
    od.grad_f32 = d.grad_f32;
    od.pixel_weight = ok->pixel_weight ? (const float *)pwd : NULL;
    od.stats = &ds;
    memcpy(xd, xd0, (size_t)E * xsz);
    memset(dl, 0xA7, (size_t)nl * 4);
    memset(dg, 0xA7, (size_t)E * gsz);
    memset(&ds, 0xA7, sizeof ds);
    float *g = !want_grad ? NULL : d.inplace ? (float *)xd : (float *)dg;
    sl_isa_set(isas[k]);
    const sl_status st =
        sl_ce_prob(sh, (const float *)xd, (const float *)qd, reg, &od, want_loss ? dl : NULL, g);
    const int untouched = canary_ok(dl, (size_t)nl * 4) && canary_ok(&ds, sizeof ds) &&
                          canary_ok(dg, (size_t)E * gsz) && memcmp(xd, xd0, (size_t)E * xsz) == 0;
    if (dt_err || any_bad) {
      if (!((dt_err && st == SL_ERR_DTYPE) || (any_bad && st == r->st)))
        FZ_FAIL("%s: types %d %d %d, grad_f32 %d, in place %d: status %d (%s), float32 %d", nm,
                (int)d.xt, (int)d.tt, (int)d.wt, d.grad_f32, d.inplace, st, sl_status_string(st),
                r->st);
      if (!untouched)
        FZ_FAIL("%s: an output (or the logits) written on error %d with element types", nm, st);
      continue;
    }
    if (st != r->st)
      FZ_FAIL("%s: types %d %d %d: status %d (%s), float32 %d", nm, (int)d.xt, (int)d.tt, (int)d.wt,
              st, sl_status_string(st), r->st);
    if (st != SL_OK)
      continue;
    for (int64_t p = 0; want_loss && none && p < P; p++)
      if (!fz_same_f32(dl[p], r->loss[p]))
        FZ_FAIL("%s: types %d %d %d: loss[%lld] %.9g, float32 %.9g", nm, (int)d.xt, (int)d.tt,
                (int)d.wt, (long long)p, (double)dl[p], (double)r->loss[p]);
    if (want_loss && !none) {
      const double nlo = fabs(norm) - 1e-12 * (norm_abs + 1.0) - dnorm;
      const double tol = ok->reduction == SL_REDUCTION_SUM ? dsum
                         : nlo > 0.0 ? dsum / nlo + abs_sum * dnorm / (nlo * nlo)
                                     : INFINITY;
      if (!(norm_abs == 0.0 && ok->reduction == SL_REDUCTION_MEAN
                ? fz_same_f32(dl[0], r->loss[0])
                : fz_dt_close(dl[0], r->loss[0], tol, 1)))
        FZ_FAIL("%s: types %d %d %d: loss %.9g, float32 %.9g (tolerance %g)", nm, (int)d.xt,
                (int)d.tt, (int)d.wt, (double)dl[0], (double)r->loss[0], tol);
    } else if (!want_loss && !canary_ok(dl, (size_t)nl * 4)) {
      FZ_FAIL("%s: loss written though NULL (element types)", nm);
    }
    if (ds.count != r->stats.count || !fz_dt_close(ds.normalizer, r->stats.normalizer, dnorm, 0) ||
        !fz_dt_close(ds.loss_sum, r->stats.loss_sum, dsum, 0))
      FZ_FAIL("%s: types %d %d %d: stats (%.17g, %.17g, %lld), float32 (%.17g, %.17g, %lld)", nm,
              (int)d.xt, (int)d.tt, (int)d.wt, ds.loss_sum, ds.normalizer, (long long)ds.count,
              r->stats.loss_sum, r->stats.normalizer, (long long)r->stats.count);
    if (!want_grad && !canary_ok(dg, (size_t)E * gsz))
      FZ_FAIL("%s: grad written though NULL (element types)", nm);
    for (int64_t i = 0; want_grad && i < E; i++) {
      if (gt == SL_DTYPE_F32) {
        if (!fz_same_f32(g[i], r->grad[i]))
          FZ_FAIL("%s: types %d %d %d, grad_f32 %d, in place %d: grad[%lld] %.9g, float32 %.9g", nm,
                  (int)d.xt, (int)d.tt, (int)d.wt, d.grad_f32, d.inplace, (long long)i,
                  (double)g[i], (double)r->grad[i]);
        continue;
      }
      const uint16_t got = ((const uint16_t *)(const void *)g)[i],
                     want = fz_half_out(r->grad[i], gt);
      if (got != want && !(isnan(fz_half_in(got, gt)) && isnan(fz_half_in(want, gt))))
        FZ_FAIL("%s: types %d %d %d, in place %d: grad[%lld] 0x%04x, float32 %.9g rounded 0x%04x",
                nm, (int)d.xt, (int)d.tt, (int)d.wt, d.inplace, (long long)i, got,
                (double)r->grad[i], want);
    }
  }
  sl_isa_set(before);
  free(xd0);
  free(xd);
  free(qd);
  free(pwd);
  free(dl);
  free(dg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size, 0};
  const int64_t N = 1 + u8(&in) % 3, H = 1 + u8(&in) % 5, W = 1 + u8(&in) % 40;
  uint8_t cb = u8(&in);
  const int64_t C = cb < 200 ? 1 + cb % 9 : 10 + cb % 31;
  const int64_t HW = H * W, E = N * C * HW, P = N * HW;
  float *x = malloc((size_t)E * 4), *q = malloc((size_t)E * 4), *cw = malloc((size_t)C * 4);
  float *pw = malloc((size_t)P * 4), *gm = malloc((size_t)P * 4);
  uint8_t *mask = malloc((size_t)(N * C * HW));
  sl_box *boxes = malloc((size_t)(3 * N + 1) * sizeof(sl_box));
  int64_t *off = malloc((size_t)(N + 1) * sizeof(int64_t));
  uint8_t *sel = malloc((size_t)P);
  for (int64_t i = 0; i < E; i++)
    x[i] = fz_float(&in, 0);
  const uint8_t qkind = u8(&in) % 3; /* one-hot, distributions, any floats */
  for (int64_t n = 0; n < N; n++)
    for (int64_t i = 0; i < HW; i++) {
      float *qp = q + n * C * HW + i, tot = 0.0f;
      int64_t hot = u8(&in) % C;
      for (int64_t c = 0; c < C; c++) {
        qp[c * HW] = qkind == 0 ? (float)(c == hot) : fz_float(&in, qkind == 1);
        tot += qp[c * HW];
      }
      for (int64_t c = 0; qkind == 1 && tot > 0.0f && c < C; c++)
        qp[c * HW] /= tot;
    }
  for (int64_t c = 0; c < C; c++)
    cw[c] = u8(&in) < 16 ? fz_float(&in, 1) : 0.25f * (float)(1 + u8(&in) % 8);
  for (int64_t i = 0; i < P; i++) {
    pw[i] = u8(&in) < 20 ? fz_float(&in, 1) : 2.0f * fz_float(&in, 1);
    gm[i] = fz_float(&in, 0) / 4.0f;
  }
  /* the section */
  sl_region reg = sl_region_default();
  const uint8_t rk = u8(&in) % 5, mk = u8(&in) % 4;
  if (rk == 1 || rk == 2) {
    int64_t nb = rk == 1 ? 1 : N;
    for (int64_t k = 0; k < nb; k++) {
      int32_t a = (int32_t)(u8(&in) % (W + 1)), b = (int32_t)(u8(&in) % (W + 1));
      int32_t c = (int32_t)(u8(&in) % (H + 1)), d = (int32_t)(u8(&in) % (H + 1));
      boxes[k] = (sl_box){a < b ? a : b, c < d ? c : d, a < b ? b : a, c < d ? d : c};
    }
    reg.boxes = boxes;
    reg.num_boxes = nb;
  } else if (rk == 3) {
    int64_t nb = 0;
    off[0] = 0;
    for (int64_t n = 0; n < N; n++) {
      for (int64_t k = u8(&in) % 4; k > 0; k--, nb++) {
        int32_t a = (int32_t)(u8(&in) % (W + 1)), b = (int32_t)(u8(&in) % (W + 1));
        int32_t c = (int32_t)(u8(&in) % (H + 1)), d = (int32_t)(u8(&in) % (H + 1));
        boxes[nb] = (sl_box){a < b ? a : b, c < d ? c : d, a < b ? b : a, c < d ? d : c};
      }
      off[n + 1] = nb;
    }
    reg.boxes = nb ? boxes : NULL;
    reg.num_boxes = nb;
    reg.box_offsets = off;
  }
  const int64_t mc = mk == 3 ? C : 1;
  if (mk >= 2) {
    for (int64_t i = 0; i < N * mc * HW; i++)
      mask[i] = u8(&in) % 3 ? 1 : 0;
    reg.mask = mask;
    reg.mask_channels = mc;
  }
  /* options */
  sl_options o = sl_options_default();
  const uint8_t red = u8(&in);
  o.reduction = red < 250 ? (sl_reduction)(red % 3) : (sl_reduction)7;
  static const float smooth[] = {0.0f, 0.0f, 0.1f, 0.5f, 1.0f, -0.1f, 1.5f, NAN};
  o.label_smoothing = smooth[u8(&in) % 8];
  o.ignore_index = u8(&in) < 245 ? -100 : 3;
  o.weight = u8(&in) % 2 ? cw : NULL;
  o.pixel_weight = u8(&in) % 2 ? pw : NULL;
  o.grad_scale = u8(&in) % 4 ? 1.0f : -0.75f;
  const uint8_t ok = u8(&in);
  const int want_loss = ok % 2, want_grad = (ok / 2) % 2, in_place = want_grad && (ok / 4) % 2;
  if (o.reduction == SL_REDUCTION_NONE && want_grad)
    o.grad_map = gm;
  o.num_threads = 1 + u8(&in) % 2;
  const int use_region = rk != 0 || mk >= 2;
  /* element types, last (check 5) */
  const uint8_t dsel = u8(&in), dtsel = u8(&in), dwsel = u8(&in), dgsel = u8(&in);
  const int dt_on = fz_dt_on(dsel);
  const sl_dtype xt = fz_dtype(dsel), tt = fz_dtype(dtsel), wt = fz_dtype(dwsel);
  const int gf32 = dgsel % 16 == 15 ? (dgsel / 16 % 2 ? 2 : -1) : dgsel % 2;
  const int dt_inplace = want_grad && dgsel / 2 % 4 == 0;
  const int dt_err = (unsigned)xt > SL_DTYPE_F16 || (unsigned)tt > SL_DTYPE_F16 ||
                     (unsigned)wt > SL_DTYPE_F16 || (unsigned)gf32 > 1 ||
                     (dt_inplace && gf32 == 1 && fz_dt_half(xt));
  if (dt_on) {
    fz_dt_round(x, (size_t)E, xt);
    fz_dt_round(q, (size_t)E, tt);
    fz_dt_round(pw, (size_t)P, wt);
  }

  /* the independent validity check and selection */
  int bad_red = red >= 250,
      bad_opt = !(o.label_smoothing >= 0.0f && o.label_smoothing <= 1.0f) || o.ignore_index != -100;
  int bad_mc = mk == 3 && C != 1;
  int64_t count = 0;
  double norm = 0.0, norm_abs = 0.0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t y = 0; y < H; y++)
      for (int64_t xx = 0; xx < W; xx++) {
        int in_box = 1;
        if (rk == 1 || rk == 2 || rk == 3) {
          int64_t k0 = rk == 1   ? 0
                       : rk == 2 ? n
                                 : off[n],
                  k1 = rk == 1   ? 1
                       : rk == 2 ? n + 1
                                 : off[n + 1];
          in_box = 0;
          for (int64_t k = k0; k < k1; k++)
            in_box |= xx >= boxes[k].x1 && xx < boxes[k].x2 && y >= boxes[k].y1 && y < boxes[k].y2;
        }
        int64_t p = (n * H + y) * W + xx;
        sel[p] = (uint8_t)(in_box && (mk < 2 || mask[(n * mc * H + y) * W + xx] != 0));
        count += sel[p];
        double v = o.pixel_weight ? (double)pw[p] : 1.0;
        norm += sel[p] ? v : 0.0;
        norm_abs += sel[p] ? fabs(v) : 0.0;
      }

  /* one call per available ISA, scalar first */
  const int64_t nl = o.reduction == SL_REDUCTION_NONE ? P : 1;
  fz_out out[SL_ISA_COUNT_];
  const sl_isa before = sl_isa_active();
  int nout = 0;
  sl_isa isas[SL_ISA_COUNT_];
  for (int i = 0; i < SL_ISA_COUNT_; i++)
    if (i == SL_ISA_SCALAR || sl_isa_available((sl_isa)i))
      isas[nout++] = (sl_isa)i;
  for (int k = 0; k < nout; k++) {
    fz_out *r = &out[k];
    r->loss = malloc((size_t)nl * 4);
    r->grad = malloc((size_t)E * 4);
    r->xin = malloc((size_t)E * 4);
    memcpy(r->xin, x, (size_t)E * 4);
    memset(r->loss, 0xA7, (size_t)nl * 4);
    memset(r->grad, 0xA7, (size_t)E * 4);
    memset(&r->stats, 0xA7, sizeof r->stats);
    sl_options ok2 = o;
    ok2.stats = &r->stats;
    float *g = want_grad ? (in_place ? r->xin : r->grad) : NULL;
    sl_isa_set(isas[k]);
    r->st = sl_ce_prob(&(sl_shape){N, C, H, W}, r->xin, q, use_region ? &reg : NULL, &ok2,
                       want_loss ? r->loss : NULL, g);
    if (in_place && r->st == SL_OK)
      memcpy(r->grad, r->xin, (size_t)E * 4);
  }
  sl_isa_set(before);

  const fz_out *s = &out[0];
  const int any_bad = bad_red || bad_opt || bad_mc;
  if (any_bad) {
    int allowed = (bad_red && s->st == SL_ERR_REDUCTION) || (bad_opt && s->st == SL_ERR_OPTION) ||
                  (bad_mc && s->st == SL_ERR_MASK_CHANNELS);
    if (!allowed)
      FZ_FAIL("status %d (%s) for an input with argument errors red %d opt %d mc %d", s->st,
              sl_status_string(s->st), bad_red, bad_opt, bad_mc);
  } else if (s->st != SL_OK) {
    FZ_FAIL("status %d (%s) for a valid input", s->st, sl_status_string(s->st));
  }
  for (int k = 0; k < nout; k++) {
    const fz_out *r = &out[k];
    if (r->st != s->st)
      FZ_FAIL("%s: status %d, scalar %d", sl_isa_name(isas[k]), r->st, s->st);
    if (r->st != SL_OK) {
      if (!canary_ok(r->loss, (size_t)nl * 4) || !canary_ok(&r->stats, sizeof r->stats) ||
          (!in_place && !canary_ok(r->grad, (size_t)E * 4)) ||
          (in_place && memcmp(r->xin, x, (size_t)E * 4) != 0))
        FZ_FAIL("%s: an output written on error %d", sl_isa_name(isas[k]), r->st);
      continue;
    }
    if (r->stats.count != count)
      FZ_FAIL("%s: count %lld, want %lld", sl_isa_name(isas[k]), (long long)r->stats.count,
              (long long)count);
    if (!(r->stats.normalizer == norm ||
          fabs(r->stats.normalizer - norm) <= 1e-12 * (norm_abs + 1.0)) &&
        !(isnan(norm) && isnan(r->stats.normalizer)))
      FZ_FAIL("%s: normaliser %.17g, want %.17g", sl_isa_name(isas[k]), r->stats.normalizer, norm);
    if (memcmp(&r->stats.normalizer, &s->stats.normalizer, sizeof(double)) != 0)
      FZ_FAIL("%s: normaliser %.17g, scalar %.17g", sl_isa_name(isas[k]), r->stats.normalizer,
              s->stats.normalizer);
    for (int64_t i = 0; i < E && want_grad; i++) {
      int64_t p = i / (C * HW) * HW + i % HW;
      if (!sel[p] && r->grad[i] != 0.0f)
        FZ_FAIL("%s: grad[%lld] = %g outside the section", sl_isa_name(isas[k]), (long long)i,
                (double)r->grad[i]);
    }
    for (int64_t p = 0; p < P && want_loss && o.reduction == SL_REDUCTION_NONE; p++)
      if (!sel[p] && r->loss[p] != 0.0f)
        FZ_FAIL("%s: loss map [%lld] = %g outside the section", sl_isa_name(isas[k]), (long long)p,
                (double)r->loss[p]);
  }
  if (s->st == SL_OK && nout > 1) {
    /* the contract against the scalar results */
    double *lterms = malloc((size_t)P * sizeof(double)), *gterms = malloc((size_t)E * 8);
    ct_call cc = {.op = T_CE_PROB,
                  .shape = {N, C, H, W},
                  .x = x,
                  .t = q,
                  .weight = o.weight,
                  .grad_map = o.grad_map,
                  .reduction = o.reduction,
                  .grad_scale = o.grad_scale,
                  .normalizer = s->stats.normalizer,
                  .smoothing = o.label_smoothing,
                  .sel = sel,
                  .pixel_weight = o.pixel_weight};
    const double abs_sum = ct_terms(&cc, lterms, gterms);
    const double mn = o.reduction == SL_REDUCTION_MEAN && s->stats.normalizer != 0.0
                          ? fabs(s->stats.normalizer)
                          : 1.0;
    for (int k = 1; k < nout; k++) {
      const fz_out *r = &out[k];
      for (int64_t i = 0; i < E && want_grad; i++)
        if (!(ct_elem_err(T_CE_PROB, r->grad[i], s->grad[i], gterms[i], 1.0) <= 1.0))
          FZ_FAIL("%s: grad[%lld] %.9g, scalar %.9g, tolerance %g", sl_isa_name(isas[k]),
                  (long long)i, (double)r->grad[i], (double)s->grad[i], gterms[i]);
      if (want_loss && o.reduction == SL_REDUCTION_NONE) {
        for (int64_t p = 0; p < P; p++)
          if (!(ct_elem_err(T_CE_PROB, r->loss[p], s->loss[p], lterms[p], 1.0) <= 1.0))
            FZ_FAIL("%s: loss[%lld] %.9g, scalar %.9g, tolerance %g", sl_isa_name(isas[k]),
                    (long long)p, (double)r->loss[p], (double)s->loss[p], lterms[p]);
      } else if (want_loss && !(ct_sum_err(r->loss[0], s->loss[0], abs_sum / mn, 1) <= 1.0)) {
        FZ_FAIL("%s: loss %.9g, scalar %.9g (scale %g)", sl_isa_name(isas[k]), (double)r->loss[0],
                (double)s->loss[0], abs_sum / mn);
      }
      if (!(ct_sum_err(r->stats.loss_sum, s->stats.loss_sum, abs_sum, 0) <= 1.0))
        FZ_FAIL("%s: loss_sum %.17g, scalar %.17g (scale %g)", sl_isa_name(isas[k]),
                r->stats.loss_sum, s->stats.loss_sum, abs_sum);
    }
    free(lterms);
    free(gterms);
  }
  if (dt_on)
    fz_dt_ce_prob(&(sl_shape){N, C, H, W}, use_region ? &reg : NULL, &o, x, q, pw, sel, out, isas,
                  nout, want_loss, want_grad, (fz_dt_ce_prob_types){xt, tt, wt, gf32, dt_inplace},
                  dt_err, any_bad, norm, norm_abs);
  for (int k = 0; k < nout; k++) {
    free(out[k].loss);
    free(out[k].grad);
    free(out[k].xin);
  }
  free(x);
  free(q);
  free(cw);
  free(pw);
  free(gm);
  free(mask);
  free(boxes);
  free(off);
  free(sel);
  return 0;
}
