// SPDX-License-Identifier: MIT
/*
 * test_softmax_focal.c - sl_softmax_focal (and the pixel weights it shares with sl_ce) against
 * the double reference (ref.c): the shape / box / mask matrix, options (gamma 0 .. 8 and
 * non-integers, class weights, pixel weights, ignore_index, label types, reductions,
 * grad_scale, grad_map), gamma 0 bitwise equal to sl_ce on the active ISA, the reference's
 * gradient checked by central differences of its own loss (the hand-derived F), confident
 * pixels (q = 1 - p_t near 1e-9, no cancellation), and the status codes of its options.
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

Test(softmax_focal, shapes) {
  cr_assert(t_matrix_shapes(T_SOFTMAX_FOCAL, 60000) == 0);
}
Test(softmax_focal, boxes) {
  cr_assert(t_matrix_boxes(T_SOFTMAX_FOCAL, 61000) == 0);
}
Test(softmax_focal, masks) {
  cr_assert(t_matrix_masks(T_SOFTMAX_FOCAL, 62000) == 0);
}

Test(softmax_focal, options) {
  static const float gammas[] = {0.0f, 0.5f, 1.0f, 2.0f, 3.0f, 2.7f, 8.0f};
  int fails = 0;
  uint64_t seed = 63000;
  sl_shape shape = {2, 5, 3, 19};
  for (int g = 0; g < 7; g++)
    for (int lt = 0; lt < 3; lt++)
      for (int pw = 0; pw < 2; pw++)
        for (int w = 0; w < 2; w++)
          for (int red = 0; red < 3; red++) {
            t_spec s = t_spec_default(T_SOFTMAX_FOCAL, shape, seed++);
            s.focal_gamma = gammas[g];
            s.label_type = (sl_label_type)lt;
            s.ignore = (g + lt) % 2;
            s.ignore_index = (g + w) % 3 == 0 ? 2 : lt == SL_LABEL_U8 ? 255 : -100;
            s.pixel_weight = pw;
            s.weight = w;
            s.reduction = (sl_reduction)red;
            s.grad_scale = (g + red) % 2 ? -0.6f : 1.0f;
            s.box = (pw + red) % 2 ? TB_PER_SAMPLE : TB_NONE;
            s.mask = (w + g) % 2 ? TM_RANDOM : TM_NONE;
            s.scale = g % 3 == 0 ? 12.0f : 4.0f;
            fails += t_check_spec(&s);
          }
  for (int C = 1; C <= 33; C += (C < 10 ? 1 : 8)) {
    sl_shape sh = {2, C, 2, 9};
    t_spec s = t_spec_default(T_SOFTMAX_FOCAL, sh, seed++);
    s.weight = C % 2;
    s.pixel_weight = C % 3 != 0;
    s.reduction = (sl_reduction)(C % 3);
    s.scale = C % 4 ? 4.0f : 40.0f;
    fails += t_check_spec(&s);
  }
  cr_assert(fails == 0);
}

/* gamma 0 is the cross-entropy: every output bitwise equal to sl_ce's, on the active ISA (the
 * suite runs once per ISA), with class and pixel weights, masks, boxes, every reduction. */
Test(softmax_focal, gamma0_is_ce_bitwise) {
  int fails = 0;
  for (int k = 0; k < 24; k++) {
    sl_shape sh = {2, 1 + k % 9 * 3, 5, 1 + k * 5};
    t_spec s = t_spec_default(T_SOFTMAX_FOCAL, sh, 64000 + (uint64_t)k);
    s.focal_gamma = 0.0f;
    s.reduction = (sl_reduction)(k % 3);
    s.weight = k % 2;
    s.pixel_weight = (k / 2) % 2;
    s.ignore = k % 3 == 1;
    s.box = k % 4 == 0 ? TB_PER_SAMPLE : TB_NONE;
    s.mask = k % 5 < 2 ? TM_RANDOM : TM_NONE;
    s.scale = k % 4 == 3 ? 60.0f : 5.0f;
    t_case c;
    t_case_make(&c, &s);
    int64_t lsize = s.reduction == SL_REDUCTION_NONE ? t_map_elems(&c) : 1, ne = t_elems(&sh);
    float *l1 = t_alloc((size_t)lsize * 4), *l2 = t_alloc((size_t)lsize * 4);
    float *g1 = t_alloc((size_t)ne * 4), *g2 = t_alloc((size_t)ne * 4);
    sl_stats s1, s2;
    sl_options o = c.opt;
    o.stats = &s1;
    sl_status st1 = t_call(&c, &o, l1, g1);
    o.stats = &s2;
    const sl_region *reg = c.use_region ? &c.region : NULL;
    sl_status st2 = sl_ce(&c.shape, c.x, c.labels, c.label_type, reg, &o, l2, g2);
    int bad = st1 != SL_OK || st2 != SL_OK || t_first_diff(l1, l2, lsize) >= 0 ||
              t_first_diff(g1, g2, ne) >= 0 || memcmp(&s1, &s2, sizeof s1) != 0;
    cr_expect(!bad, "case %d (%s): gamma 0 differs from sl_ce (loss diff at %lld, grad at %lld)", k,
              sl_isa_name(sl_isa_active()), (long long)t_first_diff(l1, l2, lsize),
              (long long)t_first_diff(g1, g2, ne));
    fails += bad;
    free(l1);
    free(l2);
    free(g1);
    free(g2);
    t_case_free(&c);
  }
  cr_assert(fails == 0);
}

