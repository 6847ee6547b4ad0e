// SPDX-License-Identifier: MIT
/*
 * loss_ce_prob.c - the driver of sl_ce_prob (the registry's driver column "ce_prob":
 * cross-entropy with class-probability targets): walks
 * the section's pixel rows (n, y) across the C class planes and runs the active ISA's
 * sl_ce_prob row kernel over the covered segments.
 *
 * Shape legend: N, C, H, W as in sectionloss.h; pixel row r = n * H + y, N * H of them.
 * Passes over memory: one over logits and targets (the kernel), plus, only when the gradient
 * needs MEAN's normaliser before the pass and it is not known analytically (a mask, boxes or
 * pixel weights), a prepass over the mask bytes and pixel weights. The normaliser is the
 * number of counted pixels (PyTorch's MEAN for probability targets), or with pixel weights the
 * sum of theirs (include/sectionloss.h). A mask's holes of at least CP_GAP pixels get their
 * zeros from the driver, not the kernel. Chunks and their order as every loss's driver
 * (sl_make_plan, sl_run_chunks): bitwise the same results for every thread count. Outside the
 * section the driver writes the zeros of grad and of a NONE loss map; inside a covered segment
 * the kernel writes every pixel (masked-out ones as 0).
 */

#include "kernels.h"
#include "loss.h"
#include "runner.h"
#include "section.h"

enum {
  CP_SEG = 1024, /* pixels of a run selected at a time */
  CP_GAP = 16    /* unselected runs at least this long go to the zero fill, not the kernel */
};

typedef struct cp_ctx {
  const sl_job *job;
  sl_ce_fn fn;
  double gscale;
  int box_stats; /* per-box statistics (sl_box_stats_wanted) */
  int stream;    /* non-temporal output stores (sl_stream_out) */
} cp_ctx;

/* Sections without boxes: the rows [r, end) of one sample (at most up to r1) form one run,
 * contiguous in every plane. */
static int64_t cp_run_end(const sl_job *j, int64_t r, int64_t r1) {
  int64_t e = (r / j->h + 1) * j->h;
  return e < r1 ? e : r1;
}

/* The kernel's selection of the pixels [p, p + len) (p = n*H*W + y*W + x): 0 where the mask
 * selects (or no mask), -1 elsewhere; adds their normaliser terms (count, and the sum of the
 * counted pixels' weights, or their count without pixel weights) to *count and returns the
 * sum. */
static double cp_select(const sl_job *j, int64_t p, int64_t len, int32_t *cls, int64_t *count) {
  const uint8_t *mk = j->mask ? j->mask + p : NULL;
  const float *pw = j->opt.pixel_weight ? j->opt.pixel_weight + p : NULL;
  int64_t n = 0;
  for (int64_t i = 0; i < len; i++) { /* no branch per pixel */
    cls[i] = mk ? (int32_t)(mk[i] != 0) - 1 : 0;
    n += cls[i] == 0;
  }
  double s = 0.0;
  for (int64_t i = 0; pw && i < len; i++)
    s += cls[i] == 0 ? (double)pw[i] : 0.0;
  *count += n;
  return pw ? s : (double)n;
}

/* Prepass: MEAN's normaliser (acc->norm) and the count, in the main pass's runs. */
static void cp_count_rows(const void *vctx, int64_t k, int64_t r0, int64_t r1, void *ws,
                          sl_chunk_acc *acc) {
  (void)k;
  (void)ws;
  const sl_job *j = ((const cp_ctx *)vctx)->job;
  int32_t cls[CP_SEG];
  for (int64_t r = r0; r < r1; r++) {
    sl_row_iter it;
    int64_t x0, x1;
    int cov;
    if (!j->box_offsets && j->num_boxes == 0) {
      int64_t re = cp_run_end(j, r, r1);
      for (int64_t xs = 0; xs < (re - r) * j->w; xs += CP_SEG) {
        int64_t len = (re - r) * j->w - xs < CP_SEG ? (re - r) * j->w - xs : CP_SEG;
        acc->norm += cp_select(j, r * j->w + xs, len, cls, &acc->count);
      }
      r = re - 1;
      continue;
    }
    sl_row_begin(&it, j, r / j->h, r % j->h, 0);
    while (sl_row_next(&it, &x0, &x1, &cov))
      for (int64_t xs = x0; cov && xs < x1; xs += CP_SEG) {
        int64_t len = x1 - xs < CP_SEG ? x1 - xs : CP_SEG;
        acc->norm += cp_select(j, r * j->w + xs, len, cls, &acc->count);
      }
  }
}

/* The covered pixels [x0, x1) from the start of pixel row r (x1 may pass W: the run continues
 * over the next rows of the same sample), CP_SEG at a time: stretches of selected pixels (with
 * the short unselected gaps inside them) to the kernel, runs of at least CP_GAP unselected
 * pixels (a mask's holes) to the zero fill, plane by plane. The cuts depend on the mask alone,
 * never on an address. Returns the loss sum; adds the normaliser terms to *norm and *count. */
