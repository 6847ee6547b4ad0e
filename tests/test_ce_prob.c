// SPDX-License-Identifier: MIT
/*
 * test_ce_prob.c - sl_ce_prob (cross-entropy with class-probability targets) against the double
 * reference (ref.c): the shape / box / mask matrix, options (class weights, label smoothing,
 * pixel weights, reductions, grad_scale, grad_map, class counts), the reference's gradient by
 * central differences, one-hot targets against sl_ce, special logits and targets, confident
 * pixels (log1p), MEAN's normaliser (pixels, or pixel weights), the empty selection, in-place
 * gradients, and the options it refuses (ignore_index, mask_channels C, pos_weight).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref.h"
#include "sectionloss.h"
#include "util.h"

Test(ce_prob, shapes) {
  cr_assert(t_matrix_shapes(T_CE_PROB, 51000) == 0);
}
Test(ce_prob, boxes) {
  cr_assert(t_matrix_boxes(T_CE_PROB, 52000) == 0);
}
Test(ce_prob, masks) {
  cr_assert(t_matrix_masks(T_CE_PROB, 53000) == 0);
}

Test(ce_prob, options) {
  static const float smooth[] = {0.0f, 0.1f, 0.5f, 1.0f};
  static const float scales[] = {1.0f, -0.6f};
  int fails = 0;
  uint64_t seed = 54000;
  sl_shape shape = {2, 5, 3, 19};
  for (int pw = 0; pw < 2; pw++)
    for (int w = 0; w < 2; w++)
      for (int e = 0; e < 4; e++)
        for (int red = 0; red < 3; red++) {
          t_spec s = t_spec_default(T_CE_PROB, shape, seed++);
          s.weight = w;
          s.pixel_weight = pw;
          s.smoothing = smooth[e];
          s.reduction = (sl_reduction)red;
          s.grad_scale = scales[(pw + e) % 2];
          s.box = (w + e) % 2 ? TB_PER_SAMPLE : TB_NONE;
          s.mask = (w + red) % 2 ? TM_RANDOM : TM_NONE;
          fails += t_check_spec(&s);
        }
  /* class counts from 1 to 33, wide logits */
  for (int C = 1; C <= 33; C += (C < 10 ? 1 : 8)) {
    sl_shape sh = {2, C, 2, 9};
    t_spec s = t_spec_default(T_CE_PROB, sh, seed++);
    s.weight = C % 2;
    s.smoothing = C % 3 ? 0.0f : 0.2f;
    s.reduction = (sl_reduction)(C % 3);
    s.scale = C % 4 ? 4.0f : 40.0f;
    s.pixel_weight = C % 5 == 0;
    fails += t_check_spec(&s);
  }
  cr_assert(fails == 0);
}

/* The reference's hand-derived gradient against central differences of its own loss. */
Test(ce_prob, reference_by_differences) {
  int fails = 0;
  for (int k = 0; k < 4; k++) {
    sl_shape shape = {2, 4, 2, 3};
    t_spec s = t_spec_default(T_CE_PROB, shape, 54500 + (uint64_t)k);
    s.reduction = SL_REDUCTION_SUM;
    s.weight = k & 1;
    s.smoothing = k & 2 ? 0.3f : 0.0f;
    s.pixel_weight = k == 3;
    s.mask = k == 2 ? TM_RANDOM : TM_NONE;
    t_case c;
    t_case_make(&c, &s);
    int64_t bi = -1;
    double br = 0.0, bf = 0.0;
    int f = ref_check_by_differences(&c, &bi, &br, &bf);
    cr_expect(f == 0, "case %d: %d gradients differ; first [%lld]: ref %.9g, differences %.9g", k,
              f, (long long)bi, br, bf);
    fails += f;
    t_case_free(&c);
  }
  cr_assert(fails == 0);
}

/* One-hot targets give sl_ce's loss (SUM, and MEAN without class weights: both divide by the
 * pixel count then) and gradient; with smoothing too (both smooth toward e / C). */
