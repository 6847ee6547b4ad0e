// SPDX-License-Identifier: MIT
/*
 * exhaustive/cvt_out.c - the x86 output conversions (sl_cvt_out: float32 to bfloat16 and to
 * float16, generic/convert.h) against the scalar reference (src/scalar/convert.c) on every one
 * of the 2^32 float bit patterns, bit for bit, NaN included (its payload too).
 *
 * Tables: AVX-512 with AVX512_BF16 (sl_kernels_avx512_bf16: VCVTNEPS2BF16, whose flushing of
 * subnormal inputs src/avx512/vec.h's h_bits repairs), the portable AVX-512 table and AVX2, each
 * where the CPU runs it (the library's detection); the bfloat16 instruction's table is the point
 * of the test, the others come cheap. The inputs go in blocks of 2^16 floats, the output pointer
 * 0..15 elements off a 64-byte boundary and every other block streamed (the head, body and tail
 * of generic/convert.h all run). A second pass repeats the floats below 2^-14 (float's
 * subnormals, float16's subnormal and zero results) with MXCSR's DAZ and FTZ set, as a caller may
 * have them (PyTorch's set_flush_denormal): the conversions must not depend on them. Prints the
 * first difference per table and type; exits 1 on any, 77 when no table runs here. OpenMP over
 * the blocks: about 21 s of CPU time with the three tables (11 s on 2 idle cores).
 * Build and run: make test-exhaustive-cvt (mk/avx512.mk).
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xmmintrin.h>

#include "kernels.h"

enum { BLOCK = 1 << 16, NBLOCKS = 1 << 16, MAX_TABLES = 3, MXCSR_DAZ_FTZ = 0x8040 };

typedef struct table {
  const char *name;
  const sl_kernels *k;
  uint64_t diff[2];  /* per type (bf16, f16), both passes */
  uint32_t first[2]; /* input bits of the first difference */
  uint16_t got[2], want[2];
  int daz[2]; /* the first difference came with DAZ and FTZ set */
} table;

/* One block of 2^16 floats (top 16 bits b) through every table, both types; differences noted. */
static void block(table *tabs, int nt, int b, int daz, float *in, uint16_t *want, uint16_t *got) {
  for (uint32_t i = 0; i < BLOCK; i++) {
    const uint32_t u = (uint32_t)b << 16 | i;
    memcpy(&in[i], &u, sizeof u);
  }
  uint16_t *dst = got + (b % 16); /* 0..15 elements past a 64-byte boundary */
  for (int t = 0; t < 2; t++) {
    const sl_dtype dt = t == 0 ? SL_DTYPE_BF16 : SL_DTYPE_F16;
    sl_kernels_scalar.cvt_out(want, in, BLOCK, dt, 0);
    for (int k = 0; k < nt; k++) {
      tabs[k].k->cvt_out(dst, in, BLOCK, dt, b & 1);
      if (memcmp(dst, want, BLOCK * sizeof(uint16_t)) == 0)
        continue;
      for (uint32_t i = 0; i < BLOCK; i++) {
        if (dst[i] == want[i])
          continue;
        const uint32_t u = (uint32_t)b << 16 | i;
#pragma omp critical
        {
          if (tabs[k].diff[t]++ == 0 || u < tabs[k].first[t]) {
            tabs[k].first[t] = u;
            tabs[k].got[t] = dst[i];
            tabs[k].want[t] = want[i];
            tabs[k].daz[t] = daz;
          }
        }
      }
    }
  }
}

int main(void) {
  table tabs[MAX_TABLES] = {{0}};
  int nt = 0;
  if (sl_cpu_has_avx512_bf16())
    tabs[nt++] = (table){.name = "avx512 + AVX512_BF16", .k = &sl_kernels_avx512_bf16};
  else
    printf("cvt_out: no AVX512_BF16 on this CPU: its conversion (VCVTNEPS2BF16) NOT tested\n");
  if (sl_cpu_has_avx512())
    tabs[nt++] = (table){.name = "avx512", .k = &sl_kernels_avx512};
  if (sl_cpu_has_avx2_fma())
    tabs[nt++] = (table){.name = "avx2", .k = &sl_kernels_avx2};
  if (nt == 0) {
    printf("cvt_out: no AVX2 or AVX-512 here, skipped\n");
    return 77;
  }
  const double t0 = omp_get_wtime();
  int alloc_fail = 0;
  for (int daz = 0; daz < 2; daz++) {
#pragma omp parallel
    {
      const unsigned csr = _mm_getcsr();
      if (daz)
        _mm_setcsr(csr | MXCSR_DAZ_FTZ);
      float *in = aligned_alloc(64, BLOCK * sizeof(float));
      uint16_t *want = malloc(BLOCK * sizeof(uint16_t));
      uint16_t *got = aligned_alloc(64, (BLOCK + 32) * sizeof(uint16_t));
      if (!in || !want || !got) {
#pragma omp atomic write
        alloc_fail = 1;
      }
#pragma omp for schedule(dynamic, 64)
      for (int b = 0; b < NBLOCKS; b++)
        if (in && want && got && (!daz || ((b >> 7) & 0xff) < 113)) /* DAZ pass: |x| < 2^-14 */
          block(tabs, nt, b, daz, in, want, got);
      free(in), free(want), free(got);
      _mm_setcsr(csr);
    }
  }
  if (alloc_fail) {
    printf("cvt_out: out of memory\n");
    return 1;
  }
  int fails = 0;
  for (int k = 0; k < nt; k++)
    for (int t = 0; t < 2; t++) {
      const char *tn = t == 0 ? "bf16" : "f16";
      if (tabs[k].diff[t] == 0) {
        printf("cvt_out: %-20s %-4s all 2^32 floats equal the scalar reference (and with DAZ + "
               "FTZ)\n",
               tabs[k].name, tn);
        continue;
      }
      fails++;
      printf("cvt_out: %-20s %-4s %llu differences; first: float bits 0x%08x -> 0x%04x, "
             "scalar 0x%04x%s\n",
             tabs[k].name, tn, (unsigned long long)tabs[k].diff[t], tabs[k].first[t],
             tabs[k].got[t], tabs[k].want[t], tabs[k].daz[t] ? " (DAZ and FTZ set)" : "");
    }
  printf("cvt_out: %s (%.1f s, %d threads)\n", fails ? "FAILED" : "OK", omp_get_wtime() - t0,
         omp_get_max_threads());
  return fails ? 1 : 0;
}
