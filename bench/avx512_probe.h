// SPDX-License-Identifier: MIT
/*
 * avx512_probe.h - the AVX2 side of bench/avx512_probe.c: the vector math of src/generic/vmath.h
 * on the AVX2 layer (src/avx2/vec.h), in its own file (bench/avx512_probe_avx2.c), compiled with
 * -mavx2 -mfma only, so they are the library's AVX2 code (no EVEX encoding, no opmask, no
 * ymm16-31 from the AVX-512 flags).
 * Each computes out[i] = f(in[i]) for i < n (n a multiple of 16).
 */
#ifndef SL_AVX512_PROBE_H
#define SL_AVX512_PROBE_H

void probe_logf_avx2(const float *in, float *out, int n);
void probe_expf_avx2(const float *in, float *out, int n);
void probe_softplus_avx2(const float *in, float *out, int n); /* log1p(exp(-|x|)) */
void probe_ce_exp_avx2(const float *in, float *out, int n);   /* exp(x - 2), exact difference */
void probe_log1p_avx2(const float *in, float *out, int n);

#endif /* SL_AVX512_PROBE_H */
