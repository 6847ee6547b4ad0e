// SPDX-License-Identifier: MIT
/*
 * loss.h - the per-loss layer of the driver: one driver per value of the registry's driver
 * column (src/losses.def), called by sl_run (driver.c), each built on the section walk
 * (section.h) and the chunk runner (runner.h).
 */
#ifndef SL_LOSS_H
#define SL_LOSS_H

#include <math.h>
#include <stdint.h>

#include "job.h"

struct sl_kernels;

/* One driver per value of the registry's driver column: sl_run_bce (loss_bce.c), sl_run_ce
 * (loss_ce.c), sl_run_dice (loss_dice.c). Each returns SL_OK or the status its loss can give
 * (SL_ERR_DOMAIN, SL_ERR_LABEL before anything is written, SL_ERR_OPTION, SL_ERR_NO_MEMORY). */
#define SL_LOSS(OP, name, function, input, map, driver)                                            \
  sl_status sl_run_##driver(const sl_job *j, const struct sl_kernels *k);
#include "losses.def"

/* 1 when v[0 .. n) (or v = NULL) holds no infinity or NaN (the per-call [C] option arrays). */
static inline int sl_all_finite(const float *v, int64_t n) {
  for (int64_t i = 0; v && i < n; i++)
    if (!isfinite(v[i]))
      return 0;
  return 1;
}

#endif /* SL_LOSS_H */
