// SPDX-License-Identifier: MIT
/*
 * test_dtype.c - bfloat16 and float16 tensors (sl_options.input_dtype, target_dtype,
 * weight_dtype, grad_f32).
 *
 * Conversions (sl_cvt_in / sl_cvt_out of the scalar reference, the active table and every SIMD
 * table this CPU runs, AVX512_BF16's included): every one of the 65536 bit patterns of each type
 * converts to the float of the same value and back to itself; the midpoint between two
 * neighbours rounds to the even one, a float ulp either side to the nearer one; infinities, NaN
 * (NaN for NaN) and float16's overflow and underflow edges. Values are decoded here with ldexp
 * from the bits, independently of the library. Every table against the reference at every length
 * 0..67, misaligned, streamed or not, with and without DAZ + FTZ; the AVX-512 table dispatch picks
 * with and without AVX512_BF16 (all 2^32 floats: make test-exhaustive-cvt).
 * Losses: a call on 2-byte tensors gives the float32 call on their (exact) float values (the
 * kernels convert at their loads and stores, over the float32 call's runs): the same NONE map,
 * loss, count, normaliser and loss sum bit for bit, and the gradient that call's gradient rounded
 * to the input's type (or the float gradient with grad_f32) bit for bit, in place too; for every
 * loss, with boxes, masks, weights, OHEM and special logits (the reference lanes); Dice and
 * multiclass Dice with their sums bit for bit too. Bad element types: SL_ERR_DTYPE.
 * On every ISA (scripts/run-tests.sh). Shape legend: N, C, H, W as in sectionloss.h.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <xmmintrin.h> /* MXCSR */
#endif

#include "dice_ref.h"
#include "harness.h"
#include "kernels.h"
#include "sectionloss.h"
#include "util.h"

/* the value of a 2-byte element, decoded from its fields */
static double decode(uint16_t h, sl_dtype t) {
  const int neg = h >> 15;
  const int eb = t == SL_DTYPE_BF16 ? 8 : 5, mb = t == SL_DTYPE_BF16 ? 7 : 10;
  const int e = (h >> mb) & ((1 << eb) - 1), m = h & ((1 << mb) - 1), bias = (1 << (eb - 1)) - 1;
  double v;
  if (e == (1 << eb) - 1)
    v = m ? NAN : INFINITY;
  else if (e == 0)
    v = ldexp((double)m, 1 - bias - mb);
  else
    v = ldexp((double)(m | 1 << mb), e - bias - mb);
  return neg ? -v : v;
}

static uint16_t out1(const sl_kernels *k, float f, sl_dtype t) {
  uint16_t h;
  k->cvt_out(&h, &f, 1, t, 0);
  return h;
}

static int same_value(uint16_t a, uint16_t b, sl_dtype t) {
  return a == b || (isnan(decode(a, t)) && isnan(decode(b, t)));
}

/* Every pattern in and back out; midpoints and their neighbours; in blocks of odd lengths (the
 * vector bodies and tails). Returns the failures. */
