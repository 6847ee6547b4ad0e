// SPDX-License-Identifier: MIT
/*
 * dice_ref.h - Dice / Tversky test cases and an independent double reference of sl_dice and
 * sl_dice_multiclass (segmentation_models_pytorch DiceLoss / TverskyLoss on the section),
 * written from smp's formulas (fp = sum p (1 - t), fn = sum (1 - p) t): it does not call the
 * library. Direct loops over every element of N x C x H x W. Shape legend as in sectionloss.h.
 */
#ifndef SL_TEST_DICE_REF_H
#define SL_TEST_DICE_REF_H

#include <stdint.h>

#include "sectionloss.h"

typedef struct d_case {
  int mc; /* 0: sl_dice, 1: sl_dice_multiclass */
  sl_shape shape;
  float *x, *target; /* target: sl_dice only */
  int64_t *labels;   /* multiclass only (int64) */
  sl_box *boxes;     /* NULL or num_boxes */
  int64_t num_boxes;
  int64_t *offsets; /* NULL or N + 1 */
  uint8_t *mask;    /* NULL or N x mask_channels x H x W */
  int64_t mask_channels;
  float *grad_map; /* [C] for NONE */
  sl_options opt;
} d_case;

/* Case kinds: region */
enum {
  DR_NONE,
  DR_BOX,
  DR_PER_SAMPLE,
  DR_OFFSETS,
  DR_MASK,
  DR_MASK_C,
  DR_BOX_MASK,
  DR_EMPTY,
  DR_COUNT_
};

/* A random case: inputs (logits in [-scale, scale] with from_logits / multiclass, else
 * probabilities), targets (soft or hard 0/1; class absent_c, if >= 0, absent from the
 * target), the region kind; options left at defaults except the reduction (caller edits). */
void d_case_make(d_case *c, int mc, sl_shape shape, uint64_t seed, int region, int from_logits,
                 int absent_c, sl_reduction red);
void d_case_free(d_case *c);
sl_status d_call(const d_case *c, const sl_options *o, float *loss, float *grad);

typedef struct d_ref {
  double loss;     /* MEAN / SUM value */
  double *lc;      /* [C] per-class loss (masked) */
  double *sums;    /* [3C] */
  double *grad;    /* N x C x H x W */
  double *gmag;    /* per element: the magnitude of the terms of the gradient */
  double *gmag_sm; /* multiclass: p_c (1 + |x_c - max|) (|G_c| + sum_k p_k |G_k| (1 + |x_k -
                      max|)), the float softmax's terms (tests/contract.h); binary: gmag */
  int64_t count;
  int bad_label;
} d_ref;
void d_ref_run(const d_case *c, d_ref *r);
/* The reference loss (MEAN / SUM value, NONE: sum_c grad_map[c] loss_c) with x[e] replaced by
 * v (finite differences). */
double d_ref_loss_at(const d_case *c, int64_t e, double v);
void d_ref_free(d_ref *r);

#endif /* SL_TEST_DICE_REF_H */
