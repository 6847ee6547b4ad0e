// SPDX-License-Identifier: MIT
/*
 * loss_ce.c - the driver of the softmax losses over pixel rows (the registry's driver column
 * "ce": cross-entropy with class labels or with class-probability targets, softmax focal):
 * pixel rows (n, y), N*H of them, each spanning the C class rows (n, 0..C-1, y).
 *
 * Passes over memory: a prepass over labels (and mask, pixel weights) validates every selected
 * label before anything is written and sums the pixel x class weights (MEAN's normaliser); then
 * one pass over the logits. A call that writes only at its end (no gradient, no NONE map, no
 * per-box statistics) skips the prepass: its main pass validates and sums the same terms.
 * Probability targets (sl_ce_prob) have no labels to validate: a pixel is counted where the
 * section selects it, MEAN's normaliser is the count (PyTorch's) or the sum of the pixel weights,
 * and the prepass runs only when the gradient needs that normaliser and a mask, boxes or pixel
 * weights keep it from being N H W.
 * Sections without boxes give the kernel runs spanning all of a chunk's rows of one sample.
 * Outside the counted pixels the driver writes the zeros of grad and of a NONE loss map.
 */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "loss.h"
#include "runner.h"
#include "section.h"
#include "workspace.h"

enum {
  SL_CE_SEG = 1024, /* pixels of a run converted to class indices at a time */
  SL_CE_GAP = 16,   /* uncounted runs at least this long go to the zero fill */
  SL_LINE = 16      /* floats per cache line (64 bytes) */
};

typedef struct ce_ctx {
  const sl_job *job;
  sl_ce_fn fn;
  double gscale, cw_sum;
  int box_stats;       /* per-box statistics (sl_box_stats_wanted) */
  int stream;          /* non-temporal output stores (sl__stream_bytes) */
  int count_in_pass;   /* no prepass: the main pass validates, counts and sums the normaliser */
  float *ohem_out;     /* OHEM's prepass (ohem_rows): where it writes each pixel's -log p_t */
  const float *ohem_l; /* OHEM, the passes after it: ohem_out, -1 where not counted */
  float ohem_L;        /* OHEM: a pixel is kept when its ohem_l is not <= this */
  int prob;            /* sl_ce_prob: class-probability targets (j->target), no labels */
} ce_ctx;

/* Sections without boxes: the rows [r, end) of one sample (at most up to r1) form one run,
 * contiguous in every plane (fewer, longer segments); the prepass and the main pass group
 * them alike, so their normaliser sums are the same bit for bit. */
static int64_t ce_run_end(const sl_job *j, int64_t r, int64_t r1) {
  int64_t e = (r / j->h + 1) * j->h;
  return e < r1 ? e : r1;
}

/* The class indices of the pixels [p, p + len) (sl_to_cls), OHEM's unkept pixels not counted
 * (a bad label stays bad: the prepass reports it). prob: 0 where the mask selects the pixel (or
 * without a mask), SL_CLS_NONE elsewhere (the kernel's "counted" and "not counted"). */
static void ce_cls(const ce_ctx *ctx, int64_t p, int64_t len, int32_t *cls) {
  if (ctx->prob) {
    const uint8_t *mk = ctx->job->mask ? ctx->job->mask + p : NULL;
    for (int64_t i = 0; i < len; i++) /* no branch per pixel */
      cls[i] = mk ? (int32_t)(mk[i] != 0) - 1 : 0;
    return;
  }
  sl_to_cls(ctx->job, p, len, cls);
  const float *l = ctx->ohem_l ? ctx->ohem_l + p : NULL;
  for (int64_t i = 0; l && i < len; i++) { /* no branch per pixel (sl_to_cls) */
    int32_t keep = -(int32_t)(!(l[i] <= ctx->ohem_L) | (cls[i] == SL_CLS_BAD));
    cls[i] = (cls[i] & keep) | (SL_CLS_NONE & ~keep);
  }
}

