// SPDX-License-Identifier: MIT
/*
 * avx512_probe_avx2.c - the AVX2 kernels of bench/avx512_probe.c (see avx512_probe.h); compiled
 * with -mavx2 -mfma only.
 */
#include "avx512_probe.h"

#include "avx2/vec.h"

void probe_logf_avx2(const float *in, float *out, int n) {
  for (int i = 0; i < n; i += 8)
    _mm256_storeu_ps(out + i, v_log(_mm256_loadu_ps(in + i)));
}

void probe_expf_avx2(const float *in, float *out, int n) {
  for (int i = 0; i < n; i += 8)
    _mm256_storeu_ps(out + i, v_exp(_mm256_loadu_ps(in + i)));
}

/* BCE with logits' softplus tail log1p(exp(-|x|)), as the kernels form it (deep per block) */
void probe_softplus_avx2(const float *in, float *out, int n) {
  for (int i = 0; i < n; i += 8) {
    __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_loadu_ps(in + i));
    int deep = _mm256_movemask_ps(_mm256_cmp_ps(ax, _mm256_set1_ps(87.0f), _CMP_GT_OQ)) != 0;
    _mm256_storeu_ps(out + i, v_log1p01(v_exp_nabs(ax, deep)));
  }
}

void probe_ce_exp_avx2(const float *in, float *out, int n) {
  for (int i = 0; i < n; i += 8) {
    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(in + i), _mm256_set1_ps(2.0f));
    _mm256_storeu_ps(out + i, v_exp_lean(d));
  }
}

void probe_log1p_avx2(const float *in, float *out, int n) {
  for (int i = 0; i < n; i += 8)
    _mm256_storeu_ps(out + i, v_log1p(_mm256_loadu_ps(in + i)));
}
