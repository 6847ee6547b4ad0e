// SPDX-License-Identifier: MIT
/*
 * test_ohem.c - online hard example mining (sl_options.ohem_thresh, ohem_min_kept) for sl_ce
 * and sl_softmax_focal: mmsegmentation's OHEMPixelSampler selection, then the loss over the
 * kept pixels.
 *
 * The expected selection is computed here in double from the sampler's formula: over the
 * counted pixels of the section (boxes, mask, not ignore_index), p_t = softmax(x)_label, sorted
 * ascending; K' = min(min_kept N, n - 1); threshold = max(thresh, p_sorted[K']); kept when
 * p_t < threshold. A call with mining must then give, bit for bit, what the same call without
 * mining gives with the kept pixels as its mask (the mining only narrows the section), and count
 * the kept pixels in stats. Each case checks that no counted pixel's p_t lies within 1e-5
 * (relative) of the threshold but the one that defines it, so that the float kernel's p_t
 * selects the same pixels as the double formula. On every ISA (scripts/run-tests.sh).
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sectionloss.h"
#include "util.h"

typedef struct kept {
  uint8_t *mask; /* N x H x W: the expected kept pixels (inside the region's mask) */
  int64_t n, count;
  int ambiguous; /* a counted p_t within 1e-5 of the threshold (not the defining one) */
} kept;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The sampler's selection in double over c's counted pixels. */
static kept select_ref(const t_case *c, float thresh, int64_t min_kept) {
  const int64_t N = c->shape.n, C = c->shape.c, H = c->shape.h, W = c->shape.w, HW = H * W;
  kept k = {t_alloc((size_t)(N * HW)), 0, 0, 0};
  double *pt = t_alloc((size_t)(N * HW) * sizeof(double));
  double *sorted = t_alloc((size_t)(N * HW) * sizeof(double));
  for (int64_t n = 0; n < N; n++)
    for (int64_t y = 0; y < H; y++)
      for (int64_t x = 0; x < W; x++) {
        const int64_t i = n * HW + y * W + x, lab = t_label_at(c, i);
        int counted = t_in_boxes(c, n, y, x) && (!c->mask || c->mask[i]) &&
                      lab != c->opt.ignore_index && lab >= 0 && lab < C;
        pt[i] = -1.0;
        if (!counted)
          continue;
        double m = -INFINITY, s = 0.0;
        for (int64_t ch = 0; ch < C; ch++)
          m = fmax(m, (double)c->x[(n * C + ch) * HW + y * W + x]);
        for (int64_t ch = 0; ch < C; ch++)
          s += exp((double)c->x[(n * C + ch) * HW + y * W + x] - m);
        pt[i] = exp((double)c->x[(n * C + lab) * HW + y * W + x] - m) / s;
        sorted[k.n++] = pt[i];
      }
  qsort(sorted, (size_t)k.n, sizeof(double), cmp_double);
  double thr = thresh, defining = -1.0;
  if (k.n > 0) {
    const int64_t kk = min_kept >= (k.n - 1) / N + 1 ? k.n - 1 : min_kept * N; /* no overflow */
    if (sorted[kk] > thr) {
      thr = sorted[kk];
      defining = sorted[kk];
    }
  }
  for (int64_t i = 0; i < N * HW; i++) {
    k.mask[i] = pt[i] >= 0.0 && pt[i] < thr;
    k.count += k.mask[i];
    if (pt[i] >= 0.0 && pt[i] != defining && fabs(pt[i] - thr) <= 1e-5 * thr)
      k.ambiguous = 1;
  }
  free(pt);
  free(sorted);
  return k;
}

typedef struct result {
  float *loss, *grad;
  sl_stats stats;
  sl_status status;
} result;

static result call(const t_case *c, const sl_options *o, int threads) {
  const int64_t lsize = c->opt.reduction == SL_REDUCTION_NONE ? t_map_elems(c) : 1;
  result r = {t_alloc((size_t)lsize * sizeof(float)),
              t_alloc((size_t)t_elems(&c->shape) * sizeof(float)),
              {0, 0, 0},
              SL_OK};
  t_canary(r.loss, (size_t)lsize * sizeof(float));
  t_canary(r.grad, (size_t)t_elems(&c->shape) * sizeof(float));
  sl_options opt = *o;
  opt.stats = &r.stats;
  opt.num_threads = threads;
  r.status = t_call(c, &opt, r.loss, r.grad);
  return r;
}

