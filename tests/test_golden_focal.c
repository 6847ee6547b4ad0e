// SPDX-License-Identifier: MIT
/*
 * test_golden_focal.c - sl_sigmoid_focal against torchvision.ops.sigmoid_focal_loss itself,
 * sl_softmax_focal against the focal formula written in PyTorch, and sl_ce with pixel weights
 * against (F.cross_entropy(..., reduction="none") * pw).sum() / (pw * w[t]).sum(): every case of
 * tests/golden/golden_focal.h (tests/gen_golden_focal.py: PyTorch's autograd in float64 over the
 * selected elements, many boxes per sample and masks included) through the library with the
 * active ISA, fused and gradient-only. Shape legend N, C, H, W as in sectionloss.h.
 *
 * Tolerance: golden_check.h with R = ct_focal_ulp(gamma) + 2 (the SIMD kernels' bound against
 * the scalar reference, docs/accuracy.md, plus the reference's own roundings).
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "golden_check.h"
#include "harness.h"
#include "sectionloss.h"

#include "golden/golden_focal.h"

static int run_case(const golden_focal *g, int fused) {
  const int64_t E = g->shape.n * g->shape.c * g->shape.h * g->shape.w;
  sl_options o = sl_options_default();
  o.reduction = g->reduction;
  o.grad_scale = g->grad_scale;
  o.grad_map = g->grad_map;
  o.weight = g->weight;
  o.pixel_weight = g->pixel_weight;
  o.focal_gamma = g->gamma;
  o.focal_alpha = g->alpha;
  o.label_smoothing = g->smoothing;
  o.ignore_index = g->ignore_index;
  sl_region rg = {.size = sizeof(sl_region),
                  .boxes = g->boxes,
                  .num_boxes = g->num_boxes,
                  .mask = g->mask,
                  .mask_channels = 1,
                  .box_offsets = g->offsets};
  float *loss = malloc((size_t)g->nloss * sizeof(float)), *grad = malloc((size_t)E * sizeof(float));
  sl_status st =
      g->op == 0 ? sl_sigmoid_focal(&g->shape, g->x, g->target, &rg, &o, fused ? loss : NULL, grad)
      : g->op == 1
          ? sl_softmax_focal(&g->shape, g->x, g->labels, SL_LABEL_I64, &rg, &o, fused ? loss : NULL,
                             grad)
          : sl_ce(&g->shape, g->x, g->labels, SL_LABEL_I64, &rg, &o, fused ? loss : NULL, grad);
  int fails = 0;
  const double r = ct_focal_ulp(g->gamma) + 2.0;
  if (st != SL_OK) {
    cr_expect(0, "%s: status %d", g->name, st);
    fails++;
  } else {
    if (fused)
      fails += golden_check(g->name, "loss", loss, g->loss, g->loss_scale, g->nloss, r, INT_MAX);
    fails += golden_check(g->name, "grad", grad, g->grad, g->grad_scale_terms, E, r, 5 - fails);
  }
  free(loss);
  free(grad);
  return fails;
}

Test(golden_focal, torch) {
  int fails = 0;
  for (int i = 0; i < golden_focal_count; i++)
    fails += run_case(&golden_focal_cases[i], 1) + run_case(&golden_focal_cases[i], 0);
  cr_assert(fails == 0, "%d failures", fails);
}
