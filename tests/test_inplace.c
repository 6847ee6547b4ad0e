// SPDX-License-Identifier: MIT
/*
 * test_inplace.c - the gradient written over the logits (grad == x): sl_bce_logits,
 * sl_sigmoid_focal, sl_ce, sl_softmax_focal and sl_ce_prob give bitwise the loss, stats and
 * gradient of the same call with a separate gradient buffer, on the active ISA, over sections
 * (none, boxes, many boxes, masks), reductions, special logits that send elements to the reference
 * kernel (NaN, +-inf, |x| > 87, grad_scale 1e38: overflowing gradient factors) and a tensor whose
 * gradient is streamed (larger than the driver's SL_STREAM_BYTES). sl_bce (probabilities) still
 * refuses grad == x, and any other overlap stays an error (test_status.c).
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "section.h"
#include "harness.h"
#include "sectionloss.h"
#include "util.h"

/* Puts special values into a tenth of the logits (rng-chosen): the reference kernel's lanes. */
static void add_specials(t_case *c, uint64_t seed) {
  static const float special[] = {NAN, INFINITY, -INFINITY, 90.0f, -95.0f, 1e30f, -200.0f};
  t_rng r = t_rng_seed(seed);
  const int64_t e = t_elems(&c->shape);
  for (int64_t i = 0; i < e; i++)
    if (t_rng_unit(&r) < 0.1)
      c->x[i] = special[t_rng_int(&r, 0, (int64_t)(sizeof special / sizeof special[0]))];
}

