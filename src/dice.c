// SPDX-License-Identifier: MIT
/*
 * dice.c - the Dice / Tversky driver (sl_dice, sl_dice_multiclass): per-class sums over the
 * section, the per-class losses and their reduction, then the gradient pass.
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
 * Determinism: partial sums live per chunk in a fixed array and are added in chunk order;
 * chunks depend on the shape only. sl_dice's chunks are class-major (a chunk holds rows
 * of one class), multiclass's are pixel-row ranges with C triples each. Classes: at most
 * SL_DICE_CMAX (the per-class sums and constants are fixed arrays): more give SL_ERR_OPTION.
 * Those arrays are the calling thread's workspace (dice_ws, src/workspace.h), not its stack.
 */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "driver.h"
#include "kernels.h"
#include "workspace.h"

enum {
  SL_DICE_CMAX = 1024,     /* classes at most (the per-class arrays of dice_ws) */
  SL_DICE_PARTS = 2048,    /* sl_dice: per-chunk triples at most */
  SL_DICE_MC_D = 8192,     /* multiclass: doubles of per-chunk partial sums at most (3 C a chunk) */
  SL_DICE_SEG = 1024,      /* multiclass: pixels converted to class indices at a time */
  SL_DICE_SERIAL = 1 << 15 /* smaller tensors run on the calling thread */
};

/* A call's arrays, in the calling thread's SL_WS_DICE workspace. */
typedef struct dice_ws {
  double sums[3 * SL_DICE_CMAX], ab[2 * SL_DICE_CMAX];
  double loss[SL_DICE_CMAX], da[SL_DICE_CMAX], db[SL_DICE_CMAX], m[SL_DICE_CMAX]; /* dice_finish */
  double part[SL_DICE_MC_D]; /* per chunk: 3 (sl_dice) or 3 C (multiclass) */
  int64_t cnt[SL_DICE_PARTS];
  int bad[SL_DICE_MC_D / 3];
} dice_ws;
_Static_assert(3 * SL_DICE_PARTS <= SL_DICE_MC_D, "sl_dice's partial sums exceed part");

typedef struct dice_ctx {
  const sl_job *job;
  const sl_kernels *k;
  int64_t q, rpc;   /* chunks per class and rows per chunk (sl_dice), or chunks and rows per
                       chunk (multiclass) */
  const double *ab; /* gradient pass: a_c, b_c per class */
  double *part;     /* sums pass: per chunk 3 (sl_dice) or 3 C (multiclass) doubles */
  int64_t *count;   /* sums pass: per chunk selected elements (sl_dice) */
  int *bad;         /* per chunk: a bad label (multiclass) */
} dice_ctx;

static void zero(float *p, int64_t len) {
  if (p && len > 0)
    memset(p, 0, (size_t)len * sizeof(float));
}

static int threads(const sl_job *j, int64_t chunks) {
  if (j->n * j->c * j->h * j->w < SL_DICE_SERIAL) /* not worth a parallel region */
    return 1;
  int nt = j->opt.num_threads > 0 ? j->opt.num_threads : omp_get_max_threads();
  return nt > chunks ? (int)chunks : nt;
}

/* ---- sl_dice: rows (n, c, y), class-major chunks ----------------------------------------- */

/* Chunk t: rows [r0, r1) of class c (the class's rows numbered n H + y); sums or gradient. */
static void dice_chunk(const dice_ctx *x, int64_t t, int grad) {
  const sl_job *j = x->job;
  const int64_t c = t / x->q, h = j->h, w = j->w, nh = j->n * j->h;
  const int64_t r0 = (t % x->q) * x->rpc, r1 = r0 + x->rpc < nh ? r0 + x->rpc : nh;
  double s[3] = {0.0, 0.0, 0.0};
  int64_t count = 0;
  for (int64_t q = r0; q < r1; q++) {
    const int64_t n = q / h, y = q % h, off = ((n * j->c + c) * h + y) * w;
    const uint8_t *mask = NULL;
    if (j->mask)
      mask = j->mask + ((n * j->mask_channels + (j->mask_channels == 1 ? 0 : c)) * h + y) * w;
    sl_row_iter it;
    int64_t x0, x1;
    int cov;
    sl_row_begin(&it, j, n, y, 0);
    while (sl_row_next(&it, &x0, &x1, &cov)) {
      if (!cov) {
        if (grad)
          zero(j->grad + off + x0, x1 - x0);
        continue;
      }
      sl_dice_row row = {
          .x = j->x + off + x0,
          .y = j->target + off + x0,
          .mask = mask ? mask + x0 : NULL,
          .grad = grad ? j->grad + off + x0 : NULL,
          .a = grad ? x->ab[2 * c] : 0.0,
          .b = grad ? x->ab[2 * c + 1] : 0.0,
          .logits = j->opt.dice_from_logits,
          .l1 = j->opt.dice_tversky,
          .len = x1 - x0,
      };
      if (grad) {
        x->k->dice_grad(&row);
      } else {
        x->k->dice_sums(&row, s);
        count += mask ? sl_count_nonzero(row.mask, row.len) : row.len;
      }
    }
  }
  if (!grad) {
    memcpy(x->part + 3 * t, s, sizeof s);
    x->count[t] = count;
  }
}

static void dice_pass(const dice_ctx *x, int grad) {
  const int64_t chunks = x->q * x->job->c;
  const int nt = threads(x->job, chunks);
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) if (nt > 1)
  for (int64_t t = 0; t < chunks; t++)
    dice_chunk(x, t, grad);
}

