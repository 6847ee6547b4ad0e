// SPDX-License-Identifier: MIT
/*
 * avx512_probe.c - do 512-bit vectors win on this CPU? (clock and throughput)
 *
 * Times the vector math of src/generic/vmath.h built on the AVX2 layer (8 lanes;
 * bench/avx512_probe_avx2.c, compiled with -mavx2 -mfma only) and on the AVX-512 layer (16 lanes,
 * with the overrides of src/avx512/vmath.h) on the
 * same L1-resident data (2048 floats in, 2048 out: 16 KB), 1 thread: logf, expf, the BCE-logits
 * softplus tail log1p(exp(-|x|)), the CE lean exp exp(d + rr) and log1pf, plus logf on
 * subnormal inputs and expf with subnormal results (x in [-103, -88]), where a microcode assist
 * for a subnormal operand or result would show. Each sample is PASSES passes over the array;
 * AVX2 and AVX-512 samples alternate (same machine conditions), medians of SAMPLES samples,
 * ratio = AVX2 time / AVX-512 time in the same run (above 1: AVX-512 is faster).
 *
 * Frequency: some Intel parts lower the core clock while 512-bit instructions run (and for a
 * while after). A dependent chain of integer adds (1 cycle each, whatever the vector width) is
 * timed right after an AVX2 sample and right after an AVX-512 sample; their ratio is the clock
 * ratio. It is 1.00 where AVX-512 costs no frequency.
 *
 * Both versions must give the same results (the AVX-512 build reproduces the AVX2 one bit for
 * bit): the outputs are compared and a difference fails the run (exit 1).
 * Usage: avx512-probe [SAMPLES]   (default 1001; make bench-avx512-probe). Exits 77 without
 * AVX-512. Built with the AVX-512 flags; the CPU check (the library's detection) runs first.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avx512/vec.h"
#include "avx512_probe.h"
#include "sectionloss.h"

enum { N = 2048, PASSES = 40, MAX_SAMPLES = 2001, CHAIN = 200000 };

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef void (*kernel_fn)(const float *in, float *out, int n);

/* The AVX-512 kernels: out[i] = f(in[i]) for i < n (n % 16 == 0). The AVX2 ones are in
 * avx512_probe_avx2.c, compiled without the AVX-512 flags. */
#define KERNEL16(name, fn16)                                                                       \
  __attribute__((noinline)) static void name##_avx512(const float *in, float *out, int n) {        \
    for (int i = 0; i < n; i += 16)                                                                \
      _mm512_storeu_ps(out + i, fn16(_mm512_loadu_ps(in + i)));                                    \
  }

KERNEL16(logf, v_log)
KERNEL16(expf, v_exp)
KERNEL16(log1p, v_log1p)

/* BCE with logits' softplus tail log1p(exp(-|x|)), as the kernels form it (deep per block) */
__attribute__((noinline)) static void softplus_avx512(const float *in, float *out, int n) {
  for (int i = 0; i < n; i += 16) {
    __m512 ax = _mm512_abs_ps(_mm512_loadu_ps(in + i));
    int deep = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(87.0f), _CMP_GT_OQ) != 0;
    _mm512_storeu_ps(out + i, v_log1p01(v_exp_nabs(ax, deep)));
  }
}

/* CE: exp(x - m), the difference rounded once, m = 2, the lean form */
__attribute__((noinline)) static void ce_exp_avx512(const float *in, float *out, int n) {
  for (int i = 0; i < n; i += 16) {
    __m512 d = _mm512_sub_ps(_mm512_loadu_ps(in + i), _mm512_set1_ps(2.0f));
    _mm512_storeu_ps(out + i, v_exp_lean(d));
  }
}

/* A dependent chain of CHAIN integer adds: cycles, whatever the vector unit's state. */
__attribute__((noinline)) static uint64_t chain(uint64_t v) {
  for (int i = 0; i < CHAIN; i++)
    __asm__ volatile("add $1, %0" : "+r"(v));
  return v;
}

typedef struct bench_case {
  const char *name;
  kernel_fn avx2, avx512;
  float lo, hi; /* inputs uniform in [lo, hi] (or the bits of subnormals: lo = hi = 0) */
  int log_spaced;
} bench_case;

