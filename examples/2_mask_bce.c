// SPDX-License-Identifier: MIT
/*
 * 2_mask_bce.c - the article's second example with sectionloss: binary cross-entropy under a
 * mask, 4 x 1 x 64 x 64. The mask is a disc with its own centre and radius in each sample
 * (ex_disc_mask in example_data.h), so the samples select different numbers of pixels.
 *
 * PyTorch (the article):
 *   loss = F.binary_cross_entropy(pred[mask], gt[mask]); loss.backward()
 * Boolean indexing copies the selected elements (and autograd scatters the gradient back);
 * sectionloss reads the mask bytes in place: one sl_bce call, loss and gradient together.
 * The mean is over the selected elements, as in PyTorch.
 * Shape legend N, C, H, W as in sectionloss.h. Exits non-zero on an error or a mismatch.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "example_data.h"
#include "sectionloss.h"

/* PyTorch 1.13 on the same data (examples/torch_values.py). */
#define TORCH_LOSS    0.992303491
#define TORCH_GRAD_L1 10.504055352823343

enum { N = 4, C = 1, H = 64, W = 64 };

typedef struct args {
  sl_shape shape;
  const float *pred, *gt;
  sl_region region;
  sl_options options;
} args;

static sl_status mask_bce(const void *ctx, float *loss, float *grad) {
  const args *a = ctx;
  return sl_bce(&a->shape, a->pred, a->gt, &a->region, &a->options, loss, grad);
}

int main(void) {
  printf("== example 2: BCE under a disc mask, 4 x 1 x 64 x 64\n");
  float *pred = malloc(sizeof(float) * N * C * H * W);
  float *gt = malloc(sizeof(float) * N * C * H * W);
  float *grad = malloc(sizeof(float) * N * C * H * W);
  uint8_t *mask = malloc((size_t)N * H * W); /* N x 1 x H x W, nonzero = selected */
  if (!pred || !gt || !grad || !mask) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  ex_rng rng = {2};
  ex_fill_prob(&rng, pred, N * C * H * W);
  ex_fill_binary(&rng, gt, N * C * H * W);
  ex_disc_mask(mask, N, H, W);

  args a = {
      .shape = {N, C, H, W},
      .pred = pred,
      .gt = gt,
      /* No box; a mask with one channel, broadcast over C (mask_channels = C would give each
       * channel its own mask). */
      .region = {.size = sizeof(sl_region),
                 .boxes = NULL,
                 .num_boxes = 0,
                 .mask = mask,
                 .mask_channels = 1},
      /* Always start from the defaults; stats also returns the exact sum and count, so
       * partial results (threads, processes) combine exactly: loss = loss_sum / normalizer. */
      .options = sl_options_default(),
  };
  sl_stats stats;
  a.options.stats = &stats;

  float loss;
  sl_status s = mask_bce(&a, &loss, grad);
  if (s == SL_ERR_DOMAIN) /* a selected probability outside [0, 1] or NaN, as PyTorch rejects */
    fprintf(stderr, "bad input: %s\n", sl_status_string(s));
  ex_check(s, "sl_bce");
  printf("   (%lld pixels selected, loss_sum %.9g)\n", (long long)stats.count, stats.loss_sum);

  a.options.stats = NULL;
  double ms_fused = ex_median_ms(mask_bce, &a, &(float){0}, grad);
  double ms_forward = ex_median_ms(mask_bce, &a, &(float){0}, NULL);
  int rc =
      ex_report(loss, TORCH_LOSS, ex_l1(grad, N * C * H * W), TORCH_GRAD_L1, ms_fused, ms_forward);
  free(pred);
  free(gt);
  free(grad);
  free(mask);
  return rc;
}
