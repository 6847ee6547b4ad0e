// SPDX-License-Identifier: MIT
/*
 * driver.h - the validated description of one call (api.c fills it, driver.c runs it).
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#ifndef SL_DRIVER_H
#define SL_DRIVER_H

#include <stdint.h>

#include "sectionloss.h"

/* The losses, in the registry's order (src/losses.def). SL_OP_CE and SL_OP_SOFTMAX_FOCAL run per
 * pixel over C; SL_OP_BCE_PROB, SL_OP_BCE_LOGITS and SL_OP_SIGMOID_FOCAL element-wise;
 * SL_OP_DICE and SL_OP_DICE_MC (softmax over C, one-hot labels) sum per channel, then run a
 * gradient pass (dice.c). */
typedef enum sl_op {
#define SL_LOSS(OP, name, function, input, map) SL_OP_##OP,
#include "losses.def"
  SL_NUM_OPS
} sl_op;

/* 1 for the ops that take labels [N,H,W] (softmax over C), 0 for those with targets (the
 * registry's input column). */
enum { SL_INPUT_TARGETS = 0, SL_INPUT_LABELS = 1 };
static inline int sl_op_labels(sl_op op) {
  static const unsigned char labels[SL_NUM_OPS] = {
#define SL_LOSS(OP, name, function, input, map) [SL_OP_##OP] = SL_INPUT_##input,
#include "losses.def"
  };
  return labels[op];
}

/* The registry's map column: SL_MAP_PIXEL for the per-pixel losses over a softmax of C classes
 * (CE, softmax focal, and sl_ce_prob, whose targets are [N,C,H,W]): class weights [C], pixel
 * weights, a one-channel mask, an [N,H,W] loss map. */
static inline sl_map_kind sl_op_map(sl_op op) {
  static const unsigned char maps[SL_NUM_OPS] = {
#define SL_LOSS(OP, name, function, input, map) [SL_OP_##OP] = SL_MAP_##map,
#include "losses.def"
  };
  return (sl_map_kind)maps[op];
}

typedef struct sl_job {
  sl_op op;
  int64_t n, c, h, w;
  const float *x;      /* [N,C,H,W] probabilities or logits */
  const float *target; /* [N,C,H,W] BCE targets, sl_ce_prob's class probabilities; NULL for CE */
  const void *labels;  /* [N,H,W] CE labels, NULL for BCE */
  sl_label_type label_type;
  const sl_box *boxes; /* NULL when num_boxes == 0 */
  int64_t num_boxes;
  const int64_t *box_offsets; /* NULL, or N + 1 validated offsets into boxes */
  const uint8_t *mask;        /* NULL = no mask */
  int64_t mask_channels;
  sl_options opt; /* validated copy */
  float *loss;
  float *grad;
} sl_job;

/* ---- the section, row by row (driver.c; used by every loss's driver) ----------------------
 * A row (n, y) of the section is cut into segments [x0, x1) covering [0, W) in order; a
 * covered segment is inside at least one of sample n's boxes (the whole row without boxes).
 * split = 0: maximal segments (covered and uncovered alternate); split = 1: a covered segment
 * also ends wherever the set of boxes covering it changes (for box_stats: each box of that set
 * is found with sl_seg_box). No allocation; O(boxes of the sample) per segment. */
typedef struct sl_row_iter {
  const sl_box *b;   /* the sample's boxes (NULL when it has none) */
  int64_t nb, first; /* their count, and the index of b[0] in job->boxes */
  int whole;         /* no boxes in the call: the whole row is one covered segment */
  int64_t y, w, x;   /* row, width, start of the next segment */
  int split;
} sl_row_iter;

void sl_row_begin(sl_row_iter *it, const sl_job *j, int64_t n, int64_t y, int split);
/* The next segment: 1 with [*x0, *x1) and *covered, 0 at the end of the row. */
int sl_row_next(sl_row_iter *it, int64_t *x0, int64_t *x1, int *covered);
/* For a covered segment starting at x0 (of a split iteration, so every box covering x0 covers
 * the segment): the smallest index k >= from (0-based within the sample's boxes) of a box
 * covering it, or -1; its index into job->boxes is it->first + k. Loop:
 *   for (int64_t k = sl_seg_box(&it, x0, 0); k >= 0; k = sl_seg_box(&it, x0, k + 1)) */
