// SPDX-License-Identifier: MIT
/*
 * driver.c - walks the section of one call and runs the active ISA's row microkernels over it.
 *
 * Shape legend: N, C, H, W as in sectionloss.h. A "row" is W consecutive floats:
 *   BCE: tensor row (n, c, y), N*C*H of them, row r at offset r*W;
 *   CE:  pixel row (n, y), N*H of them, spanning the C class rows (n, 0..C-1, y).
 * Rows are cut into chunks whose size depends on the shape only (never on the thread count);
 * OpenMP runs the chunks (dynamic schedule: across batch and rows, so a batch of 1 scales too),
 * each chunk sums its rows' double-precision results in row order into its own slot, and the
 * slots are added in chunk order: the result is bitwise identical for every thread count.
 *
 * Passes over memory:
 *   - BCE: one pass over x, target (and weight, mask, grad_map); the MEAN normaliser is the
 *     selected count, known analytically without a mask and counted from the mask alone (a
 *     prepass over the mask bytes, only when the gradient needs it before the main pass);
 *   - CE: a prepass over labels (and mask, pixel weights) validates every selected label before
 *     anything is written and sums the pixel x class weights (MEAN's normaliser); then one pass
 *     over the logits. A call that writes only at its end (no gradient, no NONE map, no per-box
 *     statistics) skips the prepass: its main pass validates and sums the same terms. Sections
 *     without boxes give the kernel runs spanning all of a chunk's rows of one sample.
 * Outside the section the driver writes the zeros of grad and of a NONE loss map (memset);
 * inside box rows the microkernels write everything, masked-out elements included.
 */
#include "driver.h"

#include <math.h>
#include <omp.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "kernels.h"
#include "workspace.h"

enum {
  SL_MAX_CHUNKS = 256,          /* partial sums live in a fixed stack array */
  SL_CHUNK_MIN_ELEMS = 1 << 15, /* no chunk smaller than this many elements (if the tensor is) */
  SL_CE_SEG = 1024,             /* pixels of a run converted to class indices at a time */
  SL_CE_GAP = 16,               /* uncounted runs at least this long go to the zero fill */
  SL_LINE = 16                  /* floats per cache line (64 bytes) */
};
/* Outputs (gradient and NONE loss map) larger than this many bytes in all are written with
 * non-temporal stores: they do not fit the last-level cache anyway, and streaming saves the
 * read-for-ownership of every line (docs/performance.md). A variable only so that tests and
 * sl-bench can compare both ways. */
int64_t sl__stream_bytes = (int64_t)8 << 20;

/* 1 when the call's outputs are streamed; map = the NONE loss map's elements per sample */
static int stream_out(const sl_job *j, int64_t map) {
  const int64_t out = (j->grad ? j->c * j->h * j->w : 0) +
                      (j->loss && j->opt.reduction == SL_REDUCTION_NONE ? map : 0);
  return j->n * out > sl__stream_bytes / (int64_t)sizeof(float);
}

sl_plan sl_make_plan(int64_t rows, int64_t elems_per_row, int64_t per_sample) {
  sl_plan p;
  int64_t min_rows = (SL_CHUNK_MIN_ELEMS + elems_per_row - 1) / elems_per_row;
  int64_t even = (rows + SL_MAX_CHUNKS - 1) / SL_MAX_CHUNKS;
  int64_t k = even > min_rows ? even : min_rows;
  if (per_sample > 0) /* whole samples: round up to a multiple of per_sample rows */
    k = (k + per_sample - 1) / per_sample * per_sample;
  p.rows = rows;
  p.rows_per_chunk = k;
  p.chunks = (rows + k - 1) / k;
  return p;
}

