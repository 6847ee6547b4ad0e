// SPDX-License-Identifier: MIT
/*
 * test_ce.c - sl_ce (multi-class cross-entropy) against the double reference (ref.c): the
 * shape / box / mask matrix, options (class weights, ignore_index incl. a valid class index and
 * u8 labels, label smoothing 0 < e <= 1, every label type, reductions, grad_scale, grad_map),
 * label errors (nothing written), special logits (+-1e30, +-inf, NaN -> NaN loss), the empty
 * selection and everything ignored (MEAN 0 with normaliser 0).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "ref.h"
#include "sectionloss.h"
#include "util.h"

Test(ce, shapes) {
  cr_assert(t_matrix_shapes(T_CE, 9000) == 0);
}
Test(ce, boxes) {
  cr_assert(t_matrix_boxes(T_CE, 10000) == 0);
}
Test(ce, masks) {
  cr_assert(t_matrix_masks(T_CE, 11000) == 0);
}

Test(ce, options) {
  static const float smooth[] = {0.0f, 0.1f, 0.5f, 1.0f};
  static const float scales[] = {1.0f, -0.6f};
  int fails = 0;
  uint64_t seed = 12000;
  sl_shape shape = {2, 5, 3, 19};
  for (int lt = 0; lt < 3; lt++)
    for (int ign = 0; ign < 3; ign++)
      for (int w = 0; w < 2; w++)
        for (int e = 0; e < 4; e++)
          for (int red = 0; red < 3; red++) {
            t_spec s = t_spec_default(T_CE, shape, seed++);
            s.label_type = (sl_label_type)lt;
            /* ignore_index: none, the default -100 (255 for u8 labels), a valid class (2) */
            s.ignore = ign > 0;
            s.ignore_index = ign == 1 ? (lt == SL_LABEL_U8 ? 255 : -100) : 2;
            s.weight = w;
            s.smoothing = smooth[e];
            s.reduction = (sl_reduction)red;
            s.grad_scale = scales[(lt + e) % 2];
            s.box = (ign + e) % 2 ? TB_PER_SAMPLE : TB_NONE;
            s.mask = (w + red) % 2 ? TM_RANDOM : TM_NONE;
            fails += t_check_spec(&s);
          }
  /* class counts from 1 to 33, wide logits */
  for (int C = 1; C <= 33; C += (C < 10 ? 1 : 8)) {
    sl_shape sh = {2, C, 2, 9};
    t_spec s = t_spec_default(T_CE, sh, seed++);
    s.weight = C % 2;
    s.smoothing = C % 3 ? 0.0f : 0.2f;
    s.reduction = (sl_reduction)(C % 3);
    s.scale = C % 4 ? 4.0f : 40.0f;
    fails += t_check_spec(&s);
  }
  cr_assert(fails == 0);
}

/* Zero class weights: those pixels count (stats.count) but add nothing to the normaliser; when
 * every counted pixel has weight 0 the normaliser is 0 and MEAN gives 0. */
Test(ce, zero_class_weights) {
  sl_shape shape = {2, 4, 3, 11};
  int fails = 0;
  for (int k = 0; k < 2; k++)
    for (int red = 0; red < 3; red++)
      for (int e = 0; e < 2; e++) {
        t_spec s = t_spec_default(T_CE, shape, 12400 + (uint64_t)(k * 6 + red * 2 + e));
        s.weight = 1;
        s.reduction = (sl_reduction)red;
        s.smoothing = e ? 0.25f : 0.0f;
        s.mask = TM_RANDOM;
        t_case c;
        t_case_make(&c, &s);
        c.weight[0] = 0.0f;
        c.weight[2] = 0.0f;
        if (k == 1) /* every label has weight 0 */
          for (int64_t i = 0; i < t_map_elems(&c); i++)
            t_label_set(&c, i, 2 * (i % 2));
        char desc[96];
        snprintf(desc, sizeof desc, "ce zero class weights%s red=%s smoothing=%d",
                 k ? " (all labels)" : "", t_reduction_name(red), e);
        fails += t_check_case(&c, desc);
        if (k == 1 && red == SL_REDUCTION_MEAN) {
          float loss = -1.0f;
          sl_stats st;
          sl_options o = c.opt;
          o.stats = &st;
          cr_expect(t_call(&c, &o, &loss, NULL) == SL_OK);
          cr_expect(loss == 0.0f && st.normalizer == 0.0 && st.count > 0,
                    "%s: loss %g, normaliser %g, count %lld", desc, (double)loss, st.normalizer,
                    (long long)st.count);
        }
        t_case_free(&c);
      }
  cr_assert(fails == 0);
}