Test(ce_prob, one_hot_is_ce) {
  enum { N = 2, C = 5, H = 3, W = 11, HW = H * W, E = N * C * HW, P = N * HW };
  static float x[E], q[E], g1[E], g2[E];
  static int64_t lab[P];
  const float cw[C] = {0.5f, 1.0f, 2.0f, 0.25f, 1.5f};
  t_rng r = t_rng_seed(54600);
  for (int i = 0; i < E; i++)
    x[i] = t_rng_range(&r, -6.0f, 6.0f);
  for (int p = 0; p < P; p++) {
    lab[p] = t_rng_int(&r, 0, C);
    for (int c = 0; c < C; c++)
      q[(p / HW * C + c) * HW + p % HW] = c == lab[p] ? 1.0f : 0.0f;
  }
  sl_shape shape = {N, C, H, W};
  int fails = 0;
  for (int k = 0; k < 6; k++) {
    sl_options o = sl_options_default();
    o.reduction = k % 3 == 2 ? SL_REDUCTION_MEAN : SL_REDUCTION_SUM;
    o.weight = k % 3 == 1 ? cw : NULL;
    o.label_smoothing = k >= 3 ? 0.2f : 0.0f;
    float l1 = 0.0f, l2 = 0.0f;
    cr_assert(sl_ce(&shape, x, lab, SL_LABEL_I64, NULL, &o, &l1, g1) == SL_OK);
    cr_assert(sl_ce_prob(&shape, x, q, NULL, &o, &l2, g2) == SL_OK);
    double gmax = 0.0;
    for (int i = 0; i < E; i++)
      gmax = fmax(gmax, fabs((double)g1[i]));
    int ok = fabs((double)l1 - (double)l2) <= 1e-5 * fabs((double)l1);
    for (int i = 0; i < E; i++)
      ok &= fabs((double)g1[i] - (double)g2[i]) <= 1e-5 * gmax;
    cr_expect(ok, "k=%d: sl_ce %.9g, sl_ce_prob %.9g (%s)", k, (double)l1, (double)l2,
              sl_isa_name(sl_isa_active()));
    fails += !ok;
  }
  cr_assert(fails == 0);
}

/* Special logits and targets in one pixel each: NaN / +inf logits give NaN (PyTorch), -inf with
 * a zero target 0 * inf = NaN as PyTorch's -(q * log_softmax); targets NaN, inf, huge,
 * negative. */
Test(ce_prob, special_values) {
  static const float xs[] = {0.0f,  1e-30f, -1e-45f, 20.0f,  -20.0f,   88.0f,     -104.0f,
                             1e30f, -1e30f, 1e37f,   -1e37f, INFINITY, -INFINITY, NAN};
  static const float qs[] = {0.0f, 1.0f, -1.0f, 1e-40f, 1e30f, -1e30f, 3e38f, INFINITY, NAN};
  const int nx = sizeof xs / sizeof xs[0], nq = sizeof qs / sizeof qs[0];
  const int C = 3;
  int fails = 0;
  sl_shape shape = {1, C, 1, (nx + nq) * C * 3};
  for (int red = 0; red < 3; red++)
    for (int e = 0; e < 2; e++) {
      t_spec s = t_spec_default(T_CE_PROB, shape, 54700 + (uint64_t)(red * 2 + e));
      s.reduction = (sl_reduction)red;
      s.smoothing = e ? 0.1f : 0.0f;
      s.weight = e;
      t_case c;
      t_case_make(&c, &s);
      int64_t hw = shape.w;
      for (int i = 0; i < nx + nq; i++)
        for (int pos = 0; pos < C; pos++)
          for (int comp = 0; comp < 3; comp++) {
            int64_t px = (i * C + pos) * 3 + comp;
            for (int k = 0; k < C; k++) {
              c.x[k * hw + px] = comp == 0 ? 0.5f * (float)k : comp == 1 ? -3.0f : 1e30f;
              c.target[k * hw + px] = 1.0f / (float)C;
            }
            if (i < nx)
              c.x[pos * hw + px] = xs[i];
            else
              c.target[pos * hw + px] = qs[i - nx];
          }
      char desc[64];
      snprintf(desc, sizeof desc, "ce_prob special values red=%s smoothing=%d",
               t_reduction_name(red), e);
      fails += t_check_case(&c, desc);
      t_case_free(&c);
    }
  cr_assert(fails == 0);
}

/* A confident pixel: target one-hot on the max logit, the others far below: the loss is about
 * the sum of exp(x_c - m), kept by log1p (log(1 + s1) gives 0). Within 8 float ULP of the
 * formula in double, on every ISA. */
Test(ce_prob, confident_pixel) {
  enum { C = 4, W = 21 };
  float x[C * W], q[C * W], map[W];
  for (int i = 0; i < W; i++)
    for (int c = 0; c < C; c++) {
      x[c * W + i] = c == 0 ? 0.0f : -(float)(10 + 4 * i) - (float)c;
      q[c * W + i] = c == 0 ? 1.0f : 0.0f;
    }
  sl_shape shape = {1, C, 1, W};
  sl_options o = sl_options_default();
  o.reduction = SL_REDUCTION_NONE;
  cr_assert(sl_ce_prob(&shape, x, q, NULL, &o, map, NULL) == SL_OK);
  int fails = 0;
  for (int i = 0; i < W; i++) {
    double s1 = 0.0;
    for (int c = 1; c < C; c++)
      s1 += exp((double)x[c * W + i]);
    double want = log1p(s1);
    if (!(want > 0.0) || !(fabs((double)map[i] - want) <= 8.0 * t_ulpf((float)want))) {
      cr_expect(0, "pixel %d: loss %.9g, want %.9g (%s)", i, (double)map[i], want,
                sl_isa_name(sl_isa_active()));
      fails++;
    }
  }
  cr_assert(fails == 0);
}

