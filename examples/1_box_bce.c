// SPDX-License-Identifier: MIT
/*
 * 1_box_bce.c - the article's first example with sectionloss: binary cross-entropy inside one
 * box, [x1, y1, x2, y2] = [10, 10, 50, 50], of a 4 x 1 x 64 x 64 batch of probabilities.
 *
 * PyTorch (the article):
 *   loss = F.binary_cross_entropy(pred[:, :, 10:50, 10:50], gt[:, :, 10:50, 10:50])
 *   loss.backward()
 * sectionloss: one sl_bce call with a one-box region gives the same loss and, in the same pass,
 * d loss / d pred for the whole tensor (0 outside the box): no slice copies, no autograd graph.
 * The data are deterministic (example_data.h); examples/torch_values.py feeds the same tensors
 * to PyTorch and printed the reference values below.
 * Shape legend N, C, H, W as in sectionloss.h. Exits non-zero on an error or a mismatch.
 */
#include <stdio.h>
#include <stdlib.h>

#include "example_data.h"
#include "sectionloss.h"

/* PyTorch 1.13 on the same data (examples/torch_values.py). */
#define TORCH_LOSS    0.993794501
#define TORCH_GRAD_L1 8.0543481092608999

enum { N = 4, C = 1, H = 64, W = 64 };

/* Everything one call needs, for the timing loop. */
typedef struct args {
  sl_shape shape;
  const float *pred, *gt;
  sl_region region;
} args;

static sl_status box_bce(const void *ctx, float *loss, float *grad) {
  const args *a = ctx;
  /* NULL options = the defaults: reduction MEAN, no weights, grad_scale 1. */
  return sl_bce(&a->shape, a->pred, a->gt, &a->region, NULL, loss, grad);
}

int main(void) {
  printf("== example 1: BCE in the box [10, 10, 50, 50], 4 x 1 x 64 x 64\n");
  float *pred = malloc(sizeof(float) * N * C * H * W);
  float *gt = malloc(sizeof(float) * N * C * H * W);
  float *grad = malloc(sizeof(float) * N * C * H * W); /* d loss / d pred */
  if (!pred || !gt || !grad) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  ex_rng rng = {1};
  ex_fill_prob(&rng, pred, N * C * H * W); /* torch.rand-like probabilities */
  ex_fill_binary(&rng, gt, N * C * H * W); /* a binary ground truth */

  /* The section: one box for every sample, half-open like the slice [y1:y2, x1:x2]. */
  const sl_box box = {.x1 = 10, .y1 = 10, .x2 = 50, .y2 = 50};
  args a = {
      .shape = {N, C, H, W},
      .pred = pred,
      .gt = gt,
      .region = {.size = sizeof(sl_region),
                 .boxes = &box,
                 .num_boxes = 1,
                 .mask = NULL,
                 .mask_channels = 1},
  };

  /* Forward and backward in one pass. Every call returns a status: check it. */
  float loss;
  ex_check(box_bce(&a, &loss, grad), "sl_bce");

  double ms_fused = ex_median_ms(box_bce, &a, &(float){0}, grad);
  double ms_forward = ex_median_ms(box_bce, &a, &(float){0}, NULL); /* loss only */
  int rc =
      ex_report(loss, TORCH_LOSS, ex_l1(grad, N * C * H * W), TORCH_GRAD_L1, ms_fused, ms_forward);
  free(pred);
  free(gt);
  free(grad);
  return rc;
}
