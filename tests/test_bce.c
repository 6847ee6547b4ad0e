// SPDX-License-Identifier: MIT
/*
 * test_bce.c - sl_bce (binary cross-entropy on probabilities) against the double reference
 * (ref.c): the shape / box / mask / option matrix, special values (p = 0 and 1 with PyTorch's
 * -100 clamp and its 1e-12 gradient floor), the domain check and the empty selection.
 * Each case runs fused, loss only, grad only and stats only (util.c t_check_case).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref.h"
#include "sectionloss.h"
#include "util.h"

Test(bce, shapes) {
  cr_assert(t_matrix_shapes(T_BCE_PROB, 1000) == 0);
}
Test(bce, boxes) {
  cr_assert(t_matrix_boxes(T_BCE_PROB, 2000) == 0);
}
Test(bce, masks) {
  cr_assert(t_matrix_masks(T_BCE_PROB, 3000) == 0);
}

Test(bce, options) {
  static const float scales[] = {1.0f, 0.37f, -2.5f, 0.0f, 1e4f};
  int fails = 0;
  uint64_t seed = 4000;
  sl_shape shape = {2, 3, 4, 19};
  for (int w = 0; w < 2; w++)
    for (int red = 0; red < 3; red++)
      for (int g = 0; g < 5; g++)
        for (int b = 0; b < 2; b++) {
          t_spec s = t_spec_default(T_BCE_PROB, shape, seed++);
          s.weight = w;
          s.reduction = (sl_reduction)red;
          s.grad_scale = scales[g];
          s.box = b ? TB_PER_SAMPLE : TB_NONE;
          s.mask = b ? TM_PER_CHANNEL : TM_RANDOM;
          fails += t_check_spec(&s);
        }
  cr_assert(fails == 0);
}

/* Every pair of special probabilities and targets, each reduction. */
Test(bce, special_values) {
  static const float ps[] = {0.0f, 1.0f,        1e-30f,        1e-45f,  1e-7f,
                             0.5f, 0.99999994f, 5.9604645e-8f, 0.9999f, 1e-38f};
  static const float ts[] = {0.0f, 1.0f, 0.5f, 0.25f, 1e-8f, 0.99999994f};
  const int np = sizeof ps / sizeof ps[0], nt = sizeof ts / sizeof ts[0];
  sl_shape shape = {1, 1, 1, np * nt};
  int fails = 0;
  for (int red = 0; red < 3; red++)
    for (int wgt = 0; wgt < 2; wgt++) {
      t_spec s = t_spec_default(T_BCE_PROB, shape, 4100 + (uint64_t)(red * 2 + wgt));
      s.reduction = (sl_reduction)red;
      s.weight = wgt;
      t_case c;
      t_case_make(&c, &s);
      for (int i = 0; i < np; i++)
        for (int j = 0; j < nt; j++) {
          c.x[i * nt + j] = ps[i];
          c.target[i * nt + j] = ts[j];
        }
      char desc[64];
      snprintf(desc, sizeof desc, "bce special values red=%s weight=%d", t_reduction_name(red),
               wgt);
      fails += t_check_case(&c, desc);
      /* gradients are finite everywhere (the 1e-12 floor), losses at most 100 * weight */
      float grad[64], loss[64];
      sl_options o = c.opt;
      cr_assert(t_call(&c, &o, loss, grad) == SL_OK);
      for (int i = 0; i < np * nt; i++) {
        cr_expect(isfinite(grad[i]), "grad[%d] = %g (p %g, t %g)", i, (double)grad[i],
                  (double)c.x[i], (double)c.target[i]);
        if (red == SL_REDUCTION_NONE)
          cr_expect(isfinite(loss[i]) && loss[i] <= 100.0f * (wgt ? 2.0f : 1.0f) + 1e-3f,
                    "loss[%d] = %g", i, (double)loss[i]);
      }
      t_case_free(&c);
    }
  cr_assert(fails == 0);
}

/* What PyTorch 1.13 gives (F.binary_cross_entropy): p = 0 with y = 1 and p = 1 with y = 0 give the
 * clamped loss 100 and, for a mean over the two elements, gradients -5e11 and +5e11. */
Test(bce, pytorch_clamp_facts) {
  sl_shape shape = {1, 1, 1, 2};
  float p[2] = {0.0f, 1.0f}, t[2] = {1.0f, 0.0f}, loss = -1.0f, grad[2] = {0, 0};
  cr_assert(sl_bce(&shape, p, t, NULL, NULL, &loss, grad) == SL_OK);
  cr_expect(loss == 100.0f, "loss %.9g, want 100", (double)loss);
  cr_expect(fabsf(grad[0] + 5e11f) <= 5e11f * 1e-6f, "grad[0] %.9g, want -5e11", (double)grad[0]);
  cr_expect(fabsf(grad[1] - 5e11f) <= 5e11f * 1e-6f, "grad[1] %.9g, want 5e11", (double)grad[1]);
}

