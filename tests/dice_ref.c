// SPDX-License-Identifier: MIT
/*
 * dice_ref.c - Dice / Tversky test cases and the independent double reference (dice_ref.h).
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#include "dice_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int64_t elems(const sl_shape *s) {
  return s->n * s->c * s->h * s->w;
}

void d_case_make(d_case *c, int mc, sl_shape sh, uint64_t seed, int region, int from_logits,
                 int absent_c, sl_reduction red) {
  memset(c, 0, sizeof *c);
  t_rng r = t_rng_seed(seed);
  const int64_t N = sh.n, C = sh.c, H = sh.h, W = sh.w, E = elems(&sh), hw = H * W;
  c->mc = mc;
  c->shape = sh;
  c->opt = sl_options_default();
  c->opt.reduction = red;
  c->opt.dice_from_logits = mc ? 0 : from_logits;
  c->x = t_alloc((size_t)E * sizeof(float));
  int hardt = t_rng_int(&r, 0, 2);
  for (int64_t i = 0; i < E; i++)
    c->x[i] = (mc || from_logits) ? t_rng_range(&r, -4.0f, 4.0f) : t_rng_range(&r, 0.0f, 1.0f);
  if (mc) {
    c->labels = t_alloc((size_t)(N * hw) * sizeof(int64_t));
    for (int64_t i = 0; i < N * hw; i++) {
      int64_t v = t_rng_int(&r, 0, C);
      if (absent_c >= 0 && v == absent_c)
        v = C > 1 ? (v + 1) % C : v;
      if (t_rng_int(&r, 0, 10) == 0)
        v = -100; /* ignore_index */
      c->labels[i] = v;
    }
  } else {
    c->target = t_alloc((size_t)E * sizeof(float));
    for (int64_t i = 0; i < E; i++) {
      float t = hardt ? (float)(t_rng_unit(&r) < 0.4) : t_rng_range(&r, 0.0f, 1.0f);
      if (absent_c >= 0 && (i / hw) % C == absent_c)
        t = 0.0f;
      c->target[i] = t;
    }
  }
  c->grad_map = t_alloc((size_t)C * sizeof(float));
  for (int64_t k = 0; k < C; k++)
    c->grad_map[k] = t_rng_range(&r, -2.0f, 2.0f);
  c->opt.grad_map = red == SL_REDUCTION_NONE ? c->grad_map : NULL;
  c->mask_channels = 1;
  int64_t nb = 0;
  switch (region) {
  case DR_BOX:
  case DR_BOX_MASK:
    nb = 1;
    break;
  case DR_PER_SAMPLE:
  case DR_EMPTY:
    nb = N;
    break;
  case DR_OFFSETS:
    c->offsets = t_alloc((size_t)(N + 1) * sizeof(int64_t));
    c->offsets[0] = 0;
    for (int64_t n = 0; n < N; n++)
      c->offsets[n + 1] = c->offsets[n] + t_rng_int(&r, 0, 4);
    nb = c->offsets[N];
    break;
  default:
    break;
  }
  c->num_boxes = nb;
  if (nb > 0 || region == DR_OFFSETS) {
    c->boxes = t_alloc((size_t)(nb + 1) * sizeof(sl_box));
    for (int64_t b = 0; b < nb; b++) {
      int32_t x1 = (int32_t)t_rng_int(&r, 0, W + 1), x2 = (int32_t)t_rng_int(&r, x1, W + 1);
      int32_t y1 = (int32_t)t_rng_int(&r, 0, H + 1), y2 = (int32_t)t_rng_int(&r, y1, H + 1);
      if (region == DR_EMPTY)
        x2 = x1;
      sl_box bx = {x1, y1, x2, y2};
      c->boxes[b] = bx;
    }
  }
  if (region == DR_MASK || region == DR_MASK_C || region == DR_BOX_MASK) {
    c->mask_channels = region == DR_MASK_C && !mc ? C : 1;
    int64_t len = N * c->mask_channels * hw;
    c->mask = t_alloc((size_t)len);
    for (int64_t i = 0; i < len; i++)
      c->mask[i] = t_rng_unit(&r) < 0.6 ? (uint8_t)t_rng_int(&r, 1, 256) : 0;
  }
}

