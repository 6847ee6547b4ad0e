// SPDX-License-Identifier: MIT
/*
 * loss_dice.c - the driver of the Dice / Tversky losses (the registry's driver column "dice":
 * sl_dice, sl_dice_multiclass): per-class sums over the section, the per-class losses and their
 * reduction, then the gradient pass, each pass on the chunk runner (runner.h).
 *
 * Shape legend: N, C, H, W as in sectionloss.h. sl_dice: a row is a tensor row (n, c, y);
 * multiclass: a pixel row (n, y) spanning the C class rows (n, 0..C-1, y).
 *
 * Passes over memory: one for the sums (which also validates multiclass labels, so that
 * SL_ERR_LABEL is returned before anything is written), a second for the gradient (with a
 * gradient only). Per class c, with P, T the section sums of p and t (segmentation_
 * models_pytorch DiceLoss / TverskyLoss, src/losses/_functional.py and dice.py / tversky.py):
 *   Dice (smp 0.3-0.4):  I = sum p t,
 *                        D0 = P + T + smooth,                          score = (2 I + smooth) / D
 *   Tversky (smp 0.5+, whose Dice is Tversky with alpha = beta = 0.5): I = (P + T - sum |p - t|)
 *                        / 2 (smp's L1 form: sum min(p, t), sum p t for targets 0 / 1; the
 *                        multiclass one-hot targets with p in (0, 1) give sum p t: the
 *                        multiclass kernels take that),
 *                        D0 = I + alpha (P - I) + beta (T - I) + smooth, score = (I + smooth) / D
 *   D = clamp_min(D0, eps) (NaN stays NaN); loss_c = 1 - score, or -log(clamp_min(score, eps));
 *   loss_c *= [T > 0] (smp: mask = y_true.sum(dims) > 0, a multiplication: NaN stays NaN);
 *   MEAN: L = (sum_c loss_c / C)^gamma, SUM: L = (sum_c loss_c)^gamma (gamma 1 for Dice),
 *   NONE: loss_c. The gradient (PyTorch's: clamp_min passes the gradient where D0 >= eps):
 *   d L / d p_e = a_c + b_c h_e with h_e = d I / d p_e (t_e, or for Tversky's L1 form [p_e < t_e]
 *   + [p_e == t_e] / 2), u = [D0 >= eps], k_c = dL/dloss_c [T > 0] dloss/dscore,
 *     Dice:    a_c = -k_c u score / D,        b_c = 2 k_c / D
 *     Tversky: a_c = -k_c u score alpha / D,  b_c = k_c (1 - u score (1 - alpha - beta)) / D
 *   dloss/dscore = -1, or -1 / score where score >= eps (0 where clamped);
 *   dL/dloss_c = g gamma M^(gamma - 1) / C (MEAN, M the mean; SUM: without / C, M the sum;
 *   0 at M = 0 for every gamma != 1, where gamma < 1 has no finite derivative),
 *   grad_map[c] (NONE).
 * Determinism: partial sums live per chunk (sl_dice: per class and row part) in a fixed array
 * and are added in order; chunks depend on the shape only. sl_dice's chunks hold rows of one
 * class (or, with more than SL_MAX_CHUNKS classes, whole classes), multiclass's are pixel-row
 * ranges with C triples each. Classes: at most
 * SL_DICE_CMAX (the per-class sums and constants are fixed arrays): more give SL_ERR_OPTION.
 * Those arrays are the calling thread's workspace (dice_ws, src/workspace.h), not its stack.
 */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "loss.h"
#include "runner.h"
#include "section.h"
#include "workspace.h"

enum {
  SL_DICE_CMAX = 1024, /* classes at most (the per-class arrays of dice_ws) */
  SL_DICE_MC_D = 8192, /* multiclass: doubles of per-chunk partial sums at most (3 C a chunk) */
  SL_DICE_SEG = 1024   /* multiclass: pixels converted to class indices at a time */
};

/* A call's arrays, in the calling thread's SL_WS_DICE workspace. */
typedef struct dice_ws {
  double sums[3 * SL_DICE_CMAX], ab[2 * SL_DICE_CMAX];
  double loss[SL_DICE_CMAX], da[SL_DICE_CMAX], db[SL_DICE_CMAX], m[SL_DICE_CMAX]; /* dice_finish */
  double part[SL_DICE_MC_D]; /* sl_dice: 3 per (class, row part); multiclass: 3 C per chunk */
} dice_ws;
_Static_assert(3 * SL_DICE_CMAX <= SL_DICE_MC_D && 3 * (int)SL_MAX_CHUNKS <= SL_DICE_MC_D,
               "sl_dice's partial sums exceed part");

