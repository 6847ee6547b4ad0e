// SPDX-License-Identifier: MIT
/*
 * 4_detection_focal.c - a detection-style batch: several (overlapping) object boxes per image,
 * the multi-class focal loss (gamma 2) inside them, 2 x 4 x 96 x 128 logits (4 classes) and
 * labels 2 x 96 x 128; image 0 has 5 boxes, image 1 has 3.
 *
 * The loss is the mean over the union of each image's boxes (a pixel inside two boxes counts
 * once) of -(1 - p_t)^2 log p_t, p = softmax over the classes, in PyTorch:
 *   sel = the OR of the boxes' masks, per image; logp = F.log_softmax(logits, 1)
 *   logp_t = logp.gather(1, labels[:, None])[:, 0][sel]
 *   loss = (-(1 - logp_t.exp()) ** 2 * logp_t).mean()
 * sectionloss: one sl_softmax_focal call with region.box_offsets, fused with its gradient, and
 * per-box statistics from the same pass (opt.box_stats: each object's loss sum and pixel count,
 * a shared pixel in both).
 * Then the same logits as 4 one-vs-rest scores against the one-hot labels: torchvision's sigmoid
 * focal loss (alpha 0.25, gamma 2: the defaults) over every class of the selected pixels,
 *   torchvision.ops.sigmoid_focal_loss(logits[sel4], onehot[sel4], reduction="mean")
 * sectionloss: one sl_sigmoid_focal call, the same region.
 * Shape legend N, C, H, W as in sectionloss.h. Exits non-zero on error or mismatch.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "example_data.h"
#include "sectionloss.h"

/* PyTorch 1.13 on the same data (examples/torch_values.py). */
#define TORCH_LOSS    1.36492145
#define TORCH_GRAD_L1 1.5824601622196131
/* torchvision 0.14 (examples/torch_values.py) */
#define TORCHVISION_LOSS    0.255175292
#define TORCHVISION_GRAD_L1 0.25714575022195518

enum { N = 2, C = 4, H = 96, W = 128, NB = 8 };

typedef struct args {
  sl_shape shape;
  const float *logits;
  const int64_t *labels;
  const float *onehot;
  sl_region region;
  sl_options opt;
} args;

static sl_status focal(const void *ctx, float *loss, float *grad) {
  const args *a = ctx;
  return sl_softmax_focal(&a->shape, a->logits, a->labels, SL_LABEL_I64, &a->region, &a->opt, loss,
                          grad);
}

static sl_status sigmoid_focal(const void *ctx, float *loss, float *grad) {
  const args *a = ctx;
  return sl_sigmoid_focal(&a->shape, a->logits, a->onehot, &a->region, &a->opt, loss, grad);
}

int main(void) {
  printf("== example 4: focal loss (4 classes) inside 5 + 3 object boxes, 2 x 4 x 96 x 128\n");
  float *logits = malloc(sizeof(float) * N * C * H * W);
  int64_t *labels = malloc(sizeof(int64_t) * N * H * W);
  float *grad = malloc(sizeof(float) * N * C * H * W);
  float *onehot = malloc(sizeof(float) * N * C * H * W);
  if (!logits || !labels || !grad || !onehot) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  ex_rng rng = {4};
  ex_fill_logit(&rng, logits, N * C * H * W);
  ex_fill_class4(&rng, labels, N * H * W);

  /* {x1, y1, x2, y2}, half-open; boxes 0 and 1 overlap, box 2 lies inside box 1, 5 and 6
   * overlap */
  static const sl_box boxes[NB] = {{4, 6, 40, 50},    {30, 20, 90, 70}, {50, 30, 60, 40},
                                   {100, 0, 128, 30}, {0, 80, 128, 96}, {10, 10, 70, 60},
                                   {60, 40, 120, 90}, {20, 70, 30, 80}};
  static const int64_t offsets[N + 1] = {0, 5, NB}; /* image 0: boxes 0..4, image 1: 5..7 */
  sl_stats per_box[NB];
  args a = {.shape = {N, C, H, W}, .logits = logits, .labels = labels};
  a.region = (sl_region){
      .size = sizeof(sl_region), .boxes = boxes, .num_boxes = NB, .box_offsets = offsets};
  a.opt = sl_options_default(); /* focal_gamma 2, MEAN */

  /* Errors come back as a status: offsets that do not end at num_boxes. */
  static const int64_t bad_offsets[N + 1] = {0, 5, NB - 1};
  sl_region bad = a.region;
  bad.box_offsets = bad_offsets;
  float loss = 0.0f;
  sl_status s = sl_softmax_focal(&a.shape, logits, labels, SL_LABEL_I64, &bad, &a.opt, &loss, grad);
  printf("   (box_offsets ending at 7 of 8 boxes gives: \"%s\")\n", sl_status_string(s));
  if (s != SL_ERR_BOX_OFFSETS)
    return 1;

  a.opt.box_stats = per_box;
  ex_check(focal(&a, &loss, grad), "sl_softmax_focal");
  for (int k = 0; k < NB; k++)
    printf("   box %d (image %d): %5lld pixels, mean focal loss %.6f\n", k, k < 5 ? 0 : 1,
           (long long)per_box[k].count,
           per_box[k].count ? per_box[k].loss_sum / per_box[k].normalizer : 0.0);
  a.opt.box_stats = NULL;
  double ms_fused = ex_median_ms(focal, &a, &(float){0}, grad);
  double ms_forward = ex_median_ms(focal, &a, &(float){0}, NULL);
  int rc =
      ex_report(loss, TORCH_LOSS, ex_l1(grad, N * C * H * W), TORCH_GRAD_L1, ms_fused, ms_forward);

  printf("   the sigmoid focal loss (one-vs-rest, one-hot targets) in the same boxes, beside "
         "torchvision's:\n");
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t p = 0; p < H * W; p++)
        onehot[(n * C + c) * H * W + p] = labels[n * H * W + p] == c ? 1.0f : 0.0f;
  a.onehot = onehot;
  ex_check(sigmoid_focal(&a, &loss, grad), "sl_sigmoid_focal");
  ms_fused = ex_median_ms(sigmoid_focal, &a, &(float){0}, grad);
  ms_forward = ex_median_ms(sigmoid_focal, &a, &(float){0}, NULL);
  rc |= ex_report(loss, TORCHVISION_LOSS, ex_l1(grad, N * C * H * W), TORCHVISION_GRAD_L1, ms_fused,
                  ms_forward);
  free(onehot);
  free(logits);
  free(labels);
  free(grad);
  return rc;
}