/* A selected probability or target outside [0, 1] or NaN is SL_ERR_DOMAIN (scalar loss and
 * stats untouched, checked by t_check_case); the same value outside the section is ignored. */
Test(bce, domain) {
  static const float bad[] = {NAN, 1.5f, -0.25f, 1.0000001f, -1e-45f, INFINITY, -INFINITY};
  const int nb = sizeof bad / sizeof bad[0];
  int fails = 0;
  sl_shape shape = {2, 2, 3, 11};
  for (int k = 0; k < nb; k++)
    for (int which = 0; which < 2; which++) /* 0: probability, 1: target */
      for (int red = 0; red < 3; red++)
        for (int sel = 0; sel < 2; sel++) {
          t_spec s = t_spec_default(T_BCE_PROB, shape,
                                    4200 + (uint64_t)(k * 12 + which * 6 + red * 2 + sel));
          s.reduction = (sl_reduction)red;
          s.mask = TM_RANDOM;
          t_case c;
          t_case_make(&c, &s);
          /* element (1, 1, 2, 5): its mask byte decides whether it is selected */
          int64_t i = ((1 * 2 + 1) * 3 + 2) * 11 + 5;
          c.mask[(1 * 3 + 2) * 11 + 5] = sel ? 3 : 0;
          (which ? c.target : c.x)[i] = bad[k];
          ref_out r;
          ref_run(&c, &r);
          cr_expect(r.status == (sel ? SL_ERR_DOMAIN : SL_OK), "reference disagrees");
          ref_free(&r);
          char desc[128];
          snprintf(desc, sizeof desc, "bce domain %s = %g, %s, red=%s", which ? "target" : "prob",
                   (double)bad[k], sel ? "selected" : "not selected", t_reduction_name(red));
          fails += t_check_case(&c, desc);
          t_case_free(&c);
        }
  cr_assert(fails == 0);
}

/* MEAN of an empty selection is 0 with normaliser 0; all gradients 0. */
Test(bce, empty_selection) {
  sl_shape shape = {2, 3, 4, 9};
  for (int k = 0; k < 3; k++) {
    t_spec s = t_spec_default(T_BCE_PROB, shape, 4300 + (uint64_t)k);
    s.box = k == 0 ? TB_EMPTY : k == 1 ? TB_EMPTY_ROWS : TB_NONE;
    s.mask = k == 2 ? TM_EMPTY : TM_NONE;
    t_case c;
    t_case_make(&c, &s);
    float loss = -1.0f, grad[216];
    sl_stats st;
    t_canary(grad, sizeof grad);
    sl_options o = c.opt;
    o.stats = &st;
    cr_assert(t_call(&c, &o, &loss, grad) == SL_OK);
    cr_expect(loss == 0.0f, "empty selection: loss %g", (double)loss);
    cr_expect(st.count == 0 && st.normalizer == 0.0 && st.loss_sum == 0.0);
    for (int i = 0; i < 216; i++)
      cr_expect(grad[i] == 0.0f, "grad[%d] = %g", i, (double)grad[i]);
    cr_expect(t_check_case(&c, "bce empty selection") == 0);
    t_case_free(&c);
  }
}

/* A huge upstream gradient times a huge weight (a fuzz finding): their float product overflows
 * while the gradient g w (p - y) / max(p (1 - p), 1e-12) is 0 (p = y) or finite (4e36 below).
 * AVX2's float fast path gave NaN (inf * 0) and inf. Checked against the formula in double. */
Test(bce, gradient_without_intermediate_overflow) {
  enum { W = 19 };
  float p[W], y[W], w[W], gmap[W], grad[W], loss[W];
  for (int i = 0; i < W; i++) {
    p[i] = i % 3 == 0 ? 0.97f : 0.5f;
    y[i] = i % 3 == 0 ? 0.97f : i % 3 == 1 ? 0.499f : 0.25f;
    w[i] = i % 2 ? 3e24f : 1e19f;
    gmap[i] = i % 4 ? -3e29f : 1e20f;
  }
  sl_shape shape = {1, 1, 1, W};
  sl_options opt = sl_options_default();
  opt.reduction = SL_REDUCTION_NONE;
  opt.weight = w;
  opt.grad_map = gmap;
  cr_assert(sl_bce(&shape, p, y, NULL, &opt, loss, grad) == SL_OK);
  int fails = 0;
  for (int i = 0; i < W; i++) {
    double q = (double)(1.0f - p[i]);
    double want = (double)gmap[i] * w[i] * ((double)p[i] - y[i]) / fmax(p[i] * q, 1e-12);
    int ok = isinf((float)want) ? grad[i] == (float)want
                                : t_close(grad[i], want, 4.0 * t_ulpf((float)want));
    if (!ok) {
      cr_expect(0, "p %g, y %g, w %g, g %g: grad %.9g, want %.9g (%s)", (double)p[i], (double)y[i],
                (double)w[i], (double)gmap[i], (double)grad[i], want, sl_isa_name(sl_isa_active()));
      fails++;
    }
  }
  cr_assert(fails == 0);
}