typedef struct dice_ctx {
  const sl_job *job;
  const sl_kernels *k;
  int64_t q, rpc;   /* sl_dice: row parts per class and rows per part (of the N H rows of a
                       class); multiclass: pixel rows per chunk in rpc */
  int64_t cpc;      /* sl_dice: classes per chunk (more than 1 only when q is 1) */
  const double *ab; /* gradient pass: a_c, b_c per class */
  double *part;     /* sums pass: sl_dice 3 per (class c, part i) at 3 (c q + i); multiclass 3 C
                       per chunk */
  int grad;         /* the pass: 0 sums, 1 gradient */
} dice_ctx;

/* ---- sl_dice: rows (n, c, y), chunks of one class's rows or of whole classes --------------- */

/* Rows [r0, r1) of class c (the class's rows numbered n H + y): sums added to s, or gradient. */
static void dice_rows(const dice_ctx *x, int64_t c, int64_t r0, int64_t r1, double s[3],
                      int64_t *count) {
  const sl_job *j = x->job;
  const int64_t h = j->h, w = j->w;
  for (int64_t q = r0; q < r1; q++) {
    const int64_t n = q / h, y = q % h, off = ((n * j->c + c) * h + y) * w;
    const uint8_t *mask = sl_mask_row(j, n, c, y);
    sl_row_iter it;
    int64_t x0, x1;
    int cov;
    sl_row_begin(&it, j, n, y, 0);
    while (sl_row_next(&it, &x0, &x1, &cov)) {
      if (!cov) {
        if (x->grad)
          sl_zero_grad(j, off + x0, x1 - x0, 0);
        continue;
      }
      sl_dice_row row = {
          .x = sl_elem_at(j->x, off + x0, j->opt.input_dtype),
          .y = sl_elem_at(j->target, off + x0, j->opt.target_dtype),
          .mask = mask ? mask + x0 : NULL,
          .grad = x->grad ? sl_elem_at_w(j->grad, off + x0, sl_grad_dtype(j)) : NULL,
          .xt = j->opt.input_dtype,
          .yt = j->opt.target_dtype,
          .gt = sl_grad_dtype(j),
          .a = x->grad ? x->ab[2 * c] : 0.0,
          .b = x->grad ? x->ab[2 * c + 1] : 0.0,
          .logits = j->opt.dice_from_logits,
          .l1 = j->opt.dice_tversky,
          .len = x1 - x0,
      };
      if (x->grad) {
        x->k->dice_grad(&row);
      } else {
        x->k->dice_sums(&row, s);
        *count += mask ? sl_count_nonzero(row.mask, row.len) : row.len;
      }
    }
  }
}

/* Chunk t: row part t % q of class t / q, or (q = 1) the classes [t cpc, (t + 1) cpc). */
static void dice_chunk(const void *vctx, int64_t t, int64_t r0, int64_t r1, void *ws,
                       sl_chunk_acc *acc) {
  (void)r0, (void)r1, (void)ws;
  const dice_ctx *x = vctx;
  const int64_t nh = x->job->n * x->job->h, C = x->job->c;
  const int64_t c0 = t / x->q * x->cpc, c1 = c0 + x->cpc < C ? c0 + x->cpc : C, i = t % x->q;
  const int64_t q0 = i * x->rpc, q1 = q0 + x->rpc < nh ? q0 + x->rpc : nh;
  for (int64_t c = c0; c < c1; c++) {
    double s[3] = {0.0, 0.0, 0.0};
    dice_rows(x, c, q0, q1, s, &acc->count);
    if (!x->grad)
      memcpy(x->part + 3 * (c * x->q + i), s, sizeof s);
  }
}

/* ---- multiclass: pixel rows (n, y), chunks of rows with C triples each --------------------- */