/* 0 when the mined call equals the call with the kept pixels as its mask. */
static int check(t_case *c, float thresh, int64_t min_kept, const char *what) {
  kept k = select_ref(c, thresh, min_kept);
  int bad = 0;
  cr_expect(!k.ambiguous, "%s: a p_t within 1e-5 of the threshold: pick another seed", what);
  sl_options om = c->opt;
  om.ohem_thresh = thresh;
  om.ohem_min_kept = min_kept;
  result got = call(c, &om, 2), one = call(c, &om, 1);
  /* the reference: no mining, the kept pixels as the mask */
  uint8_t *saved_mask = c->mask;
  const uint8_t *saved_region_mask = c->region.mask;
  c->mask = k.mask;
  c->region.mask = k.mask;
  int saved_use = c->use_region;
  c->use_region = 1;
  result want = call(c, &c->opt, 2);
  c->mask = saved_mask;
  c->region.mask = saved_region_mask;
  c->use_region = saved_use;
  const int64_t lsize = c->opt.reduction == SL_REDUCTION_NONE ? t_map_elems(c) : 1;
  int64_t dl = t_first_diff(got.loss, want.loss, lsize);
  int64_t dg = t_first_diff(got.grad, want.grad, t_elems(&c->shape));
  int64_t d1 = t_first_diff(got.grad, one.grad, t_elems(&c->shape));
  bad |= got.status != SL_OK || want.status != SL_OK || dl >= 0 || dg >= 0 || d1 >= 0;
  bad |= got.stats.count != k.count || want.stats.count != k.count ||
         memcmp(&got.stats.normalizer, &want.stats.normalizer, sizeof(double)) != 0 ||
         memcmp(&got.stats.loss_sum, &want.stats.loss_sum, sizeof(double)) != 0;
  cr_expect(!bad,
            "%s [%s] thresh %g min_kept %lld: status %d/%d, loss diff at %lld, grad diff at %lld, "
            "1 vs 2 threads at %lld, kept %lld (stats %lld, masked call %lld) of %lld",
            what, sl_isa_name(sl_isa_active()), (double)thresh, (long long)min_kept, got.status,
            want.status, (long long)dl, (long long)dg, (long long)d1, (long long)k.count,
            (long long)got.stats.count, (long long)want.stats.count, (long long)k.n);
  free(got.loss), free(got.grad), free(one.loss), free(one.grad);
  free(want.loss), free(want.grad), free(k.mask);
  return bad;
}

/* Shapes x regions x reductions x options, each with thresholds that bind and minimums that do
 * (min_kept above the count: the threshold is the largest p_t). */
Test(ohem, matches_the_sampler) {
  static const sl_shape shapes[] = {{2, 5, 17, 23}, {3, 19, 40, 52}, {1, 2, 64, 64}};
  static const struct {
    float thresh;
    int64_t min_kept;
  } sel[] = {
      {0.7f, 0}, {0.7f, 100},      {0.3f, 5},        {0.0f, 37},
      {1.0f, 0}, {0.05f, 1000000}, {0.3f, INT64_MAX}}; /* min_kept N beyond int64: saturates */
  int fails = 0;
  uint64_t seed = 9100;
  for (int s = 0; s < 3; s++)
    for (int op = 0; op < 2; op++)
      for (int variant = 0; variant < 4; variant++) {
        t_spec sp = t_spec_default(op ? T_SOFTMAX_FOCAL : T_CE, shapes[s], seed++);
        sp.reduction = (sl_reduction)(variant % 3);
        sp.box = variant == 1 ? TB_PER_SAMPLE : variant == 3 ? TB_MANY : TB_NONE;
        sp.mask = variant >= 2 ? TM_RANDOM : TM_NONE;
        sp.ignore = 1;
        sp.weight = variant & 1;
        sp.pixel_weight = variant == 2;
        sp.smoothing = op == 0 && variant == 3 ? 0.1f : 0.0f;
        sp.scale = 3.0f;
        if (sp.box == TB_MANY && shapes[s].n < 2)
          sp.box = TB_INTERIOR;
        t_case c;
        t_case_make(&c, &sp);
        for (size_t k = 0; k < sizeof sel / sizeof sel[0]; k++) {
          char what[128];
          t_spec_str(&sp, what, sizeof what);
          fails += check(&c, sel[k].thresh, sel[k].min_kept, what);
        }
        t_case_free(&c);
      }
  cr_assert(fails == 0);
}

/* A NaN logit's pixel is always kept: the loss is NaN, as without mining. */
Test(ohem, nan_is_kept) {
  t_spec sp = t_spec_default(T_CE, (sl_shape){1, 3, 4, 5}, 9200);
  t_case c;
  t_case_make(&c, &sp);
  c.x[7] = NAN;
  sl_options o = c.opt;
  o.ohem_thresh = 0.0f; /* only the min_kept hardest, here none: the NaN pixel alone */
  result r = call(&c, &o, 1);
  cr_expect(r.status == SL_OK && isnan(r.loss[0]) && r.stats.count == 1,
            "status %d loss %g count %lld", r.status, (double)r.loss[0], (long long)r.stats.count);
  free(r.loss), free(r.grad);
  t_case_free(&c);
}

/* Bad options: SL_ERR_OHEM, nothing written. */
Test(ohem, status) {
  t_spec sp = t_spec_default(T_CE, (sl_shape){1, 3, 4, 5}, 9300);
  t_case c;
  t_case_make(&c, &sp);
  static const struct {
    float thresh;
    int64_t min_kept;
  } bad[] = {{NAN, 0}, {1.5f, 0}, {0.5f, -1}, {-1.0f, 10}};
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    sl_options o = c.opt;
    o.ohem_thresh = bad[k].thresh;
    o.ohem_min_kept = bad[k].min_kept;
    result r = call(&c, &o, 1);
    cr_expect(r.status == SL_ERR_OHEM && t_is_canary(r.grad, sizeof(float)),
              "thresh %g min_kept %lld: status %d", (double)bad[k].thresh,
              (long long)bad[k].min_kept, r.status);
    free(r.loss), free(r.grad);
  }
  t_case_free(&c);
  /* mining is for the softmax losses over pixels */
  t_spec sb = t_spec_default(T_BCE_LOGITS, (sl_shape){1, 3, 4, 5}, 9301);
  t_case_make(&c, &sb);
  sl_options o = c.opt;
  o.ohem_thresh = 0.7f;
  result r = call(&c, &o, 1);
  cr_expect(r.status == SL_ERR_OHEM, "BCE with mining: status %d", r.status);
  cr_expect(strstr(sl_status_string(SL_ERR_OHEM), "ohem_thresh") != NULL);
  free(r.loss), free(r.grad);
  t_case_free(&c);
}
