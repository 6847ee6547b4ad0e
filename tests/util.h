// SPDX-License-Identifier: MIT
/*
 * util.h - shared test helpers: a deterministic PRNG, test-case generation (shapes, boxes,
 * masks, options, inputs), calling the library for a case, canary buffers and float
 * comparisons (ULP / tolerance). Used by every tests/test_*.c file.
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#ifndef SL_TEST_UTIL_H
#define SL_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"
#include "sectionloss.h"

/* ---- deterministic PRNG (splitmix64) ------------------------------------------------------ */
typedef struct t_rng {
  uint64_t s;
} t_rng;

t_rng t_rng_seed(uint64_t seed);
uint64_t t_rng_u64(t_rng *r);
double t_rng_unit(t_rng *r);                     /* [0, 1) */
float t_rng_range(t_rng *r, float lo, float hi); /* [lo, hi) */
int64_t t_rng_int(t_rng *r, int64_t lo, int64_t hi_excl);

/* ---- a test case ------------------------------------------------------------------------ */
/* t_op, t_op_labels, t_op_name: tests/ops.h (the library's registry). The case generator and
 * tests/ref.c take every op but T_DICE and T_DICE_MC (tests/dice_ref.c, tests/test_dice.c). */

typedef enum t_box {
  TB_NONE,       /* num_boxes 0 */
  TB_FULL,       /* one box, the whole image */
  TB_EMPTY,      /* one empty box (x1 == x2) */
  TB_EMPTY_ROWS, /* one empty box (y1 == y2) */
  TB_PIXEL,      /* one 1x1 box */
  TB_LEFT,       /* touching the left edge */
  TB_RIGHT,      /* touching the right edge */
  TB_TOP,        /* touching the top edge */
  TB_BOTTOM,     /* touching the bottom edge */
  TB_INTERIOR,   /* random box */
  TB_PER_SAMPLE, /* N random boxes (some may be empty) */
  TB_MANY,       /* box_offsets: 0..5 boxes per sample (overlapping, duplicated, empty, full;
                    sample 1 has none) */
  TB_COUNT_
} t_box;

typedef enum t_mask {
  TM_NONE,
  TM_EMPTY,       /* all bytes 0 */
  TM_FULL,        /* all bytes nonzero (various values) */
  TM_RANDOM,      /* about 60% nonzero */
  TM_CHECKER,     /* (x + y) odd */
  TM_PER_CHANNEL, /* mask_channels = C, random (BCE only) */
  TM_COUNT_
} t_mask;

/* What to generate. Zero-initialise, then set fields; t_spec_default gives sane values. */
typedef struct t_spec {
  t_op op;
  sl_shape shape;
  uint64_t seed;
  t_box box;
  t_mask mask;
  int null_region; /* pass region = NULL (whole tensor; box and mask must be NONE) */
  sl_reduction reduction;
  int weight;     /* BCE: per-element weights; CE: per-class weights */
  int pos_weight; /* BCE with logits: per-channel pos_weight */
  sl_label_type label_type;
  int ignore;           /* CE: some labels equal ignore_index */
  int64_t ignore_index; /* used when ignore (else the default -100) */
  float smoothing;      /* CE */
  float grad_scale;     /* MEAN / SUM */
  float scale;          /* logits are drawn in [-scale, scale] (0 = default) */
  int pixel_weight;     /* CE, softmax focal: a random N x H x W pixel weight map */
  float focal_gamma;    /* focal losses: gamma (t_spec_default: 2) */
  float focal_alpha;    /* sigmoid focal: alpha (t_spec_default: 0.25) */
} t_spec;

t_spec t_spec_default(t_op op, sl_shape shape, uint64_t seed);

