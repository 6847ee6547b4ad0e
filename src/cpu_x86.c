// SPDX-License-Identifier: MIT
/*
 * cpu_x86.c - x86 feature detection for the AVX2 and AVX-512 kernels (and AVX-512's bfloat16
 * conversion, src/avx512/kernels_bf16.c).
 *
 * An ISA is usable only when the CPU reports it (CPUID) AND the OS saves its registers across
 * context switches (CPUID.OSXSAVE, then XGETBV(0) with the matching XCR0 state bits set).
 * Checking CPUID alone would run AVX code where the OS has not enabled YMM (or ZMM) state.
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

/* CPUID leaf 7 (subleaf 0) EBX, or 0 when the CPU has no leaf 7. */
static unsigned leaf7_ebx(void) {
  unsigned int a, b, c, d;
  if (__get_cpuid_max(0, 0) < 7)
    return 0;
  __cpuid_count(7, 0, a, b, c, d);
  return b;
}

/* CPUID leaf 7 subleaf 1 EAX, or 0 when the CPU has no such subleaf (leaf 7 subleaf 0 EAX is
 * the largest subleaf). */
static unsigned leaf7_1_eax(void) {
  unsigned int a, b, c, d;
  if (__get_cpuid_max(0, 0) < 7)
    return 0;
  __cpuid_count(7, 0, a, b, c, d);
  if (a < 1)
    return 0;
  __cpuid_count(7, 1, a, b, c, d);
  return a;
}

int sl_cpu_has_avx2_fma(void) {
  unsigned int a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return 0;
  /* F16C: the float16 conversions of the 2-byte element types (every AVX2 CPU has it) */
  const unsigned fma = 1u << 12, osxsave = 1u << 27, avx = 1u << 28, f16c = 1u << 29;
  if ((c & (fma | osxsave | avx | f16c)) != (fma | osxsave | avx | f16c))
    return 0;
  if ((xgetbv0() & 0x6) != 0x6) /* XMM (bit 1) and YMM (bit 2) state enabled by the OS */
    return 0;
  return (leaf7_ebx() & (1u << 5)) != 0; /* AVX2 */
}

/* AVX-512 F + DQ + BW + VL (CPUID.7.0:EBX bits 16, 17, 30, 31) on top of AVX2 + FMA + OSXSAVE,
 * and XCR0 with SSE (bit 1), YMM (2), opmask (5), ZMM_Hi256 (6) and Hi16_ZMM (7) state enabled:
 * XCR0 & 0xE6 == 0xE6. */
int sl_cpu_has_avx512(void) {
  if (!sl_cpu_has_avx2_fma())
    return 0;
  const unsigned f = 1u << 16, dq = 1u << 17, bw = 1u << 30, vl = 1u << 31;
  if ((leaf7_ebx() & (f | dq | bw | vl)) != (f | dq | bw | vl))
    return 0;
  return (xgetbv0() & 0xE6) == 0xE6;
}

/* AVX512_BF16 (CPUID.(EAX=7,ECX=1):EAX bit 5: VCVTNEPS2BF16 and the BF16 dot products) on top
 * of everything sl_cpu_has_avx512 checks, the OS state included. */
int sl_cpu_has_avx512_bf16(void) {
  return sl_cpu_has_avx512() && (leaf7_1_eax() & (1u << 5)) != 0;
}
#else
int sl_cpu_has_avx2_fma(void) {
  return 0;
}
int sl_cpu_has_avx512(void) {
  return 0;
}
int sl_cpu_has_avx512_bf16(void) {
  return 0;
}
#endif
