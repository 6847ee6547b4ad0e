// SPDX-License-Identifier: MIT
/*
 * test_status.c - every sl_status code: how to get it, and what it leaves behind.
 *   - sl_status_string: a distinct, non-empty message for each code, and for unknown values;
 *   - each argument error (and SL_ERR_LABEL) leaves loss, grad and stats untouched (canaries);
 *   - SL_ERR_DOMAIN leaves the scalar loss and stats untouched;
 *   - overflowing shapes, aliasing outputs, unavailable ISAs.
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sectionloss.h"
#include "util.h"

Test(status, strings_distinct_and_nonempty) {
  const char *msg[SL_STATUS_COUNT_ + 1];
  for (int i = 0; i < SL_STATUS_COUNT_; i++) {
    msg[i] = sl_status_string((sl_status)i);
    cr_assert(msg[i] != NULL && msg[i][0] != '\0', "status %d has no message", i);
  }
  msg[SL_STATUS_COUNT_] = sl_status_string(SL_STATUS_COUNT_);
  for (int i = 0; i <= SL_STATUS_COUNT_; i++)
    for (int j = 0; j < i; j++)
      cr_expect(strcmp(msg[i], msg[j]) != 0, "statuses %d and %d share the message \"%s\"", i, j,
                msg[i]);
  const int unknown[] = {-1, SL_STATUS_COUNT_, SL_STATUS_COUNT_ + 1, 1000, INT32_MAX, INT32_MIN};
  for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++) {
    const char *m = sl_status_string((sl_status)unknown[k]);
    cr_assert(m != NULL && m[0] != '\0', "unknown status %d: empty message", unknown[k]);
    for (int i = 0; i < SL_STATUS_COUNT_; i++)
      cr_expect(strcmp(m, msg[i]) != 0, "unknown status %d has the message of status %d",
                unknown[k], i);
  }
  cr_expect(SL_OK == 0);
}

/* ---- a small valid setup, mutated into one error at a time -------------------------------- */
enum { N = 2, C = 3, H = 4, W = 5, E = N * C * H * W, P = N * H * W };

typedef struct setup {
  sl_shape shape;
  float x[E], t[E], wgt[E], cw[C], pw[C], gmap[E];
  int64_t lab[P];
  uint8_t mask[N * C * H * W];
  sl_box boxes[N];
  sl_region region;
  sl_options opt;
  /* outputs, filled with canaries */
  float loss[E], grad[E];
  sl_stats stats;
} setup;

static void setup_init(setup *s) {
  memset(s, 0, sizeof *s);
  sl_shape sh = {N, C, H, W};
  s->shape = sh;
  t_rng r = t_rng_seed(77);
  for (int i = 0; i < E; i++) {
    s->x[i] = t_rng_range(&r, 0.05f, 0.95f);
    s->t[i] = (float)(i % 2);
    s->wgt[i] = 1.0f;
    s->gmap[i] = 1.0f;
    s->mask[i] = (uint8_t)(i % 3 != 0);
  }
  for (int i = 0; i < P; i++)
    s->lab[i] = i % C;
  for (int k = 0; k < C; k++)
    s->cw[k] = s->pw[k] = 1.0f;
  for (int n = 0; n < N; n++) {
    sl_box b = {1, 1, 4, 3};
    s->boxes[n] = b;
  }
  s->region = sl_region_default();
  s->region.boxes = s->boxes;
  s->region.num_boxes = N;
  s->region.mask = s->mask;
  s->region.mask_channels = 1;
  s->opt = sl_options_default();
  s->opt.stats = &s->stats;
  t_canary(s->loss, sizeof s->loss);
  t_canary(s->grad, sizeof s->grad);
  t_canary(&s->stats, sizeof s->stats);
}

typedef enum which { BCE, LOGITS, CE } which;

static sl_status call(setup *s, which op, const sl_shape *shape, const float *x, const void *y,
                      sl_label_type lt, const sl_region *reg, float *loss, float *grad) {
  switch (op) {
  case BCE:
    return sl_bce(shape, x, y, reg, &s->opt, loss, grad);
  case LOGITS:
    return sl_bce_logits(shape, x, y, reg, &s->opt, loss, grad);
  default:
    return sl_ce(shape, x, y, lt, reg, &s->opt, loss, grad);
  }
}