static void dice_mc_chunk(const void *vctx, int64_t t, int64_t r0, int64_t r1, void *ws,
                          sl_chunk_acc *acc) {
  const dice_ctx *x = vctx;
  const sl_job *j = x->job;
  const int64_t C = j->c, h = j->h, w = j->w, hw = j->h * j->w;
  double *s = x->grad ? NULL : x->part + 3 * C * t;
  int bad = 0;
  int32_t cls[SL_DICE_SEG];
  if (s)
    memset(s, 0, (size_t)(3 * C) * sizeof(double));
  for (int64_t r = r0; r < r1; r++) {
    const int64_t xoff = (r / h) * C * hw + (r % h) * w; /* element (n, 0, y, 0) */
    sl_row_iter it;
    int64_t x0, x1;
    int cov;
    sl_row_begin(&it, j, r / h, r % h, 0);
    while (sl_row_next(&it, &x0, &x1, &cov)) {
      if (!cov) {
        for (int64_t c = 0; x->grad && c < C; c++)
          sl_zero_grad(j, xoff + c * hw + x0, x1 - x0, 0);
        continue;
      }
      for (int64_t xs = x0; xs < x1; xs += SL_DICE_SEG) {
        const int64_t len = x1 - xs < SL_DICE_SEG ? x1 - xs : SL_DICE_SEG;
        sl_to_cls(j, r * w + xs, len, cls);
        if (!x->grad) {
          for (int64_t i = 0; i < len; i++)
            bad |= cls[i] == SL_CLS_BAD;
          if (bad)
            break;
        }
        sl_dice_mc_row row = {
            .x = sl_elem_at(j->x, xoff + xs, j->opt.input_dtype),
            .cls = cls,
            .grad = x->grad ? sl_elem_at_w(j->grad, xoff + xs, sl_grad_dtype(j)) : NULL,
            .xt = j->opt.input_dtype,
            .gt = sl_grad_dtype(j),
            .ab = x->ab,
            .sums = s,
            .cstride = hw,
            .classes = C,
            .len = len,
            .ws = ws,
        };
        x->k->dice_mc(&row);
      }
    }
  }
  acc->err |= bad;
}

/* ---- the per-class formulas -------------------------------------------------------------- */

/* loss_c of sums s (I, P, T); *da, *db: d loss_c / d p_e = da + db t_e (before the reduction's
 * factor and the T > 0 mask, both applied by the caller). */
static double dice_class(const sl_options *o, const double s[3], double *da, double *db) {
  const double I = s[0], P = s[1], T = s[2], sm = o->dice_smooth, eps = o->dice_eps;
  const double al = o->tversky_alpha, be = o->tversky_beta;
  double num, d0;
  if (o->dice_tversky) {
    num = I + sm;
    d0 = I + al * (P - I) + be * (T - I) + sm;
  } else {
    num = 2.0 * I + sm;
    d0 = (P + T) + sm;
  }
  const int u = !(d0 < eps); /* the clamp passes the gradient (NaN: the value is NaN anyway) */
  const double den = d0 < eps ? eps : d0, score = num / den;
  double loss, dls;
  if (o->dice_log_loss) {
    loss = -log(score < eps ? eps : score);
    dls = score < eps ? 0.0 : -1.0 / score;
  } else {
    loss = 1.0 - score;
    dls = -1.0;
  }
  /* d score / d p_e = A + B t_e */
  double A, B;
  if (o->dice_tversky) {
    A = u ? -score * al / den : 0.0;
    B = (1.0 - (u ? score * (1.0 - al - be) : 0.0)) / den;
  } else {
    A = u ? -score / den : 0.0;
    B = 2.0 / den;
  }
  *da = dls * A;
  *db = dls * B;
  return loss;
}

/* Losses, stats, dice_sums, the output loss and (grad) the constants ab[2C] from the sums
 * sums[3C] and the selected count. */
static void dice_finish(const sl_job *j, const double *sums, int64_t count, double *ab,
                        dice_ws *w) {
  const sl_options *o = &j->opt;
  const int64_t C = j->c;
  double *loss = w->loss, *da = w->da, *db = w->db, *m = w->m;
  double total = 0.0;
  for (int64_t c = 0; c < C; c++) {
    m[c] = sums[3 * c + 2] > 0.0 ? 1.0 : 0.0;
    loss[c] = dice_class(o, sums + 3 * c, &da[c], &db[c]) * m[c];
    total += loss[c];
  }
  const double gamma = o->dice_tversky ? (double)o->tversky_gamma : 1.0;
  const double base = o->reduction == SL_REDUCTION_MEAN ? total / (double)C : total;
  if (j->loss) {
    if (o->reduction == SL_REDUCTION_NONE)
      for (int64_t c = 0; c < C; c++)
        j->loss[c] = (float)loss[c];
    else
      *j->loss = (float)(gamma == 1.0 ? base : pow(base, gamma));
  }
  if (o->stats) {
    sl_stats st = {total, (double)C, count};
    *o->stats = st;
  }
  if (o->dice_sums)
    memcpy(o->dice_sums, sums, (size_t)(3 * C) * sizeof(double));
  if (!ab)
    return;
  /* d base^gamma / d base; at base 0 its limit for gamma > 1, and the value the header states
   * for gamma < 1 (0: gamma 0^(gamma - 1) is infinite, and times the per-class factors NaN) */
  double up = o->grad_scale * (gamma == 1.0  ? 1.0
                               : base == 0.0 ? 0.0
                                             : gamma * pow(base, gamma - 1.0));
  if (o->reduction == SL_REDUCTION_MEAN)
    up /= (double)C;
  for (int64_t c = 0; c < C; c++) {
    double k = (o->reduction == SL_REDUCTION_NONE ? (double)o->grad_map[c] : up) * m[c];
    ab[2 * c] = k * da[c];
    ab[2 * c + 1] = k * db[c];
  }
}

