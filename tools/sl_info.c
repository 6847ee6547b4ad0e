// SPDX-License-Identifier: MIT
/*
 * sl_info.c - prints the library version and the ISAs this CPU can run.
 *   sl-info              human-readable summary
 *   sl-info --available  the available ISA names, one per line (used by scripts/run-tests.sh)
 */
#include <stdio.h>
#include <string.h>

#include "sectionloss.h"

int main(int argc, char **argv) {
  int list = argc > 1 && strcmp(argv[1], "--available") == 0;
  if (!list)
    printf("sectionloss %s\nactive ISA: %s\navailable:", sl_version(),
           sl_isa_name(sl_isa_active()));
  for (int i = 0; i < SL_ISA_COUNT_; i++) {
    if (!sl_isa_available((sl_isa)i))
      continue;
    printf(list ? "%s\n" : " %s", sl_isa_name((sl_isa)i));
  }
  if (!list)
    printf("\n");
  return 0;
}