static int conversions(const sl_kernels *k, sl_dtype t, const char *isa) {
  int fails = 0;
  enum { ALL = 65536 };
  uint16_t *h = t_alloc(ALL * sizeof *h), *back = t_alloc(ALL * sizeof *back);
  float *f = t_alloc(ALL * sizeof *f);
  for (int i = 0; i < ALL; i++)
    h[i] = (uint16_t)i;
  for (int64_t at = 0; at < ALL;) { /* blocks of 1 to 37 elements */
    int64_t n = 1 + at % 37;
    n = at + n > ALL ? ALL - at : n;
    k->cvt_in(f + at, h + at, n, t);
    k->cvt_out(back + at, f + at, n, t, (int)(at % 2));
    at += n;
  }
  for (int i = 0; i < ALL && fails < 10; i++) {
    double v = decode((uint16_t)i, t);
    int ok = isnan(v) ? isnan(f[i]) : (double)f[i] == v && !signbit(f[i]) == !signbit(v);
    ok &= same_value(back[i], (uint16_t)i, t);
    if (!ok) {
      cr_log_info("%s dtype %d: 0x%04x -> %a -> 0x%04x", isa, (int)t, i, (double)f[i], back[i]);
      fails++;
    }
  }
  /* midpoints of neighbours a < b (positive, both finite): ties to even, a float ulp off: the
   * nearer */
  const uint16_t last = t == SL_DTYPE_BF16 ? 0x7f7f : 0x7bff; /* the largest finite */
  for (uint16_t a = 0; a < last && fails < 20; a++) {
    const uint16_t b = (uint16_t)(a + 1);
    const float mid = (float)((decode(a, t) + decode(b, t)) / 2); /* exact: one more bit */
    const uint16_t even = (a & 1) ? b : a;
    const uint16_t lo = out1(k, nextafterf(mid, 0.0f), t),
                   hi = out1(k, nextafterf(mid, INFINITY), t);
    const uint16_t at = out1(k, mid, t);
    if (at != even || lo != a || hi != b || out1(k, -mid, t) != (uint16_t)(even | 0x8000)) {
      cr_log_info("%s dtype %d: midpoint of 0x%04x, 0x%04x: 0x%04x (below 0x%04x, above 0x%04x)",
                  isa, (int)t, a, b, at, lo, hi);
      fails++;
    }
  }
  /* beyond the largest finite: the midpoint to infinity and above it round to infinity */
  const double big = decode(last, t), gap = big - decode((uint16_t)(last - 1), t);
  const uint16_t inf = (uint16_t)(t == SL_DTYPE_BF16 ? 0x7f80 : 0x7c00);
  if (t == SL_DTYPE_F16) {
    fails += out1(k, (float)(big + gap / 2), t) != inf; /* 65520: even is infinity */
    fails += out1(k, nextafterf((float)(big + gap / 2), 0), t) != last; /* just below: 65504 */
  }
  fails += out1(k, INFINITY, t) != inf || out1(k, -INFINITY, t) != (uint16_t)(inf | 0x8000);
  fails += out1(k, FLT_MAX, t) != inf;
  fails += !isnan(decode(out1(k, NAN, t), t)) || !isnan(decode(out1(k, -NAN, t), t));
  fails += out1(k, 0x1p-149f, t) != 0 || out1(k, -0.0f, t) != 0x8000;
  free(h), free(back), free(f);
  return fails;
}

/* The conversion tables to test against the scalar reference: the active one and every SIMD
 * table of the build this CPU runs, AVX-512's with AVX512_BF16 included (dispatch.c gives it for
 * SL_ISA_AVX512 where the CPU has it), each once. Returns their number; names in names[]. */
enum { MAX_TABLES = 5 };
static int tables_here(const sl_kernels *tabs[MAX_TABLES], const char *names[MAX_TABLES]) {
  int n = 0;
  const sl_kernels *cand[MAX_TABLES] = {sl_kernels_active()};
  const char *cname[MAX_TABLES] = {"active"};
  int nc = 1;
#if defined(SL_BUILD_AVX2)
  if (sl_isa_available(SL_ISA_AVX2))
    cand[nc] = &sl_kernels_avx2, cname[nc++] = "avx2";
#endif
#if defined(SL_BUILD_AVX512)
  if (sl_isa_available(SL_ISA_AVX512))
    cand[nc] = &sl_kernels_avx512, cname[nc++] = "avx512 (portable bf16)";
  if (sl_cpu_has_avx512_bf16())
    cand[nc] = &sl_kernels_avx512_bf16, cname[nc++] = "avx512 + AVX512_BF16";
#endif
#if defined(SL_BUILD_NEON)
  if (sl_isa_available(SL_ISA_NEON))
    cand[nc] = &sl_kernels_neon, cname[nc++] = "neon";
#endif
  for (int i = 0; i < nc; i++) {
    int seen = 0;
    for (int j = 0; j < n; j++)
      seen |= tabs[j] == cand[i];
    if (!seen)
      tabs[n] = cand[i], names[n++] = cname[i];
  }
  return n;
}

