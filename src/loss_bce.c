// SPDX-License-Identifier: MIT
/*
 * loss_bce.c - the driver of the element-wise losses (the registry's driver column "bce": BCE
 * on probabilities and on logits, the sigmoid focal loss): one pass over the section's tensor
 * rows (n, c, y), N*C*H of them, row r at offset r*W, each covered segment to the row kernel.
 *
 * Passes over memory: one over x, target (and weight, mask, grad_map); the MEAN normaliser is
 * the selected count, known analytically without a mask and counted from the mask alone (a
 * prepass over the mask bytes, only when the gradient needs it before the main pass). Outside
 * the section the driver writes the zeros of grad and of a NONE loss map; inside box rows the
 * row kernels write everything, masked-out elements included.
 */
#include "kernels.h"
#include "loss.h"
#include "runner.h"
#include "section.h"

typedef struct bce_ctx {
  const sl_job *job;
  sl_bce_fn fn;
  double gscale;
  float *loss_map;   /* NONE reduction only */
  int count_in_pass; /* count the selected elements in the main pass (no prepass was needed) */
  int box_stats;     /* per-box statistics (sl_box_stats_wanted) */
  int stream;        /* non-temporal output stores (sl__stream_bytes) */
} bce_ctx;

/* Prepass over the mask's rows (N x mask_channels x H of them; N x H without a mask, touching
 * no memory then): selected element count. */
static void bce_count_rows(const void *vctx, int64_t k, int64_t r0, int64_t r1, void *ws,
                           sl_chunk_acc *acc) {
  (void)k;
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

static void bce_rows(const void *vctx, int64_t k, int64_t r0, int64_t r1, void *ws,
                     sl_chunk_acc *acc) {
  (void)k;
  (void)ws;
  const bce_ctx *ctx = vctx;
  const sl_job *j = ctx->job;
  const sl_options *o = &j->opt;
  const sl_dtype gt = sl_grad_dtype(j);
  int64_t w = j->w, h = j->h, ch = j->c * j->h;
  for (int64_t r = r0; r < r1; r++) {
    int64_t n = r / ch, c = (r / h) % j->c, y = r % h, off = r * w;
    float *lmap = ctx->loss_map ? ctx->loss_map + off : NULL;
    const uint8_t *mask = sl_mask_row(j, n, c, y);
    sl_row_iter it;
    int64_t x0, x1;
    int cov;
    sl_row_begin(&it, j, n, y, ctx->box_stats);
    while (sl_row_next(&it, &x0, &x1, &cov)) {
      if (!cov) {
        if (j->grad)
          sl_zero_grad(j, off + x0, x1 - x0, ctx->stream);
        sl_zero_out(lmap ? lmap + x0 : NULL, x1 - x0, ctx->stream);
        continue;
      }
      sl_bce_row row = {
          .x = sl_elem_at(j->x, off + x0, o->input_dtype),
          .y = sl_elem_at(j->target, off + x0, o->target_dtype),
          .w = o->weight ? sl_elem_at(o->weight, off + x0, o->weight_dtype) : NULL,
          .mask = mask ? mask + x0 : NULL,
          .gmap = o->grad_map ? o->grad_map + off + x0 : NULL,
          .loss = lmap ? lmap + x0 : NULL,
          .grad = j->grad ? sl_elem_at_w(j->grad, off + x0, gt) : NULL,
          .xt = o->input_dtype,
          .yt = o->target_dtype,
          .wt = o->weight_dtype,
          .gt = gt,
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
          sl_box_stats_add(j, &it, x0, s, (double)cnt, cnt);
      }
    }
  }
  sl_stream_fence(ctx->stream);
}

sl_status sl_run_bce(const sl_job *j, const sl_kernels *k) {
  const sl_options *o = &j->opt;
  bce_ctx ctx = {j,
                 NULL,
                 0.0,
                 o->reduction == SL_REDUCTION_NONE ? j->loss : NULL,
                 0,
                 sl_box_stats_wanted(j),
                 sl_stream_out(j, j->c * j->h * j->w)};
  ctx.fn = j->op == SL_OP_BCE_PROB     ? k->bce_prob
           : j->op == SL_OP_BCE_LOGITS ? k->bce_logits
                                       : k->sigmoid_focal;
  /* An infinite or NaN pos_weight (a per-call [C] array, like CE's class weights below): the
   * SIMD kernels' float terms may underflow to 0 where the reference's double terms do not, and
   * inf * 0 is NaN where the reference has +-inf; such a call runs the reference kernel. */
  if (j->op == SL_OP_BCE_LOGITS && !sl_all_finite(o->pos_weight, j->c))
    ctx.fn = sl_kernels_scalar.bce_logits;
  int64_t count = 0;
  int count_known = 0;
  if (!j->mask && sl_no_boxes(j)) {
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

  sl_box_stats_clear(j, 0, j->n);
  sl_plan p = sl_make_plan(j->n * j->c * j->h, j->w, ctx.box_stats ? j->c * j->h : 0);
  sl_chunk_acc r = sl_run_chunks(&p, o->num_threads, bce_rows, &ctx, 0);
  if (r.nomem)
    return SL_ERR_NO_MEMORY;
  if (r.err)
    return SL_ERR_DOMAIN;
  if (!count_known)
    count = r.count;
  double norm = (double)count;
  if (j->loss && o->reduction != SL_REDUCTION_NONE)
    *j->loss = (float)(o->reduction == SL_REDUCTION_SUM ? r.sum : (norm > 0 ? r.sum / norm : 0.0));
  sl_write_stats(j, r.sum, norm, count);
  return SL_OK;
}
