// SPDX-License-Identifier: MIT
/*
 * 3_mask_ce.c - the article's third example done right: multi-class cross-entropy (4 classes)
 * under a mask, 4 x 4 x 64 x 64 logits, labels 4 x 64 x 64, the disc mask of example 2.
 *
 * The loss is the mean over the selected pixels (n, y, x) of
 *   -log softmax(logits[n, :, y, x])[label[n, y, x]],
 * in PyTorch: labels outside the mask set to ignore_index, then
 *   loss = F.cross_entropy(logits, labels, ignore_index=-100)      (classes in dim 1)
 *
 * Why the article's version is wrong: it gathers logits[mask.expand_as(logits)], reshapes to
 * (B, C, -1) and permutes to (B, N, C) before F.cross_entropy. But F.cross_entropy takes the
 * classes in dimension 1, so (B, N, C) would treat the N pixels as classes; its targets
 * (ground_truth[mask], one per selected pixel of the whole batch) do not even have a matching
 * shape, so PyTorch refuses it ("Expected input batch_size (4) to match target batch_size");
 * and the reshape to (B, C, -1) assumes every image selects the same number of pixels, which a
 * real mask (like this per-sample disc) does not.
 *
 * sectionloss: one sl_ce call; the mask is read in place, labels may be int64 (as here), int32
 * or uint8. Shape legend N, C, H, W as in sectionloss.h. Exits non-zero on error or mismatch.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "example_data.h"
#include "sectionloss.h"

/* PyTorch 1.13 on the same data (examples/torch_values.py). */
#define TORCH_LOSS    1.81674826
#define TORCH_GRAD_L1 1.497038066215282

enum { N = 4, C = 4, H = 64, W = 64 };

typedef struct args {
  sl_shape shape;
  const float *logits;
  const int64_t *labels;
  sl_region region;
} args;

static sl_status mask_ce(const void *ctx, float *loss, float *grad) {
  const args *a = ctx;
  return sl_ce(&a->shape, a->logits, a->labels, SL_LABEL_I64, &a->region, NULL, loss, grad);
}

int main(void) {
  printf("== example 3: cross-entropy, 4 classes, under a disc mask, 4 x 4 x 64 x 64\n");
  float *logits = malloc(sizeof(float) * N * C * H * W);
  int64_t *labels = malloc(sizeof(int64_t) * N * H * W); /* class per pixel, in [0, C) */
  float *grad = malloc(sizeof(float) * N * C * H * W);   /* d loss / d logits */
  uint8_t *mask = malloc((size_t)N * H * W);             /* N x 1 x H x W */
  if (!logits || !labels || !grad || !mask) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  ex_rng rng = {3};
  ex_fill_logit(&rng, logits, N * C * H * W);
  ex_fill_class4(&rng, labels, N * H * W);
  ex_disc_mask(mask, N, H, W);

  args a = {
      .shape = {N, C, H, W}, /* C = the number of classes */
      .logits = logits,
      .labels = labels,
      .region = {.size = sizeof(sl_region),
                 .boxes = NULL,
                 .num_boxes = 0,
                 .mask = mask,
                 .mask_channels = 1},
  };

  /* Errors come back as a status, never as a crash or a message: a label outside [0, C) (here
   * at pixel (0, 0, 0), checked with no region so that the pixel is selected) is reported
   * before anything is written. */
  float loss = 0.0f;
  int64_t saved = labels[0];
  labels[0] = 7;
  sl_status s = sl_ce(&a.shape, logits, labels, SL_LABEL_I64, NULL, NULL, &loss, grad);
  labels[0] = saved;
  printf("   (a label of 7 with 4 classes gives: \"%s\")\n", sl_status_string(s));
  if (s != SL_ERR_LABEL)
    return 1;

  ex_check(mask_ce(&a, &loss, grad), "sl_ce");
  double ms_fused = ex_median_ms(mask_ce, &a, &(float){0}, grad);
  double ms_forward = ex_median_ms(mask_ce, &a, &(float){0}, NULL);
  int rc =
      ex_report(loss, TORCH_LOSS, ex_l1(grad, N * C * H * W), TORCH_GRAD_L1, ms_fused, ms_forward);
  free(logits);
  free(labels);
  free(grad);
  free(mask);
  return rc;
}
