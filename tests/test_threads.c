// SPDX-License-Identifier: MIT
/*
 * test_threads.c - results are bitwise identical for every thread count.
 * num_threads 1, 2, 3, 7 and 0 (the OpenMP default) on shapes the driver cuts into many
 * chunks (chunks hold at least 32768 elements, at most 256 of them: src/runner.h), with a
 * mask and per-sample boxes, for each entry point and reduction; and concurrent calls from
 * inside an OpenMP parallel region give the serial results.
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sectionloss.h"
#include "util.h"

/* 4x3x128x320 = 491520 BCE elements: rows of 320, 103 rows per chunk (not a multiple of H,
 * so chunks straddle channels and samples), 15 chunks. CE 4x6x128x200: pixel rows of 1200
 * elements, 28 per chunk, 19 chunks. */
static const sl_shape bce_shape = {4, 3, 128, 320};
static const sl_shape ce_shape = {4, 6, 128, 200};

typedef struct outputs {
  float *loss, *grad;
  sl_stats stats;
  sl_status status;
} outputs;

static void run(const t_case *c, int threads, outputs *o) {
  int64_t lsize = c->opt.reduction == SL_REDUCTION_NONE ? t_map_elems(c) : 1;
  o->loss = t_alloc((size_t)lsize * sizeof(float));
  o->grad = t_alloc((size_t)t_elems(&c->shape) * sizeof(float));
  t_canary(o->loss, (size_t)lsize * sizeof(float));
  t_canary(o->grad, (size_t)t_elems(&c->shape) * sizeof(float));
  sl_options opt = c->opt;
  opt.num_threads = threads;
  opt.stats = &o->stats;
  o->status = t_call(c, &opt, o->loss, o->grad);
}

static void release(outputs *o) {
  free(o->loss);
  free(o->grad);
}

/* 0 when a and b are bitwise equal; reports otherwise. */
static int same(const t_case *c, const outputs *a, const outputs *b, const char *what) {
  int64_t lsize = c->opt.reduction == SL_REDUCTION_NONE ? t_map_elems(c) : 1;
  int64_t dl = t_first_diff(a->loss, b->loss, lsize);
  int64_t dg = t_first_diff(a->grad, b->grad, t_elems(&c->shape));
  int ds = memcmp(&a->stats.loss_sum, &b->stats.loss_sum, sizeof(double)) != 0 ||
           memcmp(&a->stats.normalizer, &b->stats.normalizer, sizeof(double)) != 0 ||
           a->stats.count != b->stats.count;
  int bad = a->status != b->status || dl >= 0 || dg >= 0 || ds;
  cr_expect(!bad, "%s: status %d/%d, first loss diff %lld, first grad diff %lld, stats %s", what,
            a->status, b->status, (long long)dl, (long long)dg, ds ? "differ" : "equal");
  return bad;
}

static void thread_counts(t_op op, uint64_t seed) {
  static const int threads[] = {2, 3, 7, 0};
  int fails = 0;
  for (int red = 0; red < 3; red++) {
    const int pix = t_op_labels(op) || t_op_pixel(op);
    t_spec s = t_spec_default(op, pix ? ce_shape : bce_shape, seed + (uint64_t)red);
    s.reduction = (sl_reduction)red;
    s.box = TB_PER_SAMPLE;
    s.mask = TM_RANDOM;
    if (op != T_DICE && op != T_DICE_MC) { /* the options of the other losses */
      s.weight = 1;
      s.pos_weight = op == T_BCE_LOGITS;
      s.ignore = t_op_labels(op);
      s.smoothing = op == T_CE || op == T_CE_PROB ? 0.05f : 0.0f;
      s.pixel_weight = op == T_SOFTMAX_FOCAL || ((op == T_CE || op == T_CE_PROB) && red == 1);
      s.focal_gamma = red == 2 ? 2.5f : 2.0f; /* focal: the integer and the pow path */
    }
    t_case c;
    t_case_make(&c, &s);
    /* large boxes (one empty) so that every chunk has work */
    const int32_t w = (int32_t)s.shape.w, h = (int32_t)s.shape.h;
    const sl_box boxes[4] = {{3, 5, w - 1, h - 7}, {5, 5, 5, h}, {0, 0, w, h}, {0, 1, w - 10, h}};
    memcpy(c.boxes, boxes, sizeof boxes);
    outputs ref;
    run(&c, 1, &ref);
    cr_expect(ref.status == SL_OK, "status %d", ref.status);
    int64_t sel_max = pix ? t_map_elems(&c) : t_elems(&c.shape);
    cr_expect(ref.stats.count > sel_max / 4, "the section is too small: %lld of %lld",
              (long long)ref.stats.count, (long long)sel_max);
    for (int k = 0; k < 4; k++) {
      outputs o;
      run(&c, threads[k], &o);
      char what[96];
      snprintf(what, sizeof what, "%s red=%s: %d threads vs 1", t_op_name(op),
               t_reduction_name((sl_reduction)red), threads[k]);
      fails += same(&c, &ref, &o, what);
      release(&o);
    }
    release(&ref);
    t_case_free(&c);
  }
  cr_assert(fails == 0);
}

/* Every loss of the registry (src/losses.def), a test each so that they run in parallel. */
#define SL_LOSS(OP, name, function, input, map, driver)                                            \
  Test(threads, name) {                                                                            \
    thread_counts(T_##OP, 20000 + 50 * (uint64_t)T_##OP);                                          \
  }
#include "../src/losses.def"

/* sl_dice with more classes than chunks (each chunk sums whole classes) and with a few (each
 * class cut into row parts): 1, 2, 3 and 7 threads give the same bits. */
Test(threads, dice_many_classes) {
  static const sl_shape shapes[2] = {{2, 300, 8, 64}, {3, 5, 160, 160}};
  static const int threads[] = {2, 3, 7};
  int fails = 0;
  for (int k = 0; k < 2; k++) {
    t_spec s = t_spec_default(T_DICE, shapes[k], 20450 + (uint64_t)k);
    s.mask = TM_RANDOM;
    t_case c;
    t_case_make(&c, &s);
    outputs ref;
    run(&c, 1, &ref);
    cr_expect(ref.status == SL_OK, "status %d", ref.status);
    for (int t = 0; t < 3; t++) {
      outputs o;
      run(&c, threads[t], &o);
      fails += same(&c, &ref, &o, "sl_dice, many classes");
      release(&o);
    }
    release(&ref);
    t_case_free(&c);
  }
  cr_assert(fails == 0);
}

/* The library called from inside a parallel region, several calls at once (each also asking
 * for 2 threads of its own): the serial results. */
Test(threads, concurrent_calls) {
  enum { CALLS = 6 };
  for (int op = 0; op < 3; op++) {
    t_spec s = t_spec_default((t_op)op, op == T_CE ? ce_shape : bce_shape, 20300 + (uint64_t)op);
    s.box = TB_PER_SAMPLE;
    s.mask = TM_CHECKER;
    t_case c;
    t_case_make(&c, &s);
    outputs ref, o[CALLS];
    run(&c, 1, &ref);
#pragma omp parallel for num_threads(3) schedule(static, 1)
    for (int k = 0; k < CALLS; k++)
      run(&c, k % 2 ? 2 : 1, &o[k]);
    int fails = 0;
    for (int k = 0; k < CALLS; k++) {
      fails += same(&c, &ref, &o[k], "concurrent call");
      release(&o[k]);
    }
    release(&ref);
    t_case_free(&c);
    cr_assert(fails == 0, "%s", t_op_name((t_op)op));
  }
}