/* A generated case: owns its buffers. tc-like view for ref.c and t_call. */
typedef struct t_case {
  t_op op;
  sl_shape shape;
  float *x, *target; /* target NULL for CE */
  void *labels;      /* CE only */
  sl_label_type label_type;
  sl_region region;
  int use_region; /* 0: region pointer NULL */
  sl_box *boxes;
  int64_t *box_offsets; /* TB_MANY */
  uint8_t *mask;
  float *weight, *pos_weight, *grad_map;
  sl_options opt;      /* reduction, weight, pos_weight, ignore_index, smoothing, grad_scale,
                          grad_map; stats and num_threads are set per call */
  float *pixel_weight; /* CE, softmax focal: N x H x W or NULL (also in opt) */
} t_case;

void t_case_make(t_case *c, const t_spec *s);
void t_case_free(t_case *c);
int64_t t_elems(const sl_shape *s);   /* N*C*H*W */
int64_t t_map_elems(const t_case *c); /* NONE loss map: BCE N*C*H*W, CE N*H*W */
int64_t t_label_at(const t_case *c, int64_t i);
void t_label_set(t_case *c, int64_t i, int64_t v);
size_t t_label_size(sl_label_type t);
const char *t_reduction_name(sl_reduction r);
/* A short description of a spec for failure messages (static buffer per call site not
 * needed: writes into buf). */
const char *t_spec_str(const t_spec *s, char *buf, size_t len);

/* 1 when pixel (n, y, x) is inside c's boxes (the union of sample n's, with box_offsets; always
 * without boxes or region); 1 when it is inside box k of c->region.boxes (box_in). */
int t_in_boxes(const t_case *c, int64_t n, int64_t y, int64_t x);
int t_box_in(const sl_box *b, int64_t y, int64_t x);
/* The sample box k of c belongs to (every sample: -1, the one box of num_boxes == 1). */
int64_t t_box_sample(const t_case *c, int64_t k);

/* Calls the library entry point of c with the given options and outputs. */
sl_status t_call(const t_case *c, const sl_options *opt, float *loss, float *grad);

/* ---- buffers and comparisons ------------------------------------------------------------ */
#define T_CANARY_BYTE 0xA7
void *t_alloc(size_t bytes); /* malloc that aborts on failure */
void t_canary(void *p, size_t bytes);
int t_is_canary(const void *p, size_t bytes);
/* Index of the first float pair that differs bitwise, or -1. */
int64_t t_first_diff(const float *a, const float *b, int64_t n);
/* Units in the last place of float v (spacing at |v|). */
double t_ulpf(float v);
/* got (float) vs want (double): NaN matches NaN, inf matches the same inf, otherwise
 * |got - want| <= tol. */
int t_close(float got, double want, double tol);
/* Library vs the double reference: the tolerance for a value want of natural magnitude nat
 * (see the comment in util.c). */
double t_tol(double want, double nat);

#endif /* SL_TEST_UTIL_H */

/* The shape list of the test matrix. */
extern const sl_shape t_shapes[];
extern const int t_num_shapes;

/* ---- the main check: library vs ref.c for one case ------------------------------------- */
/* Runs c fused (loss + grad + stats), loss only (+ stats), grad only, stats only and grad +
 * stats; compares every result with the double reference (t_tol), exact zeros outside the
 * section, stats (count exact, normaliser to 1e-12, loss_sum t_tol). On an expected SL_ERR_LABEL
 * checks that nothing was written; on SL_ERR_DOMAIN that the scalar loss and stats were not.
 * Reports failures with cr_expect (desc names the case) and returns the number of failed checks. */
int t_check_case(const t_case *c, const char *desc);
/* t_case_make + t_check_case + t_case_free. */
int t_check_spec(const t_spec *s);

/* Parts of the test matrix shared by the three entry points (each returns the failure count;
 * failures are reported by t_check_case). */
int t_matrix_shapes(t_op op, uint64_t seed); /* every shape x reduction x region variant */
int t_matrix_boxes(t_op op, uint64_t seed);  /* every box kind x mask x shape x reduction */
int t_matrix_masks(t_op op, uint64_t seed);  /* every mask kind x shape x reduction */
