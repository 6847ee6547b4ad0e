// SPDX-License-Identifier: MIT
/*
 * test_golden_dice.c - sl_dice and sl_dice_multiclass against segmentation_models_pytorch
 * itself: every case of tests/golden/golden_dice.h (written by tests/gen_golden.py --dice from
 * smp's DiceLoss / TverskyLoss float32 loss and autograd gradient, the section given through
 * smp's ignore_index) is run through the library with the active ISA, fused and gradient-only.
 * Shape legend N, C, H, W as in sectionloss.h.
 *
 * Tolerance: |ours - torch| <= GOLDEN_R 2^-24 (|torch| + scale), GOLDEN_R = 8 as in
 * test_golden.c: PyTorch's float32 chain (sums over at most 210 elements, cascaded; the score's
 * quotient; the loss; autograd's products) rounds a handful of times, the library once from
 * double; scale (per gradient element, float64, gen_golden.py dice_scale) is the magnitude of
 * the terms PyTorch's gradient adds (through the intersection and through the denominator,
 * multiclass also through the softmax), relative to which its own error lies. Losses: scale
 * 0 (a relative check) but PyTorch's float32 sums of up to 210 terms: R = 8 units of 2^-24 of
 * the loss's |terms| would be too tight where 1 - score cancels, so the loss scale is 1
 * (1 - score, -log score: the score's magnitude is at most about 1 in these cases).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sectionloss.h"

#include "golden/golden_dice.h"

#define GOLDEN_R 8.0
#define ULP1     (1.0 / 16777216.0)

static int run_case(const golden_dice *g, int fused) {
  const int64_t C = g->shape.c, E = g->shape.n * C * g->shape.h * g->shape.w;
  sl_options o = sl_options_default();
  o.reduction = g->reduction;
  o.grad_scale = g->grad_scale;
  o.grad_map = g->grad_map;
  o.dice_tversky = g->tversky;
  o.dice_log_loss = g->log_loss;
  o.dice_from_logits = g->from_logits;
  o.tversky_alpha = g->alpha;
  o.tversky_beta = g->beta;
  o.tversky_gamma = g->gamma;
  o.dice_smooth = g->smooth;
  o.dice_eps = g->eps;
  o.ignore_index = -1;
  sl_region rg = {sizeof(sl_region), g->boxes, g->num_boxes, g->mask, g->mask_channels, g->offsets};
  float *loss = malloc((size_t)C * sizeof(float)), *grad = malloc((size_t)E * sizeof(float));
  sl_status st = g->mc ? sl_dice_multiclass(&g->shape, g->x, g->labels, SL_LABEL_I64, &rg, &o,
                                            fused ? loss : NULL, grad)
                       : sl_dice(&g->shape, g->x, g->target, &rg, &o, fused ? loss : NULL, grad);
  int fails = 0;
  if (st != SL_OK) {
    cr_expect(0, "%s: status %d", g->name, st);
    fails++;
    goto out;
  }
  for (int k = 0; fused && k < g->nloss; k++) {
    double want = g->loss[k], tol = GOLDEN_R * ULP1 * (fabs(want) + 1.0);
    if (!(fabs((double)loss[k] - want) <= tol)) {
      cr_expect(0, "%s: loss[%d] %.9g, smp %.9g", g->name, k, (double)loss[k], want);
      fails++;
    }
  }
  for (int64_t e = 0; e < E; e++) {
    double want = g->grad[e], tol = GOLDEN_R * ULP1 * (fabs(want) + g->scale[e]);
    if (!(fabs((double)grad[e] - want) <= tol) && fails++ < 5)
      cr_expect(0, "%s: grad[%lld] %.9g, smp %.9g (scale %g)", g->name, (long long)e,
                (double)grad[e], want, (double)g->scale[e]);
  }
out:
  free(loss);
  free(grad);
  return fails;
}

Test(golden_dice, smp) {
  int fails = 0;
  for (int i = 0; i < golden_dice_count; i++)
    fails += run_case(&golden_dice_cases[i], 1) + run_case(&golden_dice_cases[i], 0);
  cr_assert(fails == 0, "%d failures", fails);
}
