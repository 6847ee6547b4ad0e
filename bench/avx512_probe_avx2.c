/*
 * avx512_probe_avx2.c - the AVX2 kernels of bench/avx512_probe.c (see avx512_probe.h); compiled
 * with -mavx2 -mfma only.
 */
#include "avx512_probe.h"

#include "avx2/vmath.h"

void probe_logf_avx2(const float *in, float *out, int n) {
  for (int i = 0; i < n; i += 8)
    _mm256_storeu_ps(out + i, sl_v_logf(_mm256_loadu_ps(in + i)));
}

void probe_expf_avx2(const float *in, float *out, int n) {
  for (int i = 0; i < n; i += 8)
    _mm256_storeu_ps(out + i, sl_v_expf(_mm256_loadu_ps(in + i)));
}

void probe_softplus_avx2(const float *in, float *out, int n) {
  for (int i = 0; i < n; i += 8)
    _mm256_storeu_ps(out + i, sl_v_log1pexp_negabs(_mm256_loadu_ps(in + i)));
}

void probe_ce_exp_avx2(const float *in, float *out, int n) {
  for (int i = 0; i < n; i += 8) {
    __m256 rr, d = sl_v_sub_exact(_mm256_loadu_ps(in + i), _mm256_set1_ps(2.0f), &rr);
    _mm256_storeu_ps(out + i, sl_v_expf_neg2(d, rr));
  }
}

void probe_exp_pd_avx2(const float *in, float *out, int n) {
  for (int i = 0; i < n; i += 4) {
    __m256d x = _mm256_cvtps_pd(_mm_or_ps(_mm_loadu_ps(in + i), _mm_set1_ps(-0.0f)));
    _mm_storeu_ps(out + i, _mm256_cvtpd_ps(sl_v_exp_pd(x)));
  }
}