void d_case_free(d_case *c) {
  free(c->x);
  free(c->target);
  free(c->labels);
  free(c->boxes);
  free(c->offsets);
  free(c->mask);
  free(c->grad_map);
}

sl_status d_call(const d_case *c, const sl_options *o, float *loss, float *grad) {
  sl_region rg = {sizeof(sl_region), c->boxes, c->num_boxes, c->mask, c->mask_channels, c->offsets};
  if (c->mc)
    return sl_dice_multiclass(&c->shape, c->x, c->labels, SL_LABEL_I64, &rg, o, loss, grad);
  return sl_dice(&c->shape, c->x, c->target, &rg, o, loss, grad);
}

/* pixel (n, y, x) inside the section's boxes */
static int in_boxes(const d_case *c, int64_t n, int64_t y, int64_t x) {
  int64_t b0 = 0, b1 = 0;
  if (c->offsets) {
    b0 = c->offsets[n];
    b1 = c->offsets[n + 1];
  } else if (c->num_boxes == 0) {
    return 1;
  } else {
    b0 = c->num_boxes == 1 ? 0 : n;
    b1 = b0 + 1;
  }
  for (int64_t b = b0; b < b1; b++) {
    const sl_box *bx = &c->boxes[b];
    if (x >= bx->x1 && x < bx->x2 && y >= bx->y1 && y < bx->y2)
      return 1;
  }
  return 0;
}

/* selected (sl_dice: element; multiclass: pixel, channel 0) */
static int selected(const d_case *c, int64_t n, int64_t ch, int64_t y, int64_t x) {
  const sl_shape *s = &c->shape;
  if (!in_boxes(c, n, y, x))
    return 0;
  if (c->mask) {
    int64_t mc = c->mask_channels == 1 ? 0 : ch;
    if (!c->mask[((n * c->mask_channels + mc) * s->h + y) * s->w + x])
      return 0;
  }
  return 1;
}

/* p and t of every element (t: one-hot for multiclass), sel: counted; x[e] replaced by v when
 * e >= 0 */
static void probs(const d_case *c, int64_t e, double v, double *p, double *t, uint8_t *sel,
                  int *bad) {
  const sl_shape *s = &c->shape;
  const int64_t N = s->n, C = s->c, H = s->h, W = s->w, hw = H * W;
  *bad = 0;
  for (int64_t n = 0; n < N; n++)
    for (int64_t y = 0; y < H; y++)
      for (int64_t x = 0; x < W; x++) {
        int64_t pix = (n * H + y) * W + x;
        if (c->mc) {
          int64_t lab = c->labels[pix];
          int cnt = selected(c, n, 0, y, x) && lab != c->opt.ignore_index;
          if (cnt && (lab < 0 || lab >= C))
            *bad = 1;
          double m = -INFINITY, z = 0.0;
          for (int64_t k = 0; k < C; k++) {
            int64_t i = (n * C + k) * hw + y * W + x;
            double xv = i == e ? v : (double)c->x[i];
            m = fmax(m, xv);
          }
          for (int64_t k = 0; k < C; k++) {
            int64_t i = (n * C + k) * hw + y * W + x;
            z += exp((i == e ? v : (double)c->x[i]) - m);
          }
          for (int64_t k = 0; k < C; k++) {
            int64_t i = (n * C + k) * hw + y * W + x;
            sel[i] = (uint8_t)cnt;
            p[i] = exp((i == e ? v : (double)c->x[i]) - m) / z;
            t[i] = lab == k ? 1.0 : 0.0;
          }
        } else {
          for (int64_t k = 0; k < C; k++) {
            int64_t i = (n * C + k) * hw + y * W + x;
            double xv = i == e ? v : (double)c->x[i];
            sel[i] = (uint8_t)selected(c, n, k, y, x);
            p[i] = c->opt.dice_from_logits ? 1.0 / (1.0 + exp(-xv)) : xv;
            t[i] = (double)c->target[i];
          }
        }
      }
}

typedef struct cls_terms {
  double inter, fp, fn, card, t, score, den, num, loss;
  int unclamped;
} cls_terms;

