// SPDX-License-Identifier: MIT
/*
 * test_bce_logits.c - sl_bce_logits against the double reference (ref.c): the shape / box /
 * mask / option matrix (weight, pos_weight, reductions, grad_scale), special logits (tiny,
 * huge, +-1e30, +-inf, NaN -> NaN loss) and NaN outside the section being ignored.
 */
#include <math.h>
#include <stdio.h>

#include "harness.h"
#include "ref.h"
#include "sectionloss.h"
#include "util.h"

Test(bce_logits, shapes) {
  cr_assert(t_matrix_shapes(T_BCE_LOGITS, 5000) == 0);
}
Test(bce_logits, boxes) {
  cr_assert(t_matrix_boxes(T_BCE_LOGITS, 6000) == 0);
}
Test(bce_logits, masks) {
  cr_assert(t_matrix_masks(T_BCE_LOGITS, 7000) == 0);
}

Test(bce_logits, options) {
  static const float scales[] = {1.0f, 0.37f, -2.5f, 0.0f};
  int fails = 0;
  uint64_t seed = 8000;
  sl_shape shape = {2, 3, 4, 21};
  for (int w = 0; w < 2; w++)
    for (int pw = 0; pw < 2; pw++)
      for (int red = 0; red < 3; red++)
        for (int g = 0; g < 4; g++) {
          t_spec s = t_spec_default(T_BCE_LOGITS, shape, seed++);
          s.weight = w;
          s.pos_weight = pw;
          s.reduction = (sl_reduction)red;
          s.grad_scale = scales[g];
          s.box = g % 2 ? TB_PER_SAMPLE : TB_INTERIOR;
          s.mask = g / 2 ? TM_PER_CHANNEL : TM_CHECKER;
          fails += t_check_spec(&s);
        }
  /* wide logits: the exp/log1p tails */
  for (int red = 0; red < 3; red++) {
    t_spec s = t_spec_default(T_BCE_LOGITS, shape, seed++);
    s.reduction = (sl_reduction)red;
    s.scale = 60.0f;
    s.pos_weight = 1;
    fails += t_check_spec(&s);
  }
  cr_assert(fails == 0);
}

/* Every pair of special logits and targets, with and without pos_weight, each reduction. */
Test(bce_logits, special_values) {
  /* 1e37, not 3e38: with weights and pos_weight the per-element loss stays below FLT_MAX
   * (a float kernel may overflow a single element's loss beyond it; scalar works in double) */
  static const float xs[] = {0.0f,  -0.0f,  1e-30f, -1e-30f, 1e-45f,   -1e-45f,   1.0f,   -1.0f,
                             17.5f, -17.5f, 20.0f,  -20.0f,  88.7f,    -88.7f,    103.9f, -103.9f,
                             1e30f, -1e30f, 1e37f,  -1e37f,  INFINITY, -INFINITY, NAN};
  static const float ts[] = {0.0f, 1.0f, 0.5f, 0.3f};
  const int nx = sizeof xs / sizeof xs[0], nt = sizeof ts / sizeof ts[0];
  sl_shape shape = {1, 2, 1, nx * nt};
  int fails = 0;
  for (int red = 0; red < 3; red++)
    for (int pw = 0; pw < 2; pw++) {
      t_spec s = t_spec_default(T_BCE_LOGITS, shape, 8100 + (uint64_t)(red * 2 + pw));
      s.reduction = (sl_reduction)red;
      s.pos_weight = pw;
      t_case c;
      t_case_make(&c, &s);
      for (int ch = 0; ch < 2; ch++)
        for (int i = 0; i < nx; i++)
          for (int j = 0; j < nt; j++) {
            c.x[ch * nx * nt + i * nt + j] = xs[(i + ch) % nx];
            c.target[ch * nx * nt + i * nt + j] = ts[j];
          }
      char desc[64];
      snprintf(desc, sizeof desc, "bce_logits special values red=%s pos_weight=%d",
               t_reduction_name(red), pw);
      fails += t_check_case(&c, desc);
      t_case_free(&c);
    }
  cr_assert(fails == 0);
}

