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
 * Tolerance: golden_check.h with R = ct_ce_k(C) + 2 (the SIMD kernels' bound against the scalar
 * reference, docs/accuracy.md, plus the reference's own roundings).
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "contract.h"
#include "golden_check.h"
#include "harness.h"
#include "sectionloss.h"

#include "golden/golden_ce_prob.h"

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
    if (fused)
      fails += golden_check(g->name, "loss", loss, g->loss, g->loss_scale, g->nloss, r, INT_MAX);
    fails += golden_check(g->name, "grad", grad, g->grad, g->grad_scale_terms, E, r, 5 - fails);
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