/* The normaliser terms of the pixels [p, p + len) with class indices cls: *count counted
 * pixels, returned the sum of their pixel x class weights (prob: of their pixel weights,
 * PyTorch's MEAN for probability targets ignoring class weights; 1 without pixel weights);
 * *bad |= a counted label outside [0, C). */
static double ce_norm(const ce_ctx *ctx, int64_t p, const int32_t *cls, int64_t len, int64_t *count,
                      int *bad) {
  const sl_options *o = &ctx->job->opt;
  const float *cw = ctx->prob ? NULL : o->weight;
  const void *pw = o->pixel_weight ? sl_elem_at(o->pixel_weight, p, o->weight_dtype) : NULL;
  int64_t n = 0;
  int b = 0;
  double s = 0.0;
  for (int64_t i = 0; i < len; i++) { /* no branch per pixel (SL_TO_CLS) */
    n += cls[i] >= 0;
    b |= cls[i] == SL_CLS_BAD;
  }
  for (int64_t i = 0; (cw || pw) && i < len; i++) {
    double v = (pw ? (double)sl_elem_get(pw, i, o->weight_dtype) : 1.0) *
               (cw ? (double)cw[cls[i] < 0 ? 0 : cls[i]] : 1.0);
    s += cls[i] >= 0 ? v : 0.0;
  }
  *count += n;
  *bad |= b;
  return cw || pw ? s : (double)n;
}

/* The normaliser terms of the covered run [x0, x1) from the start of pixel row r (as ce_span
 * cuts it) added to acc. */
static void ce_check_run(const ce_ctx *ctx, int64_t r, int64_t x0, int64_t x1, sl_chunk_acc *acc) {
  const sl_job *j = ctx->job;
  int32_t cls[SL_CE_SEG];
  for (int64_t xs = x0; xs < x1; xs += SL_CE_SEG) {
    int64_t len = x1 - xs < SL_CE_SEG ? x1 - xs : SL_CE_SEG;
    int64_t p = r * j->w + xs;
    ce_cls(ctx, p, len, cls);
    acc->norm += ce_norm(ctx, p, cls, len, &acc->count, &acc->err);
  }
}

/* Prepass over pixel rows: validates selected labels, counts pixels, sums their class weights
 * (acc->norm), in the main pass's runs. */
