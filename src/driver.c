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
 *   - CE: a prepass over labels (and mask) validates every selected label before anything is
 *     written and sums the class weights (MEAN's normaliser); then one pass over the logits.
 * Outside the section the driver writes the zeros of grad and of a NONE loss map (memset);
 * inside box rows the microkernels write everything, masked-out elements included.
 */
#include "driver.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels.h"

enum {
  SL_MAX_CHUNKS = 256,          /* partial sums live in a fixed stack array */
  SL_CHUNK_MIN_ELEMS = 1 << 15, /* no chunk smaller than this many elements (if the tensor is) */
  SL_CE_SEG = 1024,             /* pixels of a row converted to class indices at a time */
  SL_CE_GAP = 16                /* uncounted runs at least this long go to the zero fill */
};

typedef struct plan {
  int64_t rows, rows_per_chunk, chunks;
} plan;

static plan make_plan(int64_t rows, int64_t elems_per_row) {
  plan p;
  int64_t min_rows = (SL_CHUNK_MIN_ELEMS + elems_per_row - 1) / elems_per_row;
  int64_t even = (rows + SL_MAX_CHUNKS - 1) / SL_MAX_CHUNKS;
  p.rows = rows;
  p.rows_per_chunk = even > min_rows ? even : min_rows;
  p.chunks = (rows + p.rows_per_chunk - 1) / p.rows_per_chunk;
  return p;
}

/* One chunk's results: an ordered double sum, plus an exact count and an error flag. */
typedef struct chunk_acc {
  double sum;
  int64_t count;
  int err;
} chunk_acc;

typedef void (*chunk_fn)(const void *ctx, int64_t r0, int64_t r1, chunk_acc *acc);

static chunk_acc run_chunks(const plan *p, int num_threads, chunk_fn fn, const void *ctx) {
  double part[SL_MAX_CHUNKS];
  int64_t count = 0;
  int err = 0;
  int nt = num_threads > 0 ? num_threads : omp_get_max_threads();
  if (nt > p->chunks)
    nt = (int)p->chunks;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)                      \
    reduction(+ : count) reduction(| : err)
  for (int64_t k = 0; k < p->chunks; k++) {
    int64_t r0 = k * p->rows_per_chunk;
    int64_t r1 = r0 + p->rows_per_chunk < p->rows ? r0 + p->rows_per_chunk : p->rows;
    chunk_acc a = {0.0, 0, 0};
    fn(ctx, r0, r1, &a);
    part[k] = a.sum;
    count += a.count;
    err |= a.err;
  }
  chunk_acc total = {0.0, count, err};
  for (int64_t k = 0; k < p->chunks; k++)
    total.sum += part[k];
  return total;
}

/* The box of sample n (the whole image without boxes). */
static sl_box box_of(const sl_job *j, int64_t n) {
  if (j->num_boxes == 0) {
    sl_box b = {0, 0, (int32_t)j->w, (int32_t)j->h};
    return b;
  }
  return j->boxes[j->num_boxes == 1 ? 0 : n];
}

static int row_in_box(const sl_box *b, int64_t y) {
  return y >= b->y1 && y < b->y2 && b->x1 < b->x2;
}

static void zero(float *p, int64_t len) {
  if (p && len > 0)
    memset(p, 0, (size_t)len * sizeof(float));
}

/* Zeroes the parts of a W-wide row outside the box columns [x1, x2). */
static void zero_outside(float *row, int64_t w, const sl_box *b) {
  if (!row)
    return;
  zero(row, b->x1);
  zero(row + b->x2, w - b->x2);
}