/* A NaN logit in the section makes the loss NaN; outside the section it is never read into
 * the result. */
Test(bce_logits, nan_in_and_out_of_section) {
  sl_shape shape = {2, 2, 5, 13};
  for (int inside = 0; inside < 2; inside++) {
    t_spec s = t_spec_default(T_BCE_LOGITS, shape, 8200 + (uint64_t)inside);
    s.box = TB_FULL;
    t_case c;
    t_case_make(&c, &s);
    sl_box b = {2, 1, 9, 4};
    c.boxes[0] = b;
    c.x[((1 * 2 + 1) * 5 + (inside ? 2 : 0)) * 13 + 4] = NAN; /* row 2 in the box, row 0 not */
    c.x[((0 * 2 + 0) * 5 + 2) * 13 + 12] = NAN;               /* column 12: outside */
    float loss = 0.0f;
    cr_assert(t_call(&c, &c.opt, &loss, NULL) == SL_OK);
    cr_expect(inside ? isnan(loss) : isfinite(loss), "NaN %s the section: loss %g",
              inside ? "in" : "outside", (double)loss);
    cr_expect(t_check_case(&c, inside ? "NaN inside" : "NaN outside") == 0);
    t_case_free(&c);
  }
}

/* The gradient near x = 0, where (1 - t) sigmoid(x) and pw t sigmoid(-x) are both about half of
 * their weights and cancel: against the closed form in double,
 *   d = ((a - b) + (a + b) tanh(x / 2)) / 2,  a = 1 - t, b = pw t,
 * within 4 ULP (no 1e-6-absolute escape: the values are tiny on purpose). With t = 1/2 and
 * pw = 1, d = tanh(x / 2) / 2; with t = -4.9e32, pw = -1 (a fuzz input), d = 1/2 + a tanh(x/2).
 * Sigmoids from a rounded exp(-|x|) miss these by 1e-6 relative at |x| = 1e-10. */
Test(bce_logits, gradient_near_zero) {
  static const float xs[] = {1e-10f,   -1e-10f,          3e-9f,  -7e-8f, 1e-5f, -0.001f,
                             0x1p-10f, -0x1.fffffep-11f, 0.01f,  -0.1f,  0.2f,  -0.24f,
                             0.25f,    -0.26f,           1e-30f, -1e-38f};
  static const struct {
    float t, pw;
  } tp[] = {{0.5f, 1.0f}, {-0x1.88112cp+107f, -1.0f}, {0.25f, 3.0f}, {1.0f, 1.0f}};
  enum { NX = sizeof xs / sizeof xs[0], NT = sizeof tp / sizeof tp[0] };
  int fails = 0;
  for (int j = 0; j < NT; j++) {
    float x[NX], t[NX], grad[NX], loss = 0.0f, pw = tp[j].pw;
    for (int i = 0; i < NX; i++) {
      x[i] = xs[i];
      t[i] = tp[j].t;
    }
    sl_shape shape = {1, 1, 1, NX};
    sl_options opt = sl_options_default();
    opt.reduction = SL_REDUCTION_SUM;
    opt.pos_weight = &pw;
    cr_assert(sl_bce_logits(&shape, x, t, NULL, &opt, &loss, grad) == SL_OK);
    for (int i = 0; i < NX; i++) {
      double a = 1.0 - (double)t[i], b = (double)pw * t[i];
      double want = 0.5 * ((a - b) + (a + b) * tanh((double)x[i] / 2.0));
      if (!t_close(grad[i], want, 4.0 * t_ulpf((float)want))) {
        cr_expect(0, "x = %g, t = %g, pw = %g: grad %.9g, want %.9g (%s)", (double)x[i],
                  (double)t[i], (double)pw, (double)grad[i], want, sl_isa_name(sl_isa_active()));
        fails++;
      }
    }
  }
  cr_assert(fails == 0);
}
