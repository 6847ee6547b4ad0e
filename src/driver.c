// SPDX-License-Identifier: MIT
/*
 * driver.c - sl_run: a validated call to its loss's driver, as the registry's driver column
 * (src/losses.def) says, with the active ISA's kernel table.
 */
#include "driver.h"

#include "kernels.h"
#include "loss.h"

typedef sl_status (*sl_run_fn)(const sl_job *j, const sl_kernels *k);

sl_status sl_run(const sl_job *job) {
  static const sl_run_fn run[SL_NUM_OPS] = {
#define SL_LOSS(OP, name, function, input, map, driver) [SL_OP_##OP] = sl_run_##driver,
#include "losses.def"
  };
  return run[job->op](job, sl_kernels_active());
}
