// SPDX-License-Identifier: MIT
/*
 * job.h - the validated description of one call: api.c fills an sl_job, the driver runs it.
 * The bottom of the driver's layers (docs/architecture.md): included by every other layer,
 * includes only the public header and the registry.
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#ifndef SL_JOB_H
#define SL_JOB_H

#include <math.h>
#include <stdint.h>

#include "sectionloss.h"

/* The losses, in the registry's order (src/losses.def). */
typedef enum sl_op {
#define SL_LOSS(OP, name, function, input, map, driver) SL_OP_##OP,
#include "losses.def"
  SL_NUM_OPS
} sl_op;

/* 1 for the ops that take labels [N,H,W] (softmax over C), 0 for those with targets (the
 * registry's input column). */
enum { SL_INPUT_TARGETS = 0, SL_INPUT_LABELS = 1 };
static inline int sl_op_labels(sl_op op) {
  static const unsigned char labels[SL_NUM_OPS] = {
#define SL_LOSS(OP, name, function, input, map, driver) [SL_OP_##OP] = SL_INPUT_##input,
#include "losses.def"
  };
  return labels[op];
}

/* The registry's map column: SL_MAP_PIXEL for the per-pixel losses over a softmax of C classes
 * (CE, softmax focal, and sl_ce_prob, whose targets are [N,C,H,W]): class weights [C], pixel
 * weights, a one-channel mask, an [N,H,W] loss map. */
static inline sl_map_kind sl_op_map(sl_op op) {
  static const unsigned char maps[SL_NUM_OPS] = {
#define SL_LOSS(OP, name, function, input, map, driver) [SL_OP_##OP] = SL_MAP_##map,
#include "losses.def"
  };
  return (sl_map_kind)maps[op];
}

/* v, or the one quiet NaN (NAN) when v is a NaN: which NaN operand a sum passes on is the
 * compiler's choice (a + b may be emitted as b + a), so a sum over NaN terms would otherwise
 * carry a sign and payload that depend on how its terms were grouped (segments, streaming) */
static inline double sl_nan_canon(double v) {
  return v != v ? (double)NAN : v;
}

/* Bytes per element of a valid sl_dtype. */
static inline int sl_dtype_size(sl_dtype d) {
  return d == SL_DTYPE_F32 ? 4 : 2;
}

typedef struct sl_job {
  sl_op op;
  int64_t n, c, h, w;
  const float *x;      /* [N,C,H,W] probabilities or logits */
  const float *target; /* [N,C,H,W] targets (sl_ce_prob: class probabilities), NULL for the
                          ops with labels */
  const void *labels;  /* [N,H,W] labels, NULL for the ops with targets */
  sl_label_type label_type;
  const sl_box *boxes; /* NULL when num_boxes == 0 */
  int64_t num_boxes;
  const int64_t *box_offsets; /* NULL, or N + 1 validated offsets into boxes */
  const uint8_t *mask;        /* NULL = no mask */
  int64_t mask_channels;
  sl_options opt; /* validated copy */
  float *loss;
  float *grad;
} sl_job;

#endif /* SL_JOB_H */