/* smp's score and loss of one class from its sums (fp = sum p (1 - t), fn = sum (1 - p) t) */
static cls_terms class_terms(const sl_options *o, double inter, double card, double fp, double fn,
                             double tsum) {
  cls_terms k = {inter, fp, fn, card, tsum, 0, 0, 0, 0, 0};
  double d0;
  if (o->dice_tversky) {
    k.num = inter + o->dice_smooth;
    d0 = inter + o->tversky_alpha * fp + o->tversky_beta * fn + o->dice_smooth;
  } else {
    k.num = 2.0 * inter + o->dice_smooth;
    d0 = card + o->dice_smooth;
  }
  k.unclamped = d0 >= o->dice_eps || isnan(d0);
  k.den = k.unclamped ? d0 : o->dice_eps;
  k.score = k.num / k.den;
  k.loss = o->dice_log_loss ? -log(fmax(k.score, o->dice_eps)) : 1.0 - k.score;
  if (isnan(k.score))
    k.loss = NAN;
  k.loss *= tsum > 0.0 ? 1.0 : 0.0;
  return k;
}

/* Tversky takes I through smp 0.5+'s L1 form (P + T - sum |p - t|) / 2; multiclass's one-hot
 * targets with p in (0, 1) make it sum p t, the form the 0.3-0.4 Dice and multiclass use. */
static int l1_form(const d_case *c) {
  return c->opt.dice_tversky && !c->mc;
}

