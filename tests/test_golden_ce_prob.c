// SPDX-License-Identifier: MIT
/*
 * test_golden_ce_prob.c - sl_ce_prob against PyTorch's F.cross_entropy with probability targets
 * on the selected pixels (tests/golden/golden_ce_prob.h, tests/gen_golden_ce_prob.py: PyTorch's
 * loss and autograd gradient in float64; class weights, label smoothing, pixel weights, boxes
 * (many per sample too), masks, targets that are not distributions, confident pixels, every
 * reduction), through the library with the active ISA, fused and gradient-only. MEAN divides
 * by the selected pixel count as PyTorch does (a one-hot case with class weights checks that
 * it is not sl_ce's weighted mean). Shape legend N, C, H, W as in sectionloss.h.
 *
 * Tolerance: |ours - golden| <= R 2^-24 (|golden| + scale), R = ct_ce_k(C) + 2 (the SIMD
 * kernels' bound against the scalar reference, docs/accuracy.md, plus the reference's own
 * roundings); scale is the contract's magnitude of the terms the value is made of (per element;
 * the sum over the normaliser for a reduced loss); ct_ulp(golden) is added for the float
 * result's own rounding.
 */
#include <math.h>
#include <stdlib.h>

#include "contract.h"
#include "harness.h"
#include "sectionloss.h"

#include "golden/golden_ce_prob.h"

#define ULP1 (1.0 / 16777216.0)

static int check(const golden_ce_prob *g, const char *what, int64_t i, float got, double want,
                 double scale, double r) {
  double tol = r * ULP1 * (fabs(want) + scale) + ct_ulp(want);
  if (fabs((double)got - want) <= tol || (isnan(got) && isnan(want)))
    return 0;
  cr_expect(0, "%s (%s): %s[%lld] %.9g, golden %.12g (scale %g, %.3g of the tolerance)", g->name,
            sl_isa_name(sl_isa_active()), what, (long long)i, (double)got, want, scale,
            fabs((double)got - want) / tol);
  return 1;
}

static int run_case(const golden_ce_prob *g, int fused) {
  const int64_t E = g->shape.n * g->shape.c * g->shape.h * g->shape.w;
  sl_options o = sl_options_default();
  o.reduction = g->reduction;
  o.grad_scale = g->grad_scale;
  o.grad_map = g->grad_map;
  o.weight = g->weight;
  o.pixel_weight = g->pixel_weight;
  o.label_smoothing = g->smoothing;
  sl_region rg = sl_region_default();
  rg.boxes = g->boxes;
  rg.num_boxes = g->num_boxes;
  rg.mask = g->mask;
  rg.box_offsets = g->offsets;
  float *loss = malloc((size_t)g->nloss * sizeof(float)), *grad = malloc((size_t)E * sizeof(float));
  sl_status st = sl_ce_prob(&g->shape, g->x, g->target, &rg, &o, fused ? loss : NULL, grad);
  int fails = 0;
  const double r = ct_ce_k(g->shape.c) + 2.0;
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

Test(golden_ce_prob, torch) {
  int fails = 0;
  for (int i = 0; i < golden_ce_prob_count; i++)
    fails += run_case(&golden_ce_prob_cases[i], 1) + run_case(&golden_ce_prob_cases[i], 0);
  cr_assert(fails == 0, "%d failures", fails);
}
