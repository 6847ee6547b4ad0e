// SPDX-License-Identifier: MIT
/*
 * dispatch.c - the function table: which ISA's microkernels the driver runs.
 *
 * The table pointer is filled once, at first use, thread-safely (an atomic compare-and-swap, so
 * a racing sl_isa_set() wins over the default choice), from CPU detection (cpu_x86.c,
 * cpu_arm.c) and the SECTIONLOSS_ISA environment variable, which can only choose among the
 * available ISAs. The default is the first available ISA in preference order (avx512, avx2,
 * neon, scalar), not the highest sl_isa value: values are appended, preferences are not.
 * sl_isa_set() replaces it atomically; a call already running keeps the table it started with.
 * Features within an ISA choose among that ISA's tables (table_of: AVX-512 with AVX512_BF16).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static const char *const isa_names[SL_ISA_COUNT_] = {"scalar", "avx2", "neon", "avx512"};

/* Default choice, best first (scalar, always available, is the fallback). */
static const sl_isa preference[] = {SL_ISA_AVX512, SL_ISA_AVX2, SL_ISA_NEON};

/* 0: SL_ISA_AVX512 takes the portable table as on a CPU without AVX512_BF16 (sl__avx512_bf16_allow,
 * the tests' hook) */
static atomic_int avx512_bf16_allowed = 1;

/* The table of an ISA the CPU can run, NULL for another. SL_ISA_AVX512's is one of two tables
 * with the same kernels: with AVX512_BF16 the one whose bfloat16 output conversion is
 * VCVTNEPS2BF16 (sl_kernels_avx512_bf16: equal results, fewer instructions). float16 needs no
 * second table: AVX-512F's VCVTPS2PH / VCVTPH2PS convert 16 lanes already, as AVX512-FP16's
 * VCVTPS2PHX / VCVTPH2PSX would (src/avx512/vec.h). */
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
#if defined(SL_BUILD_AVX512)
  case SL_ISA_AVX512:
    if (!sl_cpu_has_avx512())
      return NULL;
    return atomic_load_explicit(&avx512_bf16_allowed, memory_order_relaxed) &&
                   sl_cpu_has_avx512_bf16()
               ? &sl_kernels_avx512_bf16
               : &sl_kernels_avx512;
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

/* The ISA SECTIONLOSS_ISA names, -1 when it is unset, -2 when it names none. */
static int env_isa(void) {
  const char *env = getenv("SECTIONLOSS_ISA");
  if (!env)
    return -1;
  for (int i = 0; i < SL_ISA_COUNT_; i++)
    if (strcmp(env, isa_names[i]) == 0)
      return i;
  return -2;
}

sl_status sl_isa_env_status(void) {
  int env = env_isa();
  return env == -1 || (env >= 0 && table_of((sl_isa)env)) ? SL_OK : SL_ERR_ISA_UNAVAILABLE;
}

/* The best available table, unless SECTIONLOSS_ISA names another available one. */
static const sl_kernels *initial_table(void) {
  const sl_kernels *best = &sl_kernels_scalar;
  for (size_t i = 0; i < sizeof preference / sizeof preference[0]; i++) {
    if (table_of(preference[i])) {
      best = table_of(preference[i]);
      break;
    }
  }
  int env = env_isa();
  return env >= 0 && table_of((sl_isa)env) ? table_of((sl_isa)env) : best;
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

void sl__avx512_bf16_allow(int allow) {
  atomic_store_explicit(&avx512_bf16_allowed, allow != 0, memory_order_relaxed);
}

void sl__kernels_use(const sl_kernels *k) {
  atomic_store_explicit(&active_table, k, memory_order_release);
}