/* MEAN divides by the selected pixel count (PyTorch), not by the class weights; with pixel
 * weights by their sum over the selected pixels. */
Test(ce_prob, mean_normaliser) {
  enum { N = 2, C = 3, H = 4, W = 5, HW = H * W, E = N * C * HW, P = N * HW };
  static float x[E], q[E], pw[P];
  static uint8_t mask[P];
  const float cw[C] = {0.5f, 3.0f, 2.0f};
  t_rng r = t_rng_seed(54800);
  for (int i = 0; i < E; i++) {
    x[i] = t_rng_range(&r, -3.0f, 3.0f);
    q[i] = t_rng_range(&r, 0.0f, 1.0f);
  }
  int64_t count = 0;
  double pwsum = 0.0;
  for (int p = 0; p < P; p++) {
    mask[p] = (uint8_t)(t_rng_unit(&r) < 0.6);
    pw[p] = t_rng_range(&r, 0.0f, 2.0f);
    count += mask[p] != 0;
    pwsum += mask[p] ? (double)pw[p] : 0.0;
  }
  sl_shape shape = {N, C, H, W};
  sl_region reg = sl_region_default();
  reg.mask = mask;
  for (int k = 0; k < 2; k++) {
    sl_options o = sl_options_default();
    o.weight = cw;
    o.pixel_weight = k ? pw : NULL;
    sl_stats st, st2;
    float mean = 0.0f, sum = 0.0f;
    o.stats = &st;
    cr_assert(sl_ce_prob(&shape, x, q, &reg, &o, &mean, NULL) == SL_OK);
    o.reduction = SL_REDUCTION_SUM;
    o.stats = &st2;
    cr_assert(sl_ce_prob(&shape, x, q, &reg, &o, &sum, NULL) == SL_OK);
    double norm = k ? pwsum : (double)count;
    cr_expect(st.count == count, "count %lld, want %lld", (long long)st.count, (long long)count);
    cr_expect(fabs(st.normalizer - norm) <= 1e-12 * norm, "k=%d: normaliser %.17g, want %.17g", k,
              st.normalizer, norm);
    cr_expect(fabs((double)mean - st2.loss_sum / norm) <= 4.0 * t_ulpf(mean),
              "k=%d: mean %.9g, want %.9g", k, (double)mean, st2.loss_sum / norm);
  }
}

/* Nothing selected (empty box, empty mask): MEAN gives 0, normaliser 0, gradient 0. */
Test(ce_prob, empty_selection) {
  sl_shape shape = {2, 3, 4, 9};
  for (int k = 0; k < 2; k++) {
    t_spec s = t_spec_default(T_CE_PROB, shape, 54900 + (uint64_t)k);
    s.box = k == 0 ? TB_EMPTY : TB_NONE;
    s.mask = k == 1 ? TM_EMPTY : TM_NONE;
    s.weight = 1;
    s.smoothing = 0.3f;
    t_case c;
    t_case_make(&c, &s);
    float loss = -1.0f, grad[216];
    sl_stats st;
    sl_options o = c.opt;
    o.stats = &st;
    cr_assert(t_call(&c, &o, &loss, grad) == SL_OK);
    cr_expect(loss == 0.0f, "empty selection %d: loss %g", k, (double)loss);
    cr_expect(st.count == 0 && st.normalizer == 0.0 && st.loss_sum == 0.0);
    for (int i = 0; i < 216; i++)
      cr_expect(grad[i] == 0.0f, "grad[%d] = %g", i, (double)grad[i]);
    cr_expect(t_check_case(&c, "ce_prob empty selection") == 0);
    t_case_free(&c);
  }
}

/* A mask with holes long enough for the driver's zero fill (runs of at least 16 unselected
 * pixels, also across row ends) beside short ones the kernel takes: against the reference
 * (exact zeros in the holes, canaries around the outputs), every reduction, with boxes too. */
Test(ce_prob, mask_holes) {
  int fails = 0;
  for (int k = 0; k < 6; k++) {
    sl_shape shape = {2, 3 + k, 3, 70 + 13 * k};
    t_spec s = t_spec_default(T_CE_PROB, shape, 55100 + (uint64_t)k);
    s.mask = TM_FULL;
    s.box = k % 3 == 1 ? TB_INTERIOR : k % 3 == 2 ? TB_MANY : TB_NONE;
    s.reduction = (sl_reduction)(k % 3);
    s.weight = k % 2;
    s.pixel_weight = k >= 3;
    t_case c;
    t_case_make(&c, &s);
    t_rng r = t_rng_seed(55200 + (uint64_t)k);
    const int64_t np = shape.n * shape.h * shape.w;
    for (int64_t p = 0; p < np;) { /* holes of 1..40 pixels between selected runs of 1..30 */
      int64_t hole = t_rng_int(&r, 1, 41), keep = t_rng_int(&r, 1, 31);
      for (int64_t i = 0; i < hole && p < np; i++)
        c.mask[p++] = 0;
      p += keep;
    }
    char desc[64];
    snprintf(desc, sizeof desc, "ce_prob mask holes k=%d", k);
    fails += t_check_case(&c, desc);
    t_case_free(&c);
  }
  cr_assert(fails == 0);
}

