// SPDX-License-Identifier: MIT
/*
 * test_boxes.c - many boxes per image (sl_region.box_offsets) and per-box statistics
 * (sl_options.box_stats), for every element-wise and per-pixel entry point:
 *   - the matrix with TB_MANY (0..5 overlapping boxes per sample, one sample without any)
 *     against the reference, box_stats included (util.c t_check_case checks box_stats whenever
 *     the case has boxes);
 *   - box_offsets with one box per sample gives bitwise the num_boxes == N form, and a box given
 *     twice selects its pixels once (the section is the union) while each copy's statistics
 *     count them;
 *   - num_boxes == 1: box_stats[0] is the whole call's stats;
 *   - box_stats bitwise identical for every thread count;
 *   - the validation of box_offsets and box_stats (status, nothing written).
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sectionloss.h"
#include "util.h"

static const t_op ops[] = {T_BCE_PROB,      T_BCE_LOGITS,    T_CE,
                           T_SOFTMAX_FOCAL, T_SIGMOID_FOCAL, T_CE_PROB};
enum { NOPS = sizeof ops / sizeof ops[0] };

/* Many-box cases over random shapes, masks, reductions and options. */
Test(boxes, many_boxes_matrix) {
  int fails = 0;
  for (int o = 0; o < NOPS; o++)
    for (uint64_t seed = 0; seed < 24; seed++) {
      sl_shape sh = {1 + (int64_t)(seed % 4), 1 + (int64_t)(seed % 3), 3 + (int64_t)(seed % 11),
                     1 + (int64_t)((seed * 7) % 41)};
      t_spec s = t_spec_default(ops[o], sh, 7000 + seed);
      s.box = TB_MANY;
      s.mask = (t_mask)(seed % 5); /* none, empty, full, random, checker */
      s.reduction = (sl_reduction)(seed % 3);
      s.weight = (int)(seed % 2);
      s.ignore = t_op_labels(ops[o]) && seed % 3 == 1;
      fails += t_check_spec(&s);
    }
  cr_assert(fails == 0);
}

/* Outputs of one call: loss map or value, gradient, stats, box_stats. */
typedef struct outs {
  sl_status st;
  float *loss, *grad;
  sl_stats stats, *box;
  int64_t nloss, ngrad, nbox;
} outs;

static void call(const t_case *c, int threads, int with_box_stats, outs *o) {
  o->nloss = c->opt.reduction == SL_REDUCTION_NONE ? t_map_elems(c) : 1;
  o->ngrad = t_elems(&c->shape);
  o->nbox = c->region.num_boxes;
  o->loss = t_alloc((size_t)o->nloss * sizeof(float));
  o->grad = t_alloc((size_t)o->ngrad * sizeof(float));
  o->box = t_alloc((size_t)(o->nbox + 1) * sizeof(sl_stats));
  sl_options opt = c->opt;
  opt.num_threads = threads;
  opt.stats = &o->stats;
  opt.box_stats = with_box_stats && o->nbox > 0 ? o->box : NULL;
  o->st = t_call(c, &opt, o->loss, o->grad);
}

static void outs_free(outs *o) {
  free(o->loss);
  free(o->grad);
  free(o->box);
}

/* 1 when a and b hold bitwise the same loss, gradient and stats (and box_stats if boxes). */
static int same(const outs *a, const outs *b, int boxes) {
  return a->st == b->st && t_first_diff(a->loss, b->loss, a->nloss) < 0 &&
         t_first_diff(a->grad, b->grad, a->ngrad) < 0 &&
         memcmp(&a->stats, &b->stats, sizeof a->stats) == 0 &&
         (!boxes || memcmp(a->box, b->box, (size_t)a->nbox * sizeof(sl_stats)) == 0);
}

/* box_offsets {0, 1, .., N} over N boxes is the num_boxes == N form, bit for bit. */
Test(boxes, offsets_one_per_sample_is_the_per_sample_form) {
  for (int o = 0; o < NOPS; o++)
    for (int red = 0; red < 3; red++) {
      sl_shape sh = {5, 3, 9, 37};
      t_spec s = t_spec_default(ops[o], sh, 100 + (uint64_t)red);
      s.box = TB_PER_SAMPLE;
      s.mask = TM_RANDOM;
      s.reduction = (sl_reduction)red;
      t_case c;
      t_case_make(&c, &s);
      outs a, b;
      call(&c, 1, 1, &a);
      int64_t off[6] = {0, 1, 2, 3, 4, 5};
      c.region.box_offsets = off;
      call(&c, 1, 1, &b);
      cr_expect(a.st == SL_OK && same(&a, &b, 1), "%s red=%d: box_offsets differ from the N form",
                t_op_name(ops[o]), red);
      c.region.box_offsets = NULL;
      outs_free(&a);
      outs_free(&b);
      t_case_free(&c);
    }
}

