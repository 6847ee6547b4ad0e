// SPDX-License-Identifier: MIT
/*
 * driver.h - runs a validated call (api.c fills the sl_job, driver.c picks the loss's driver).
 *
 * The driver's layers, each including only those below it (docs/architecture.md):
 *   api.c                      validates a call into an sl_job, calls sl_run
 *   driver.c                   sl_run: the loss's driver, from the registry's driver column
 *   loss.h: loss_bce.c,        one per driver family: plans its passes, cuts the section's rows
 *   loss_ce.c, loss_dice.c     into row kernel calls, reduces and writes the results
 *   section.c, runner.c        the section walk, labels, stats and zero fill; the chunk
 *                              runner
 *   job.h, workspace.c         the call's description; per-thread scratch
 * and below them the kernel tables (kernels.h, dispatch.c) and the generic kernels.
 */
#ifndef SL_DRIVER_H
#define SL_DRIVER_H

#include <stdint.h>

#include "job.h"

/* Runs a validated job with the active ISA's kernels. */
sl_status sl_run(const sl_job *job);

#endif /* SL_DRIVER_H */