/* The standard call of op on setup s. */
static sl_status call_std(setup *s, which op) {
  return call(s, op, &s->shape, s->x, op == CE ? (const void *)s->lab : (const void *)s->t,
              SL_LABEL_I64, &s->region, s->loss, s->grad);
}

static int untouched(const setup *s) {
  return t_is_canary(s->loss, sizeof s->loss) && t_is_canary(s->grad, sizeof s->grad) &&
         t_is_canary(&s->stats, sizeof s->stats);
}

#define EXPECT_STATUS(expr, want, what)                                                            \
  do {                                                                                             \
    sl_status got_ = (expr);                                                                       \
    cr_expect(got_ == (want), "%s: %s: status %d (%s), want %d (%s)", opname[op], what, (int)got_, \
              sl_status_string(got_), (int)(want), sl_status_string(want));                        \
    if ((want) != SL_OK && (want) != SL_ERR_DOMAIN)                                                \
      cr_expect(untouched(&s), "%s: %s: an output was written on error", opname[op], what);        \
  } while (0)

static const char *const opname[] = {"sl_bce", "sl_bce_logits", "sl_ce"};

Test(status, ok) {
  for (int op = 0; op < 3; op++) {
    setup s;
    setup_init(&s);
    EXPECT_STATUS(call_std(&s, (which)op), SL_OK, "valid call");
    cr_expect(!t_is_canary(s.loss, sizeof(float)) && !t_is_canary(&s.stats, sizeof s.stats));
  }
}

Test(status, null_pointer) {
  for (int op = 0; op < 3; op++) {
    setup s;
    setup_init(&s);
    const void *y = op == CE ? (const void *)s.lab : (const void *)s.t;
    EXPECT_STATUS(call(&s, op, NULL, s.x, y, SL_LABEL_I64, &s.region, s.loss, s.grad),
                  SL_ERR_NULL_POINTER, "shape NULL");
    EXPECT_STATUS(call(&s, op, &s.shape, NULL, y, SL_LABEL_I64, &s.region, s.loss, s.grad),
                  SL_ERR_NULL_POINTER, "x NULL");
    EXPECT_STATUS(call(&s, op, &s.shape, s.x, NULL, SL_LABEL_I64, &s.region, s.loss, s.grad),
                  SL_ERR_NULL_POINTER, "target / labels NULL");
    s.region.boxes = NULL;
    EXPECT_STATUS(call_std(&s, op), SL_ERR_NULL_POINTER, "boxes NULL with num_boxes N");
    s.region.num_boxes = 1;
    EXPECT_STATUS(call_std(&s, op), SL_ERR_NULL_POINTER, "boxes NULL with num_boxes 1");
    s.region.num_boxes = 0; /* boxes may be NULL with num_boxes 0 */
    EXPECT_STATUS(call_std(&s, op), SL_OK, "boxes NULL with num_boxes 0");
  }
}

Test(status, shape) {
  static const int64_t bad[] = {0, -1, INT64_MIN};
  for (int op = 0; op < 3; op++)
    for (int d = 0; d < 4; d++)
      for (int k = 0; k < 3; k++) {
        setup s;
        setup_init(&s);
        sl_shape sh = s.shape;
        int64_t *dim[] = {&sh.n, &sh.c, &sh.h, &sh.w};
        *dim[d] = bad[k];
        char what[64];
        snprintf(what, sizeof what, "dimension %d = %lld", d, (long long)bad[k]);
        EXPECT_STATUS(call(&s, op, &sh, s.x, op == CE ? (void *)s.lab : (void *)s.t, SL_LABEL_I64,
                           NULL, s.loss, s.grad),
                      SL_ERR_SHAPE, what);
      }
}