static double cp_span(const cp_ctx *ctx, int64_t r, int64_t x0, int64_t x1, float *lmap,
                      double *norm, int64_t *count, void *ws) {
  const sl_job *j = ctx->job;
  const sl_options *o = &j->opt;
  const int64_t w = j->w, h = j->h, hw = j->h * j->w;
  const int64_t xoff = (r / h) * j->c * hw + (r % h) * w; /* element (n, 0, y, 0) */
  int32_t cls[CP_SEG];
  double sum = 0.0;
  for (int64_t xs = x0; xs < x1; xs += CP_SEG) {
    int64_t len = x1 - xs < CP_SEG ? x1 - xs : CP_SEG;
    int64_t p = r * w + xs;
    *norm += cp_select(j, p, len, cls, count);
    for (int64_t i = 0; i < len;) {
      int64_t s0 = i;
      while (s0 < len && cls[s0] < 0)
        s0++;
      if (s0 > i) { /* unselected: zeros */
        sl_zero_out(lmap ? lmap + xs + i : NULL, s0 - i, ctx->stream);
        for (int64_t c = 0; j->grad && c < j->c; c++)
          sl_zero_out(j->grad + xoff + c * hw + xs + i, s0 - i, ctx->stream);
      }
      if (s0 == len)
        break;
      /* the stretch ends before the first CP_GAP unselected pixels in a row (or the trailing
       * ones): the run length kept without a branch per pixel */
      int64_t k = s0 + 1, gap = 0;
      for (; k < len && gap < CP_GAP; k++)
        gap = (gap + 1) & -(int64_t)(cls[k] < 0);
      const int64_t end = k - gap;
      sl_ce_row row = {
          .x = j->x + xoff + xs + s0,
          .cls = cls + s0,
          .q = j->target + xoff + xs + s0,
          .cw = o->weight,
          .pw = o->pixel_weight ? o->pixel_weight + p + s0 : NULL,
          .gmap = o->grad_map ? o->grad_map + p + s0 : NULL,
          .loss = lmap ? lmap + xs + s0 : NULL,
          .grad = j->grad ? j->grad + xoff + xs + s0 : NULL,
          .gscale = ctx->gscale,
          .cw_sum = 0.0,
          .smoothing = o->label_smoothing,
          .gamma = 0.0f,
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

static void cp_rows(const void *vctx, int64_t k, int64_t r0, int64_t r1, void *ws,
                    sl_chunk_acc *acc) {
  (void)k;
  const cp_ctx *ctx = vctx;
  const sl_job *j = ctx->job;
  const int64_t w = j->w, h = j->h, hw = j->h * j->w;
  float *lmap_all = j->opt.reduction == SL_REDUCTION_NONE ? j->loss : NULL;
  /* the chunk's samples' box statistics (whole samples), zeroed here: nothing is written
   * unless every thread has its workspace */
  if (ctx->box_stats)
    sl_box_stats_clear(j, r0 / h, (r1 + h - 1) / h);
  for (int64_t r = r0; r < r1; r++) {
    const int64_t xoff = (r / h) * j->c * hw + (r % h) * w;
    float *lmap = lmap_all ? lmap_all + r * w : NULL;
    if (!j->box_offsets && j->num_boxes == 0) {
      int64_t re = cp_run_end(j, r, r1);
      acc->sum += cp_span(ctx, r, 0, (re - r) * w, lmap, &acc->norm, &acc->count, ws);
      r = re - 1;
      continue;
    }
    sl_row_iter it;
    int64_t x0, x1;
    int cov;
    sl_row_begin(&it, j, r / h, r % h, ctx->box_stats);
    while (sl_row_next(&it, &x0, &x1, &cov)) {
      if (!cov) {
        sl_zero_out(lmap ? lmap + x0 : NULL, x1 - x0, ctx->stream);
        for (int64_t c = 0; j->grad && c < j->c; c++)
          sl_zero_out(j->grad + xoff + c * hw + x0, x1 - x0, ctx->stream);
        continue;
      }
      double bnorm = 0.0;
      int64_t bcount = 0;
      double s = cp_span(ctx, r, x0, x1, lmap, &bnorm, &bcount, ws);
      acc->sum += s;
      acc->norm += bnorm;
      acc->count += bcount;
      if (ctx->box_stats)
        sl_box_stats_add(j, &it, x0, s, bnorm, bcount);
    }
  }
  sl_stream_fence(ctx->stream);
}

sl_status sl_run_ce_prob(const sl_job *j, const sl_kernels *k) {
  const sl_options *o = &j->opt;
  cp_ctx ctx = {j, k->ce_prob, 0.0, sl_box_stats_wanted(j), sl_stream_out(j, j->h * j->w)};
  sl_plan p = sl_make_plan(j->n * j->h, j->w * j->c, ctx.box_stats ? j->h : 0);
  const int whole = !j->mask && !j->num_boxes && !j->box_offsets && !o->pixel_weight;
  double norm = whole ? (double)(j->n * j->h * j->w) : 0.0;
  int norm_known = whole;
  if (!whole && j->grad && o->reduction == SL_REDUCTION_MEAN) {
    norm = sl_run_chunks(&p, o->num_threads, cp_count_rows, &ctx, 0).norm;
    norm_known = 1;
  }
  if (o->reduction == SL_REDUCTION_MEAN)
    ctx.gscale = norm != 0.0 ? (double)o->grad_scale / norm : 0.0;
  else
    ctx.gscale = o->grad_scale;
  sl_chunk_acc r = sl_run_chunks(&p, o->num_threads, cp_rows, &ctx, SL_WS_KERNEL_BYTES);
  if (r.nomem)
    return SL_ERR_NO_MEMORY;
  if (!norm_known)
    norm = r.norm;
  if (j->loss && o->reduction != SL_REDUCTION_NONE)
    *j->loss =
        (float)(o->reduction == SL_REDUCTION_SUM ? r.sum : (norm != 0.0 ? r.sum / norm : 0.0));
  sl_write_stats(j, r.sum, norm, r.count);
  return SL_OK;
}