/* The reference's gradient (ref.c, F derived by hand) against central differences of its own
 * loss (SUM): (l(x + h) - l(x - h)) / 2h with h = 2^-10 (exact steps for |x| < 8), error
 * O(h^2). Independent of the derivation, so a wrong F (or sign) fails here. */
Test(softmax_focal, reference_gradient_by_differences) {
  static const float gammas[] = {0.5f, 1.0f, 2.0f, 3.5f};
  int fails = 0;
  for (int g = 0; g < 4; g++) {
    sl_shape sh = {1, 4, 2, 3};
    t_spec s = t_spec_default(T_SOFTMAX_FOCAL, sh, 65000 + (uint64_t)g);
    s.focal_gamma = gammas[g];
    s.reduction = SL_REDUCTION_SUM;
    s.weight = 1;
    s.pixel_weight = 1;
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

/* Confident pixels: the target logit 18..24 above the others, q = 1 - p_t ~ 1e-8 .. 1e-10:
 * q from 1 - p_t in float would be 0 or all rounding; the loss q^gamma (-log p_t) ~ q^3 must
 * keep its relative accuracy (the reference takes q = -expm1(log p_t)). */
Test(softmax_focal, confident_pixels) {
  int fails = 0;
  for (int k = 0; k < 6; k++) {
    sl_shape sh = {2, 6, 3, 17};
    t_spec s = t_spec_default(T_SOFTMAX_FOCAL, sh, 66000 + (uint64_t)k);
    s.focal_gamma = k % 2 ? 2.0f : 1.5f;
    s.reduction = (sl_reduction)(k % 3);
    s.pixel_weight = k % 2;
    s.scale = 1.0f;
    t_case c;
    t_case_make(&c, &s);
    const int64_t hw = sh.h * sh.w;
    for (int64_t p = 0; p < sh.n * hw; p++) {
      int64_t t = t_label_at(&c, p), n = p / hw, i = p % hw;
      c.x[(n * sh.c + t) * hw + i] += 18.0f + (float)(p % 7);
    }
    char desc[256];
    fails += t_check_case(&c, t_spec_str(&s, desc, sizeof desc));
    t_case_free(&c);
  }
  cr_assert(fails == 0);
}

/* Options of sl_softmax_focal: label_smoothing must be 0, gamma finite >= 0; pixel weights are
 * allowed; sl_ce ignores focal_gamma. Nothing written on an error. */
Test(softmax_focal, status) {
  sl_shape sh = {1, 3, 2, 4};
  float x[24] = {0}, pw[8] = {1, 1, 1, 1, 2, 2, 2, 2}, grad[24], loss = 7.0f;
  int64_t lab[8] = {0, 1, 2, 0, 1, 2, 0, 1};
  static const float bad_gamma[] = {-1.0f, -0.0001f, INFINITY, NAN};
  for (int k = 0; k < 4; k++) {
    sl_options o = sl_options_default();
    o.focal_gamma = bad_gamma[k];
    loss = 7.0f;
    sl_status st = sl_softmax_focal(&sh, x, lab, SL_LABEL_I64, NULL, &o, &loss, grad);
    cr_expect(st == SL_ERR_FOCAL && loss == 7.0f, "gamma %g: status %d", (double)bad_gamma[k], st);
    st = sl_ce(&sh, x, lab, SL_LABEL_I64, NULL, &o, &loss, grad);
    cr_expect(st == SL_OK, "sl_ce with gamma %g: status %d", (double)bad_gamma[k], st);
  }
  sl_options o = sl_options_default();
  o.label_smoothing = 0.1f;
  loss = 7.0f;
  sl_status st = sl_softmax_focal(&sh, x, lab, SL_LABEL_I64, NULL, &o, &loss, grad);
  cr_expect(st == SL_ERR_OPTION && loss == 7.0f, "label_smoothing 0.1: status %d", st);
  o = sl_options_default();
  o.pixel_weight = pw;
  st = sl_softmax_focal(&sh, x, lab, SL_LABEL_I64, NULL, &o, &loss, grad);
  cr_expect(st == SL_OK, "pixel_weight: status %d", st);
  /* uniform logits: p_t = 1/3, loss = (2/3)^2 log 3 per pixel, MEAN over pw sum */
  cr_expect(fabs(loss - (4.0 / 9.0) * log(3.0)) < 1e-6, "loss %.9g", (double)loss);
  o.pixel_weight = x; /* an output aliasing an input: grad over the pixel weights */
  st = sl_softmax_focal(&sh, x, lab, SL_LABEL_I64, NULL, &o, &loss, x);
  cr_expect(st == SL_ERR_ALIAS, "grad aliasing the pixel weights: status %d", st);
  lab[3] = 3;
  o = sl_options_default();
  loss = 7.0f;
  st = sl_softmax_focal(&sh, x, lab, SL_LABEL_I64, NULL, &o, &loss, grad);
  cr_expect(st == SL_ERR_LABEL && loss == 7.0f, "label 3 of C = 3: status %d", st);
  o.pixel_weight = pw;
  st = sl_bce_logits(&sh, x, x + 0, NULL, &o, &loss, NULL);
  cr_expect(st == SL_ERR_PIXEL_WEIGHT, "pixel_weight with sl_bce_logits: status %d", st);
}