Test(dtype, conversions) {
  const sl_kernels *tabs[MAX_TABLES];
  const char *names[MAX_TABLES];
  const int nt = tables_here(tabs, names);
  int fails = 0;
  for (int t = SL_DTYPE_BF16; t <= SL_DTYPE_F16; t++) {
    fails += conversions(&sl_kernels_scalar, (sl_dtype)t, "scalar");
    for (int i = 0; i < nt; i++)
      fails += conversions(tabs[i], (sl_dtype)t, names[i]);
  }
  cr_assert(fails == 0, "%d conversion failures", fails);
}

/* A float that exercises the conversions: subnormals (which VCVTNEPS2BF16 alone flushes),
 * halfway cases of both types, NaN (quiet and signalling, both signs), infinities, float16's
 * overflow and underflow edges, or any bit pattern. */
static float hard_float(t_rng *r) {
  uint32_t u = (uint32_t)t_rng_u64(r);
  switch (t_rng_int(r, 0, 8)) {
  case 0: /* subnormal or zero */
    u &= 0x807fffffu;
    break;
  case 1: /* a bfloat16 tie or a float ulp off it */
    u = (u & 0xffff0000u) | (uint32_t)(0x8000 + t_rng_int(r, -1, 2));
    break;
  case 2: /* a float16 tie or a float ulp off it, normal or subnormal in float16 */
    u = (uint32_t)t_rng_int(r, 0x33000000, 0x47800000) | (u & 0x80000000u);
    u = (u & ~0x1fffu) | (uint32_t)(0x1000 + t_rng_int(r, -1, 2));
    break;
  case 3: /* NaN, infinity */
    u |= 0x7f800000u;
    break;
  case 4: /* around float16's largest finite and the smallest normal bfloat16 */
    u = (u & 0x80000000u) | (uint32_t)(t_rng_u64(r) & 1 ? 0x477fe000 + t_rng_int(r, 0, 0x4000)
                                                        : 0x007f0000 + t_rng_int(r, 0, 0x20000));
    break;
  default: /* any */
    break;
  }
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* x86: mode 1 sets MXCSR's DAZ and FTZ, as a caller may have them (PyTorch's
 * set_flush_denormal); csr_set returns the MXCSR to restore. Elsewhere mode 0 only. */
#if defined(__x86_64__)
enum { CSR_MODES = 2 };
static unsigned csr_set(int mode) {
  const unsigned was = _mm_getcsr();
  _mm_setcsr(mode ? was | 0x8040u : was);
  return was;
}
static void csr_restore(unsigned was) {
  _mm_setcsr(was);
}
#else
enum { CSR_MODES = 1 };
static unsigned csr_set(int mode) {
  (void)mode;
  return 0;
}
static void csr_restore(unsigned was) {
  (void)was;
}
#endif

/* Every table against the scalar reference on the paths of generic/convert.h: every length
 * 0..67 (vector bodies, tails, none), source and destination 0..15 elements off a 64-byte
 * boundary, streamed and not, on x86 with and without DAZ + FTZ (the conversions must not depend
 * on them); outputs bit for bit (a NaN: any NaN, kernels.h), nothing written outside [0, n). */
