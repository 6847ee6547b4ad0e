// SPDX-License-Identifier: MIT
/*
 * section.c - the section of a call (section.h): the row walk over the boxes, mask counts,
 * labels to class indices, per-box statistics, the zero fill of the outputs outside it.
 */
#include "section.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

int64_t sl__stream_bytes = (int64_t)8 << 20;

int sl_stream_out(const sl_job *j, int64_t map) {
  const int64_t out = (j->grad ? j->c * j->h * j->w : 0) +
                      (j->loss && j->opt.reduction == SL_REDUCTION_NONE ? map : 0);
  return j->n * out > sl__stream_bytes / (int64_t)sizeof(float);
}

/* ---- the section, row by row ------------------------------------------------------------- */

void sl_row_begin(sl_row_iter *it, const sl_job *j, int64_t n, int64_t y, int split) {
  it->b = NULL;
  it->nb = 0;
  it->first = 0;
  it->whole = !j->box_offsets && j->num_boxes == 0;
  if (j->box_offsets) {
    it->first = j->box_offsets[n];
    it->nb = j->box_offsets[n + 1] - it->first;
  } else if (j->num_boxes > 0) {
    it->first = j->num_boxes == 1 ? 0 : n;
    it->nb = 1;
  }
  if (it->nb > 0)
    it->b = j->boxes + it->first;
  it->y = y;
  it->w = j->w;
  it->x = 0;
  it->split = split;
}

/* box k of the iterator's sample covers row y and column x */
static int covers(const sl_row_iter *it, int64_t k, int64_t x) {
  const sl_box *b = &it->b[k];
  return it->y >= b->y1 && it->y < b->y2 && x >= b->x1 && x < b->x2;
}

int sl_row_next(sl_row_iter *it, int64_t *x0, int64_t *x1, int *covered) {
  const int64_t x = it->x;
  if (x >= it->w)
    return 0;
  *x0 = x;
  if (it->whole) { /* no boxes: the whole row */
    *x1 = it->x = it->w;
    *covered = 1;
    return 1;
  }
  int cov = 0;
  int64_t end = it->w; /* uncovered, or split: the nearest box edge after x on this row */
  for (int64_t k = 0; k < it->nb; k++) {
    const sl_box *b = &it->b[k];
    if (it->y < b->y1 || it->y >= b->y2 || b->x1 >= b->x2)
      continue;
    if (x >= b->x1 && x < b->x2) {
      cov = 1;
      end = b->x2 < end ? b->x2 : end;
    } else if (b->x1 > x && b->x1 < end) {
      end = b->x1;
    }
  }
  if (cov && !it->split) { /* maximal: grow while a box covering the end continues it */
    for (int grown = 1; grown;) {
      grown = 0;
      for (int64_t k = 0; k < it->nb && end < it->w; k++)
        if (covers(it, k, end)) {
          end = it->b[k].x2;
          grown = 1;
        }
    }
  }
  *x1 = it->x = end;
  *covered = cov;
  return 1;
}

int64_t sl_seg_box(const sl_row_iter *it, int64_t x0, int64_t from) {
  for (int64_t k = from; k < it->nb; k++)
    if (covers(it, k, x0))
      return k;
  return -1;
}

/* ---- mask and labels ------------------------------------------------------------------- */

int64_t sl_count_nonzero(const uint8_t *m, int64_t len) {
  int64_t c = 0, i = 0;
  for (; i + 64 <= len; i += 64) { /* blocks of 64 in a byte counter: the compiler vectorises */
    uint8_t s = 0;
    for (int k = 0; k < 64; k++)
      s += m[i + k] != 0;
    c += s;
  }
  for (; i < len; i++)
    c += m[i] != 0;
  return c;
}

/* One switch per run, not per pixel, and no branch per pixel (masks and ignored pixels are
 * often random: a mispredicted branch costs more than the pixel's logits). */
