/*
 * avx2/avx2.h - the AVX2 + FMA row microkernels (internal header) and the small helpers they
 * share. Include only from files compiled with -mavx2 -mfma (the files of src/avx2/).
 *
 * Shape legend: N, C, H, W as in sectionloss.h; a row is len consecutive elements (BCE) or
 * pixels (CE), see kernels.h for the contract every kernel follows.
 * Names say ISA and unroll: _u8 = 8 floats (one YMM register) per step, CE: 8 pixels per strip.
 */
#ifndef SL_AVX2_H
#define SL_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "vmath.h"

double sl_bce_prob__avx2_u8(const sl_bce_row *r, int *domain_error);
double sl_bce_logits__avx2_u8(const sl_bce_row *r, int *domain_error);
double sl_ce__avx2_u8(const sl_ce_row *r);

/* Lane mask (all bits set) for the first n of 8 lanes, n in [0, 8]. */
SL_VINLINE __m256i sl_v_first(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* 8 floats, or (tail) only the lanes in inr: the others read nothing and are 0. */
SL_VINLINE __m256 sl_v_load(const float *p, __m256i inr, const int tail) {
  return tail ? _mm256_maskload_ps(p, inr) : _mm256_loadu_ps(p);
}

SL_VINLINE void sl_v_store(float *p, __m256 v, __m256i inr, const int tail) {
  if (tail)
    _mm256_maskstore_ps(p, inr, v);
  else
    _mm256_storeu_ps(p, v);
}

/* Selection mask (all bits set = selected) from 8 mask bytes, or the first n of them (tail:
 * copied to a zeroed buffer, so nothing past the end is read). */
SL_VINLINE __m256 sl_v_mask8(const uint8_t *m, int64_t n, const int tail) {
  __m128i b;
  if (tail) {
    uint8_t buf[8] = {0};
    memcpy(buf, m, (size_t)n);
    b = _mm_loadl_epi64((const __m128i *)buf);
  } else {
    b = _mm_loadl_epi64((const __m128i *)m);
  }
  __m256i v = _mm256_cvtepu8_epi32(b);
  __m256i z = _mm256_cmpeq_epi32(v, _mm256_setzero_si256());
  return _mm256_castsi256_ps(_mm256_xor_si256(z, _mm256_set1_epi32(-1)));
}

/* Low / high 4 lanes of a float vector as doubles; a float lane mask as a double lane mask. */
SL_VINLINE __m256d sl_v_lo_pd(__m256 v) {
  return _mm256_cvtps_pd(_mm256_castps256_ps128(v));
}
SL_VINLINE __m256d sl_v_hi_pd(__m256 v) {
  return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}
SL_VINLINE __m256d sl_v_lo_mask_pd(__m256 m) {
  return _mm256_castsi256_pd(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(_mm256_castps_si256(m))));
}
SL_VINLINE __m256d sl_v_hi_mask_pd(__m256 m) {
  return _mm256_castsi256_pd(
      _mm256_cvtepi32_epi64(_mm256_extracti128_si256(_mm256_castps_si256(m), 1)));
}
/* Two 4-double vectors rounded to one 8-float vector (lo lanes first). */
SL_VINLINE __m256 sl_v_pd_to_ps(__m256d lo, __m256d hi) {
  return _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
}
SL_VINLINE double sl_v_hsum_pd(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

#endif /* SL_AVX2_H */