Test(status, overflow) {
  const int64_t big = (int64_t)1 << 20;
  const sl_shape shapes[] = {
      {big, big, big, big},                       /* 2^80 elements */
      {(int64_t)1 << 31, 1, 1 << 30, 1},          /* 2^61 elements: 2^63 bytes */
      {1, 1, (int64_t)INT32_MAX + 1, 1},          /* H beyond int32 */
      {1, 1, 1, (int64_t)INT32_MAX + 1},          /* W beyond int32 */
      {INT64_MAX, 2, 1, 1},                       /* N * C overflows */
      {1, 1, (int64_t)1 << 31, (int64_t)1 << 30}, /* H * W fits int64, H does not fit int32 */
      {(int64_t)1 << 62, 1, 1, 1},                /* elements fit, bytes do not */
  };
  for (int op = 0; op < 3; op++)
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
      setup s;
      setup_init(&s);
      char what[96];
      snprintf(what, sizeof what, "shape %lldx%lldx%lldx%lld", (long long)shapes[k].n,
               (long long)shapes[k].c, (long long)shapes[k].h, (long long)shapes[k].w);
      /* only validation may look at the buffers: it must fail before touching any */
      EXPECT_STATUS(call(&s, op, &shapes[k], s.x, op == CE ? (void *)s.lab : (void *)s.t,
                         SL_LABEL_I64, NULL, s.loss, s.grad),
                    SL_ERR_OVERFLOW, what);
    }
}

Test(status, num_boxes) {
  static const int64_t bad[] = {2 + N, -1, N + 1, 1000};
  for (int op = 0; op < 3; op++)
    for (int k = 0; k < 4; k++) {
      setup s;
      setup_init(&s);
      s.region.num_boxes = bad[k];
      char what[48];
      snprintf(what, sizeof what, "num_boxes %lld", (long long)bad[k]);
      EXPECT_STATUS(call_std(&s, op), SL_ERR_NUM_BOXES, what);
    }
}

Test(status, box) {
  static const sl_box bad[] = {{3, 1, 2, 3},         {1, 3, 4, 2},         {-1, 0, 2, 2},
                               {0, -1, 2, 2},        {0, 0, W + 1, 2},     {0, 0, 2, H + 1},
                               {W + 1, 0, W + 1, 1}, {0, H + 1, 1, H + 1}, {INT32_MIN, 0, 0, 1}};
  for (int op = 0; op < 3; op++)
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
      for (int sample = 0; sample < N; sample++) {
        setup s;
        setup_init(&s);
        s.boxes[sample] = bad[k];
        char what[80];
        snprintf(what, sizeof what, "box %zu {%d,%d,%d,%d} of sample %d", k, bad[k].x1, bad[k].y1,
                 bad[k].x2, bad[k].y2, sample);
        EXPECT_STATUS(call_std(&s, op), SL_ERR_BOX, what);
      }
  /* edges are valid: the full image and empty boxes on the far edges */
  for (int op = 0; op < 3; op++) {
    setup s;
    setup_init(&s);
    sl_box full = {0, 0, W, H}, e1 = {W, H, W, H};
    s.boxes[0] = full;
    s.boxes[1] = e1;
    EXPECT_STATUS(call_std(&s, op), SL_OK, "full box and empty box at (W, H)");
  }
}

Test(status, mask_channels) {
  for (int op = 0; op < 3; op++) {
    const int64_t bad[] = {0, -1, 2, C + 1, op == CE ? C : 0};
    for (int k = 0; k < 5; k++) {
      setup s;
      setup_init(&s);
      s.region.mask_channels = bad[k];
      char what[48];
      snprintf(what, sizeof what, "mask_channels %lld", (long long)bad[k]);
      EXPECT_STATUS(call_std(&s, op), SL_ERR_MASK_CHANNELS, what);
    }
    setup s;
    setup_init(&s);
    s.region.mask_channels = C;
    EXPECT_STATUS(call_std(&s, op), op == CE ? SL_ERR_MASK_CHANNELS : SL_OK, "mask_channels C");
    setup_init(&s);
    s.region.mask = NULL;
    s.region.mask_channels = 12345; /* ignored without a mask */
    EXPECT_STATUS(call_std(&s, op), SL_OK, "mask_channels ignored when mask is NULL");
  }
}

Test(status, reduction) {
  static const int bad[] = {3, -1, 100};
  for (int op = 0; op < 3; op++)
    for (int k = 0; k < 3; k++) {
      setup s;
      setup_init(&s);
      s.opt.reduction = (sl_reduction)bad[k];
      EXPECT_STATUS(call_std(&s, op), SL_ERR_REDUCTION, "reduction out of range");
    }
}

