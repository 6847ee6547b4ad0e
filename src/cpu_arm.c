// SPDX-License-Identifier: MIT
/*
 * cpu_arm.c - ARM feature detection for the NEON kernels.
 *
 * AArch64: Advanced SIMD is architectural, always present. 32-bit ARM: only when the kernel
 * reports it (getauxval(AT_HWCAP) & HWCAP_NEON). The SIMDe test build on x86 (SL_NEON_SIMDE)
 * emulates NEON, so it is available there too. Anything else: not available.
 */
#include "kernels.h"

#if defined(__arm__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_NEON
#define HWCAP_NEON (1 << 12)
#endif
#endif

int sl_cpu_has_neon(void) {
#if defined(SL_NEON_SIMDE) || defined(__aarch64__)
  return 1;
#elif defined(__arm__) && defined(__linux__)
  return (getauxval(AT_HWCAP) & HWCAP_NEON) != 0;
#else
  return 0;
#endif
}