Test(dtype, conversion_paths) {
  const sl_kernels *tabs[MAX_TABLES];
  const char *names[MAX_TABLES];
  const int nt = tables_here(tabs, names);
  enum { MAXN = 67, OFF = 16, GUARD = 8, CAP = MAXN + OFF + 2 * GUARD };
  float *src = aligned_alloc(64, 128 * sizeof(float)), *fin = t_alloc(CAP * sizeof(float)),
        *fwant = t_alloc(CAP * sizeof(float));
  uint16_t *hin = aligned_alloc(64, 128 * sizeof(uint16_t)),
           *out = aligned_alloc(64, 128 * sizeof(uint16_t)), want[MAXN];
  cr_assert(src && hin && out);
  t_rng r = t_rng_seed(7900);
  int fails = 0;
  for (int k = 0; k < nt; k++)
    for (int t = SL_DTYPE_BF16; t <= SL_DTYPE_F16; t++)
      for (int n = 0; n <= MAXN; n++)
        for (int off = 0; off < OFF; off++)
          for (int mode = 0; mode < 2 * CSR_MODES; mode++) {
            const int stream = mode & 1, csr = mode >> 1;
            const sl_dtype dt = (sl_dtype)t;
            const int so = (off * 7 + n) % OFF; /* source offset, varied against off */
            for (int i = 0; i < n; i++)
              src[so + i] = hard_float(&r);
            for (int i = 0; i < 128; i++)
              out[i] = 0xdead;
            const unsigned was = csr_set(csr);
            tabs[k]->cvt_out(out + GUARD + off, src + so, n, dt, stream);
            csr_restore(was);
            sl_kernels_scalar.cvt_out(want, src + so, n, dt, 0);
            int bad = 0;
            for (int i = 0; i < 128; i++) {
              const int j = i - GUARD - off;
              bad |= j >= 0 && j < n ? !same_value(out[i], want[j], dt) : out[i] != 0xdead;
            }
            /* input: n 2-byte patterns from off elements past the boundary into so floats */
            for (int i = 0; i < n; i++)
              hin[off + i] = (uint16_t)t_rng_u64(&r);
            for (int i = 0; i < CAP; i++)
              fin[i] = 12345.0f;
            const unsigned was_in = csr_set(csr);
            tabs[k]->cvt_in(fin + GUARD + so, hin + off, n, dt);
            csr_restore(was_in);
            sl_kernels_scalar.cvt_in(fwant, hin + off, n, dt);
            for (int i = 0; i < CAP; i++) {
              const int j = i - GUARD - so;
              bad |= j >= 0 && j < n ? !(memcmp(&fin[i], &fwant[j], sizeof(float)) == 0 ||
                                         (isnan(fin[i]) && isnan(fwant[j])))
                                     : fin[i] != 12345.0f;
            }
            if (bad && fails++ < 10)
              cr_log_info("%s dtype %d: n %d, offsets %d / %d, stream %d, DAZ + FTZ %d: differs "
                          "from scalar or writes outside",
                          names[k], t, n, off, so, stream, csr);
          }
  free(src), free(fin), free(fwant), free(hin), free(out);
  cr_assert(fails == 0, "%d conversion path failures", fails);
}

/* dispatch.c: SL_ISA_AVX512 takes the AVX512_BF16 table exactly where the CPU has AVX512_BF16,
 * and without it (sl__avx512_bf16_allow(0): the view of a CPU that lacks it) the portable one,
 * which then converts as the reference does. */
Test(dtype, avx512_bf16_dispatch) {
#if defined(SL_BUILD_AVX512)
  if (!sl_isa_available(SL_ISA_AVX512)) {
    cr_log_info("no AVX-512 here: nothing to check");
    return;
  }
  const sl_isa start = sl_isa_active();
  sl__avx512_bf16_allow(0);
  sl_status s0 = sl_isa_set(SL_ISA_AVX512);
  const sl_kernels *portable = sl_kernels_active();
  int fails = conversions(portable, SL_DTYPE_BF16, "avx512 without AVX512_BF16");
  sl__avx512_bf16_allow(1);
  sl_status s1 = sl_isa_set(SL_ISA_AVX512);
  const sl_kernels *detected = sl_kernels_active();
  sl_isa_set(start);
  cr_expect(s0 == SL_OK && s1 == SL_OK);
  cr_expect(portable == &sl_kernels_avx512);
  cr_expect(detected == (sl_cpu_has_avx512_bf16() ? &sl_kernels_avx512_bf16 : &sl_kernels_avx512),
            "AVX512_BF16 %d: the wrong AVX-512 table", sl_cpu_has_avx512_bf16());
  cr_expect(sl_kernels_avx512_bf16.isa == SL_ISA_AVX512);
  cr_expect(fails == 0);
  cr_log_info("AVX512_BF16 %s: SL_ISA_AVX512 rounds bfloat16 with %s",
              sl_cpu_has_avx512_bf16() ? "present" : "absent",
              detected == &sl_kernels_avx512_bf16 ? "VCVTNEPS2BF16" : "integer rounding");
#else
  cr_log_info("not an x86-64 build: no AVX-512 tables");
#endif
}

/* ---- losses ---------------------------------------------------------------------------------- */