/* 1 when a and b hold the same bits (NaN payloads included) */
static int same_bits(const float *a, const float *b, int64_t n) {
  return memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

/* One case: out of place, then in place on a copy of the logits; returns the failures. */
static int check_inplace(t_case *c, const char *desc) {
  const int64_t e = t_elems(&c->shape), nm = t_map_elems(c);
  const int none = c->opt.reduction == SL_REDUCTION_NONE;
  float *grad = t_alloc((size_t)e * sizeof(float)), *xs = c->x;
  float *x2 = t_alloc((size_t)e * sizeof(float));
  float *l1 = t_alloc((size_t)nm * sizeof(float)), *l2 = t_alloc((size_t)nm * sizeof(float));
  sl_stats s1, s2;
  sl_options o = c->opt;
  o.stats = &s1;
  sl_status st1 = t_call(c, &o, l1, grad);
  memcpy(x2, xs, (size_t)e * sizeof(float));
  c->x = x2;
  o.stats = &s2;
  sl_status st2 = t_call(c, &o, l2, x2); /* grad == x */
  c->x = xs;
  int fails = 0;
  if (st1 != SL_OK || st2 != SL_OK) {
    cr_expect(0, "%s: status %d out of place, %d in place", desc, st1, st2);
    fails++;
  } else {
    if (!same_bits(grad, x2, e)) {
      int64_t i = t_first_diff(grad, x2, e);
      cr_expect(0, "%s: in-place gradient differs at %lld: %.9g, out of place %.9g", desc,
                (long long)i, (double)x2[i], (double)grad[i]);
      fails++;
    }
    if (!same_bits(l1, l2, none ? nm : 1) || memcmp(&s1, &s2, sizeof s1) != 0) {
      cr_expect(0, "%s: in-place loss %.9g / stats %.17g differ from %.9g / %.17g", desc,
                (double)l2[0], s2.loss_sum, (double)l1[0], s1.loss_sum);
      fails++;
    }
  }
  free(grad);
  free(x2);
  free(l1);
  free(l2);
  return fails;
}

static int matrix(t_op op) {
  static const sl_shape shapes[] = {{2, 3, 7, 19}, {1, 5, 16, 33}, {3, 1, 5, 64}, {2, 21, 9, 40}};
  static const t_box boxes[] = {TB_NONE, TB_INTERIOR, TB_PER_SAMPLE, TB_MANY};
  static const t_mask masks[] = {TM_NONE, TM_RANDOM, TM_CHECKER};
  static const sl_reduction reds[] = {SL_REDUCTION_MEAN, SL_REDUCTION_SUM, SL_REDUCTION_NONE};
  int fails = 0;
  uint64_t seed = 900;
  for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
    for (size_t bi = 0; bi < sizeof boxes / sizeof boxes[0]; bi++)
      for (size_t mi = 0; mi < sizeof masks / sizeof masks[0]; mi++)
        for (size_t ri = 0; ri < sizeof reds / sizeof reds[0]; ri++)
          for (int special = 0; special < 3; special++) {
            t_spec s = t_spec_default(op, shapes[si], seed++);
            s.box = boxes[bi];
            s.mask = masks[mi];
            s.reduction = reds[ri];
            s.weight = special == 1;
            if (special == 2 && reds[ri] != SL_REDUCTION_NONE)
              s.grad_scale = 1e38f; /* gradient factors beyond the float range: reference */
            t_case c;
            t_case_make(&c, &s);
            if (special == 1)
              add_specials(&c, seed);
            char sb[256], desc[320];
            snprintf(desc, sizeof desc, "%s%s [%s]", t_spec_str(&s, sb, sizeof sb),
                     special == 1 ? " +special logits" : "", sl_isa_name(sl_isa_active()));
            fails += check_inplace(&c, desc);
            t_case_free(&c);
          }
  return fails;
}

Test(inplace, bce_logits) {
  cr_assert(matrix(T_BCE_LOGITS) == 0);
}
Test(inplace, sigmoid_focal) {
  cr_assert(matrix(T_SIGMOID_FOCAL) == 0);
}
Test(inplace, ce) {
  cr_assert(matrix(T_CE) == 0);
}
Test(inplace, softmax_focal) {
  cr_assert(matrix(T_SOFTMAX_FOCAL) == 0);
}
Test(inplace, ce_prob) {
  cr_assert(matrix(T_CE_PROB) == 0);
}

/* Streamed (sl__stream_bytes 4 KiB) and ordinary stores give the same bits: the loss and
 * gradient of c's reduction, then reduction NONE (the loss map streamed too) with a gradient
 * and without one. Returns the failures. */
static int check_streamed(const t_case *c, const char *desc) {
  const int64_t e = t_elems(&c->shape), nm = t_map_elems(c);
  float *g[2] = {t_alloc((size_t)e * sizeof(float)), t_alloc((size_t)e * sizeof(float))};
  float *l[2] = {t_alloc((size_t)nm * sizeof(float)), t_alloc((size_t)nm * sizeof(float))};
  float *gmap = t_alloc((size_t)nm * sizeof(float)); /* NONE's upstream gradient */
  for (int64_t i = 0; i < nm; i++)
    gmap[i] = 0.5f + (float)(i % 7) * 0.25f;
  int fails = 0;
  for (int v = 0; v < 3; v++) {
    sl_options o = c->opt;
    if (v > 0) {
      o.reduction = SL_REDUCTION_NONE;
      o.grad_map = v == 1 ? gmap : NULL;
    }
    const int with_grad = v < 2;
    const int64_t nl = v == 0 ? 1 : nm;
    sl_status st[2];
    for (int k = 0; k < 2; k++) {
      memset(g[k], 0xff, (size_t)e * sizeof(float));
      memset(l[k], 0xff, (size_t)nm * sizeof(float));
      sl__stream_bytes = k == 0 ? 4096 : INT64_MAX;
      st[k] = t_call(c, &o, l[k], with_grad ? g[k] : NULL);
    }
    if (st[0] != SL_OK || st[1] != SL_OK || (with_grad && !same_bits(g[0], g[1], e)) ||
        !same_bits(l[0], l[1], nl)) {
      cr_expect(0, "%s (%s, %s): streamed and ordinary stores differ (status %d, %d)", desc,
                v == 0 ? "its reduction" : "NONE", with_grad ? "gradient" : "no gradient", st[0],
                st[1]);
      fails++;
    }
  }
  sl__stream_bytes = 4096;
  for (int k = 0; k < 2; k++) {
    free(g[k]);
    free(l[k]);
  }
  free(gmap);
  return fails;
}

/* Gradients larger than sl__stream_bytes are streamed (non-temporal stores). The threshold is
 * lowered to 4 KiB here so small tensors take that path (valgrind runs this test): CE
 * 2 x 21 x 24 x 40 and 1 x 21 x 31 x 29 (planes not vector-aligned), BCE with logits
 * 4 x 1 x 64 x 60 (and BCE on probabilities, not in place), whole, masked and with boxes, with
 * special logits too (their elements and pixels are not streamed: the reference writes them): in
 * place as out of place, and streamed as ordinary stores (check_streamed: NONE loss maps too). */
Test(inplace, streamed) {
  static const struct {
    t_op op;
    sl_shape shape;
  } cases[] = {{T_CE, {2, 21, 24, 40}},
               {T_CE, {1, 21, 31, 29}},
               {T_CE_PROB, {2, 21, 24, 40}},
               {T_CE_PROB, {1, 21, 31, 29}},
               {T_BCE_LOGITS, {4, 1, 64, 60}},
               {T_BCE_PROB, {4, 1, 64, 60}}}; /* probabilities: streamed only, not in place */
  const int64_t saved = sl__stream_bytes;
  int fails = 0;
  for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++)
    for (int sec = 0; sec < 3; sec++)
      for (int special = 0; special < (cases[k].op == T_BCE_PROB ? 1 : 2); special++) {
        t_spec s = t_spec_default(cases[k].op, cases[k].shape, 77 + (uint64_t)k);
        s.mask = sec == 1 ? TM_RANDOM : TM_NONE;
        s.box = sec == 2 ? TB_MANY : TB_NONE; /* gaps long enough for the streamed zero fill */
        t_case c;
        t_case_make(&c, &s);
        if (special)
          add_specials(&c, 5 + (uint64_t)k);
        char sb[256], desc[300];
        snprintf(desc, sizeof desc, "%s%s [%s]", t_spec_str(&s, sb, sizeof sb),
                 special ? " +special logits" : "", sl_isa_name(sl_isa_active()));
        sl__stream_bytes = 4096;
        if (cases[k].op != T_BCE_PROB)
          fails += check_inplace(&c, desc);
        fails += check_streamed(&c, desc);
        t_case_free(&c);
      }
  sl__stream_bytes = saved;
  cr_assert(fails == 0);
}

/* sl_bce reads probabilities: grad == x stays an overlap error there. */
Test(inplace, bce_prob_refused) {
  sl_shape sh = {1, 1, 2, 4};
  float x[8] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f}, t[8] = {0};
  sl_options o = sl_options_default();
  float loss;
  cr_expect(sl_bce(&sh, x, t, NULL, &o, &loss, x) == SL_ERR_ALIAS);
}