Test(status, label_type) {
  static const int bad[] = {3, -1, 99};
  int op = CE;
  for (int k = 0; k < 3; k++) {
    setup s;
    setup_init(&s);
    EXPECT_STATUS(
        call(&s, CE, &s.shape, s.x, s.lab, (sl_label_type)bad[k], &s.region, s.loss, s.grad),
        SL_ERR_LABEL_TYPE, "label_type out of range");
  }
}

Test(status, option) {
  for (int op = 0; op < 3; op++) {
    setup s;
    const float bad_scale[] = {INFINITY, -INFINITY, NAN};
    for (int k = 0; k < 3; k++) {
      setup_init(&s);
      s.opt.grad_scale = bad_scale[k];
      EXPECT_STATUS(call_std(&s, op), SL_ERR_OPTION, "grad_scale not finite");
    }
    setup_init(&s);
    s.opt.num_threads = -1;
    EXPECT_STATUS(call_std(&s, op), SL_ERR_OPTION, "num_threads -1");
    const float bad_ls[] = {-0.1f, 1.0001f, NAN, INFINITY, -0.0f};
    for (int k = 0; k < 5; k++) {
      setup_init(&s);
      s.opt.label_smoothing = bad_ls[k];
      /* -0.0 == 0: valid everywhere; anything nonzero is invalid for BCE */
      sl_status want = k == 4 ? SL_OK : SL_ERR_OPTION;
      EXPECT_STATUS(call_std(&s, op), want, "label_smoothing");
    }
    setup_init(&s);
    s.opt.label_smoothing = 0.5f;
    EXPECT_STATUS(call_std(&s, op), op == CE ? SL_OK : SL_ERR_OPTION, "label_smoothing 0.5");
    setup_init(&s);
    s.opt.label_smoothing = 1.0f;
    EXPECT_STATUS(call_std(&s, op), op == CE ? SL_OK : SL_ERR_OPTION, "label_smoothing 1");
    setup_init(&s);
    s.opt.pos_weight = s.pw;
    EXPECT_STATUS(call_std(&s, op), op == LOGITS ? SL_OK : SL_ERR_OPTION, "pos_weight");
  }
}

Test(status, grad_map) {
  for (int op = 0; op < 3; op++) {
    setup s;
    setup_init(&s);
    s.opt.reduction = SL_REDUCTION_NONE;
    EXPECT_STATUS(call_std(&s, op), SL_ERR_GRAD_MAP, "NONE with grad, no grad_map");
    for (int red = 0; red < 2; red++) {
      setup_init(&s);
      s.opt.reduction = (sl_reduction)red;
      s.opt.grad_map = s.gmap;
      EXPECT_STATUS(call_std(&s, op), SL_ERR_GRAD_MAP, "grad_map with MEAN / SUM");
    }
    setup_init(&s);
    s.opt.reduction = SL_REDUCTION_NONE;
    EXPECT_STATUS(call(&s, op, &s.shape, s.x, op == CE ? (void *)s.lab : (void *)s.t, SL_LABEL_I64,
                       &s.region, s.loss, NULL),
                  SL_OK, "NONE, loss only, no grad_map");
  }
}

Test(status, no_output) {
  for (int op = 0; op < 3; op++) {
    setup s;
    setup_init(&s);
    s.opt.stats = NULL;
    EXPECT_STATUS(call(&s, op, &s.shape, s.x, op == CE ? (void *)s.lab : (void *)s.t, SL_LABEL_I64,
                       &s.region, NULL, NULL),
                  SL_ERR_NO_OUTPUT, "no output");
    EXPECT_STATUS(call(&s, op, &s.shape, s.x, op == CE ? (void *)s.lab : (void *)s.t, SL_LABEL_I64,
                       &s.region, NULL, NULL),
                  SL_ERR_NO_OUTPUT, "no output");
    s.opt.stats = &s.stats;
    EXPECT_STATUS(call(&s, op, &s.shape, s.x, op == CE ? (void *)s.lab : (void *)s.t, SL_LABEL_I64,
                       &s.region, NULL, NULL),
                  SL_OK, "stats only");
  }
}