/* A box given twice: its pixels are selected once (the loss is the one-box loss), and each copy's
 * statistics count them (both equal the one box's). */
Test(boxes, duplicate_box_counts_once_in_the_loss_and_in_each_box) {
  for (int o = 0; o < NOPS; o++) {
    sl_shape sh = {2, 2, 11, 29};
    t_spec s = t_spec_default(ops[o], sh, 300);
    s.box = TB_PER_SAMPLE;
    s.mask = TM_CHECKER;
    t_case c;
    t_case_make(&c, &s);
    sl_box one[2] = {{3, 2, 20, 9}, {0, 4, 29, 5}};
    memcpy(c.boxes, one, sizeof one);
    outs a, b;
    call(&c, 1, 1, &a);
    sl_box two[4] = {one[0], one[0], one[1], one[1]};
    int64_t off[3] = {0, 2, 4};
    sl_region keep = c.region;
    c.region.boxes = two;
    c.region.num_boxes = 4;
    c.region.box_offsets = off;
    call(&c, 1, 1, &b);
    cr_expect(b.st == SL_OK && a.loss[0] == b.loss[0] && a.stats.count == b.stats.count &&
                  t_first_diff(a.grad, b.grad, a.ngrad) < 0,
              "%s: a duplicated box changed the loss (%.9g vs %.9g) or the count",
              t_op_name(ops[o]), (double)a.loss[0], (double)b.loss[0]);
    for (int k = 0; k < 4; k++)
      cr_expect(memcmp(&b.box[k], &a.box[k / 2], sizeof(sl_stats)) == 0,
                "%s: box %d's stats differ from its single copy's", t_op_name(ops[o]), k);
    c.region = keep;
    outs_free(&a);
    outs_free(&b);
    t_case_free(&c);
  }
}

/* num_boxes == 1 (the box of every sample): box_stats[0] is the call's stats. */
Test(boxes, one_box_for_every_sample_is_the_whole_call) {
  for (int o = 0; o < NOPS; o++) {
    sl_shape sh = {4, 3, 8, 19};
    t_spec s = t_spec_default(ops[o], sh, 400);
    s.box = TB_INTERIOR;
    s.mask = TM_RANDOM;
    t_case c;
    t_case_make(&c, &s);
    outs a;
    call(&c, 2, 1, &a);
    cr_expect(a.st == SL_OK && memcmp(&a.box[0], &a.stats, sizeof(sl_stats)) == 0,
              "%s: box_stats[0] {%.17g, %.17g, %lld} is not stats {%.17g, %.17g, %lld}",
              t_op_name(ops[o]), a.box[0].loss_sum, a.box[0].normalizer, (long long)a.box[0].count,
              a.stats.loss_sum, a.stats.normalizer, (long long)a.stats.count);
    outs_free(&a);
    t_case_free(&c);
  }
}

/* Several chunks (samples of 3 x 64 x 67): box_stats, loss, gradient and stats bitwise the same
 * for 1, 2, 3 threads and the default. */
Test(boxes, box_stats_identical_for_every_thread_count) {
  static const int threads[] = {2, 3, 0};
  for (int o = 0; o < NOPS; o++)
    for (int red = 0; red < 3; red++) {
      sl_shape sh = {9, ops[o] == T_CE ? 5 : 3, 64, 67};
      t_spec s = t_spec_default(ops[o], sh, 500 + (uint64_t)red);
      s.box = TB_MANY;
      s.mask = TM_RANDOM;
      s.reduction = (sl_reduction)red;
      s.weight = 1;
      t_case c;
      t_case_make(&c, &s);
      outs a;
      call(&c, 1, 1, &a);
      cr_expect(a.st == SL_OK);
      for (int k = 0; k < 3; k++) {
        outs b;
        call(&c, threads[k], 1, &b);
        cr_expect(same(&a, &b, 1), "%s red=%d: %d threads differ from 1", t_op_name(ops[o]), red,
                  threads[k]);
        outs_free(&b);
      }
      outs_free(&a);
      t_case_free(&c);
    }
}

/* ---- validation --------------------------------------------------------------------------- */

enum { VN = 3, VC = 2, VH = 4, VW = 6, VE = VN * VC * VH * VW };

/* One BCE-with-logits call with the given region and box_stats; canaries must survive unless the
 * status is SL_OK. */
static sl_status try_region(const sl_region *reg, sl_stats *bs, int64_t nbs) {
  static float x[VE], t[VE], loss[VE], grad[VE];
  sl_shape sh = {VN, VC, VH, VW};
  sl_options opt = sl_options_default();
  opt.box_stats = bs;
  t_canary(loss, sizeof loss);
  t_canary(grad, sizeof grad);
  if (bs)
    t_canary(bs, (size_t)nbs * sizeof(sl_stats));
  sl_status st = sl_bce_logits(&sh, x, t, reg, &opt, loss, grad);
  if (st != SL_OK)
    cr_expect(t_is_canary(loss, sizeof loss) && t_is_canary(grad, sizeof grad) &&
                  (!bs || t_is_canary(bs, (size_t)nbs * sizeof(sl_stats))),
              "status %d (%s) but an output was written", st, sl_status_string(st));
  return st;
}

