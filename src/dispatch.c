/*
 * dispatch.c - the function table: which ISA's microkernels the driver runs.
 *
 * The table pointer is filled once, at first use, thread-safely (an atomic compare-and-swap, so
 * a racing sl_isa_set() wins over the default choice), from CPU detection (cpu_x86.c,
 * cpu_arm.c) and the SECTIONLOSS_ISA environment variable, which can only choose among the
 * available ISAs. sl_isa_set() replaces it atomically; a call already running keeps the table
 * it started with.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static const char *const isa_names[SL_ISA_COUNT_] = {"scalar", "avx2", "neon"};

static const sl_kernels *table_of(sl_isa isa) {
  switch (isa) {
  case SL_ISA_SCALAR:
    return &sl_kernels_scalar;
#if defined(SL_BUILD_AVX2)
  case SL_ISA_AVX2:
    return sl_cpu_has_avx2_fma() ? &sl_kernels_avx2 : NULL;
#endif
#if defined(SL_BUILD_NEON)
  case SL_ISA_NEON:
    return sl_cpu_has_neon() ? &sl_kernels_neon : NULL;
#endif
  default:
    return NULL;
  }
}

const char *sl_isa_name(sl_isa isa) {
  return (unsigned)isa < SL_ISA_COUNT_ ? isa_names[isa] : "unknown";
}

int sl_isa_available(sl_isa isa) {
  return table_of(isa) != NULL;
}

/* The best available table, unless SECTIONLOSS_ISA names another available one. */
static const sl_kernels *initial_table(void) {
  const sl_kernels *best = &sl_kernels_scalar;
  for (int i = SL_ISA_COUNT_ - 1; i > SL_ISA_SCALAR; i--) {
    if (table_of((sl_isa)i)) {
      best = table_of((sl_isa)i);
      break;
    }
  }
  const char *env = getenv("SECTIONLOSS_ISA");
  for (int i = 0; env && i < SL_ISA_COUNT_; i++)
    if (strcmp(env, isa_names[i]) == 0 && table_of((sl_isa)i))
      return table_of((sl_isa)i);
  return best;
}

static _Atomic(const sl_kernels *) active_table;

const sl_kernels *sl_kernels_active(void) {
  const sl_kernels *k = atomic_load_explicit(&active_table, memory_order_acquire);
  if (k)
    return k;
  const sl_kernels *expected = NULL, *chosen = initial_table();
  if (atomic_compare_exchange_strong_explicit(&active_table, &expected, chosen,
                                              memory_order_acq_rel, memory_order_acquire))
    return chosen;
  return expected;
}

sl_isa sl_isa_active(void) {
  return sl_kernels_active()->isa;
}

sl_status sl_isa_set(sl_isa isa) {
  const sl_kernels *k = table_of(isa);
  if (!k)
    return SL_ERR_ISA_UNAVAILABLE;
  atomic_store_explicit(&active_table, k, memory_order_release);
  return SL_OK;
}