/* The gradient written over the logits: bitwise the separate buffer's. */
Test(ce_prob, in_place) {
  sl_shape shapes[] = {{2, 5, 3, 19}, {1, 3, 7, 33}, {3, 21, 2, 40}};
  for (int k = 0; k < 3; k++)
    for (int red = 0; red < 3; red++) {
      t_spec s = t_spec_default(T_CE_PROB, shapes[k], 55000 + (uint64_t)(k * 3 + red));
      s.reduction = (sl_reduction)red;
      s.box = k == 1 ? TB_INTERIOR : TB_NONE;
      s.mask = k == 2 ? TM_RANDOM : TM_NONE;
      s.weight = 1;
      s.pixel_weight = red == 1;
      s.smoothing = 0.1f;
      t_case c;
      t_case_make(&c, &s);
      int64_t ne = t_elems(&c.shape), me = t_map_elems(&c);
      if (k == 0) { /* reference pixels too: a NaN target, a huge one, a NaN logit */
        c.target[5] = NAN;
        c.target[40] = 3e38f;
        c.x[70] = NAN;
      }
      float *g = t_alloc((size_t)ne * sizeof(float)), *xi = t_alloc((size_t)ne * sizeof(float));
      float *l1 = t_alloc((size_t)me * sizeof(float)), *l2 = t_alloc((size_t)me * sizeof(float));
      memcpy(xi, c.x, (size_t)ne * sizeof(float));
      cr_assert(t_call(&c, &c.opt, l1, g) == SL_OK);
      float *x0 = c.x;
      c.x = xi;
      sl_status st = t_call(&c, &c.opt, l2, xi);
      c.x = x0;
      cr_assert(st == SL_OK);
      int64_t d = t_first_diff(g, xi, ne);
      cr_expect(d < 0, "shape %d red %d: in-place gradient differs at %lld: %g vs %g", k, red,
                (long long)d, d < 0 ? 0.0 : (double)g[d], d < 0 ? 0.0 : (double)xi[d]);
      cr_expect(t_first_diff(l1, l2, red == SL_REDUCTION_NONE ? me : 1) < 0,
                "shape %d red %d: in-place loss differs", k, red);
      free(g);
      free(xi);
      free(l1);
      free(l2);
      t_case_free(&c);
    }
}

/* Options it refuses, before anything is written. */
Test(ce_prob, refused_options) {
  enum { C = 3, E = 2 * C * 4 };
  float x[E] = {0}, q[E] = {0}, grad[E], loss = 7.0f;
  uint8_t mask[E] = {1};
  const float pos[C] = {1.0f, 1.0f, 1.0f};
  sl_shape shape = {2, C, 2, 2};
  sl_options o = sl_options_default();
  o.ignore_index = 0;
  cr_expect(sl_ce_prob(&shape, x, q, NULL, &o, &loss, grad) == SL_ERR_OPTION, "ignore_index");
  o = sl_options_default();
  o.pos_weight = pos;
  cr_expect(sl_ce_prob(&shape, x, q, NULL, &o, &loss, grad) == SL_ERR_OPTION, "pos_weight");
  o = sl_options_default();
  o.label_smoothing = 1.5f;
  cr_expect(sl_ce_prob(&shape, x, q, NULL, &o, &loss, grad) == SL_ERR_OPTION, "smoothing 1.5");
  o = sl_options_default();
  sl_region reg = sl_region_default();
  reg.mask = mask;
  reg.mask_channels = C;
  cr_expect(sl_ce_prob(&shape, x, q, &reg, &o, &loss, grad) == SL_ERR_MASK_CHANNELS,
            "mask_channels C");
  cr_expect(sl_ce_prob(&shape, x, NULL, NULL, &o, &loss, grad) == SL_ERR_NULL_POINTER, "target");
  cr_expect(sl_ce_prob(&shape, x, q, NULL, &o, &loss, q) == SL_ERR_ALIAS, "grad == target");
  cr_expect(loss == 7.0f, "loss written on an error");
  /* the default ignore_index, and a mask of one channel, are fine */
  reg.mask_channels = 1;
  cr_expect(sl_ce_prob(&shape, x, q, &reg, &o, &loss, grad) == SL_OK);
}
