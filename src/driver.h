/*
 * driver.h - the validated description of one call (api.c fills it, driver.c runs it).
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#ifndef SL_DRIVER_H
#define SL_DRIVER_H

#include <stdint.h>

#include "sectionloss.h"

typedef enum sl_op { SL_OP_BCE_PROB, SL_OP_BCE_LOGITS, SL_OP_CE } sl_op;

typedef struct sl_job {
  sl_op op;
  int64_t n, c, h, w;
  const float *x;      /* [N,C,H,W] probabilities or logits */
  const float *target; /* [N,C,H,W] BCE targets, NULL for CE */
  const void *labels;  /* [N,H,W] CE labels, NULL for BCE */
  sl_label_type label_type;
  const sl_box *boxes; /* NULL when num_boxes == 0 */
  int64_t num_boxes;
  const uint8_t *mask; /* NULL = no mask */
  int64_t mask_channels;
  sl_options opt; /* validated copy */
  float *loss;
  float *grad;
} sl_job;

/* Runs a validated job. Returns SL_OK, SL_ERR_DOMAIN (BCE on probabilities) or SL_ERR_LABEL
 * (CE, before anything is written). */
sl_status sl_run(const sl_job *job);

#endif /* SL_DRIVER_H */