Test(boxes, validation) {
  sl_box b[4] = {{0, 0, 3, 3}, {1, 1, 6, 4}, {2, 0, 2, 4}, {0, 0, 6, 4}};
  sl_stats bs[5];
  sl_region r = {sizeof(sl_region), b, 4, NULL, 1, NULL};
  int64_t ok[VN + 1] = {0, 2, 2, 4};
  r.box_offsets = ok;
  cr_expect(try_region(&r, bs, 4) == SL_OK);
  cr_expect(bs[2].count == 0 && bs[2].loss_sum == 0.0, "an empty box has statistics");
  int64_t start1[VN + 1] = {1, 2, 2, 4}, decreasing[VN + 1] = {0, 3, 2, 4},
                      short_end[VN + 1] = {0, 2, 2, 3};
  r.box_offsets = start1;
  cr_expect(try_region(&r, bs, 4) == SL_ERR_BOX_OFFSETS);
  r.box_offsets = decreasing;
  cr_expect(try_region(&r, bs, 4) == SL_ERR_BOX_OFFSETS);
  r.box_offsets = short_end;
  cr_expect(try_region(&r, bs, 4) == SL_ERR_BOX_OFFSETS);
  /* with box_offsets, any box count (here 4 boxes for 3 samples) is valid; negative is not */
  r.box_offsets = ok;
  r.num_boxes = -1;
  cr_expect(try_region(&r, NULL, 0) == SL_ERR_NUM_BOXES);
  r.num_boxes = 4;
  sl_box bad = b[1];
  b[1].x2 = VW + 1; /* every box is validated, also one of a later sample */
  cr_expect(try_region(&r, bs, 4) == SL_ERR_BOX);
  b[1] = bad;
  r.boxes = NULL;
  cr_expect(try_region(&r, bs, 4) == SL_ERR_NULL_POINTER);
  r.boxes = b;
  /* zero boxes through box_offsets: nothing selected, and box_stats has no box to describe */
  int64_t none[VN + 1] = {0, 0, 0, 0};
  sl_region rn = {sizeof(sl_region), NULL, 0, NULL, 1, none};
  cr_expect(try_region(&rn, NULL, 0) == SL_OK);
  for (int o = 0; o < NOPS; o++) { /* selects nothing: loss 0, count 0, gradient 0 (a bug once) */
    sl_shape sh = {VN, 2, VH, VW};
    t_spec sp = t_spec_default(ops[o], sh, 600);
    t_case c;
    t_case_make(&c, &sp);
    c.region = rn;
    outs a;
    call(&c, 1, 0, &a);
    int zero = 1;
    for (int64_t i = 0; i < a.ngrad; i++)
      zero &= a.grad[i] == 0.0f;
    cr_expect(a.st == SL_OK && a.stats.count == 0 && a.loss[0] == 0.0f && zero,
              "%s: no boxes in any sample: count %lld, loss %g", t_op_name(ops[o]),
              (long long)a.stats.count, (double)a.loss[0]);
    outs_free(&a);
    t_case_free(&c);
  }
  cr_expect(try_region(&rn, bs, 1) == SL_ERR_BOX_STATS);
  cr_expect(try_region(NULL, bs, 1) == SL_ERR_BOX_STATS);
  /* box_stats overlapping another output or an input */
  static float x[VE], t[VE], grad[VE];
  sl_shape sh = {VN, VC, VH, VW};
  sl_options opt = sl_options_default();
  opt.box_stats = (sl_stats *)(void *)grad;
  cr_expect(sl_bce_logits(&sh, x, t, &r, &opt, NULL, grad) == SL_ERR_ALIAS);
  opt.box_stats = (sl_stats *)(void *)(x + 8);
  cr_expect(sl_bce_logits(&sh, x, t, &r, &opt, NULL, grad) == SL_ERR_ALIAS);
  opt.box_stats = (sl_stats *)(void *)b;
  cr_expect(sl_bce_logits(&sh, x, t, &r, &opt, NULL, NULL) == SL_ERR_ALIAS);
  /* box_stats alone is an output */
  opt.box_stats = bs;
  cr_expect(sl_bce_logits(&sh, x, t, &r, &opt, NULL, NULL) == SL_OK);
  /* messages */
  cr_expect(strstr(sl_status_string(SL_ERR_BOX_OFFSETS), "box_offsets") != NULL);
  cr_expect(strstr(sl_status_string(SL_ERR_BOX_STATS), "box_stats") != NULL);
}