#define SL_TO_CLS(T)                                                                               \
  do {                                                                                             \
    const T *l = (const T *)j->labels + p;                                                         \
    for (int64_t i = 0; i < len; i++) {                                                            \
      int64_t v = (int64_t)l[i];                                                                   \
      int32_t c = (uint64_t)v < (uint64_t)j->c ? (int32_t)v : SL_CLS_BAD;                          \
      cls[i] = v == ign ? SL_CLS_NONE : c;                                                         \
    }                                                                                              \
    for (int64_t i = 0; mk && i < len; i++) /* keep: all ones, or SL_CLS_NONE (-1) */              \
      cls[i] |= (int32_t)(mk[i] != 0) - 1;                                                         \
  } while (0)

void sl_to_cls(const sl_job *j, int64_t p, int64_t len, int32_t *cls) {
  const uint8_t *mk = j->mask ? j->mask + p : NULL;
  const int64_t ign = j->opt.ignore_index;
  switch (j->label_type) {
  case SL_LABEL_I64:
    SL_TO_CLS(int64_t);
    break;
  case SL_LABEL_I32:
    SL_TO_CLS(int32_t);
    break;
  default:
    SL_TO_CLS(uint8_t);
    break;
  }
}
#undef SL_TO_CLS

/* ---- statistics -------------------------------------------------------------------------- */

int sl_box_stats_wanted(const sl_job *j) {
  return j->opt.box_stats && (j->box_offsets || j->num_boxes == j->n);
}

void sl_box_stats_add(const sl_job *j, const sl_row_iter *it, int64_t x0, double sum, double norm,
                      int64_t count) {
  for (int64_t k = sl_seg_box(it, x0, 0); k >= 0; k = sl_seg_box(it, x0, k + 1)) {
    sl_stats *s = &j->opt.box_stats[it->first + k];
    s->loss_sum = sl_nan_canon(s->loss_sum + sum);
    s->normalizer = sl_nan_canon(s->normalizer + norm);
    s->count += count;
  }
}

void sl_box_stats_clear(const sl_job *j, int64_t n0, int64_t n1) {
  if (!sl_box_stats_wanted(j))
    return;
  int64_t b0 = j->box_offsets ? j->box_offsets[n0] : n0;
  int64_t b1 = j->box_offsets ? j->box_offsets[n1] : n1;
  memset(j->opt.box_stats + b0, 0, (size_t)(b1 - b0) * sizeof(sl_stats));
}

void sl_write_stats(const sl_job *j, double sum, double norm, int64_t count) {
  sl_stats t = {sum, norm, count};
  if (j->opt.stats)
    *j->opt.stats = t;
  if (j->opt.box_stats && !sl_box_stats_wanted(j))
    j->opt.box_stats[0] = t;
}

/* ---- outputs outside the section --------------------------------------------------------- */

/* Zeroes bytes [0, n) of p (+0 in float32, bfloat16 and float16 alike: all bits 0), with
 * non-temporal stores where the kernels stream the rest of the output (x86-64: SSE2 is its
 * baseline; elsewhere memset): a line written partly by streaming and partly by ordinary stores
 * would cost a read-for-ownership and a partial write-combining flush. */
static void zero_bytes(void *p, int64_t n, int stream) {
  if (!p || n <= 0)
    return;
#if defined(__SSE2__)
  if (stream && n >= 64) {
    char *c = p;
    const int64_t head = (int64_t)((16 - ((uintptr_t)c & 15)) & 15);
    memset(c, 0, (size_t)head);
    const __m128i z = _mm_setzero_si128();
    int64_t i = head;
    for (; i + 16 <= n; i += 16)
      _mm_stream_si128((__m128i *)(void *)(c + i), z);
    memset(c + i, 0, (size_t)(n - i));
    return;
  }
#endif
  (void)stream;
  memset(p, 0, (size_t)n);
}

void sl_zero_out(float *p, int64_t len, int stream) {
  zero_bytes(p, len * (int64_t)sizeof(float), stream);
}

void sl_stream_fence(int stream) {
#if defined(__SSE2__)
  if (stream)
    _mm_sfence();
#endif
  (void)stream;
}

/* ---- element types ---------------------------------------------------------------------- */

void sl_zero_grad(const sl_job *j, int64_t off, int64_t len, int stream) {
  const sl_dtype t = sl_grad_dtype(j);
  zero_bytes((char *)j->grad + off * sl_dtype_size(t), len * sl_dtype_size(t), stream);
}