/* Outputs overlapping inputs or each other. The inputs are copied into one big buffer so
 * that partial overlaps can be made without touching memory outside an allocation. */
Test(status, alias) {
  for (int op = 0; op < 3; op++) {
    for (int red = 0; red < 3; red += 2) { /* MEAN (scalar loss) and NONE (loss map) */
      const int none = red == SL_REDUCTION_NONE;
      const int64_t map = op == CE ? P : E;
      /* layout: x | target | weight | grad_map | labels | mask | out1 | out2 */
      float *buf = calloc(8 * E + 64, sizeof(float));
      cr_assert(buf);
      float *x = buf, *t = buf + E, *w = buf + 2 * E, *gm = buf + 3 * E;
      int64_t *lab = (int64_t *)(buf + 4 * E); /* 2P floats = P int64 <= E */
      uint8_t *mask = (uint8_t *)(buf + 5 * E);
      float *o1 = buf + 6 * E, *o2 = buf + 7 * E;
      for (int i = 0; i < E; i++) {
        x[i] = 0.5f;
        t[i] = 1.0f;
        w[i] = 1.0f;
        gm[i] = 1.0f;
        mask[i] = 1;
      }
      for (int i = 0; i < P; i++)
        lab[i] = i % C;
      sl_shape sh = {N, C, H, W};
      sl_region reg = {sizeof(sl_region), NULL, 0, mask, 1, NULL};
      sl_options o = sl_options_default();
      o.reduction = (sl_reduction)red;
      o.weight = w; /* CE reads C floats of it, BCE all E */
      o.grad_map = none ? gm : NULL;
      const void *y = op == CE ? (const void *)lab : (const void *)t;
      struct {
        float *loss, *grad;
        sl_stats *stats;
        const char *what;
      } cases[] = {
          /* grad == x is the in-place gradient of the losses on logits (test_inplace.c) */
          {o1, op == BCE ? x : x + 1, NULL, op == BCE ? "grad == x" : "grad == x + 1"},
          {o1, x + 3, NULL, "grad overlaps x partially"},
          {o1, w + 1, NULL, "grad overlaps weight"},
          {o1, o1 + (none ? map - 1 : 0), NULL, "grad overlaps the loss"},
          {x + E - 1, o2, NULL, "loss overlaps the end of x"},
          {(float *)mask + 1, o2, NULL, "loss inside the mask"},
          {o1, o2, (sl_stats *)(x + 2), "stats inside x"},
          {o1, o2, (sl_stats *)(o2 + 5), "stats inside grad"},
          {o1, o2, (sl_stats *)(o1 - 1), "stats overlaps the loss"},
          {op == CE ? (float *)lab + 1 : (float *)t + 1, o2, NULL, "loss inside labels/target"},
          {o1, none ? gm + 2 : (float *)mask, NULL,
           none ? "grad inside grad_map" : "grad over mask"},
          {none ? gm : o1, o2, NULL, none ? "loss map == grad_map" : "(control)"},
      };
      const int nc = sizeof cases / sizeof cases[0];
      for (int k = 0; k < nc; k++) {
        int control = !none && k == nc - 1;
        sl_status s;
        o.stats = cases[k].stats;
        if (op == BCE)
          s = sl_bce(&sh, x, y, &reg, &o, cases[k].loss, cases[k].grad);
        else if (op == LOGITS)
          s = sl_bce_logits(&sh, x, y, &reg, &o, cases[k].loss, cases[k].grad);
        else
          s = sl_ce(&sh, x, y, SL_LABEL_I64, &reg, &o, cases[k].loss, cases[k].grad);
        sl_status want = control ? SL_OK : SL_ERR_ALIAS;
        cr_expect(s == want, "%s red=%d: %s: status %d (%s), want %s", opname[op], red,
                  cases[k].what, s, sl_status_string(s), sl_status_string(want));
        /* an aliased call must not have written anything: the inputs are intact */
        if (!control)
          for (int i = 0; i < E; i++)
            if (x[i] != 0.5f || t[i] != 1.0f || w[i] != 1.0f || gm[i] != 1.0f || mask[i] != 1) {
              cr_expect(0, "%s: %s: an input was written", opname[op], cases[k].what);
              break;
            }
      }
      /* adjacent, not overlapping: fine */
      o.stats = NULL;
      sl_status s2;
      if (op == BCE)
        s2 = sl_bce(&sh, x, y, &reg, &o, o1, none ? o1 + map : o2);
      else if (op == LOGITS)
        s2 = sl_bce_logits(&sh, x, y, &reg, &o, o1, none ? o1 + map : o2);
      else
        s2 = sl_ce(&sh, x, y, SL_LABEL_I64, &reg, &o, o1, none ? o1 + map : o2);
      cr_expect(s2 == SL_OK, "%s red=%d: adjacent buffers: status %d", opname[op], red, s2);
      free(buf);
    }
  }
}

