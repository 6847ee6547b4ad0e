// SPDX-License-Identifier: MIT
/*
 * test_golden_focal.c - sl_sigmoid_focal against torchvision.ops.sigmoid_focal_loss itself,
 * sl_softmax_focal against the focal formula written in PyTorch, and sl_ce with pixel weights
 * against (F.cross_entropy(..., reduction="none") * pw).sum() / (pw * w[t]).sum(): every case of
 * tests/golden/golden_focal.h (tests/gen_golden_focal.py: PyTorch's autograd in float64 over the
 * selected elements, many boxes per sample and masks included) through the library with the
 * active ISA, fused and gradient-only. Shape legend N, C, H, W as in sectionloss.h.
 *
 * Tolerance: |ours - golden| <= R 2^-24 (|golden| + scale), R = ct_focal_ulp(gamma) + 2 (the
 * SIMD kernels' bound against the scalar reference, docs/accuracy.md, plus the reference's own
 * roundings): the golden values are the exact function to about 1e-15 (float64), so this is the
 * library's accuracy, not PyTorch's float32 rounding. scale (float64, per element; the sum of
 * |l| over the normaliser for a reduced loss) is the magnitude of the terms the value is the
 * difference of; ct_ulp(golden) is added for the float result's own rounding (a golden 1e-47
 * is a float 0).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "harness.h"
#include "sectionloss.h"

#include "golden/golden_focal.h"

#define ULP1 (1.0 / 16777216.0)

static int check(const golden_focal *g, const char *what, int64_t i, float got, double want,
                 double scale, double r) {
  double tol = r * ULP1 * (fabs(want) + scale) + ct_ulp(want); /* + the float's own spacing */
  if (fabs((double)got - want) <= tol || (isnan(got) && isnan(want)))
    return 0;
  cr_expect(0, "%s (%s): %s[%lld] %.9g, golden %.12g (scale %g, %.3g of the tolerance)", g->name,
            sl_isa_name(sl_isa_active()), what, (long long)i, (double)got, want, scale,
            fabs((double)got - want) / tol);
  return 1;
}

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
    for (int64_t k = 0; fused && k < g->nloss; k++)
      fails += check(g, "loss", k, loss[k], g->loss[k], g->loss_scale[k], r);
    for (int64_t e = 0; e < E && fails < 5; e++)
      fails += check(g, "grad", e, grad[e], g->grad[e], g->grad_scale_terms[e], r);
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
