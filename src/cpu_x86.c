/*
 * cpu_x86.c - x86 feature detection for the AVX2 kernels.
 *
 * AVX2 + FMA are usable only when the CPU reports them (CPUID) AND the OS saves the YMM
 * registers across context switches (CPUID.OSXSAVE, then XGETBV(0) with the SSE and AVX state
 * bits set). Checking CPUID alone would run AVX code where the OS has not enabled YMM state.
 * Plain baseline code: no ISA flags on this file.
 */
#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
  unsigned int lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
}

int sl_cpu_has_avx2_fma(void) {
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return 0;
  const unsigned fma = 1u << 12, osxsave = 1u << 27, avx = 1u << 28;
  if ((c & (fma | osxsave | avx)) != (fma | osxsave | avx))
    return 0;
  if ((xgetbv0() & 0x6) != 0x6) /* XMM (bit 1) and YMM (bit 2) state enabled by the OS */
    return 0;
  if (__get_cpuid_max(0, 0) < 7)
    return 0;
  __cpuid_count(7, 0, a, b, c, d);
  return (b & (1u << 5)) != 0; /* AVX2 */
}
#else
int sl_cpu_has_avx2_fma(void) {
  return 0;
}
#endif