/* u8 labels: ignore_index -100 (the default) never matches a byte; 255 does; a label 255 that
 * is not ignore_index is an error when C <= 255. */
Test(ce, u8_labels) {
  sl_shape shape = {1, 4, 2, 7};
  int fails = 0;
  for (int k = 0; k < 3; k++) {
    t_spec s = t_spec_default(T_CE, shape, 12500 + (uint64_t)k);
    s.label_type = SL_LABEL_U8;
    t_case c;
    t_case_make(&c, &s);
    ((uint8_t *)c.labels)[3] = 255;
    c.opt.ignore_index = k == 0 ? -100 : k == 1 ? 255 : 255 + 256; /* 511 matches no byte */
    ref_out r;
    ref_run(&c, &r);
    cr_expect(r.status == (k == 1 ? SL_OK : SL_ERR_LABEL), "reference: k=%d status %d", k,
              r.status);
    ref_free(&r);
    fails += t_check_case(&c, k == 0   ? "u8 255, ignore -100"
                              : k == 1 ? "u8 255, ignore 255"
                                       : "u8 255, ignore 511");
    t_case_free(&c);
  }
  cr_assert(fails == 0);
}

/* A selected label outside [0, C) that is not ignore_index: SL_ERR_LABEL and nothing written
 * (t_check_case checks the canaries); the same label outside the section is fine. */
Test(ce, label_errors) {
  static const int64_t bad[] = {-1, 5, 6, 127, -100, INT32_MAX, (int64_t)INT32_MAX + 1, INT64_MIN};
  sl_shape shape = {2, 5, 3, 8};
  int fails = 0;
  for (int lt = 0; lt < 3; lt++)
    for (int k = 0; k < 8; k++)
      for (int sel = 0; sel < 2; sel++)
        for (int red = 0; red < 3; red++) {
          if (lt == SL_LABEL_U8 && (bad[k] < 0 || bad[k] > 255))
            continue;
          if (lt == SL_LABEL_I32 && (bad[k] < INT32_MIN || bad[k] > INT32_MAX))
            continue;
          t_spec s =
              t_spec_default(T_CE, shape, 13000 + (uint64_t)(lt * 100 + k * 10 + sel * 3 + red));
          s.label_type = (sl_label_type)lt;
          s.mask = TM_RANDOM;
          s.reduction = (sl_reduction)red;
          s.ignore = 1;
          s.ignore_index = 3; /* -100 is then an error too */
          t_case c;
          t_case_make(&c, &s);
          int64_t p = (1 * 3 + 2) * 8 + 6;
          c.mask[p] = sel ? 1 : 0;
          t_label_set(&c, p, bad[k]);
          char desc[96];
          snprintf(desc, sizeof desc, "ce label %lld type %d %s red=%s", (long long)bad[k], lt,
                   sel ? "selected" : "not selected", t_reduction_name(red));
          ref_out r;
          ref_run(&c, &r);
          cr_expect(r.status == (sel ? SL_ERR_LABEL : SL_OK), "%s: reference status %d", desc,
                    r.status);
          ref_free(&r);
          fails += t_check_case(&c, desc);
          t_case_free(&c);
        }
  cr_assert(fails == 0);
}

/* Special logits in one pixel each: the NaN pixels give a NaN loss (PyTorch); -inf in a
 * non-target class is harmless without smoothing. */
