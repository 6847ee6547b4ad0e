// SPDX-License-Identifier: MIT
/*
 * test_sigmoid_focal.c - sl_sigmoid_focal (torchvision.ops.sigmoid_focal_loss inside the
 * section) against the double reference (ref.c): the shape / box / mask matrix, options (gamma
 * 0 .. 8 and non-integers, alpha in [0, 1] and < 0, per-element weights, reductions,
 * grad_scale, grad_map), gamma 0 with alpha < 0 bitwise equal to sl_bce_logits on the active
 * ISA, the reference's gradient checked by central differences of its own loss, saturated
 * logits (1 - p_t ~ 1e-12, where float PyTorch rounds it to 0), and the status codes.
 * Shape legend: N, C, H, W as in sectionloss.h; every tensor N x C x H x W.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref.h"
#include "sectionloss.h"
#include "util.h"

Test(sigmoid_focal, shapes) {
  cr_assert(t_matrix_shapes(T_SIGMOID_FOCAL, 70000) == 0);
}
Test(sigmoid_focal, boxes) {
  cr_assert(t_matrix_boxes(T_SIGMOID_FOCAL, 71000) == 0);
}
Test(sigmoid_focal, masks) {
  cr_assert(t_matrix_masks(T_SIGMOID_FOCAL, 72000) == 0);
}

Test(sigmoid_focal, options) {
  static const float gammas[] = {0.0f, 0.5f, 1.0f, 2.0f, 3.0f, 2.7f, 8.0f};
  static const float alphas[] = {0.25f, -1.0f, 0.0f, 1.0f, 0.6f};
  int fails = 0;
  uint64_t seed = 73000;
  sl_shape shape = {2, 3, 3, 19};
  for (int g = 0; g < 7; g++)
    for (int a = 0; a < 5; a++)
      for (int w = 0; w < 2; w++)
        for (int red = 0; red < 3; red++) {
          t_spec s = t_spec_default(T_SIGMOID_FOCAL, shape, seed++);
          s.focal_gamma = gammas[g];
          s.focal_alpha = alphas[a];
          s.weight = w;
          s.reduction = (sl_reduction)red;
          s.grad_scale = (g + red) % 2 ? -0.6f : 1.0f;
          s.box = (a + red) % 3 == 0 ? TB_MANY : (a + red) % 3 == 1 ? TB_PER_SAMPLE : TB_NONE;
          s.mask = (w + g) % 2 ? TM_RANDOM : (w + a) % 2 ? TM_PER_CHANNEL : TM_NONE;
          s.scale = g % 3 == 0 ? 20.0f : 6.0f;
          fails += t_check_spec(&s);
        }
  cr_assert(fails == 0);
}

/* gamma 0 without alpha weighting is BCE with logits: on the scalar reference every output is
 * bitwise sl_bce_logits's (its focal factor is exactly 1); on a SIMD ISA within the BCE bound,
 * 4 ulp per element and 1e-6 for the reduced loss (the focal kernel forms its gradient with one
 * reciprocal and its loss in double). */