static const bench_case cases[] = {
    {"logf (x in [1e-10, 1e10])", probe_logf_avx2, logf_avx512, -23.0f, 23.0f, 1},
    {"logf (subnormal x)", probe_logf_avx2, logf_avx512, 0.0f, 0.0f, 0},
    {"expf (x in [-80, 80])", probe_expf_avx2, expf_avx512, -80.0f, 80.0f, 0},
    {"expf (subnormal result)", probe_expf_avx2, expf_avx512, -103.0f, -88.0f, 0},
    {"log1p(exp(-|x|)) (x in [-20, 20])", probe_softplus_avx2, softplus_avx512, -20.0f, 20.0f, 0},
    {"CE exp(x - 2) lean (x in [-30, 2])", probe_ce_exp_avx2, ce_exp_avx512, -30.0f, 2.0f, 0},
    {"log1pf (x in [1e-10, 1e10])", probe_log1p_avx2, log1p_avx512, -23.0f, 23.0f, 1},
};
enum { NCASES = sizeof cases / sizeof cases[0] };

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

static float in[N], out2[N], out5[N];
static double t2[MAX_SAMPLES], t5[MAX_SAMPLES], c2[MAX_SAMPLES], c5[MAX_SAMPLES];

/* One timed sample: PASSES calls; returns seconds. */
static double sample(kernel_fn f, float *out) {
  double t0 = now();
  for (int p = 0; p < PASSES; p++) {
    f(in, out, N);
    __asm__ volatile("" : : "r"(out) : "memory");
  }
  return now() - t0;
}

/* Seconds of the integer chain. */
static double chain_time(void) {
  double t0 = now();
  uint64_t v = chain(0);
  __asm__ volatile("" : : "r"(v));
  return now() - t0;
}

__attribute__((noinline)) static int run(int samples) {
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  int fails = 0;
  double clock_ratios[NCASES];
  printf("avx512-probe: %d floats (L1-resident), %d passes per sample, medians of %d samples, "
         "1 thread\n",
         N, PASSES, samples);
  printf("%-38s %12s %12s %8s %10s\n", "function", "AVX2 ns/el", "AVX512 ns/el", "speedup",
         "clock");
  for (int c = 0; c < NCASES; c++) {
    const bench_case *bc = &cases[c];
    for (int i = 0; i < N; i++) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      double u = (double)(seed >> 11) * 0x1p-53;
      if (bc->lo == 0.0f && bc->hi == 0.0f) { /* subnormal: bits 1 .. 2^23 - 1 */
        uint32_t b = (uint32_t)(seed >> 41) | 1u;
        memcpy(&in[i], &b, 4);
      } else {
        double x = bc->lo + (bc->hi - bc->lo) * u;
        in[i] = bc->log_spaced ? (float)exp(x) : (float)x;
      }
    }
    for (int s = 0; s < samples; s++) {
      t2[s] = sample(bc->avx2, out2);
      c2[s] = chain_time();
      t5[s] = sample(bc->avx512, out5);
      c5[s] = chain_time();
    }
    for (int i = 0; i < N; i++) {
      uint32_t a, b;
      memcpy(&a, &out2[i], 4);
      memcpy(&b, &out5[i], 4);
      if (a != b && !(isnan(out2[i]) && isnan(out5[i]))) {
        printf("FAIL %s: x = %a: AVX2 %a, AVX-512 %a\n", bc->name, (double)in[i], (double)out2[i],
               (double)out5[i]);
        fails++;
        break;
      }
    }
    double m2 = median(t2, samples) / (PASSES * (double)N) * 1e9;
    double m5 = median(t5, samples) / (PASSES * (double)N) * 1e9;
    double mc2 = median(c2, samples), mc5 = median(c5, samples);
    clock_ratios[c] = mc2 / mc5;
    printf("%-38s %12.3f %12.3f %7.2fx %9.3fx\n", bc->name, m2, m5, m2 / m5, clock_ratios[c]);
  }
  printf("speedup = AVX2 time / AVX-512 time; clock = integer-chain time after AVX2 / after "
         "AVX-512 (1.00: no frequency penalty; %.2f GHz chain-measured after AVX2)\n",
         CHAIN / median(c2, samples) / 1e9);
  return fails;
}

int main(int argc, char **argv) {
  if (!sl_isa_available(SL_ISA_AVX512)) {
    printf("avx512-probe: no AVX-512 F+BW+DQ+VL (or no OS ZMM state) on this CPU, skipped\n");
    return 77;
  }
  int samples = argc > 1 ? atoi(argv[1]) : 1001;
  if (samples < 1 || samples > MAX_SAMPLES) {
    fprintf(stderr, "usage: avx512-probe [SAMPLES in 1..%d]\n", MAX_SAMPLES);
    return 2;
  }
  return run(samples) ? 1 : 0;
}