static void ce_check_rows(const void *vctx, int64_t k, int64_t r0, int64_t r1, void *ws,
                          sl_chunk_acc *acc) {
  (void)k;
  (void)ws;
  const ce_ctx *ctx = vctx;
  const sl_job *j = ctx->job;
  for (int64_t r = r0; r < r1; r++) {
    if (sl_no_boxes(j)) {
      int64_t re = ce_run_end(j, r, r1);
      ce_check_run(ctx, r, 0, (re - r) * j->w, acc);
      r = re - 1;
      continue;
    }
    sl_row_iter it;
    int64_t x0, x1;
    int cov;
    sl_row_begin(&it, j, r / j->h, r % j->h, 0);
    while (sl_row_next(&it, &x0, &x1, &cov))
      if (cov)
        ce_check_run(ctx, r, x0, x1, acc);
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
   * (SL_LINE floats, or twice as many 2-byte elements, from the gradient's start), the
   * stretches taking in the uncounted pixels up to them, so no line is written partly by
   * non-temporal and partly by ordinary stores (its write-combining buffer would be flushed
   * half full and the line read for ownership). */
  const sl_dtype gt = sl_grad_dtype(j);
  const int64_t al = !ctx->stream ? 1 : gt != SL_DTYPE_F32 ? 2 * SL_LINE : SL_LINE;
  for (int64_t xs = x0, step = SL_CE_SEG - ((xoff + x0) & (al - 1)); xs < x1;
       xs += step, step = SL_CE_SEG) {
    int64_t len = x1 - xs < step ? x1 - xs : step;
    int64_t p = r * w + xs, base = xoff + xs; /* base: element offset of the chunk's pixel 0 */
    ce_cls(ctx, p, len, cls); /* SL_CLS_BAD (without a prepass) counts as uncounted */
    if (norm)
      *norm += ce_norm(ctx, p, cls, len, count, bad);
    for (int64_t i = 0; i < len;) {
      int64_t s0 = i;
      while (s0 < len && cls[s0] < 0)
        s0++;
      if (s0 < len && s0 - ((base + s0) & (al - 1)) >= i)
        s0 -= (base + s0) & (al - 1);
      if (s0 > i) {
        sl_zero_out(lmap ? lmap + xs + i : NULL, s0 - i, ctx->stream);
        for (int64_t c = 0; j->grad && c < j->c; c++)
          sl_zero_grad(j, base + c * hw + i, s0 - i, ctx->stream);
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
          .x = sl_elem_at(j->x, base + s0, o->input_dtype),
          .cls = cls + s0,
          .q = ctx->prob ? sl_elem_at(j->target, base + s0, o->target_dtype) : NULL,
          .cw = o->weight,
          .pw = o->pixel_weight ? sl_elem_at(o->pixel_weight, p + s0, o->weight_dtype) : NULL,
          .gmap = o->grad_map ? o->grad_map + p + s0 : NULL,
          .loss = lmap ? lmap + xs + s0 : NULL,
          .grad = j->grad ? sl_elem_at_w(j->grad, base + s0, gt) : NULL,
          .xt = o->input_dtype,
          .qt = o->target_dtype,
          .pwt = o->weight_dtype,
          .gt = gt,
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

static void ce_rows(const void *vctx, int64_t k, int64_t r0, int64_t r1, void *ws,
                    sl_chunk_acc *acc) {
  (void)k;
  const ce_ctx *ctx = vctx;
  const sl_job *j = ctx->job;
  int64_t w = j->w, h = j->h, hw = j->h * j->w;
  float *lmap_all = j->opt.reduction == SL_REDUCTION_NONE ? j->loss : NULL;
  /* the chunk's samples' box statistics (whole samples), zeroed here rather than before the
   * pass: nothing is written unless every thread has its workspace */
  if (ctx->box_stats)
    sl_box_stats_clear(j, r0 / h, (r1 + h - 1) / h);
  for (int64_t r = r0; r < r1; r++) {
    int64_t xoff = (r / h) * j->c * hw + (r % h) * w; /* element (n, 0, y, 0) */
    float *lmap = lmap_all ? lmap_all + r * w : NULL;
    double *norm = ctx->count_in_pass ? &acc->norm : NULL;
    if (sl_no_boxes(j)) {
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
        sl_zero_out(lmap ? lmap + x0 : NULL, x1 - x0, ctx->stream);
        for (int64_t c = 0; j->grad && c < j->c; c++)
          sl_zero_grad(j, xoff + c * hw + x0, x1 - x0, ctx->stream);
        continue;
      }
      if (!ctx->box_stats) {
        acc->sum += ce_span(ctx, r, x0, x1, lmap, norm, &acc->count, &acc->err, ws);
        continue;
      }
      double bnorm = 0.0;
      int64_t bcount = 0;
      int unused = 0;
      double s = ce_span(ctx, r, x0, x1, lmap, &bnorm, &bcount,
                         ctx->count_in_pass ? &acc->err : &unused, ws);
      acc->sum += s;
      if (ctx->count_in_pass) {
        acc->norm += bnorm;
        acc->count += bcount;
      }
      sl_box_stats_add(j, &it, x0, s, bnorm, bcount);
    }
  }
  sl_stream_fence(ctx->stream);
}

/* ---- OHEM ----------------------------------------------------------------------------------
 * A first pass writes each counted pixel's l = -log p_t (the CE kernel's loss map without
 * weights or smoothing: the float kernel's p_t) and -1 at every other pixel; the threshold is
 * then selected from those values (a radix selection over their bits, no sort), and the passes
 * after it count a pixel only when its l is above it (ce_cls). In l, mmseg's rule
 * p_t < max(thresh, p_(K')) reads l > min(-log thresh, l_(K')), l_(K') the (K' + 1)-th largest. */

/* The covered run [x0, x1) from the start of pixel row r: l, or -1, per pixel. */
static void ohem_run(const ce_ctx *ctx, int64_t r, int64_t x0, int64_t x1, void *ws) {
  const sl_job *j = ctx->job;
  const int64_t w = j->w, h = j->h, hw = j->h * j->w;
  const int64_t xoff = (r / h) * j->c * hw + (r % h) * w; /* element (n, 0, y, 0) */
  int32_t cls[SL_CE_SEG];
  for (int64_t xs = x0; xs < x1; xs += SL_CE_SEG) {
    const int64_t len = x1 - xs < SL_CE_SEG ? x1 - xs : SL_CE_SEG, p = r * w + xs;
    float *l = ctx->ohem_out + p;
    sl_to_cls(j, p, len, cls);
    sl_ce_row row = {.x = sl_elem_at(j->x, xoff + xs, j->opt.input_dtype),
                     .cls = cls,
                     .loss = l,
                     .xt = j->opt.input_dtype,
                     .cw_sum = (double)j->c,
                     .cstride = hw,
                     .classes = j->c,
                     .len = len,
                     .ws = ws};
    ctx->fn(&row);
    for (int64_t i = 0; i < len; i++) /* l >= 0 (a -0 made +0: the sign marks "not counted") */
      l[i] = cls[i] >= 0 ? fabsf(l[i]) : -1.0f;
  }
}

static void ohem_rows(const void *vctx, int64_t k, int64_t r0, int64_t r1, void *ws,
                      sl_chunk_acc *acc) {
  (void)k, (void)acc;
  const ce_ctx *ctx = vctx;
  const sl_job *j = ctx->job;
  for (int64_t r = r0; r < r1; r++) {
    if (sl_no_boxes(j)) {
      int64_t re = ce_run_end(j, r, r1);
      ohem_run(ctx, r, 0, (re - r) * j->w, ws);
      r = re - 1;
      continue;
    }
    sl_row_iter it;
    int64_t x0, x1;
    int cov;
    sl_row_begin(&it, j, r / j->h, r % j->h, 0);
    while (sl_row_next(&it, &x0, &x1, &cov)) {
      if (cov) {
        ohem_run(ctx, r, x0, x1, ws);
        continue;
      }
      for (int64_t x = x0; x < x1; x++)
        ctx->ohem_out[r * j->w + x] = -1.0f;
    }
  }
}

enum { SL_OHEM_BINS = 1 << 16 };

static uint32_t f_bits(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* The threshold in l over l[0 .. len) (values with the sign bit set are not counted): lthr
 * unless at most K' = min(K, n - 1) of the n counted values exceed it, else the (K' + 1)-th
 * largest value. A non-negative float's bits order like its value (NaN above +inf): the high
 * 16 bits of the bits find its bin, the low 16 bits its place in the bin; hist: SL_OHEM_BINS
 * counts of scratch. */
static float ohem_select(const float *l, int64_t len, int64_t K, float lthr, uint32_t *hist) {
  int64_t n = 0, above = 0;
  memset(hist, 0, SL_OHEM_BINS * sizeof *hist);
  for (int64_t i = 0; i < len; i++) {
    const uint32_t b = f_bits(l[i]);
    const int counted = b >> 31 == 0;
    n += counted;
    above += counted & !(l[i] <= lthr);
    hist[b >> 16] += (uint32_t)counted; /* a not counted value's bin (>= 2^15) is never read */
  }
  const int64_t kk = K < n - 1 ? K : n - 1;
  if (n == 0 || above > kk)
    return lthr;
  int64_t cum = 0;
  uint32_t hi = SL_OHEM_BINS / 2 - 1;
  while (cum + hist[hi] <= kk)
    cum += hist[hi--];
  const int64_t rank = kk - cum; /* from the top, within bin hi */
  memset(hist, 0, SL_OHEM_BINS * sizeof *hist);
  for (int64_t i = 0; i < len; i++) {
    const uint32_t b = f_bits(l[i]);
    hist[b & 0xffff] += (uint32_t)(b >> 16 == hi);
  }
  uint32_t lo = SL_OHEM_BINS - 1;
  cum = 0;
  while (cum + hist[lo] <= rank)
    cum += hist[lo--];
  const uint32_t key = hi << 16 | lo;
  float v;
  memcpy(&v, &key, sizeof v);
  return v;
}

/* OHEM's prepass and selection: ctx->ohem_l and ctx->ohem_L set, or SL_ERR_NO_MEMORY. */
static sl_status ohem_prepare(ce_ctx *ctx, const sl_plan *p, const sl_kernels *k) {
  const sl_job *j = ctx->job;
  const int64_t pixels = j->n * j->h * j->w;
  float *buf =
      sl_workspace(SL_WS_OHEM, (size_t)pixels * sizeof(float) + SL_OHEM_BINS * sizeof(uint32_t));
  if (!buf)
    return SL_ERR_NO_MEMORY;
  ce_ctx pre = *ctx;
  pre.fn = k->ce;
  pre.ohem_out = buf;
  if (sl_run_chunks(p, j->opt.num_threads, ohem_rows, &pre, SL_WS_KERNEL_BYTES).nomem)
    return SL_ERR_NO_MEMORY;
  const float thresh = j->opt.ohem_thresh;
  const float lthr = (float)-log((double)thresh); /* thresh 0: +inf */
  /* K = min_kept x N, saturated (any min_kept >= 0 is valid; ohem_select caps K at n - 1) */
  const int64_t K =
      j->opt.ohem_min_kept > INT64_MAX / j->n ? INT64_MAX : j->opt.ohem_min_kept * j->n;
  ctx->ohem_l = buf;
  ctx->ohem_L = ohem_select(buf, pixels, K, lthr, (uint32_t *)(buf + pixels));
  return SL_OK;
}

sl_status sl_run_ce(const sl_job *j, const sl_kernels *k) {
  const sl_options *o = &j->opt;
  const int prob = j->op == SL_OP_CE_PROB;
  ce_ctx ctx = {.job = j,
                .fn = prob                ? k->ce_prob
                      : j->op == SL_OP_CE ? k->ce
                                          : k->softmax_focal,
                .box_stats = sl_box_stats_wanted(j),
                .stream = sl_stream_out(j, j->h * j->w),
                .prob = prob};
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
  if (!prob && !sl_all_finite(o->weight, j->c))
    ctx.fn = j->op == SL_OP_CE ? sl_kernels_scalar.ce : sl_kernels_scalar.softmax_focal;
  sl_plan p = sl_make_plan(j->n * j->h, j->w * j->c, ctx.box_stats ? j->h : 0);
  if (o->ohem_thresh >= 0.0f) {
    sl_status st = ohem_prepare(&ctx, &p, k);
    if (st != SL_OK)
      return st;
  }
  /* The prepass validates every label before anything is written and gives MEAN's normaliser
   * to the gradient; a call that writes only at its end (no gradient, no loss map, no per-box
   * statistics) does both in the main pass instead: the labels are read once. Probability
   * targets have no labels: the prepass only when the gradient needs a normaliser other than
   * the whole call's N H W pixels. */
  const int whole = !j->mask && !j->num_boxes && !j->box_offsets && !o->pixel_weight;
  ctx.count_in_pass = prob ? !(j->grad && o->reduction == SL_REDUCTION_MEAN && !whole)
                           : !j->grad && o->reduction != SL_REDUCTION_NONE && !ctx.box_stats;
  sl_chunk_acc pre = {0.0, prob && whole ? (double)(j->n * j->h * j->w) : 0.0, 0, 0, 0};
  if (!ctx.count_in_pass) {
    pre = sl_run_chunks(&p, o->num_threads, ce_check_rows, &ctx, 0);
    if (pre.err)
      return SL_ERR_LABEL;
  }
  if (o->reduction == SL_REDUCTION_MEAN)
    ctx.gscale = pre.norm != 0.0 ? (double)o->grad_scale / pre.norm : 0.0;
  else
    ctx.gscale = o->grad_scale;

  sl_chunk_acc r = sl_run_chunks(&p, o->num_threads, ce_rows, &ctx, SL_WS_KERNEL_BYTES);
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
  sl_write_stats(j, r.sum, norm, pre.count);
  return SL_OK;
}