Test(sigmoid_focal, gamma0_noalpha_is_bce_logits) {
  int fails = 0;
  for (int k = 0; k < 12; k++) {
    sl_shape sh = {2, 1 + k % 3, 5, 1 + k * 7};
    t_spec s = t_spec_default(T_SIGMOID_FOCAL, sh, 74000 + (uint64_t)k);
    s.focal_gamma = 0.0f;
    s.focal_alpha = -1.0f;
    s.reduction = (sl_reduction)(k % 3);
    s.weight = k % 2;
    s.box = k % 4 == 0 ? TB_MANY : TB_NONE;
    s.mask = k % 5 < 2 ? TM_RANDOM : TM_NONE;
    t_case c;
    t_case_make(&c, &s);
    int64_t lsize = s.reduction == SL_REDUCTION_NONE ? t_map_elems(&c) : 1, ne = t_elems(&sh);
    float *l1 = t_alloc((size_t)lsize * 4), *l2 = t_alloc((size_t)lsize * 4);
    float *g1 = t_alloc((size_t)ne * 4), *g2 = t_alloc((size_t)ne * 4);
    sl_options o = c.opt;
    sl_status st1 = t_call(&c, &o, l1, g1);
    const sl_region *reg = c.use_region ? &c.region : NULL;
    sl_status st2 = sl_bce_logits(&c.shape, c.x, c.target, reg, &o, l2, g2);
    int bad = st1 != SL_OK || st2 != SL_OK;
    const int exact = sl_isa_active() == SL_ISA_SCALAR;
    for (int64_t i = 0; !bad && i < lsize; i++)
      bad =
          exact ? l1[i] != l2[i] : !(fabs(l1[i] - l2[i]) <= 4 * t_ulpf(l2[i]) + 1e-6 * fabs(l2[i]));
    for (int64_t i = 0; !bad && i < ne; i++)
      bad = exact ? g1[i] != g2[i] : !(fabs(g1[i] - g2[i]) <= 4 * t_ulpf(g2[i]));
    cr_expect(!bad, "case %d (%s): gamma 0, alpha < 0 differs from sl_bce_logits", k,
              sl_isa_name(sl_isa_active()));
    fails += bad;
    free(l1);
    free(l2);
    free(g1);
    free(g2);
    t_case_free(&c);
  }
  cr_assert(fails == 0);
}

/* The reference's gradient (ref.c, derived by hand) against central differences of its own
 * loss (SUM): (l(x + h) - l(x - h)) / 2h with h = 2^-10, error O(h^2). Targets 0, 1 and in
 * between, alpha on and off, integer and non-integer gamma. */
Test(sigmoid_focal, reference_gradient_by_differences) {
  static const float gammas[] = {0.5f, 1.0f, 2.0f, 3.5f};
  int fails = 0;
  for (int g = 0; g < 4; g++) {
    sl_shape sh = {1, 2, 2, 5};
    t_spec s = t_spec_default(T_SIGMOID_FOCAL, sh, 75000 + (uint64_t)g);
    s.focal_gamma = gammas[g];
    s.focal_alpha = g % 2 ? -1.0f : 0.25f;
    s.reduction = SL_REDUCTION_SUM;
    s.weight = 1;
    t_case c;
    t_case_make(&c, &s);
    int64_t bi = 0;
    double bref = 0.0, bfd = 0.0;
    int nb = ref_check_by_differences(&c, &bi, &bref, &bfd);
    cr_expect(nb == 0,
              "gamma %g: %d elements; element %lld: reference grad %.12g, differences %.12g",
              (double)gammas[g], nb, (long long)bi, bref, bfd);
    fails += nb;
    t_case_free(&c);
  }
  cr_assert(fails == 0);
}

/* Saturated logits: |x| 20 .. 80 on the side of the target, 1 - p_t = e^-|x| (2e-9 .. 1.8e-35):
 * float 1 - p_t would be 0; the loss (1 - p_t)^gamma ce ~ e^-(gamma + 1)|x| must keep its
 * relative accuracy, and so must its gradient (both terms of the same size there). */
Test(sigmoid_focal, saturated_logits) {
  int fails = 0;
  for (int k = 0; k < 6; k++) {
    sl_shape sh = {2, 2, 3, 17};
    t_spec s = t_spec_default(T_SIGMOID_FOCAL, sh, 76000 + (uint64_t)k);
    s.focal_gamma = k % 2 ? 2.0f : 1.5f;
    s.reduction = (sl_reduction)(k % 3);
    t_case c;
    t_case_make(&c, &s);
    t_rng r = t_rng_seed(76100 + (uint64_t)k);
    for (int64_t i = 0; i < t_elems(&sh); i++) {
      float mag = t_rng_range(&r, 20.0f, 80.0f);
      c.target[i] = (float)(i % 2);
      c.x[i] = i % 2 ? mag : -mag;
    }
    char desc[256];
    fails += t_check_case(&c, t_spec_str(&s, desc, sizeof desc));
    t_case_free(&c);
  }
  cr_assert(fails == 0);
}

