// SPDX-License-Identifier: MIT
/*
 * section.h - what every loss's driver needs to know about the section of a call (section.c):
 * its rows cut into covered and uncovered segments, the mask, the labels turned into class
 * indices, the per-box statistics, and how the outputs outside the section are written.
 * Knows the job (job.h), not the losses or the runner.
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#ifndef SL_SECTION_H
#define SL_SECTION_H

#include <stdint.h>

#include "job.h"

/* ---- the section, row by row ----------------------------------------------------------------
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

/* 1 when the call has no boxes: every row is covered whole (the kernels may then run over
 * several rows of a sample at once). */
static inline int sl_no_boxes(const sl_job *j) {
  return !j->box_offsets && j->num_boxes == 0;
}

/* ---- mask and labels ------------------------------------------------------------------------ */

/* Nonzero bytes of m[0 .. len). */
int64_t sl_count_nonzero(const uint8_t *m, int64_t len);

/* The mask row of element row (n, c, y) (a mask of 1 channel serves every c), or NULL. */
static inline const uint8_t *sl_mask_row(const sl_job *j, int64_t n, int64_t c, int64_t y) {
  if (!j->mask)
    return NULL;
  return j->mask + ((n * j->mask_channels + (j->mask_channels == 1 ? 0 : c)) * j->h + y) * j->w;
}

/* Class indices of the pixels [p, p + len) (p = n*H*W + y*W + x) of an op with labels: the
 * label where the pixel is counted (selected by the mask and not ignore_index), SL_CLS_NONE
 * where it is not, SL_CLS_BAD for a counted label outside [0, C). The only reader of labels. */
enum { SL_CLS_NONE = -1, SL_CLS_BAD = -2 };
void sl_to_cls(const sl_job *j, int64_t p, int64_t len, int32_t *cls);

/* ---- statistics ----------------------------------------------------------------------------- */

/* 1 when box_stats are summed per box, by the chunk holding the box's sample (sl_make_plan's
 * per_sample): every form but num_boxes == 1 without box_offsets, whose one box is the whole
 * call's. */
int sl_box_stats_wanted(const sl_job *j);
/* Adds a covered segment's results to the stats of every box covering it (a split iteration). */
void sl_box_stats_add(const sl_job *j, const sl_row_iter *it, int64_t x0, double sum, double norm,
                      int64_t count);
/* Zeroes the box_stats of samples [n0, n1) (when sl_box_stats_wanted). */
void sl_box_stats_clear(const sl_job *j, int64_t n0, int64_t n1);
/* The call's results in stats, and in box_stats[0] when one box applies to every sample. */
void sl_write_stats(const sl_job *j, double sum, double norm, int64_t count);

/* ---- outputs outside the section ------------------------------------------------------------ */

/* Outputs (gradient and NONE loss map) larger than this many bytes in all are written with
 * non-temporal stores: they do not fit the last-level cache anyway, and streaming saves the
 * read-for-ownership of every line (docs/performance.md). A variable only so that tests and
 * sl-bench can compare both ways while no call runs (not exported from the shared library). */
extern int64_t sl__stream_bytes;
/* 1 when the call's outputs are streamed; map: the NONE loss map's elements per sample. */
int sl_stream_out(const sl_job *j, int64_t map);
/* Zeroes p[0 .. len) (p may be NULL: nothing), with non-temporal stores when stream. */
void sl_zero_out(float *p, int64_t len, int stream);
/* Orders a chunk's streamed zero fill before its results are used (the kernels fence their
 * own streamed stores). */
void sl_stream_fence(int stream);

/* ---- element types --------------------------------------------------------------------------
 * The kernels read and write 2-byte tensors (sl_dtype) themselves, converting at their loads
 * and stores (src/kernels.h's rows carry the element types); the drivers only point them at the
 * elements (sl_elem_at) and write the zeros outside the section in the gradient's type. */
/* The gradient's element type (input_dtype, or float32 with grad_f32). */
static inline sl_dtype sl_grad_dtype(const sl_job *j) {
  return j->opt.grad_f32 ? SL_DTYPE_F32 : j->opt.input_dtype;
}
/* Zeroes elements [off, off + len) of the gradient (of its element type), as sl_zero_out. */
void sl_zero_grad(const sl_job *j, int64_t off, int64_t len, int stream);

#endif /* SL_SECTION_H */