static int64_t count_nonzero(const uint8_t *m, int64_t len) {
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

/* ---- BCE --------------------------------------------------------------------------------- */

typedef struct bce_ctx {
  const sl_job *job;
  sl_bce_fn fn;
  double gscale;
  float *loss_map;   /* NONE reduction only */
  int count_in_pass; /* count mask bytes in the main pass (no prepass was needed) */
} bce_ctx;

/* Prepass over the mask's rows (N x mask_channels x H of them): selected element count. */
static void bce_count_rows(const void *vctx, int64_t r0, int64_t r1, chunk_acc *acc) {
  const sl_job *j = ((const bce_ctx *)vctx)->job;
  int64_t per_sample = j->mask_channels * j->h;
  int64_t mult = j->mask_channels == 1 ? j->c : 1;
  for (int64_t r = r0; r < r1; r++) {
    sl_box b = box_of(j, r / per_sample);
    if (row_in_box(&b, r % j->h))
      acc->count += mult * count_nonzero(j->mask + r * j->w + b.x1, b.x2 - b.x1);
  }
}

static void bce_rows(const void *vctx, int64_t r0, int64_t r1, chunk_acc *acc) {
  const bce_ctx *ctx = vctx;
  const sl_job *j = ctx->job;
  const sl_options *o = &j->opt;
  int64_t w = j->w, h = j->h, ch = j->c * j->h;
  for (int64_t r = r0; r < r1; r++) {
    int64_t n = r / ch, c = (r / h) % j->c, y = r % h, off = r * w;
    sl_box b = box_of(j, n);
    float *grad = j->grad ? j->grad + off : NULL;
    float *lmap = ctx->loss_map ? ctx->loss_map + off : NULL;
    if (!row_in_box(&b, y)) {
      zero(grad, w);
      zero(lmap, w);
      continue;
    }
    zero_outside(grad, w, &b);
    zero_outside(lmap, w, &b);
    const uint8_t *mask = NULL;
    if (j->mask)
      mask =
          j->mask + ((n * j->mask_channels + (j->mask_channels == 1 ? 0 : c)) * h + y) * w + b.x1;
    sl_bce_row row = {
        .x = j->x + off + b.x1,
        .y = j->target + off + b.x1,
        .w = o->weight ? o->weight + off + b.x1 : NULL,
        .mask = mask,
        .gmap = o->grad_map ? o->grad_map + off + b.x1 : NULL,
        .loss = lmap ? lmap + b.x1 : NULL,
        .grad = grad ? grad + b.x1 : NULL,
        .gscale = ctx->gscale,
        .pos_weight = o->pos_weight ? o->pos_weight[c] : 1.0f,
        .len = b.x2 - b.x1,
    };
    acc->sum += ctx->fn(&row, &acc->err);
    if (ctx->count_in_pass)
      acc->count += count_nonzero(mask, row.len);
  }
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
  bce_ctx ctx = {j, j->op == SL_OP_BCE_PROB ? k->bce_prob : k->bce_logits, 0.0,
                 o->reduction == SL_REDUCTION_NONE ? j->loss : NULL, 0};
  /* An infinite or NaN pos_weight (a per-call [C] array, like CE's class weights below): the
   * SIMD kernels' float terms may underflow to 0 where the reference's double terms do not, and
   * inf * 0 is NaN where the reference has +-inf; such a call runs the reference kernel. */
  if (j->op == SL_OP_BCE_LOGITS && !all_finite(o->pos_weight, j->c))
    ctx.fn = sl_kernels_scalar.bce_logits;
  int64_t count = 0;
  int count_known = 0;
  if (!j->mask) {
    for (int64_t n = 0; n < (j->num_boxes == 1 ? 1 : j->n); n++) {
      sl_box b = box_of(j, n);
      count += (int64_t)(b.x2 - b.x1) * (b.y2 - b.y1) * j->c;
    }
    if (j->num_boxes == 1)
      count *= j->n;
    count_known = 1;
  } else if (j->grad && o->reduction == SL_REDUCTION_MEAN) {
    plan pc = make_plan(j->n * j->mask_channels * j->h, j->w);
    count = run_chunks(&pc, o->num_threads, bce_count_rows, &ctx).count;
    count_known = 1;
  }
  ctx.count_in_pass = !count_known;
  if (o->reduction == SL_REDUCTION_MEAN)
    ctx.gscale = count > 0 ? (double)o->grad_scale / (double)count : 0.0;
  else
    ctx.gscale = o->grad_scale;

  plan p = make_plan(j->n * j->c * j->h, j->w);
  chunk_acc r = run_chunks(&p, o->num_threads, bce_rows, &ctx);
  if (r.err)
    return SL_ERR_DOMAIN;
  if (!count_known)
    count = r.count;
  double norm = (double)count;
  if (j->loss && o->reduction != SL_REDUCTION_NONE)
    *j->loss = (float)(o->reduction == SL_REDUCTION_SUM ? r.sum : (norm > 0 ? r.sum / norm : 0.0));
  if (o->stats) {
    o->stats->loss_sum = r.sum;
    o->stats->normalizer = norm;
    o->stats->count = count;
  }
  return SL_OK;
}

/* ---- CE ---------------------------------------------------------------------------------- */

enum { SL_CLS_NONE = -1, SL_CLS_BAD = -2 };

/* Class indices of the pixels [p, p + len) (p = n*H*W + y*W + x): the label where the pixel is
 * counted (selected by the mask and not ignore_index), SL_CLS_NONE where it is not, SL_CLS_BAD
 * for a counted label outside [0, C). One switch per run, not per pixel; the only place that
 * reads labels. */
#define SL_TO_CLS(T)                                                                               \
  do {                                                                                             \
    const T *l = (const T *)j->labels + p;                                                         \
    for (int64_t i = 0; i < len; i++) {                                                            \
      if (mk && !mk[i]) {                                                                          \
        cls[i] = SL_CLS_NONE;                                                                      \
        continue;                                                                                  \
      }                                                                                            \
      int64_t v = (int64_t)l[i];                                                                   \
      int32_t c = (uint64_t)v < (uint64_t)j->c ? (int32_t)v : SL_CLS_BAD;                          \
      cls[i] = v == ign ? SL_CLS_NONE : c;                                                         \
    }                                                                                              \
  } while (0)

static void to_cls(const sl_job *j, int64_t p, int64_t len, int32_t *cls) {
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
} ce_ctx;

/* Prepass over pixel rows: validates selected labels, counts pixels, sums their class weights. */
static void ce_check_rows(const void *vctx, int64_t r0, int64_t r1, chunk_acc *acc) {
  const sl_job *j = ((const ce_ctx *)vctx)->job;
  const float *cw = j->opt.weight;
  int32_t cls[SL_CE_SEG];
  for (int64_t r = r0; r < r1; r++) {
    sl_box b = box_of(j, r / j->h);
    if (!row_in_box(&b, r % j->h))
      continue;
    for (int64_t x0 = b.x1; x0 < b.x2; x0 += SL_CE_SEG) {
      int64_t len = b.x2 - x0 < SL_CE_SEG ? b.x2 - x0 : SL_CE_SEG;
      to_cls(j, r * j->w + x0, len, cls);
      int64_t n = 0, bad = 0;
      double s = 0.0;
      for (int64_t i = 0; i < len; i++) {
        if (cls[i] < 0) {
          bad |= cls[i] == SL_CLS_BAD;
          continue;
        }
        n++;
        if (cw)
          s += (double)cw[cls[i]];
      }
      acc->sum += cw ? s : (double)n;
      acc->count += n;
      acc->err |= bad != 0;
    }
  }
}

static void ce_rows(const void *vctx, int64_t r0, int64_t r1, chunk_acc *acc) {
  const ce_ctx *ctx = vctx;
  const sl_job *j = ctx->job;
  const sl_options *o = &j->opt;
  int64_t w = j->w, h = j->h, hw = j->h * j->w;
  float *lmap_all = o->reduction == SL_REDUCTION_NONE ? j->loss : NULL;
  int32_t cls[SL_CE_SEG];
  for (int64_t r = r0; r < r1; r++) {
    int64_t n = r / h, y = r % h;
    int64_t xoff = n * j->c * hw + y * w; /* element (n, 0, y, 0) */
    sl_box b = box_of(j, n);
    int inside = row_in_box(&b, y);
    float *lmap = lmap_all ? lmap_all + r * w : NULL;
    for (int64_t c = 0; j->grad && c < j->c; c++) {
      if (inside)
        zero_outside(j->grad + xoff + c * hw, w, &b);
      else
        zero(j->grad + xoff + c * hw, w);
    }
    if (!inside) {
      zero(lmap, w);
      continue;
    }
    zero_outside(lmap, w, &b);
    for (int64_t x0 = b.x1; x0 < b.x2; x0 += SL_CE_SEG) {
      int64_t len = b.x2 - x0 < SL_CE_SEG ? b.x2 - x0 : SL_CE_SEG;
      int64_t p = r * w + x0;
      to_cls(j, p, len, cls); /* valid: checked by the prepass */
      /* counted stretches (with the short uncounted gaps inside them) to the kernel; runs of
       * at least SL_CE_GAP uncounted pixels only get their zeros, plane by plane */
      for (int64_t i = 0; i < len;) {
        int64_t s0 = i;
        while (s0 < len && cls[s0] < 0)
          s0++;
        if (s0 > i) {
          zero(lmap ? lmap + x0 + i : NULL, s0 - i);
          for (int64_t c = 0; j->grad && c < j->c; c++)
            zero(j->grad + xoff + c * hw + x0 + i, s0 - i);
        }
        if (s0 == len)
          break;
        int64_t end = s0 + 1, k = s0 + 1;
        while (k < len) {
          if (cls[k] >= 0) {
            end = ++k;
            continue;
          }
          int64_t g0 = k;
          while (k < len && cls[k] < 0)
            k++;
          if (k - g0 >= SL_CE_GAP || k == len)
            break;
        }
        sl_ce_row row = {
            .x = j->x + xoff + x0 + s0,
            .cls = cls + s0,
            .cw = o->weight,
            .gmap = o->grad_map ? o->grad_map + p + s0 : NULL,
            .loss = lmap ? lmap + x0 + s0 : NULL,
            .grad = j->grad ? j->grad + xoff + x0 + s0 : NULL,
            .gscale = ctx->gscale,
            .cw_sum = ctx->cw_sum,
            .smoothing = o->label_smoothing,
            .cstride = hw,
            .classes = j->c,
            .len = end - s0,
        };
        acc->sum += ctx->fn(&row);
        i = end;
      }
    }
  }
}

static sl_status run_ce(const sl_job *j, const sl_kernels *k) {
  const sl_options *o = &j->opt;
  ce_ctx ctx = {j, k->ce, 0.0, 0.0};
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
    ctx.fn = sl_kernels_scalar.ce;
  plan p = make_plan(j->n * j->h, j->w * j->c);
  chunk_acc pre = run_chunks(&p, o->num_threads, ce_check_rows, &ctx);
  if (pre.err)
    return SL_ERR_LABEL;
  double norm = pre.sum;
  if (o->reduction == SL_REDUCTION_MEAN)
    ctx.gscale = norm != 0.0 ? (double)o->grad_scale / norm : 0.0;
  else
    ctx.gscale = o->grad_scale;

  chunk_acc r = run_chunks(&p, o->num_threads, ce_rows, &ctx);
  if (j->loss && o->reduction != SL_REDUCTION_NONE)
    *j->loss =
        (float)(o->reduction == SL_REDUCTION_SUM ? r.sum : (norm != 0.0 ? r.sum / norm : 0.0));
  if (o->stats) {
    o->stats->loss_sum = r.sum;
    o->stats->normalizer = norm;
    o->stats->count = pre.count;
  }
  return SL_OK;
}

sl_status sl_run(const sl_job *job) {
  const sl_kernels *k = sl_kernels_active();
  return job->op == SL_OP_CE ? run_ce(job, k) : run_bce(job, k);
}