/* Options of sl_sigmoid_focal: gamma finite >= 0, alpha <= 1 and not NaN; no pos_weight, no
 * pixel_weight, no label_smoothing; sl_bce_logits ignores both focal fields. Nothing written on
 * an error; the documented values at x = 0. */
Test(sigmoid_focal, status) {
  sl_shape sh = {1, 2, 2, 2};
  float x[8] = {0}, t[8] = {0, 1, 0, 1, 0, 1, 0, 1}, grad[8], loss = 7.0f, pw[2] = {1, 1};
  static const float bad_gamma[] = {-1.0f, -0.0001f, INFINITY, NAN};
  static const float bad_alpha[] = {1.0001f, INFINITY, NAN};
  for (int k = 0; k < 4; k++) {
    sl_options o = sl_options_default();
    o.focal_gamma = bad_gamma[k];
    loss = 7.0f;
    sl_status st = sl_sigmoid_focal(&sh, x, t, NULL, &o, &loss, grad);
    cr_expect(st == SL_ERR_FOCAL && loss == 7.0f, "gamma %g: status %d", (double)bad_gamma[k], st);
    st = sl_bce_logits(&sh, x, t, NULL, &o, &loss, grad);
    cr_expect(st == SL_OK, "sl_bce_logits with gamma %g: status %d", (double)bad_gamma[k], st);
  }
  for (int k = 0; k < 3; k++) {
    sl_options o = sl_options_default();
    o.focal_alpha = bad_alpha[k];
    loss = 7.0f;
    sl_status st = sl_sigmoid_focal(&sh, x, t, NULL, &o, &loss, grad);
    cr_expect(st == SL_ERR_FOCAL && loss == 7.0f, "alpha %g: status %d", (double)bad_alpha[k], st);
  }
  sl_options o = sl_options_default();
  o.focal_alpha = -INFINITY; /* < 0: no alpha weighting */
  cr_expect(sl_sigmoid_focal(&sh, x, t, NULL, &o, &loss, grad) == SL_OK);
  cr_expect(fabs(loss - 0.25 * log(2.0)) < 1e-7, "alpha -inf: loss %.9g", (double)loss);
  o = sl_options_default(); /* x = 0: p_t = 1/2, ce = log 2, MEAN of alpha_t / 4 log 2 */
  cr_expect(sl_sigmoid_focal(&sh, x, t, NULL, &o, &loss, grad) == SL_OK);
  cr_expect(fabs(loss - 0.5 * 0.25 * log(2.0)) < 1e-7, "defaults: loss %.9g", (double)loss);
  o.pos_weight = pw;
  loss = 7.0f;
  sl_status st = sl_sigmoid_focal(&sh, x, t, NULL, &o, &loss, grad);
  cr_expect(st == SL_ERR_OPTION && loss == 7.0f, "pos_weight: status %d", st);
  o = sl_options_default();
  o.pixel_weight = pw;
  st = sl_sigmoid_focal(&sh, x, t, NULL, &o, &loss, grad);
  cr_expect(st == SL_ERR_PIXEL_WEIGHT, "pixel_weight: status %d", st);
  o = sl_options_default();
  o.label_smoothing = 0.1f;
  st = sl_sigmoid_focal(&sh, x, t, NULL, &o, &loss, grad);
  cr_expect(st == SL_ERR_OPTION, "label_smoothing: status %d", st);
  o = sl_options_default();
  st = sl_sigmoid_focal(&sh, x, t, NULL, &o, &loss, x + 1);
  cr_expect(st == SL_ERR_ALIAS, "grad overlapping the logits: status %d", st);
  st = sl_sigmoid_focal(&sh, NULL, t, NULL, &o, &loss, grad);
  cr_expect(st == SL_ERR_NULL_POINTER, "NULL logits: status %d", st);
}