sl_chunk_acc sl_run_chunks(const sl_plan *p, int num_threads, sl_chunk_fn fn, const void *ctx,
                           int ws) {
  double part[SL_MAX_CHUNKS], part_norm[SL_MAX_CHUNKS];
  int64_t count = 0;
  int err = 0;
  int nt = num_threads > 0 ? num_threads : omp_get_max_threads();
  if (nt > p->chunks)
    nt = (int)p->chunks;
  sl_chunk_acc total = {0.0, 0.0, 0, 0, 0};
  if (ws && !sl_workspace(SL_WS_KERNEL, SL_WS_KERNEL_BYTES)) {
    total.nomem = 1;
    return total;
  }
  int64_t next = 0; /* the next chunk to take (a dynamic schedule) */
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(+ : count) reduction(| : err)
  {
    /* a thread without its workspace takes no chunk: the others (the calling thread at least,
     * whose workspace is there) take them all */
    void *w = ws ? sl_workspace(SL_WS_KERNEL, SL_WS_KERNEL_BYTES) : NULL;
    for (int64_t k = 0; !ws || w;) {
#pragma omp atomic capture
      k = next++;
      if (k >= p->chunks)
        break;
      int64_t r0 = k * p->rows_per_chunk;
      int64_t r1 = r0 + p->rows_per_chunk < p->rows ? r0 + p->rows_per_chunk : p->rows;
      sl_chunk_acc a = {0.0, 0.0, 0, 0, 0};
      fn(ctx, r0, r1, w, &a);
      part[k] = a.sum;
      part_norm[k] = a.norm;
      count += a.count;
      err |= a.err;
    }
  }
  total.count = count;
  total.err = err;
  for (int64_t k = 0; k < p->chunks; k++) {
    total.sum += part[k];
    total.norm += part_norm[k];
  }
  return total;
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

static void zero(float *p, int64_t len) {
  if (p && len > 0)
    memset(p, 0, (size_t)len * sizeof(float));
}

/* zero(), with non-temporal stores where the kernels stream the rest of the output (x86-64:
 * SSE2 is its baseline; elsewhere memset): a line written partly by streaming and partly by
 * ordinary stores would cost a read-for-ownership and a partial write-combining flush. */
static void zero_stream(float *p, int64_t len, int stream) {
#if defined(__SSE2__)
  if (stream && p && len >= 16) {
    int64_t i = 0;
    for (; ((uintptr_t)(p + i) & 15) != 0; i++)
      p[i] = 0.0f;
    const __m128 z = _mm_setzero_ps();
    for (; i + 4 <= len; i += 4)
      _mm_stream_ps(p + i, z);
    for (; i < len; i++)
      p[i] = 0.0f;
    return;
  }
#endif
  (void)stream;
  zero(p, len);
}

/* Orders a chunk's streamed zero fill before its results are used (the kernels fence their
 * own streamed stores). */
static void stream_fence(int stream) {
#if defined(__SSE2__)
  if (stream)
    _mm_sfence();
#endif
  (void)stream;
}

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

/* box_stats accumulated per box by the chunk holding its sample (sl_make_plan's per_sample):
 * every form but num_boxes == 1 without box_offsets, whose one box is the whole call's. */
static int per_box_stats(const sl_job *j) {
  return j->opt.box_stats && (j->box_offsets || j->num_boxes == j->n);
}

/* Adds a covered segment's results to the stats of every box covering it. */
static void add_box_stats(const sl_job *j, const sl_row_iter *it, int64_t x0, double sum,
                          double norm, int64_t count) {
  for (int64_t k = sl_seg_box(it, x0, 0); k >= 0; k = sl_seg_box(it, x0, k + 1)) {
    sl_stats *s = &j->opt.box_stats[it->first + k];
    s->loss_sum += sum;
    s->normalizer += norm;
    s->count += count;
  }
}

/* Zeroes the box_stats of samples [n0, n1) (with per_box_stats). */
static void clear_box_stats(const sl_job *j, int64_t n0, int64_t n1) {
  if (!per_box_stats(j))
    return;
  int64_t b0 = j->box_offsets ? j->box_offsets[n0] : n0;
  int64_t b1 = j->box_offsets ? j->box_offsets[n1] : n1;
  memset(j->opt.box_stats + b0, 0, (size_t)(b1 - b0) * sizeof(sl_stats));
}

/* The call's results in stats, and in box_stats[0] when one box applies to every sample. */
static void write_stats(const sl_job *j, double sum, double norm, int64_t count) {
  sl_stats t = {sum, norm, count};
  if (j->opt.stats)
    *j->opt.stats = t;
  if (j->opt.box_stats && !per_box_stats(j))
    j->opt.box_stats[0] = t;
}

/* The helpers above under the names of driver.h, for the drivers in their own files
 * (ce_prob.c). */
int sl_box_stats_wanted(const sl_job *j) {
  return per_box_stats(j);
}
void sl_box_stats_add(const sl_job *j, const sl_row_iter *it, int64_t x0, double sum, double norm,
                      int64_t count) {
  add_box_stats(j, it, x0, sum, norm, count);
}
void sl_box_stats_clear(const sl_job *j, int64_t n0, int64_t n1) {
  clear_box_stats(j, n0, n1);
}
void sl_write_stats(const sl_job *j, double sum, double norm, int64_t count) {
  write_stats(j, sum, norm, count);
}
int sl_stream_out(const sl_job *j, int64_t map) {
  return stream_out(j, map);
}
void sl_zero_out(float *p, int64_t len, int stream) {
  zero_stream(p, len, stream);
}
void sl_stream_fence(int stream) {
  stream_fence(stream);
}

/* ---- BCE (and the sigmoid focal loss: element-wise, the same walk) ---------------------- */

typedef struct bce_ctx {
  const sl_job *job;
  sl_bce_fn fn;
  double gscale;
  float *loss_map;   /* NONE reduction only */
  int count_in_pass; /* count the selected elements in the main pass (no prepass was needed) */
  int box_stats;     /* per-box statistics (per_box_stats) */
  int stream;        /* non-temporal output stores (sl__stream_bytes) */
} bce_ctx;

/* Prepass over the mask's rows (N x mask_channels x H of them; N x H without a mask, touching
 * no memory then): selected element count. */
static void bce_count_rows(const void *vctx, int64_t r0, int64_t r1, void *ws, sl_chunk_acc *acc) {
  (void)ws;
  const sl_job *j = ((const bce_ctx *)vctx)->job;
  int64_t per_sample = j->mask_channels * j->h;
  int64_t mult = j->mask_channels == 1 ? j->c : 1;
  for (int64_t r = r0; r < r1; r++) {
    sl_row_iter it;
    int64_t x0, x1;
    int cov;
    sl_row_begin(&it, j, r / per_sample, r % j->h, 0);
    while (sl_row_next(&it, &x0, &x1, &cov))
      if (cov)
        acc->count +=
            mult * (j->mask ? sl_count_nonzero(j->mask + r * j->w + x0, x1 - x0) : x1 - x0);
  }
}

static void bce_rows(const void *vctx, int64_t r0, int64_t r1, void *ws, sl_chunk_acc *acc) {
  (void)ws;
  const bce_ctx *ctx = vctx;
  const sl_job *j = ctx->job;
  const sl_options *o = &j->opt;
  int64_t w = j->w, h = j->h, ch = j->c * j->h;
  for (int64_t r = r0; r < r1; r++) {
    int64_t n = r / ch, c = (r / h) % j->c, y = r % h, off = r * w;
    float *grad = j->grad ? j->grad + off : NULL;
    float *lmap = ctx->loss_map ? ctx->loss_map + off : NULL;
    const uint8_t *mask = NULL;
    if (j->mask)
      mask = j->mask + ((n * j->mask_channels + (j->mask_channels == 1 ? 0 : c)) * h + y) * w;
    sl_row_iter it;
    int64_t x0, x1;
    int cov;
    sl_row_begin(&it, j, n, y, ctx->box_stats);
    while (sl_row_next(&it, &x0, &x1, &cov)) {
      if (!cov) {
        zero_stream(grad ? grad + x0 : NULL, x1 - x0, ctx->stream);
        zero_stream(lmap ? lmap + x0 : NULL, x1 - x0, ctx->stream);
        continue;
      }
      sl_bce_row row = {
          .x = j->x + off + x0,
          .y = j->target + off + x0,
          .w = o->weight ? o->weight + off + x0 : NULL,
          .mask = mask ? mask + x0 : NULL,
          .gmap = o->grad_map ? o->grad_map + off + x0 : NULL,
          .loss = lmap ? lmap + x0 : NULL,
          .grad = grad ? grad + x0 : NULL,
          .gscale = ctx->gscale,
          .pos_weight = o->pos_weight ? o->pos_weight[c] : 1.0f,
          .focal_alpha = o->focal_alpha,
          .focal_gamma = o->focal_gamma,
          .len = x1 - x0,
          .stream = ctx->stream,
      };
      double s = ctx->fn(&row, &acc->err);
      acc->sum += s;
      if (ctx->count_in_pass || ctx->box_stats) {
        int64_t cnt = mask ? sl_count_nonzero(row.mask, row.len) : row.len;
        if (ctx->count_in_pass)
          acc->count += cnt;
        if (ctx->box_stats)
          add_box_stats(j, &it, x0, s, (double)cnt, cnt);
      }
    }
  }
  stream_fence(ctx->stream);
}

/* 1 when v[0 .. n) (or v = NULL) holds no infinity or NaN. */
static int all_finite(const float *v, int64_t n) {
  for (int64_t i = 0; v && i < n; i++)
    if (!isfinite(v[i]))
      return 0;
  return 1;
}

static sl_status run_bce(const sl_job *j, const sl_kernels *k) {
  const sl_options *o = &j->opt;
  bce_ctx ctx = {j,
                 NULL,
                 0.0,
                 o->reduction == SL_REDUCTION_NONE ? j->loss : NULL,
                 0,
                 per_box_stats(j),
                 stream_out(j, j->c * j->h * j->w)};
  ctx.fn = j->op == SL_OP_BCE_PROB     ? k->bce_prob
           : j->op == SL_OP_BCE_LOGITS ? k->bce_logits
                                       : k->sigmoid_focal;
  /* An infinite or NaN pos_weight (a per-call [C] array, like CE's class weights below): the
   * SIMD kernels' float terms may underflow to 0 where the reference's double terms do not, and
   * inf * 0 is NaN where the reference has +-inf; such a call runs the reference kernel. */
  if (j->op == SL_OP_BCE_LOGITS && !all_finite(o->pos_weight, j->c))
    ctx.fn = sl_kernels_scalar.bce_logits;
  int64_t count = 0;
  int count_known = 0;
  if (!j->mask && j->num_boxes == 0 && !j->box_offsets) {
    count = j->n * j->c * j->h * j->w;
    count_known = 1;
  } else if (j->grad && o->reduction == SL_REDUCTION_MEAN) {
    /* the normaliser before the pass: from the mask bytes, or (no mask) the boxes alone */
    int64_t mc = j->mask ? j->mask_channels : 1;
    sl_plan pc = sl_make_plan(j->n * mc * j->h, j->w, 0);
    count = sl_run_chunks(&pc, o->num_threads, bce_count_rows, &ctx, 0).count;
    count_known = 1;
  }
  ctx.count_in_pass = !count_known;
  if (o->reduction == SL_REDUCTION_MEAN)
    ctx.gscale = count > 0 ? (double)o->grad_scale / (double)count : 0.0;
  else
    ctx.gscale = o->grad_scale;

  clear_box_stats(j, 0, j->n);
  sl_plan p = sl_make_plan(j->n * j->c * j->h, j->w, ctx.box_stats ? j->c * j->h : 0);
  sl_chunk_acc r = sl_run_chunks(&p, o->num_threads, bce_rows, &ctx, 0);
  if (r.err)
    return SL_ERR_DOMAIN;
  if (!count_known)
    count = r.count;
  double norm = (double)count;
  if (j->loss && o->reduction != SL_REDUCTION_NONE)
    *j->loss = (float)(o->reduction == SL_REDUCTION_SUM ? r.sum : (norm > 0 ? r.sum / norm : 0.0));
  write_stats(j, r.sum, norm, count);
  return SL_OK;
}

/* ---- CE ---------------------------------------------------------------------------------- */

/* Class indices of the pixels [p, p + len) (p = n*H*W + y*W + x): the label where the pixel is
 * counted (selected by the mask and not ignore_index), SL_CLS_NONE where it is not, SL_CLS_BAD
 * for a counted label outside [0, C). One switch per run, not per pixel, and no branch per
 * pixel (masks and ignored pixels are often random: a mispredicted branch costs more than the
 * pixel's logits); the only place that reads labels. */
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

typedef struct ce_ctx {
  const sl_job *job;
  sl_ce_fn fn;
  double gscale, cw_sum;
  int box_stats;     /* per-box statistics (per_box_stats) */
  int stream;        /* non-temporal output stores (sl__stream_bytes) */
  int count_in_pass; /* no prepass: the main pass validates, counts and sums the normaliser */
} ce_ctx;

/* Sections without boxes: the rows [r, end) of one sample (at most up to r1) form one run,
 * contiguous in every plane (fewer, longer segments); the prepass and the main pass group
 * them alike, so their normaliser sums are the same bit for bit. */
static int64_t ce_run_end(const sl_job *j, int64_t r, int64_t r1) {
  int64_t e = (r / j->h + 1) * j->h;
  return e < r1 ? e : r1;
}

/* The normaliser terms of the pixels [p, p + len) with class indices cls and pixel weights pw
 * (the segment's, or NULL = 1): *count counted pixels, returned the sum of their pw x class
 * weights; *bad |= a counted label outside [0, C). */
static double ce_norm(const sl_job *j, const int32_t *cls, const float *pw, int64_t len,
                      int64_t *count, int *bad) {
  const float *cw = j->opt.weight;
  int64_t n = 0;
  int b = 0;
  double s = 0.0;
  for (int64_t i = 0; i < len; i++) { /* no branch per pixel (SL_TO_CLS) */
    n += cls[i] >= 0;
    b |= cls[i] == SL_CLS_BAD;
  }
  for (int64_t i = 0; (cw || pw) && i < len; i++) {
    double v = (pw ? (double)pw[i] : 1.0) * (cw ? (double)cw[cls[i] < 0 ? 0 : cls[i]] : 1.0);
    s += cls[i] >= 0 ? v : 0.0;
  }
  *count += n;
  *bad |= b;
  return cw || pw ? s : (double)n;
}

/* The normaliser terms of the covered run [x0, x1) from the start of pixel row r (as ce_span
 * cuts it) added to acc. */
static void ce_check_run(const sl_job *j, int64_t r, int64_t x0, int64_t x1, sl_chunk_acc *acc) {
  int32_t cls[SL_CE_SEG];
  for (int64_t xs = x0; xs < x1; xs += SL_CE_SEG) {
    int64_t len = x1 - xs < SL_CE_SEG ? x1 - xs : SL_CE_SEG;
    int64_t p = r * j->w + xs;
    sl_to_cls(j, p, len, cls);
    acc->norm += ce_norm(j, cls, j->opt.pixel_weight ? j->opt.pixel_weight + p : NULL, len,
                         &acc->count, &acc->err);
  }
}

/* Prepass over pixel rows: validates selected labels, counts pixels, sums their class weights
 * (acc->norm), in the main pass's runs. */
static void ce_check_rows(const void *vctx, int64_t r0, int64_t r1, void *ws, sl_chunk_acc *acc) {
  (void)ws;
  const sl_job *j = ((const ce_ctx *)vctx)->job;
  for (int64_t r = r0; r < r1; r++) {
    if (!j->box_offsets && j->num_boxes == 0) {
      int64_t re = ce_run_end(j, r, r1);
      ce_check_run(j, r, 0, (re - r) * j->w, acc);
      r = re - 1;
      continue;
    }
    sl_row_iter it;
    int64_t x0, x1;
    int cov;
    sl_row_begin(&it, j, r / j->h, r % j->h, 0);
    while (sl_row_next(&it, &x0, &x1, &cov))
      if (cov)
        ce_check_run(j, r, x0, x1, acc);
  }
}

/* The counted pixels [x0, x1) from the start of pixel row r (covered by the section's boxes;
 * x1 may pass W: then the run continues over the next rows of the same sample, contiguous in
 * every plane): class indices a segment at a time, counted stretches (with the short uncounted
 * gaps inside them) to the kernel; runs of at least SL_CE_GAP uncounted pixels only get their
 * zeros, plane by plane. Returns the loss sum; with norm, the normaliser terms added to *norm,
 * *count and *bad (as the prepass adds them). */
static double ce_span(const ce_ctx *ctx, int64_t r, int64_t x0, int64_t x1, float *lmap,
                      double *norm, int64_t *count, int *bad, void *ws) {
  const sl_job *j = ctx->job;
  const sl_options *o = &j->opt;
  int64_t w = j->w, h = j->h, hw = j->h * j->w;
  int64_t xoff = (r / h) * j->c * hw + (r % h) * w; /* element (n, 0, y, 0) */
  int32_t cls[SL_CE_SEG];
  double sum = 0.0;
  /* Streaming: the kernel's stretches, the zero fill and these chunks start and end on lines
   * (SL_LINE floats from the gradient's start), the stretches taking in the uncounted pixels up
   * to them, so no line is written partly by non-temporal and partly by ordinary stores (its
   * write-combining buffer would be flushed half full and the line read for ownership). */
  const int64_t al = ctx->stream ? SL_LINE : 1;
  for (int64_t xs = x0, step = SL_CE_SEG - ((xoff + x0) & (al - 1)); xs < x1;
       xs += step, step = SL_CE_SEG) {
    int64_t len = x1 - xs < step ? x1 - xs : step;
    int64_t p = r * w + xs, base = xoff + xs; /* base: element offset of the chunk's pixel 0 */
    sl_to_cls(j, p, len, cls); /* SL_CLS_BAD (without a prepass) counts as uncounted */
    if (norm)
      *norm += ce_norm(j, cls, o->pixel_weight ? o->pixel_weight + p : NULL, len, count, bad);
    for (int64_t i = 0; i < len;) {
      int64_t s0 = i;
      while (s0 < len && cls[s0] < 0)
        s0++;
      if (s0 < len && s0 - ((base + s0) & (al - 1)) >= i)
        s0 -= (base + s0) & (al - 1);
      if (s0 > i) {
        zero_stream(lmap ? lmap + xs + i : NULL, s0 - i, ctx->stream);
        for (int64_t c = 0; j->grad && c < j->c; c++)
          zero_stream(j->grad + xoff + c * hw + xs + i, s0 - i, ctx->stream);
      }
      if (s0 == len)
        break;
      /* the stretch ends before the first SL_CE_GAP uncounted pixels in a row (or the trailing
       * ones): one predictable branch per pixel, the run length kept without a branch */
      int64_t k = s0 + 1, gap = 0;
      for (; k < len && gap < SL_CE_GAP; k++)
        gap = (gap + 1) & -(int64_t)(cls[k] < 0);
      int64_t end = k - gap;
      end += (al - ((base + end) & (al - 1))) & (al - 1); /* uncounted up to the line's end */
      end = end < len ? end : len;
      sl_ce_row row = {
          .x = j->x + xoff + xs + s0,
          .cls = cls + s0,
          .cw = o->weight,
          .pw = o->pixel_weight ? o->pixel_weight + p + s0 : NULL,
          .gmap = o->grad_map ? o->grad_map + p + s0 : NULL,
          .loss = lmap ? lmap + xs + s0 : NULL,
          .grad = j->grad ? j->grad + xoff + xs + s0 : NULL,
          .gscale = ctx->gscale,
          .cw_sum = ctx->cw_sum,
          .smoothing = o->label_smoothing,
          .gamma = o->focal_gamma,
          .cstride = hw,
          .classes = j->c,
          .len = end - s0,
          .stream = ctx->stream,
          .ws = ws,
      };
      sum += ctx->fn(&row);
      i = end;
    }
  }
  return sum;
}

static void ce_rows(const void *vctx, int64_t r0, int64_t r1, void *ws, sl_chunk_acc *acc) {
  const ce_ctx *ctx = vctx;
  const sl_job *j = ctx->job;
  int64_t w = j->w, h = j->h, hw = j->h * j->w;
  float *lmap_all = j->opt.reduction == SL_REDUCTION_NONE ? j->loss : NULL;
  /* the chunk's samples' box statistics (whole samples), zeroed here rather than before the
   * pass: nothing is written unless every thread has its workspace */
  if (ctx->box_stats)
    clear_box_stats(j, r0 / h, (r1 + h - 1) / h);
  for (int64_t r = r0; r < r1; r++) {
    int64_t xoff = (r / h) * j->c * hw + (r % h) * w; /* element (n, 0, y, 0) */
    float *lmap = lmap_all ? lmap_all + r * w : NULL;
    double *norm = ctx->count_in_pass ? &acc->norm : NULL;
    if (!j->box_offsets && j->num_boxes == 0) {
      int64_t re = ce_run_end(j, r, r1);
      acc->sum += ce_span(ctx, r, 0, (re - r) * w, lmap, norm, &acc->count, &acc->err, ws);
      r = re - 1;
      continue;
    }
    sl_row_iter it;
    int64_t x0, x1;
    int cov;
    sl_row_begin(&it, j, r / h, r % h, ctx->box_stats);
    while (sl_row_next(&it, &x0, &x1, &cov)) {
      if (!cov) {
        zero_stream(lmap ? lmap + x0 : NULL, x1 - x0, ctx->stream);
        for (int64_t c = 0; j->grad && c < j->c; c++)
          zero_stream(j->grad + xoff + c * hw + x0, x1 - x0, ctx->stream);
        continue;
      }
      if (!ctx->box_stats) {
        acc->sum += ce_span(ctx, r, x0, x1, lmap, norm, &acc->count, &acc->err, ws);
        continue;
      }
      double bnorm = 0.0;
      int64_t bcount = 0;
      int unused = 0;
      double s = ce_span(ctx, r, x0, x1, lmap, &bnorm, &bcount, &unused, ws);
      acc->sum += s;
      add_box_stats(j, &it, x0, s, bnorm, bcount);
    }
  }
  stream_fence(ctx->stream);
}

static sl_status run_ce(const sl_job *j, const sl_kernels *k) {
  const sl_options *o = &j->opt;
  ce_ctx ctx = {j,
                j->op == SL_OP_CE ? k->ce : k->softmax_focal,
                0.0,
                0.0,
                per_box_stats(j),
                stream_out(j, j->h * j->w),
                0};
  if (o->weight) {
    for (int64_t c = 0; c < j->c; c++)
      ctx.cw_sum += o->weight[c];
  } else {
    ctx.cw_sum = (double)j->c;
  }
  /* A non-finite class weight (inf, NaN): the SIMD kernels regroup sums for speed and accuracy
   * (W log s + sum_c w_c (m - x_c); (A - B_t) - A (1 - p_t)), which then give inf * 0 or
   * inf - inf where the reference's term-by-term order gives +-inf. Such a call runs the
   * reference kernel, so every ISA returns the same infinities and NaNs. */
  if (!all_finite(o->weight, j->c))
    ctx.fn = j->op == SL_OP_CE ? sl_kernels_scalar.ce : sl_kernels_scalar.softmax_focal;
  sl_plan p = sl_make_plan(j->n * j->h, j->w * j->c, ctx.box_stats ? j->h : 0);
  /* The prepass validates every label before anything is written and gives MEAN's normaliser
   * to the gradient; a call that writes only at its end (no gradient, no loss map, no per-box
   * statistics) does both in the main pass instead: the labels are read once. */
  ctx.count_in_pass = !j->grad && o->reduction != SL_REDUCTION_NONE && !ctx.box_stats;
  sl_chunk_acc pre = {0.0, 0.0, 0, 0, 0};
  if (!ctx.count_in_pass) {
    pre = sl_run_chunks(&p, o->num_threads, ce_check_rows, &ctx, 0);
    if (pre.err)
      return SL_ERR_LABEL;
  }
  if (o->reduction == SL_REDUCTION_MEAN)
    ctx.gscale = pre.norm != 0.0 ? (double)o->grad_scale / pre.norm : 0.0;
  else
    ctx.gscale = o->grad_scale;

  sl_chunk_acc r = sl_run_chunks(&p, o->num_threads, ce_rows, &ctx, 1);
  if (r.nomem)
    return SL_ERR_NO_MEMORY;
  if (ctx.count_in_pass) {
    if (r.err)
      return SL_ERR_LABEL;
    pre = r;
  }
  double norm = pre.norm;
  if (j->loss && o->reduction != SL_REDUCTION_NONE)
    *j->loss =
        (float)(o->reduction == SL_REDUCTION_SUM ? r.sum : (norm != 0.0 ? r.sum / norm : 0.0));
  write_stats(j, r.sum, norm, pre.count);
  return SL_OK;
}

sl_status sl_run(const sl_job *job) {
  const sl_kernels *k = sl_kernels_active();
  switch (job->op) {
  case SL_OP_CE:
  case SL_OP_SOFTMAX_FOCAL:
    return run_ce(job, k);
  case SL_OP_DICE:
  case SL_OP_DICE_MC:
    return sl_run_dice(job, k);
  case SL_OP_CE_PROB:
    return sl_run_ce_prob(job, k);
  default:
    return run_bce(job, k);
  }
}
