/* dice.c - placeholder until the Dice driver lands (issue 13). */
#include "driver.h"

sl_status sl_run_dice(const sl_job *job, const struct sl_kernels *k) {
  (void)job;
  (void)k;
  return SL_ERR_OPTION;
}
