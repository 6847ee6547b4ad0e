// SPDX-License-Identifier: MIT
/*
 * test_pixel_weight.c - options.pixel_weight (N x H x W, U-Net border weights) for sl_ce
 * against the double reference (ref.c: the loss and gradient of each counted pixel times its
 * weight, MEAN over the sum of pw w_t): every label type, reduction, class weights, label
 * smoothing (the weight multiplies the whole smoothed pixel loss), ignore_index, boxes and
 * masks; all-zero weights (normaliser 0: MEAN 0); per-box statistics (box_stats) whose
 * normaliser is the box's sum of pw w_t; odd pixel weights (0, subnormal, huge, inf, NaN)
 * give the reference's values (tests/test_equiv.c compares every ISA with scalar on them).
 * Shape legend: N, C, H, W as in sectionloss.h; labels and pixel weights N x H x W.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref.h"
#include "sectionloss.h"
#include "util.h"

Test(pixel_weight, ce_options) {
  static const float smooth[] = {0.0f, 0.1f, 1.0f};
  int fails = 0;
  uint64_t seed = 67000;
  sl_shape shape = {2, 5, 3, 23};
  for (int lt = 0; lt < 3; lt++)
    for (int ign = 0; ign < 2; ign++)
      for (int w = 0; w < 2; w++)
        for (int e = 0; e < 3; e++)
          for (int red = 0; red < 3; red++) {
            t_spec s = t_spec_default(T_CE, shape, seed++);
            s.pixel_weight = 1;
            s.label_type = (sl_label_type)lt;
            s.ignore = ign;
            s.ignore_index = lt == SL_LABEL_U8 ? 255 : -100;
            s.weight = w;
            s.smoothing = smooth[e];
            s.reduction = (sl_reduction)red;
            s.grad_scale = (lt + e) % 2 ? -0.6f : 1.0f;
            s.box = (ign + e) % 2 ? TB_PER_SAMPLE : TB_INTERIOR;
            s.mask = (w + red) % 2 ? TM_RANDOM : TM_NONE;
            fails += t_check_spec(&s);
          }
  for (int C = 1; C <= 33; C += (C < 10 ? 1 : 8)) {
    sl_shape sh = {2, C, 2, 9};
    t_spec s = t_spec_default(T_CE, sh, seed++);
    s.pixel_weight = 1;
    s.weight = C % 2;
    s.smoothing = C % 3 ? 0.0f : 0.2f;
    s.reduction = (sl_reduction)(C % 3);
    s.scale = C % 4 ? 4.0f : 40.0f;
    fails += t_check_spec(&s);
  }
  cr_assert(fails == 0);
}

Test(pixel_weight, ce_matrix) {
  int fails = 0;
  for (int si = 0; si < t_num_shapes; si++)
    for (int red = 0; red < 3; red++) {
      t_spec s = t_spec_default(T_CE, t_shapes[si], 68000 + (uint64_t)(si * 3 + red));
      s.pixel_weight = 1;
      s.reduction = (sl_reduction)red;
      s.weight = (si + red) % 2;
      s.box = si % 3 == 0 ? TB_NONE : si % 3 == 1 ? TB_INTERIOR : TB_PER_SAMPLE;
      s.mask = si % 2 ? TM_RANDOM : TM_NONE;
      fails += t_check_spec(&s);
    }
  cr_assert(fails == 0);
}

/* Every pixel weight 0: pixels are counted (stats.count) but the normaliser is 0, MEAN 0, every
 * gradient 0. */
Test(pixel_weight, all_zero) {
  for (int op = 0; op < 2; op++) {
    sl_shape sh = {2, 4, 3, 11};
    t_spec s = t_spec_default(op ? T_SOFTMAX_FOCAL : T_CE, sh, 69000 + (uint64_t)op);
    s.pixel_weight = 1;
    s.weight = 1;
    t_case c;
    t_case_make(&c, &s);
    memset(c.pixel_weight, 0, (size_t)(sh.n * sh.h * sh.w) * sizeof(float));
    char desc[256];
    cr_expect(t_check_case(&c, t_spec_str(&s, desc, sizeof desc)) == 0);
    float loss = 1.0f, *grad = t_alloc((size_t)t_elems(&sh) * 4);
    sl_stats st;
    sl_options o = c.opt;
    o.stats = &st;
    cr_expect(t_call(&c, &o, &loss, grad) == SL_OK);
    cr_expect(loss == 0.0f && st.normalizer == 0.0 && st.count == sh.n * sh.h * sh.w,
              "loss %g normaliser %g count %lld", (double)loss, st.normalizer, (long long)st.count);
    for (int64_t i = 0; i < t_elems(&sh); i++)
      cr_expect(grad[i] == 0.0f, "grad[%lld] = %g", (long long)i, (double)grad[i]);
    free(grad);
    t_case_free(&c);
  }
}

/* box_stats (one box per sample): each box's normaliser is the sum over its counted pixels of
 * pw w_t, its loss sum the sum of the NONE map over them (from the reference). */
Test(pixel_weight, box_stats) {
  for (int op = 0; op < 2; op++) {
    sl_shape sh = {3, 5, 7, 29};
    t_spec s = t_spec_default(op ? T_SOFTMAX_FOCAL : T_CE, sh, 69100 + (uint64_t)op);
    s.pixel_weight = 1;
    s.weight = 1;
    s.box = TB_PER_SAMPLE;
    s.mask = TM_RANDOM;
    s.reduction = SL_REDUCTION_SUM;
    t_case c;
    t_case_make(&c, &s);
    ref_out r;
    ref_run(&c, &r);
    sl_stats bs[3];
    float loss;
    sl_options o = c.opt;
    o.box_stats = bs;
    cr_assert(t_call(&c, &o, &loss, NULL) == SL_OK);
    const int64_t hw = sh.h * sh.w;
    for (int64_t n = 0; n < sh.n; n++) {
      double norm = 0.0, sum = 0.0, nat = 0.0;
      int64_t cnt = 0;
      for (int64_t i = 0; i < hw; i++) {
        int64_t p = n * hw + i;
        if (!r.sel[p])
          continue;
        cnt++;
        norm += (double)c.pixel_weight[p] * (double)c.weight[t_label_at(&c, p)];
        sum += r.map[p];
        nat += r.map_nat[p];
      }
      cr_expect(bs[n].count == cnt && fabs(bs[n].normalizer - norm) <= 1e-12 * norm &&
                    fabs(bs[n].loss_sum - sum) <= t_tol(sum, nat),
                "op %d box %lld: {%.17g, %.17g, %lld}, want {%.17g, %.17g, %lld}", op, (long long)n,
                bs[n].loss_sum, bs[n].normalizer, (long long)bs[n].count, sum, norm,
                (long long)cnt);
    }
    ref_free(&r);
    t_case_free(&c);
  }
}
