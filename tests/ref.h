// SPDX-License-Identifier: MIT
/*
 * ref.h - an independent double-precision reference of the public semantics of sl_bce,
 * sl_bce_logits and sl_ce (PyTorch 1.13), written from the formulas: it does not call the
 * library's kernels or driver. Direct loops over every element of N x C x H x W.
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#ifndef SL_TEST_REF_H
#define SL_TEST_REF_H

#include <stdint.h>

#include "sectionloss.h"
#include "util.h"

typedef struct ref_out {
  sl_status status; /* SL_OK, SL_ERR_DOMAIN (BCE probabilities) or SL_ERR_LABEL (CE) */
  double loss;      /* MEAN or SUM value (also filled for NONE: the SUM) */
  double loss_nat;  /* its natural magnitude (tolerance scale, see util.c t_tol) */
  double *map;      /* per element (BCE) / pixel (CE) weighted loss, 0 where not counted */
  double *map_nat;
  uint8_t *sel;     /* per map element: 1 = selected and counted */
  double *norm_map; /* per map element: its term of the MEAN normaliser (BCE 1, CE w_t) */
  double *grad;     /* N x C x H x W, d loss / d x, 0 outside */
  double *grad_nat;
  sl_stats stats;
} ref_out;

/* Computes everything for c (its opt: reduction, weight, pos_weight, ignore_index,
 * label_smoothing, grad_scale, grad_map). */
void ref_run(const t_case *c, ref_out *o);
void ref_free(ref_out *o);
/* The reference's own gradient against central differences of its own loss (c's reduction
 * should be SUM): (l(x + h) - l(x - h)) / 2h per input element, h = 2^-10, within
 * 1e-5 (1 + |loss|). Independent of the hand derivation, so a wrong formula (or sign) fails.
 * Returns the number of elements that differ, the first one's index, reference gradient and
 * difference quotient in *bad_i, *bad_ref, *bad_fd. */
int ref_check_by_differences(t_case *c, int64_t *bad_i, double *bad_ref, double *bad_fd);

#endif /* SL_TEST_REF_H */