sl_status sl_run_dice(const sl_job *j, const sl_kernels *k) {
  const int64_t C = j->c, nt = j->opt.num_threads;
  if (C > SL_DICE_CMAX)
    return SL_ERR_OPTION;
  dice_ws *w = sl_workspace(SL_WS_DICE, sizeof(dice_ws));
  if (!w)
    return SL_ERR_NO_MEMORY;
  double *sums = w->sums, *ab = w->ab, *part = w->part;
  dice_ctx x = {j, k, 1, 0, 1, ab, part, 0};
  const int64_t elems = j->n * C * j->h * j->w;
  if (j->op == SL_OP_DICE) {
    /* row parts per class as the runner would cut one class's N H rows, fewer when the classes
     * times the parts exceed SL_MAX_CHUNKS; with more classes than that, whole classes a chunk
     * (the shape alone decides) */
    const int64_t nh = j->n * j->h;
    sl_plan rows = sl_make_plan(nh, j->w, 0);
    x.q = rows.chunks * C <= SL_MAX_CHUNKS ? rows.chunks
          : C < SL_MAX_CHUNKS              ? SL_MAX_CHUNKS / C
                                           : 1;
    x.rpc = (nh + x.q - 1) / x.q;
    x.q = (nh + x.rpc - 1) / x.rpc;
    x.cpc = C > SL_MAX_CHUNKS ? (C + SL_MAX_CHUNKS - 1) / SL_MAX_CHUNKS : 1;
    const int64_t chunks = x.q * ((C + x.cpc - 1) / x.cpc);
    sl_plan p = {chunks, 1, chunks, elems};
    sl_chunk_acc r = sl_run_chunks(&p, nt, dice_chunk, &x, 0);
    for (int64_t c = 0; c < C; c++) {
      double s[3] = {0.0, 0.0, 0.0};
      for (int64_t i = 0; i < x.q; i++) {
        s[0] += part[3 * (c * x.q + i)];
        s[1] += part[3 * (c * x.q + i) + 1];
        s[2] += part[3 * (c * x.q + i) + 2];
      }
      if (j->opt.dice_tversky) /* s[0] holds sum |p - t|: I = (P + T - sum |p - t|) / 2 */
        s[0] = (s[1] + s[2] - s[0]) / 2.0;
      memcpy(sums + 3 * c, s, sizeof s);
    }
    dice_finish(j, sums, r.count, j->grad ? ab : NULL, w);
    if (j->grad) {
      x.grad = 1;
      sl_run_chunks(&p, nt, dice_chunk, &x, 0);
    }
    return SL_OK;
  }
  /* multiclass: pixel rows in the runner's chunks, at most SL_DICE_MC_D / (3 C) of them */
  const int64_t rows = j->n * j->h, maxc = SL_DICE_MC_D / (3 * C);
  sl_plan p = sl_make_plan(rows, j->w * C, 0);
  if (p.chunks > maxc) {
    p.rows_per_chunk = (rows + maxc - 1) / maxc;
    p.chunks = (rows + p.rows_per_chunk - 1) / p.rows_per_chunk;
  }
  sl_chunk_acc r = sl_run_chunks(&p, nt, dice_mc_chunk, &x, SL_WS_KERNEL_BYTES);
  if (r.nomem)
    return SL_ERR_NO_MEMORY;
  if (r.err)
    return SL_ERR_LABEL;
  for (int64_t c = 0; c < 3 * C; c++) {
    double s = 0.0;
    for (int64_t t = 0; t < p.chunks; t++)
      s += part[3 * C * t + c];
    sums[c] = s;
  }
  int64_t count = 0;
  for (int64_t c = 0; c < C; c++)
    count += (int64_t)sums[3 * c + 2];
  dice_finish(j, sums, count, j->grad ? ab : NULL, w);
  if (j->grad) { /* the calling thread has its workspace since the sums pass: cannot fail */
    x.grad = 1;
    sl_run_chunks(&p, nt, dice_mc_chunk, &x, SL_WS_KERNEL_BYTES);
  }
  return SL_OK;
}