/* a float tensor rounded to t (bf16 or f16): the 2-byte copy, and v its exact float values */
static uint16_t *to_dtype(float *v, int64_t n, sl_dtype t) {
  uint16_t *h = t_alloc((size_t)n * sizeof *h);
  sl_kernels_scalar.cvt_out(h, v, n, t, 0);
  sl_kernels_scalar.cvt_in(v, h, n, t);
  return h;
}

/* The first element where g16 (n elements: float with grad_f32, else of type xt) is not the float
 * gradient g32 (rounded to xt), or -1. */
static int64_t grad_diff(const float *g32, const void *g16, int64_t n, sl_dtype xt, int grad_f32) {
  if (grad_f32)
    return t_first_diff(g32, (const float *)g16, n);
  int64_t diff = -1;
  uint16_t *want = t_alloc((size_t)n * sizeof *want);
  sl_kernels_scalar.cvt_out(want, g32, n, xt, 0);
  for (int64_t i = 0; i < n && diff < 0; i++)
    if (!same_value(want[i], ((const uint16_t *)g16)[i], xt))
      diff = i;
  free(want);
  return diff;
}

typedef struct dt_case {
  t_op op;
  sl_dtype xt, tt, wt;
  int grad_f32, inplace, ohem;
  int special; /* NaN, infinities and huge logits (the kernels' reference lanes) */
} dt_case;

/* Puts special values into about a tenth of x (before its rounding to the 2-byte type). */
static void add_specials(float *x, int64_t n, uint64_t seed) {
  static const float special[] = {NAN, INFINITY, -INFINITY, 90.0f, -95.0f, 1e30f, -200.0f};
  t_rng r = t_rng_seed(seed);
  for (int64_t i = 0; i < n; i++)
    if (t_rng_unit(&r) < 0.1)
      x[i] = special[t_rng_int(&r, 0, (int64_t)(sizeof special / sizeof special[0]))];
}

static int run_case(const t_spec *sp, const dt_case *d) {
  t_case c;
  t_case_make(&c, sp);
  const int64_t n = t_elems(&c.shape),
                lsize = c.opt.reduction == SL_REDUCTION_NONE ? t_map_elems(&c) : 1;
  const int labels = t_op_labels(d->op), pixel = t_op_pixel(d->op);
  const int64_t pix = c.shape.n * c.shape.h * c.shape.w;
  if (d->special)
    add_specials(c.x, n, sp->seed);
  /* the 2-byte tensors, and the float case on their values */
  uint16_t *xh = to_dtype(c.x, n, d->xt), *th = NULL, *wh = NULL;
  if (!labels && d->tt != SL_DTYPE_F32)
    th = to_dtype(c.target, n, d->tt);
  float *w = pixel ? c.pixel_weight : c.weight; /* pixel weights, or BCE's element weights */
  if (w && d->wt != SL_DTYPE_F32)
    wh = to_dtype(w, pixel ? pix : n, d->wt);
  sl_options o = c.opt;
  if (d->ohem) {
    o.ohem_thresh = 0.6f;
    o.ohem_min_kept = 3;
  }
  sl_stats s32, s16;
  float *l32 = t_alloc((size_t)lsize * sizeof(float)),
        *l16 = t_alloc((size_t)lsize * sizeof(float));
  float *g32 = t_alloc((size_t)n * sizeof(float));
  o.stats = &s32;
  sl_status st32 = t_call(&c, &o, l32, g32);
  /* the same call on the 2-byte tensors */
  float *x32 = c.x, *t32 = c.target;
  void *g16 = d->inplace ? (void *)xh : t_alloc((size_t)n * (d->grad_f32 ? 4 : 2));
  c.x = (float *)(void *)xh;
  if (th)
    c.target = (float *)(void *)th;
  o.input_dtype = d->xt;
  o.target_dtype = d->tt;
  o.weight_dtype = d->wt;
  o.grad_f32 = d->grad_f32;
  if (wh && pixel)
    o.pixel_weight = (const float *)(void *)wh;
  else if (wh)
    o.weight = (const float *)(void *)wh;
  o.stats = &s16;
  sl_status st16 = t_call(&c, &o, l16, (float *)g16);
  c.x = x32;
  c.target = t32;
  /* the kernels convert as they load and store, over the float32 call's runs and segments:
   * the per-element values (NONE map, gradient), the loss and the sums bit for bit (a NaN sum
   * is the one quiet NaN) */
  const int none = c.opt.reduction == SL_REDUCTION_NONE;
  int bad = st32 != SL_OK || st16 != SL_OK || s32.count != s16.count ||
            memcmp(&s32.normalizer, &s16.normalizer, sizeof(double)) != 0 ||
            memcmp(&s32.loss_sum, &s16.loss_sum, sizeof(double)) != 0 ||
            t_first_diff(l32, l16, none ? lsize : 1) >= 0;
  const int64_t gdiff = grad_diff(g32, g16, n, d->xt, d->grad_f32);
  bad |= gdiff >= 0;
  char what[128];
  cr_expect(!bad,
            "%s [%s] x %d target %d weight %d grad_f32 %d inplace %d ohem %d special %d %s: "
            "status %d/%d, "
            "loss %a/%a, loss_sum %a/%a, first grad diff %lld",
            t_op_name(d->op), sl_isa_name(sl_isa_active()), (int)d->xt, (int)d->tt, (int)d->wt,
            d->grad_f32, d->inplace, d->ohem, d->special, t_spec_str(sp, what, sizeof what), st32,
            st16, (double)l32[0], (double)l16[0], s32.loss_sum, s16.loss_sum, (long long)gdiff);
  free(l32), free(l16), free(g32), free(xh), free(th), free(wh);
  if (!d->inplace)
    free(g16);
  t_case_free(&c);
  return bad;
}