int64_t sl_seg_box(const sl_row_iter *it, int64_t x0, int64_t from);

/* Chunking shared by every loss's driver (driver.c). Chunks depend on the shape only (never
 * on the thread count); with per_sample > 0 every chunk holds whole samples (per_sample rows
 * each), so each box's statistics are summed by one chunk, in row order. */
typedef struct sl_plan {
  int64_t rows, rows_per_chunk, chunks;
} sl_plan;
sl_plan sl_make_plan(int64_t rows, int64_t elems_per_row, int64_t per_sample);

/* One chunk's results: two ordered double sums, plus an exact count and an error flag. */
typedef struct sl_chunk_acc {
  double sum, norm; /* two ordered double sums (norm: CE's normaliser terms) */
  int64_t count;
  int err;
  int nomem; /* sl_run_chunks: the calling thread's workspace could not be allocated, no chunk
                ran */
} sl_chunk_acc;
/* A chunk: rows [r0, r1); ws: the thread's kernel workspace (sl_run_chunks with ws), or NULL. */
typedef void (*sl_chunk_fn)(const void *ctx, int64_t r0, int64_t r1, void *ws, sl_chunk_acc *acc);
/* Runs fn over every chunk (OpenMP, dynamic schedule) and adds the chunk sums in chunk order:
 * bitwise identical for every thread count. ws: each thread gets its kernel workspace
 * (sl_workspace); a thread that cannot takes no chunk, and when the calling thread cannot, no
 * chunk runs and the result has nomem set. No barrier: a thread late to the region (a loaded
 * machine) delays nobody. */
sl_chunk_acc sl_run_chunks(const sl_plan *p, int num_threads, sl_chunk_fn fn, const void *ctx,
                           int ws);

/* Nonzero bytes of m[0 .. len). */
int64_t sl_count_nonzero(const uint8_t *m, int64_t len);

/* Class indices of the pixels [p, p + len) (p = n*H*W + y*W + x; driver.c, shared by CE and
 * multiclass Dice): the label where the pixel is counted (selected by the mask and not
 * ignore_index), SL_CLS_NONE where it is not, SL_CLS_BAD for a counted label outside [0, C). */
enum { SL_CLS_NONE = -1, SL_CLS_BAD = -2 };
void sl_to_cls(const sl_job *j, int64_t p, int64_t len, int32_t *cls);

/* The Dice / Tversky driver (dice.c): sums over the section, then the gradient pass. */
struct sl_kernels;
sl_status sl_run_dice(const sl_job *job, const struct sl_kernels *k);
/* Cross-entropy with class-probability targets (ce_prob.c). */
sl_status sl_run_ce_prob(const sl_job *j, const struct sl_kernels *k);

/* Helpers every loss's driver shares (driver.c). */
/* 1 when box_stats are accumulated per box by the chunk holding its sample (sl_make_plan's
 * per_sample): every form but num_boxes == 1 without box_offsets (that box is the whole call). */
int sl_box_stats_wanted(const sl_job *j);
/* Adds a covered segment's results (of a split iteration) to the stats of every box covering
 * it. */
void sl_box_stats_add(const sl_job *j, const sl_row_iter *it, int64_t x0, double sum, double norm,
                      int64_t count);
/* Zeroes the box_stats of samples [n0, n1) (with sl_box_stats_wanted). */
void sl_box_stats_clear(const sl_job *j, int64_t n0, int64_t n1);
/* The call's results in stats, and in box_stats[0] when one box applies to every sample. */
void sl_write_stats(const sl_job *j, double sum, double norm, int64_t count);
/* 1 when the call's outputs are streamed; map = the NONE loss map's elements per sample. */
int sl_stream_out(const sl_job *j, int64_t map);
/* Zeroes p[0 .. len) (p may be NULL), with non-temporal stores when stream. */
void sl_zero_out(float *p, int64_t len, int stream);
/* Orders a chunk's streamed zero fill before its results are used. */
void sl_stream_fence(int stream);

/* Gradients above this many bytes are streamed (driver.c; not exported from the shared
 * library: tests and sl-bench set it to compare both ways while no call runs). */
extern int64_t sl__stream_bytes;

/* Runs a validated job. Returns SL_OK, SL_ERR_DOMAIN (BCE on probabilities) or SL_ERR_LABEL
 * (CE, before anything is written). */
sl_status sl_run(const sl_job *job);

#endif /* SL_DRIVER_H */