/* ---- multiclass: pixel rows (n, y), chunks of rows with C triples each --------------------- */

static void dice_mc_chunk(const dice_ctx *x, int64_t t, int grad, void *ws) {
  const sl_job *j = x->job;
  const int64_t C = j->c, h = j->h, w = j->w, hw = j->h * j->w, rows = j->n * j->h;
  const int64_t r0 = t * x->rpc, r1 = r0 + x->rpc < rows ? r0 + x->rpc : rows;
  double *s = grad ? NULL : x->part + 3 * C * t;
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
        for (int64_t c = 0; grad && c < C; c++)
          zero(j->grad + xoff + c * hw + x0, x1 - x0);
        continue;
      }
      for (int64_t xs = x0; xs < x1; xs += SL_DICE_SEG) {
        const int64_t len = x1 - xs < SL_DICE_SEG ? x1 - xs : SL_DICE_SEG;
        sl_to_cls(j, r * w + xs, len, cls);
        if (!grad) {
          for (int64_t i = 0; i < len; i++)
            bad |= cls[i] == SL_CLS_BAD;
          if (bad)
            break;
        }
        sl_dice_mc_row row = {
            .x = j->x + xoff + xs,
            .cls = cls,
            .grad = grad ? j->grad + xoff + xs : NULL,
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
  if (!grad)
    x->bad[t] = bad;
}

/* Every chunk, each on a thread that has its kernel workspace (as sl_run_chunks): SL_ERR_NO_MEMORY
 * (no chunk run) when the calling thread has none. */
static sl_status dice_mc_pass(const dice_ctx *x, int grad) {
  const int nt = threads(x->job, x->q);
  if (!sl_workspace(SL_WS_KERNEL, SL_WS_KERNEL_BYTES))
    return SL_ERR_NO_MEMORY;
  int64_t next = 0;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    void *ws = sl_workspace(SL_WS_KERNEL, SL_WS_KERNEL_BYTES);
    for (int64_t t = 0; ws;) {
#pragma omp atomic capture
      t = next++;
      if (t >= x->q)
        break;
      dice_mc_chunk(x, t, grad, ws);
    }
  }
  return SL_OK;
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
  const int64_t C = j->c;
  if (C > SL_DICE_CMAX)
    return SL_ERR_OPTION;
  dice_ws *w = sl_workspace(SL_WS_DICE, sizeof(dice_ws));
  if (!w)
    return SL_ERR_NO_MEMORY;
  double *sums = w->sums, *ab = w->ab;
  dice_ctx x = {j, k, 0, 0, ab, NULL, NULL, NULL};
  int64_t count = 0;
  if (j->op == SL_OP_DICE) {
    double *part = w->part;
    int64_t *cnt = w->cnt;
    const int64_t nh = j->n * j->h;
    sl_plan p = sl_make_plan(nh, j->w, 0);
    x.q = p.chunks;
    x.rpc = p.rows_per_chunk;
    if (x.q * C > SL_DICE_PARTS) { /* fewer, larger chunks per class (shape only) */
      x.q = SL_DICE_PARTS / C;
      x.rpc = (nh + x.q - 1) / x.q;
      x.q = (nh + x.rpc - 1) / x.rpc;
    }
    x.part = part;
    x.count = cnt;
    dice_pass(&x, 0);
    for (int64_t c = 0; c < C; c++) {
      double s[3] = {0.0, 0.0, 0.0};
      for (int64_t t = c * x.q; t < (c + 1) * x.q; t++) {
        s[0] += part[3 * t];
        s[1] += part[3 * t + 1];
        s[2] += part[3 * t + 2];
        count += cnt[t];
      }
      if (j->opt.dice_tversky) /* s[0] holds sum |p - t|: I = (P + T - sum |p - t|) / 2 */
        s[0] = (s[1] + s[2] - s[0]) / 2.0;
      memcpy(sums + 3 * c, s, sizeof s);
    }
    dice_finish(j, sums, count, j->grad ? ab : NULL, w);
    if (j->grad)
      dice_pass(&x, 1);
    return SL_OK;
  }
  double *part = w->part;
  int *bad = w->bad;
  const int64_t rows = j->n * j->h;
  sl_plan p = sl_make_plan(rows, j->w * C, 0);
  int64_t chunks = p.chunks, maxc = SL_DICE_MC_D / (3 * C);
  if (chunks > maxc)
    chunks = maxc;
  x.rpc = (rows + chunks - 1) / chunks;
  x.q = (rows + x.rpc - 1) / x.rpc;
  x.part = part;
  x.bad = bad;
  if (dice_mc_pass(&x, 0) != SL_OK)
    return SL_ERR_NO_MEMORY;
  for (int64_t t = 0; t < x.q; t++)
    if (bad[t])
      return SL_ERR_LABEL;
  for (int64_t c = 0; c < 3 * C; c++) {
    double s = 0.0;
    for (int64_t t = 0; t < x.q; t++)
      s += part[3 * C * t + c];
    sums[c] = s;
  }
  for (int64_t c = 0; c < C; c++)
    count += (int64_t)sums[3 * c + 2];
  dice_finish(j, sums, count, j->grad ? ab : NULL, w);
  if (j->grad) /* the calling thread has its workspace since the sums pass: cannot fail */
    dice_mc_pass(&x, 1);
  return SL_OK;
}