static int loss_cases(void) {
  static const t_op ops[] = {T_BCE_PROB, T_BCE_LOGITS,    T_SIGMOID_FOCAL,
                             T_CE,       T_SOFTMAX_FOCAL, T_CE_PROB};
  static const sl_shape shapes[] = {{2, 3, 9, 37}, {1, 21, 16, 70}, {3, 1, 5, 300}};
  int fails = 0;
  uint64_t seed = 7700;
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
    for (int s = 0; s < 3; s++)
      for (int v = 0; v < 4; v++) {
        const t_op op = ops[o];
        const int labels = t_op_labels(op), pixel = t_op_pixel(op);
        t_spec sp = t_spec_default(op, shapes[s], seed++);
        sp.reduction = (sl_reduction)(v % 3);
        sp.box = v == 1 ? TB_PER_SAMPLE : v == 3 ? TB_MANY : TB_NONE;
        sp.mask = v >= 2 ? TM_RANDOM : TM_NONE;
        sp.weight = !labels && v % 2; /* sl_ce_prob: float32 class weights */
        sp.pixel_weight = pixel && v >= 2;
        sp.ignore = labels;
        if (sp.box == TB_MANY && shapes[s].n < 2)
          sp.box = TB_INTERIOR;
        const sl_dtype xt = v % 2 ? SL_DTYPE_F16 : SL_DTYPE_BF16;
        const int logits = op != T_BCE_PROB;
        dt_case d = {op,
                     xt,
                     labels ? SL_DTYPE_F32 : (v < 2 ? xt : SL_DTYPE_F32),
                     v >= 2 ? SL_DTYPE_BF16 : SL_DTYPE_F32,
                     v == 2,
                     logits && v == 1,
                     labels && v == 3,
                     logits && v % 2 == 1};
        fails += run_case(&sp, &d);
      }
  return fails;
}

Test(dtype, losses_equal_the_float_call_on_the_same_values) {
  int fails = loss_cases();
#if defined(SL_BUILD_AVX512)
  /* AVX-512 with AVX512_BF16 (its table's bfloat16 stores round with VCVTNEPS2BF16): the
   * portable AVX-512 table too */
  if (sl_isa_active() == SL_ISA_AVX512 && sl_cpu_has_avx512_bf16()) {
    sl__avx512_bf16_allow(0);
    sl_isa_set(SL_ISA_AVX512);
    fails += loss_cases();
    sl__avx512_bf16_allow(1);
    sl_isa_set(SL_ISA_AVX512);
  }
#endif
  cr_assert(fails == 0);
}