/* SL_ERR_DOMAIN: the scalar loss and stats stay untouched (grad is unspecified). */
Test(status, domain_leaves_loss_and_stats) {
  int op = BCE;
  const float bad[] = {NAN, 2.0f, -0.5f};
  for (int k = 0; k < 3; k++)
    for (int which_in = 0; which_in < 2; which_in++) {
      setup s;
      setup_init(&s);
      s.region.num_boxes = 0;
      s.region.mask = NULL;
      (which_in ? s.t : s.x)[E - 1] = bad[k];
      EXPECT_STATUS(call_std(&s, op), SL_ERR_DOMAIN, "bad probability / target");
      cr_expect(t_is_canary(s.loss, sizeof(float)) && t_is_canary(&s.stats, sizeof s.stats),
                "SL_ERR_DOMAIN wrote the loss or the stats");
      /* the same value outside the section: fine */
      setup_init(&s);
      (which_in ? s.t : s.x)[E - 1] = bad[k]; /* (1, 2, 3, 4): outside box {1,1,4,3} */
      EXPECT_STATUS(call_std(&s, op), SL_OK, "bad value outside the section");
    }
  /* sl_bce_logits does not check its domain */
  op = LOGITS;
  setup s;
  setup_init(&s);
  s.t[3] = 7.0f;
  s.region.num_boxes = 0;
  EXPECT_STATUS(call_std(&s, op), SL_OK, "logits: any target");
}

/* SL_ERR_LABEL: nothing written at all. */
Test(status, label) {
  int op = CE;
  const int64_t bad[] = {-1, C, 1000, -100 - 1};
  for (int k = 0; k < 4; k++) {
    setup s;
    setup_init(&s);
    s.region.num_boxes = 0;
    s.region.mask = NULL;
    s.lab[P - 1] = bad[k];
    EXPECT_STATUS(call_std(&s, op), SL_ERR_LABEL, "bad label");
    for (int red = 1; red < 3; red++) {
      setup_init(&s);
      s.region.num_boxes = 0;
      s.region.mask = NULL;
      s.opt.reduction = (sl_reduction)red;
      s.opt.grad_map = red == 2 ? s.gmap : NULL;
      s.lab[0] = bad[k];
      EXPECT_STATUS(call_std(&s, op), SL_ERR_LABEL, "bad label (sum / none)");
    }
  }
  setup s;
  setup_init(&s);
  s.lab[0] = -100; /* the default ignore_index */
  EXPECT_STATUS(call_std(&s, op), SL_OK, "ignore_index");
}

Test(status, isa_unavailable) {
  sl_isa start = sl_isa_active();
  int unavailable = 0;
  for (int i = 0; i < SL_ISA_COUNT_; i++)
    if (!sl_isa_available((sl_isa)i)) {
      cr_expect(sl_isa_set((sl_isa)i) == SL_ERR_ISA_UNAVAILABLE, "%s", sl_isa_name((sl_isa)i));
      unavailable++;
    }
  cr_expect(sl_isa_set(SL_ISA_COUNT_) == SL_ERR_ISA_UNAVAILABLE);
  cr_expect(sl_isa_set((sl_isa)-1) == SL_ERR_ISA_UNAVAILABLE);
  cr_expect(sl_isa_active() == start, "a failed sl_isa_set changed the ISA");
  sl_isa_set(start);
#if !defined(SL_NEON_SIMDE)
  cr_expect(unavailable >= 1, "every ISA available? (avx2 and neon exclude each other)");
#endif
}