Test(ce, special_values) {
  /* 1e37, not 3e38: with weights and pos_weight the per-element loss stays below FLT_MAX
   * (a float kernel may overflow a single element's loss beyond it; scalar works in double) */
  static const float xs[] = {0.0f,  1e-30f, -1e-45f, 20.0f,  -20.0f,   88.0f,     -104.0f,
                             1e30f, -1e30f, 1e37f,   -1e37f, INFINITY, -INFINITY, NAN};
  const int nx = sizeof xs / sizeof xs[0];
  const int C = 3;
  int fails = 0;
  /* every special value in every class position, against a few companions */
  sl_shape shape = {1, C, 1, nx * C * 3};
  for (int red = 0; red < 3; red++)
    for (int e = 0; e < 2; e++) {
      t_spec s = t_spec_default(T_CE, shape, 14000 + (uint64_t)(red * 2 + e));
      s.reduction = (sl_reduction)red;
      s.smoothing = e ? 0.1f : 0.0f;
      s.weight = e;
      t_case c;
      t_case_make(&c, &s);
      int64_t hw = shape.w;
      for (int i = 0; i < nx; i++)
        for (int pos = 0; pos < C; pos++)
          for (int comp = 0; comp < 3; comp++) {
            int64_t px = (i * C + pos) * 3 + comp;
            for (int k = 0; k < C; k++)
              c.x[k * hw + px] = comp == 0 ? 0.5f * (float)k : comp == 1 ? -3.0f : 1e30f;
            c.x[pos * hw + px] = xs[i];
          }
      char desc[64];
      snprintf(desc, sizeof desc, "ce special values red=%s smoothing=%d", t_reduction_name(red),
               e);
      fails += t_check_case(&c, desc);
      t_case_free(&c);
    }
  cr_assert(fails == 0);
}

Test(ce, nan_logit_gives_nan_loss) {
  sl_shape shape = {1, 4, 3, 5};
  t_spec s = t_spec_default(T_CE, shape, 14100);
  t_case c;
  t_case_make(&c, &s);
  c.x[2 * 15 + 7] = NAN;
  float loss = 0.0f;
  cr_assert(t_call(&c, &c.opt, &loss, NULL) == SL_OK);
  cr_expect(isnan(loss), "NaN logit: loss %g", (double)loss);
  t_label_set(&c, 7, c.opt.ignore_index); /* the NaN pixel ignored: finite again */
  cr_assert(t_call(&c, &c.opt, &loss, NULL) == SL_OK);
  cr_expect(isfinite(loss), "NaN logit at an ignored pixel: loss %g", (double)loss);
  t_case_free(&c);
}

/* Nothing counted (empty box, empty mask, every label ignored): MEAN gives 0, normaliser 0. */
Test(ce, empty_selection) {
  sl_shape shape = {2, 3, 4, 9};
  for (int k = 0; k < 3; k++) {
    t_spec s = t_spec_default(T_CE, shape, 14200 + (uint64_t)k);
    s.box = k == 0 ? TB_EMPTY : TB_NONE;
    s.mask = k == 1 ? TM_EMPTY : TM_NONE;
    s.weight = 1;
    s.smoothing = 0.3f;
    t_case c;
    t_case_make(&c, &s);
    if (k == 2)
      for (int64_t i = 0; i < 2 * 4 * 9; i++)
        t_label_set(&c, i, c.opt.ignore_index);
    float loss = -1.0f, grad[216];
    sl_stats st;
    sl_options o = c.opt;
    o.stats = &st;
    cr_assert(t_call(&c, &o, &loss, grad) == SL_OK);
    cr_expect(loss == 0.0f, "empty selection %d: loss %g", k, (double)loss);
    cr_expect(st.count == 0 && st.normalizer == 0.0 && st.loss_sum == 0.0);
    for (int i = 0; i < 216; i++)
      cr_expect(grad[i] == 0.0f, "grad[%d] = %g", i, (double)grad[i]);
    cr_expect(t_check_case(&c, "ce empty selection") == 0);
    t_case_free(&c);
  }
}