/* ---- Dice / Tversky ---------------------------------------------------------------------------
 * The per-class sums group alike whatever the element types (src/loss_dice.c), so everything but
 * the gradient's rounding is the float32 call's bit for bit: the loss, the NONE map, the stats
 * and dice_sums; the gradient, which depends on those sums, is that call's rounded. */

/* Case c (its x and targets rounded to xt, tt in place) against the same call on 2-byte copies;
 * wt: weight_dtype (Dice takes no weight: accepted and without effect, as for BCE without one).
 * Returns 1 on a difference. */
static int run_dice_case(d_case *c, sl_dtype xt, sl_dtype tt, sl_dtype wt, int grad_f32,
                         const char *desc) {
  const int64_t n = c->shape.n * c->shape.c * c->shape.h * c->shape.w, C = c->shape.c;
  const int none = c->opt.reduction == SL_REDUCTION_NONE;
  uint16_t *xh = to_dtype(c->x, n, xt), *th = NULL;
  if (!c->mc && tt != SL_DTYPE_F32)
    th = to_dtype(c->target, n, tt);
  sl_stats s32, s16;
  float *l32 = t_alloc((size_t)C * sizeof(float)), *l16 = t_alloc((size_t)C * sizeof(float));
  double *d32 = t_alloc((size_t)(3 * C) * sizeof(double)),
         *d16 = t_alloc((size_t)(3 * C) * sizeof(double));
  float *g32 = t_alloc((size_t)n * sizeof(float));
  void *g16 = t_alloc((size_t)n * (grad_f32 ? 4 : 2));
  t_canary(g32, (size_t)n * sizeof(float)); /* every element must be written (zeros outside) */
  t_canary(g16, (size_t)n * (grad_f32 ? 4 : 2));
  sl_options o = c->opt;
  o.stats = &s32;
  o.dice_sums = d32;
  const sl_status st32 = d_call(c, &o, l32, g32);
  d_case h = *c; /* the same case on the 2-byte tensors */
  h.x = (float *)(void *)xh;
  if (th)
    h.target = (float *)(void *)th;
  o.input_dtype = xt;
  o.target_dtype = tt;
  o.weight_dtype = wt;
  o.grad_f32 = grad_f32;
  o.stats = &s16;
  o.dice_sums = d16;
  const sl_status st16 = d_call(&h, &o, l16, (float *)g16);
  const int64_t lsize = none ? C : 1;
  int bad = st32 != SL_OK || st16 != SL_OK || memcmp(&s32, &s16, sizeof s32) != 0 ||
            memcmp(d32, d16, (size_t)(3 * C) * sizeof(double)) != 0 ||
            t_first_diff(l32, l16, lsize) >= 0;
  const int64_t gdiff = grad_diff(g32, g16, n, xt, grad_f32);
  bad |= gdiff >= 0;
  cr_expect(!bad,
            "%s [%s] x %d target %d weight %d grad_f32 %d: status %d/%d, loss %a/%a, loss_sum "
            "%a/%a, count %lld/%lld, first grad diff %lld",
            desc, sl_isa_name(sl_isa_active()), (int)xt, (int)tt, (int)wt, grad_f32, st32, st16,
            (double)l32[0], (double)l16[0], s32.loss_sum, s16.loss_sum, (long long)s32.count,
            (long long)s16.count, (long long)gdiff);
  free(l32), free(l16), free(d32), free(d16), free(g32), free(g16), free(xh), free(th);
  return bad;
}

/* Shapes with rows wider than sl_dice's pieces (1024 elements; there with values of many
 * exponents, whose sums round) and than the multiclass runs (256 pixels, 192 with 150 classes);
 * Dice and Tversky (smp's L1 intersection), probabilities and logits; boxes, box_offsets, masks
 * (per channel too), every reduction. */