static void run(const d_case *c, int64_t e, double v, d_ref *r, int want_grad) {
  const sl_shape *s = &c->shape;
  const sl_options *o = &c->opt;
  const int64_t N = s->n, C = s->c, hw = s->h * s->w, E = elems(s);
  double *p = malloc((size_t)E * sizeof(double)), *t = malloc((size_t)E * sizeof(double));
  uint8_t *sel = malloc((size_t)E);
  probs(c, e, v, p, t, sel, &r->bad_label);
  cls_terms *k = calloc((size_t)C, sizeof(cls_terms));
  r->count = 0;
  double total = 0.0;
  for (int64_t ch = 0; ch < C; ch++) {
    double inter = 0, card = 0, fp = 0, fn = 0, tsum = 0, psum = 0, l1 = 0;
    for (int64_t n = 0; n < N; n++)
      for (int64_t i = 0; i < hw; i++) {
        int64_t idx = (n * C + ch) * hw + i;
        if (!sel[idx])
          continue;
        r->count++;
        inter += p[idx] * t[idx];
        card += p[idx] + t[idx];
        fp += p[idx] * (1.0 - t[idx]);
        fn += (1.0 - p[idx]) * t[idx];
        tsum += t[idx];
        psum += p[idx];
        l1 += fabs(p[idx] - t[idx]);
      }
    if (l1_form(c)) { /* smp 0.5+'s soft_tversky_score */
      inter = (psum + tsum - l1) / 2.0;
      fp = psum - inter;
      fn = tsum - inter;
    }
    k[ch] = class_terms(o, inter, card, fp, fn, tsum);
    r->lc[ch] = k[ch].loss;
    r->sums[3 * ch] = inter;
    r->sums[3 * ch + 1] = psum;
    r->sums[3 * ch + 2] = tsum;
    total += k[ch].loss;
  }
  if (c->mc)
    r->count /= C;
  double gamma = o->dice_tversky ? o->tversky_gamma : 1.0;
  double base = o->reduction == SL_REDUCTION_MEAN ? total / (double)C : total;
  r->loss = pow(base, gamma);
  if (o->reduction == SL_REDUCTION_NONE) {
    r->loss = 0.0;
    for (int64_t ch = 0; ch < C; ch++)
      r->loss += (double)c->grad_map[ch] * r->lc[ch];
  }
  if (want_grad) {
    /* dL/dloss_c */
    double *up = malloc((size_t)C * sizeof(double));
    for (int64_t ch = 0; ch < C; ch++) {
      if (o->reduction == SL_REDUCTION_NONE)
        up[ch] = c->grad_map[ch];
      else
        up[ch] = base == 0.0 && gamma != 1.0 /* the library's value at a loss of 0 */
                     ? 0.0
                     : o->grad_scale * gamma * pow(base, gamma - 1.0) /
                           (o->reduction == SL_REDUCTION_MEAN ? (double)C : 1.0);
      up[ch] *= k[ch].t > 0.0 ? 1.0 : 0.0;
      if (o->dice_log_loss) /* d(-log(max(S, eps)))/dS */
        up[ch] *= k[ch].score >= o->dice_eps ? -1.0 / k[ch].score : 0.0;
      else
        up[ch] *= -1.0;
    }
    /* d score_c / d p_e (quotient rule on the smp terms), then the activation */
    double *dp = malloc((size_t)E * sizeof(double)), *mag = malloc((size_t)E * sizeof(double));
    for (int64_t idx = 0; idx < E; idx++) {
      int64_t ch = (idx / hw) % C;
      const cls_terms *q = &k[ch];
      double te = t[idx], dnum, dden;
      if (l1_form(c)) /* d I / d p of (P + T - sum |p - t|) / 2, sign(0) = 0 */
        te = p[idx] < te ? 1.0 : p[idx] == te ? 0.5 : 0.0;
      if (o->dice_tversky) {
        dnum = te;
        dden = te + o->tversky_alpha * (1.0 - te) - o->tversky_beta * te;
      } else {
        dnum = 2.0 * te;
        dden = 1.0;
      }
      if (!q->unclamped)
        dden = 0.0;
      double g1 = dnum / q->den, g2 = q->num * dden / (q->den * q->den);
      dp[idx] = sel[idx] ? up[ch] * (g1 - g2) : 0.0;
      mag[idx] = sel[idx] ? fabs(up[ch]) * (fabs(g1) + fabs(g2)) : 0.0;
    }
    for (int64_t idx = 0; idx < E; idx++) {
      if (!c->mc) {
        double sg = o->dice_from_logits ? p[idx] * (1.0 - p[idx]) : 1.0;
        r->grad[idx] = dp[idx] * sg;
        r->gmag[idx] = r->gmag_sm[idx] = mag[idx] * sg;
        continue;
      }
      /* softmax Jacobian over the pixel's classes; gmag_sm weighs each term by 1 + |x_k - max|
       * (the relative error of the float softmax p_k: tests/contract.h, ct_ce_k) */
      int64_t n = idx / (C * hw), i = idx % hw;
      double acc = 0.0, amag = 0.0, smag = 0.0, m = -INFINITY;
      for (int64_t kk = 0; kk < C; kk++)
        m = fmax(m, (double)c->x[(n * C + kk) * hw + i]);
      for (int64_t kk = 0; kk < C; kk++) {
        int64_t j = (n * C + kk) * hw + i;
        acc += p[j] * dp[j];
        amag += p[j] * mag[j];
        smag += p[j] > 0.0 ? p[j] * mag[j] * (1.0 + fabs((double)c->x[j] - m)) : 0.0;
      }
      r->grad[idx] = sel[idx] ? p[idx] * (dp[idx] - acc) : 0.0;
      r->gmag[idx] = sel[idx] ? p[idx] * (mag[idx] + amag) : 0.0;
      r->gmag_sm[idx] = sel[idx] && p[idx] > 0.0
                            ? p[idx] * (1.0 + fabs((double)c->x[idx] - m)) * (mag[idx] + smag)
                            : 0.0;
    }
    free(up);
    free(dp);
    free(mag);
  }
  free(k);
  free(p);
  free(t);
  free(sel);
}

void d_ref_run(const d_case *c, d_ref *r) {
  const int64_t C = c->shape.c, E = elems(&c->shape);
  r->lc = calloc((size_t)C, sizeof(double));
  r->sums = calloc((size_t)(3 * C), sizeof(double));
  r->grad = calloc((size_t)E, sizeof(double));
  r->gmag = calloc((size_t)E, sizeof(double));
  r->gmag_sm = calloc((size_t)E, sizeof(double));
  run(c, -1, 0.0, r, 1);
}

double d_ref_loss_at(const d_case *c, int64_t e, double v) {
  const int64_t C = c->shape.c;
  d_ref r;
  r.lc = calloc((size_t)C, sizeof(double));
  r.sums = calloc((size_t)(3 * C), sizeof(double));
  r.grad = r.gmag = r.gmag_sm = NULL;
  run(c, e, v, &r, 0);
  free(r.lc);
  free(r.sums);
  return r.loss;
}

void d_ref_free(d_ref *r) {
  free(r->lc);
  free(r->sums);
  free(r->grad);
  free(r->gmag);
  free(r->gmag_sm);
}