/* The NONE loss map is N x H x W: 0 outside the section and at ignored pixels. */
Test(ce, none_map_zero_at_ignored) {
  sl_shape shape = {2, 3, 4, 9};
  t_spec s = t_spec_default(T_CE, shape, 14300);
  s.reduction = SL_REDUCTION_NONE;
  s.box = TB_INTERIOR;
  s.ignore = 1;
  s.ignore_index = 1;
  t_case c;
  t_case_make(&c, &s);
  float map[72], grad[216];
  cr_assert(t_call(&c, &c.opt, map, grad) == SL_OK);
  int nonzero = 0;
  for (int64_t i = 0; i < 72; i++) {
    int64_t n = i / 36, y = (i / 9) % 4, x = i % 9;
    const sl_box *b = &c.boxes[0];
    int in = x >= b->x1 && x < b->x2 && y >= b->y1 && y < b->y2;
    int ignored = t_label_at(&c, i) == 1;
    if (!in || ignored) {
      cr_expect(map[i] == 0.0f, "map[%lld] = %g outside/ignored", (long long)i, (double)map[i]);
      for (int k = 0; k < 3; k++)
        cr_expect(grad[(n * 3 + k) * 36 + y * 9 + x] == 0.0f);
    } else {
      nonzero += map[i] > 0.0f;
    }
  }
  cr_expect(nonzero > 0, "no counted pixel: the test would prove nothing");
  cr_expect(t_check_case(&c, "ce none map") == 0);
  t_case_free(&c);
}

/* The target class's gradient p_t A - B_t with a target weight tiny against the others, under
 * label smoothing (a fuzz finding): A ~ (e/C) W, B_t ~ w_t. AVX2 took it as
 * (A - B_t) - A (1 - p_t), which cancels B_t away when p_t ~ 0 (0 instead of -B_t). Checked
 * against the formula in double within 4 ULP, per ISA (the equivalence tests' 1e-6 x g x max
 * weight criterion cannot see an error this far below the largest weight). */
Test(ce, tiny_target_weight_with_smoothing) {
  enum { C = 3, W = 9 };
  const float cw[C] = {1e-30f, 1.0f, 0.75f};
  const float xs[W] = {-100.0f, -20.0f, -5.0f, -1.0f, 0.0f, 2.0f, -300.0f, 10.0f, 1e30f};
  float x[C * W], grad[C * W], loss = 0.0f;
  int64_t lab[W];
  for (int i = 0; i < W; i++) {
    x[i] = xs[i];                        /* class 0: the target */
    x[W + i] = 0.0f;                     /* class 1 */
    x[2 * W + i] = i % 2 ? 1.0f : -1.0f; /* class 2 */
    lab[i] = 0;
  }
  const float smooth[] = {0.5f, 1.0f, 0.1f};
  int fails = 0;
  for (int k = 0; k < 3; k++) {
    sl_shape shape = {1, C, 1, W};
    sl_options opt = sl_options_default();
    opt.reduction = SL_REDUCTION_SUM;
    opt.weight = cw;
    opt.label_smoothing = smooth[k];
    cr_assert(sl_ce(&shape, x, lab, SL_LABEL_I64, NULL, &opt, &loss, grad) == SL_OK);
    const double e = smooth[k], ec = e / C, wsum = (double)cw[0] + cw[1] + cw[2];
    for (int i = 0; i < W; i++) {
      double m = -INFINITY, s = 0.0;
      for (int c = 0; c < C; c++)
        m = fmax(m, (double)x[c * W + i]);
      for (int c = 0; c < C; c++)
        s += exp((double)x[c * W + i] - m);
      double pt = exp(((double)x[i] - m) - log(s));
      double a = (1.0 - e) * cw[0] + ec * wsum, bt = (1.0 - e + ec) * cw[0];
      double want = pt * a - bt;
      if (!t_close(grad[i], want, 4.0 * t_ulpf((float)want))) {
        cr_expect(0, "smoothing %g, x_t = %g: grad %.9g, want %.9g (%s)", e, (double)x[i],
                  (double)grad[i], want, sl_isa_name(sl_isa_active()));
        fails++;
      }
    }
  }
  cr_assert(fails == 0);
}