Test(dtype, dice_equals_the_float_call_on_the_same_values) {
  static const sl_shape shapes[] = {
      {2, 3, 9, 37}, {1, 2, 3, 2100}, {2, 21, 4, 300}, {1, 150, 2, 230}};
  static const int regions[] = {DR_NONE, DR_BOX, DR_OFFSETS, DR_MASK, DR_MASK_C, DR_BOX_MASK};
  int fails = 0;
  uint64_t seed = 7900;
  for (int mc = 0; mc < 2; mc++)
    for (int s = 0; s < 4; s++)
      for (int v = 0; v < 6; v++) {
        if (!mc && shapes[s].c > 3)
          continue;
        const int lg = mc || v % 2, red = v % 3;
        d_case c;
        d_case_make(&c, mc, shapes[s], seed++, regions[v], lg, v == 4 ? 0 : -1, (sl_reduction)red);
        for (int64_t i = 0; !mc && s == 1 && i < t_elems(&c.shape); i++) {
          /* values of many exponents: sums that round, so that their grouping shows */
          c.target[i] = ldexpf(c.target[i], -(int)(i % 37));
          if (!lg)
            c.x[i] = ldexpf(c.x[i], -(int)(i * 3 % 29));
        }
        c.opt.dice_tversky = v >= 3;
        c.opt.tversky_alpha = v == 5 ? 0.3f : 0.5f;
        c.opt.tversky_beta = v == 5 ? 0.7f : 0.5f;
        c.opt.tversky_gamma = v == 5 ? 2.0f : 1.0f;
        c.opt.dice_smooth = v == 2 ? 1.0f : 0.0f;
        c.opt.dice_log_loss = v == 1;
        const sl_dtype xt = v % 2 ? SL_DTYPE_F16 : SL_DTYPE_BF16;
        const sl_dtype tt = v < 2 ? xt : v < 4 ? SL_DTYPE_F32 : SL_DTYPE_BF16;
        char desc[96];
        snprintf(desc, sizeof desc, "%s %lldx%lldx%lldx%lld region %d red %d logits %d tversky %d",
                 mc ? "dice_mc" : "dice", (long long)c.shape.n, (long long)c.shape.c,
                 (long long)c.shape.h, (long long)c.shape.w, regions[v], red, lg,
                 c.opt.dice_tversky);
        fails += run_dice_case(&c, xt, tt, v == 3 ? SL_DTYPE_F16 : SL_DTYPE_F32, v == 2, desc);
        d_case_free(&c);
      }
  cr_assert(fails == 0);
}

/* Bad element types: SL_ERR_DTYPE, nothing written. */
Test(dtype, status) {
  t_spec sp = t_spec_default(T_CE, (sl_shape){1, 3, 4, 5}, 7800);
  t_case c;
  t_case_make(&c, &sp);
  float loss = -1.0f;
  sl_options o = c.opt;
  o.input_dtype = (sl_dtype)3;
  cr_expect(t_call(&c, &o, &loss, NULL) == SL_ERR_DTYPE && loss == -1.0f);
  o = c.opt;
  o.grad_f32 = 2;
  cr_expect(t_call(&c, &o, &loss, NULL) == SL_ERR_DTYPE);
  o = c.opt;
  o.input_dtype = SL_DTYPE_BF16;
  o.grad_f32 = 1; /* an in-place float gradient over 2-byte logits */
  cr_expect(sl_ce(&c.shape, c.x, c.labels, c.label_type, NULL, &o, &loss, c.x) == SL_ERR_DTYPE);
  t_case_free(&c);
  sp = t_spec_default(T_DICE, (sl_shape){1, 3, 4, 5}, 7801);
  t_case_make(&c, &sp);
  o = c.opt;
  o.input_dtype = SL_DTYPE_F16;
  o.target_dtype = (sl_dtype)3;
  cr_expect(t_call(&c, &o, &loss, NULL) == SL_ERR_DTYPE && loss == -1.0f, "Dice, bad target type");
  o.target_dtype = SL_DTYPE_F16;
  cr_expect(t_call(&c, &o, &loss, NULL) == SL_OK, "Dice on float16");
  t_case_free(&c);
  cr_expect(strstr(sl_status_string(SL_ERR_DTYPE), "input_dtype") != NULL);
}
