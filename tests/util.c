// SPDX-License-Identifier: MIT
/*
 * util.c - shared test helpers (see util.h): PRNG, case generation, library calls, canaries,
 * float comparisons. Shape legend: N, C, H, W as in sectionloss.h.
 */
#include "util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ref.h"

/* ---- PRNG: splitmix64, fixed seeds, identical on every platform --------------------------- */
t_rng t_rng_seed(uint64_t seed) {
  t_rng r = {seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull};
  return r;
}

uint64_t t_rng_u64(t_rng *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double t_rng_unit(t_rng *r) {
  return (double)(t_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

float t_rng_range(t_rng *r, float lo, float hi) {
  return (float)((double)lo + ((double)hi - (double)lo) * t_rng_unit(r));
}

int64_t t_rng_int(t_rng *r, int64_t lo, int64_t hi_excl) {
  return lo + (int64_t)(t_rng_u64(r) % (uint64_t)(hi_excl - lo));
}

/* ---- cases -------------------------------------------------------------------------------- */
t_spec t_spec_default(t_op op, sl_shape shape, uint64_t seed) {
  t_spec s;
  memset(&s, 0, sizeof s);
  s.op = op;
  s.shape = shape;
  s.seed = seed;
  s.box = TB_NONE;
  s.mask = TM_NONE;
  s.reduction = SL_REDUCTION_MEAN;
  s.label_type = SL_LABEL_I64;
  s.ignore_index = -100;
  s.grad_scale = 1.0f;
  s.focal_gamma = 2.0f;
  s.focal_alpha = 0.25f;
  return s;
}

int64_t t_elems(const sl_shape *s) {
  return s->n * s->c * s->h * s->w;
}

int64_t t_map_elems(const t_case *c) {
  return t_op_labels(c->op) || t_op_pixel(c->op) ? c->shape.n * c->shape.h * c->shape.w
                                                 : t_elems(&c->shape);
}

size_t t_label_size(sl_label_type t) {
  return t == SL_LABEL_I64 ? 8 : t == SL_LABEL_I32 ? 4 : 1;
}

int64_t t_label_at(const t_case *c, int64_t i) {
  switch (c->label_type) {
  case SL_LABEL_I64:
    return ((const int64_t *)c->labels)[i];
  case SL_LABEL_I32:
    return ((const int32_t *)c->labels)[i];
  default:
    return ((const uint8_t *)c->labels)[i];
  }
}

void t_label_set(t_case *c, int64_t i, int64_t v) {
  switch (c->label_type) {
  case SL_LABEL_I64:
    ((int64_t *)c->labels)[i] = v;
    break;
  case SL_LABEL_I32:
    ((int32_t *)c->labels)[i] = (int32_t)v;
    break;
  default:
    ((uint8_t *)c->labels)[i] = (uint8_t)v;
    break;
  }
}

void *t_alloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) {
    fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
    abort();
  }
  return p;
}

/* A random non-empty half-open span [a, b) of [0, len). */
static void span(t_rng *r, int64_t len, int32_t *a, int32_t *b) {
  int64_t x = t_rng_int(r, 0, len), y = t_rng_int(r, 0, len);
  if (x > y) {
    int64_t t = x;
    x = y;
    y = t;
  }
  *a = (int32_t)x;
  *b = (int32_t)(y + 1);
}

static sl_box make_box(t_rng *r, t_box kind, int64_t w, int64_t h) {
  sl_box b = {0, 0, (int32_t)w, (int32_t)h};
  span(r, w, &b.x1, &b.x2);
  span(r, h, &b.y1, &b.y2);
  switch (kind) {
  case TB_FULL:
    b.x1 = b.y1 = 0;
    b.x2 = (int32_t)w;
    b.y2 = (int32_t)h;
    break;
  case TB_EMPTY:
    b.x1 = b.x2 = (int32_t)t_rng_int(r, 0, w + 1);
    break;
  case TB_EMPTY_ROWS:
    b.y1 = b.y2 = (int32_t)t_rng_int(r, 0, h + 1);
    break;
  case TB_PIXEL:
    b.x1 = (int32_t)t_rng_int(r, 0, w);
    b.y1 = (int32_t)t_rng_int(r, 0, h);
    b.x2 = b.x1 + 1;
    b.y2 = b.y1 + 1;
    break;
  case TB_LEFT:
    b.x1 = 0;
    break;
  case TB_RIGHT:
    b.x2 = (int32_t)w;
    break;
  case TB_TOP:
    b.y1 = 0;
    break;
  case TB_BOTTOM:
    b.y2 = (int32_t)h;
    break;
  default:
    break;
  }
  return b;
}

void t_case_make(t_case *c, const t_spec *s) {
  memset(c, 0, sizeof *c);
  t_rng r = t_rng_seed(s->seed);
  const int64_t N = s->shape.n, C = s->shape.c, H = s->shape.h, W = s->shape.w;
  const int64_t n = N * C * H * W, hw = H * W;
  c->op = s->op;
  c->shape = s->shape;
  c->label_type = s->label_type;
  c->opt = sl_options_default();
  c->opt.reduction = s->reduction;
  c->opt.grad_scale = s->grad_scale;

  c->x = t_alloc((size_t)n * sizeof(float));
  if (s->op == T_BCE_PROB || s->op == T_DICE) { /* probabilities */
    c->target = t_alloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
      c->x[i] = t_rng_range(&r, 0.01f, 0.99f);
      int k = (int)t_rng_int(&r, 0, 3);
      c->target[i] = k == 0 ? 0.0f : k == 1 ? 1.0f : (float)t_rng_unit(&r);
    }
  } else if (!t_op_labels(s->op)) { /* logits and targets */
    float sc = s->scale > 0 ? s->scale : 6.0f;
    c->target = t_alloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
      c->x[i] = t_rng_range(&r, -sc, sc);
      int k = (int)t_rng_int(&r, 0, 3);
      c->target[i] = k == 0 ? 0.0f : k == 1 ? 1.0f : (float)t_rng_unit(&r);
    }
  } else if (s->op == T_CE_PROB) {
    /* per pixel: a one-hot target (a third), a distribution (a half), or any floats (PyTorch
     * takes them unchecked: negative, above 1, not summing to 1) */
    float sc = s->scale > 0 ? s->scale : 4.0f;
    for (int64_t i = 0; i < n; i++)
      c->x[i] = t_rng_range(&r, -sc, sc);
    c->target = t_alloc((size_t)n * sizeof(float));
    for (int64_t nn = 0; nn < N; nn++)
      for (int64_t i = 0; i < hw; i++) {
        float *q = c->target + nn * C * hw + i;
        double u = t_rng_unit(&r), tot = 0.0;
        int64_t hot = t_rng_int(&r, 0, C);
        for (int64_t k = 0; k < C; k++) {
          double v = u < 0.33   ? (k == hot)
                     : u < 0.83 ? t_rng_unit(&r)
                                : t_rng_range(&r, -0.5f, 1.5f);
          q[k * hw] = (float)v;
          tot += v;
        }
        for (int64_t k = 0; u >= 0.33 && u < 0.83 && k < C; k++)
          q[k * hw] = (float)(q[k * hw] / tot);
      }
    c->opt.label_smoothing = s->smoothing;
  } else {
    float sc = s->scale > 0 ? s->scale : 4.0f;
    for (int64_t i = 0; i < n; i++)
      c->x[i] = t_rng_range(&r, -sc, sc);
    int64_t np = N * hw;
    c->labels = t_alloc((size_t)np * t_label_size(s->label_type));
    for (int64_t i = 0; i < np; i++) {
      int64_t v = t_rng_int(&r, 0, C);
      if (s->ignore && t_rng_unit(&r) < 0.15)
        v = s->ignore_index;
      t_label_set(c, i, v);
    }
    c->opt.ignore_index = s->ignore ? s->ignore_index : -100;
    c->opt.label_smoothing = s->smoothing;
  }

  if (s->weight) {
    if (t_op_labels(s->op) || t_op_pixel(s->op)) {
      c->weight = t_alloc((size_t)C * sizeof(float));
      for (int64_t k = 0; k < C; k++) /* dyadic: sums of weights are exact in double */
        c->weight[k] = (float)(1 + t_rng_int(&r, 0, 8)) * 0.25f;
    } else {
      c->weight = t_alloc((size_t)n * sizeof(float));
      for (int64_t i = 0; i < n; i++)
        c->weight[i] = t_rng_range(&r, 0.25f, 2.0f);
    }
    c->opt.weight = c->weight;
  }
  if (s->pos_weight) {
    c->pos_weight = t_alloc((size_t)C * sizeof(float));
    for (int64_t k = 0; k < C; k++)
      c->pos_weight[k] = t_rng_range(&r, 0.5f, 3.0f);
    c->opt.pos_weight = c->pos_weight;
  }
  if (s->pixel_weight && t_op_pixel(s->op)) { /* in [0, 3), some exactly 0 */
    c->pixel_weight = t_alloc((size_t)(N * hw) * sizeof(float));
    for (int64_t i = 0; i < N * hw; i++)
      c->pixel_weight[i] = t_rng_unit(&r) < 0.1 ? 0.0f : t_rng_range(&r, 0.0f, 3.0f);
    c->opt.pixel_weight = c->pixel_weight;
  }
  if (s->op == T_SOFTMAX_FOCAL || s->op == T_SIGMOID_FOCAL)
    c->opt.focal_gamma = s->focal_gamma;
  if (s->op == T_SIGMOID_FOCAL)
    c->opt.focal_alpha = s->focal_alpha;
  if (s->reduction == SL_REDUCTION_NONE) {
    int64_t m = t_map_elems(c);
    c->grad_map = t_alloc((size_t)m * sizeof(float));
    for (int64_t i = 0; i < m; i++)
      c->grad_map[i] = t_rng_range(&r, -2.0f, 2.0f);
    c->opt.grad_map = c->grad_map;
  }

  c->use_region = !s->null_region;
  c->region = sl_region_default();
  if (s->box == TB_MANY) {
    c->box_offsets = t_alloc((size_t)(N + 1) * sizeof(int64_t));
    c->boxes = t_alloc((size_t)(5 * N + 1) * sizeof(sl_box));
    int64_t nb = 0;
    c->box_offsets[0] = 0;
    for (int64_t sn = 0; sn < N; sn++) {
      int64_t k = sn == 1 ? 0 : sn == 0 ? 4 : t_rng_int(&r, 0, 6);
      for (int64_t i = 0; i < k; i++, nb++) {
        static const t_box kinds[] = {TB_INTERIOR, TB_INTERIOR, TB_LEFT,  TB_RIGHT, TB_TOP,
                                      TB_BOTTOM,   TB_PIXEL,    TB_EMPTY, TB_FULL};
        t_box kind = kinds[t_rng_int(&r, 0, (int64_t)(sizeof kinds / sizeof kinds[0]))];
        if (sn == 0 && i == 3) /* a duplicate: its pixels are in two boxes */
          c->boxes[nb] = c->boxes[nb - 1];
        else
          c->boxes[nb] = make_box(&r, sn == 0 && i < 2 ? TB_INTERIOR : kind, W, H);
      }
      c->box_offsets[sn + 1] = nb;
    }
    c->region.boxes = nb > 0 ? c->boxes : NULL;
    c->region.num_boxes = nb;
    c->region.box_offsets = c->box_offsets;
  } else if (s->box != TB_NONE) {
    int64_t nb = s->box == TB_PER_SAMPLE ? N : 1;
    c->boxes = t_alloc((size_t)nb * sizeof(sl_box));
    for (int64_t k = 0; k < nb; k++) {
      t_box kind = s->box == TB_PER_SAMPLE ? TB_INTERIOR : s->box;
      if (s->box == TB_PER_SAMPLE && k == 1 && N > 2)
        kind = TB_EMPTY;
      else if (s->box == TB_PER_SAMPLE && k == 2)
        kind = TB_FULL;
      c->boxes[k] = make_box(&r, kind, W, H);
    }
    c->region.boxes = c->boxes;
    c->region.num_boxes = nb;
  }
  if (s->mask != TM_NONE) {
    int64_t mc = s->mask == TM_PER_CHANNEL ? C : 1;
    int64_t m = N * mc * hw;
    c->mask = t_alloc((size_t)m);
    for (int64_t i = 0; i < m; i++) {
      int64_t x = i % W, y = (i / W) % H;
      uint8_t v = (uint8_t)t_rng_int(&r, 1, 256); /* any nonzero byte selects */
      switch (s->mask) {
      case TM_EMPTY:
        v = 0;
        break;
      case TM_CHECKER:
        v = ((x + y) & 1) ? v : 0;
        break;
      case TM_RANDOM:
      case TM_PER_CHANNEL:
        v = t_rng_unit(&r) < 0.6 ? v : 0;
        break;
      default:
        break;
      }
      c->mask[i] = v;
    }
    c->region.mask = c->mask;
    c->region.mask_channels = mc;
  }
}

void t_case_free(t_case *c) {
  free(c->x);
  free(c->target);
  free(c->labels);
  free(c->boxes);
  free(c->box_offsets);
  free(c->mask);
  free(c->weight);
  free(c->pos_weight);
  free(c->grad_map);
  free(c->pixel_weight);
  memset(c, 0, sizeof *c);
}

const char *t_reduction_name(sl_reduction r) {
  return r == SL_REDUCTION_MEAN ? "mean" : r == SL_REDUCTION_SUM ? "sum" : "none";
}

const char *t_spec_str(const t_spec *s, char *buf, size_t len) {
  static const char *box[] = {"none",  "full", "empty",  "empty_rows", "pixel",      "left",
                              "right", "top",  "bottom", "interior",   "per_sample", "many"};
  static const char *mask[] = {"none", "empty", "full", "random", "checker", "per_channel"};
  snprintf(buf, len,
           "%s %lldx%lldx%lldx%lld seed=%llu box=%s mask=%s%s red=%s w=%d pw=%d lt=%d "
           "ign=%d(%lld) ls=%g gs=%g pixw=%d gamma=%g alpha=%g",
           t_op_name(s->op), (long long)s->shape.n, (long long)s->shape.c, (long long)s->shape.h,
           (long long)s->shape.w, (unsigned long long)s->seed, box[s->box], mask[s->mask],
           s->null_region ? " (NULL region)" : "", t_reduction_name(s->reduction), s->weight,
           s->pos_weight, (int)s->label_type, s->ignore, (long long)s->ignore_index,
           (double)s->smoothing, (double)s->grad_scale, s->pixel_weight, (double)s->focal_gamma,
           (double)s->focal_alpha);
  return buf;
}

sl_status t_call(const t_case *c, const sl_options *opt, float *loss, float *grad) {
  const sl_region *reg = c->use_region ? &c->region : NULL;
  switch (c->op) { /* one case per loss of the registry (src/losses.def), by its input column */
#define T_CALL_TARGETS(fn) fn(&c->shape, c->x, c->target, reg, opt, loss, grad)
#define T_CALL_LABELS(fn)  fn(&c->shape, c->x, c->labels, c->label_type, reg, opt, loss, grad)
#define SL_LOSS(OP, name, function, input, map, driver)                                            \
  case T_##OP:                                                                                     \
    return T_CALL_##input(function);
#include "../src/losses.def"
  default:
    abort(); /* T_NUM_OPS */
  }
}

/* ---- buffers and comparisons -------------------------------------------------------------- */
void t_canary(void *p, size_t bytes) {
  memset(p, T_CANARY_BYTE, bytes);
}

int t_is_canary(const void *p, size_t bytes) {
  const unsigned char *b = p;
  for (size_t i = 0; i < bytes; i++)
    if (b[i] != T_CANARY_BYTE)
      return 0;
  return 1;
}

int64_t t_first_diff(const float *a, const float *b, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
      return i;
  return -1;
}

double t_ulpf(float v) {
  float a = fabsf(v);
  if (!isfinite(a))
    return INFINITY;
  if (a >= FLT_MAX)
    return (double)FLT_MAX - (double)nextafterf(FLT_MAX, 0.0f);
  return (double)nextafterf(a, INFINITY) - (double)a;
}

int t_close(float got, double want, double tol) {
  if (isnan(want) || isnan(got))
    return isnan(want) && isnan(got);
  if (isinf(want))
    return (double)got == want;
  if (isinf(got)) /* a finite want may round to inf in float: want + tol must overflow too */
    return got == (float)(want + copysign(tol, want));
  return fabs((double)got - want) <= tol;
}

/* Tolerance of the library against the double-precision reference:
 *   8 * FLT_EPSILON * |want|  - at least 8 float ULPs of the value itself: the scalar kernels
 *                               round each value once (0.5 ULP), float SIMD kernels lose a few
 *                               ULPs in exp/log/division (a polynomial exp or log is good to
 *                               1-3 ULPs, then a handful of float operations follow);
 *   4 * FLT_EPSILON * nat     - the unavoidable float rounding of the operands of a cancelling
 *                               sum: nat is the natural magnitude of the quantity (the sum of the
 *                               absolute values of the terms the result is computed from, as
 *                               ref.c documents per quantity), 4 roundings of those terms;
 *   1e-37                     - results in the subnormal range (below FLT_MIN = 1.2e-38).
 * A sign error, a missing weight or a wrong normaliser changes a value by O(|value|) and is far
 * outside this. */
double t_tol(double want, double nat) {
  return 8.0 * FLT_EPSILON * fabs(want) + 4.0 * FLT_EPSILON * fabs(nat) + 1e-37;
}

int t_box_in(const sl_box *b, int64_t y, int64_t x) {
  return x >= b->x1 && x < b->x2 && y >= b->y1 && y < b->y2;
}

int t_in_boxes(const t_case *c, int64_t n, int64_t y, int64_t x) {
  const sl_region *g = &c->region;
  if (!c->use_region || (g->num_boxes == 0 && !g->box_offsets))
    return 1;
  if (!g->box_offsets)
    return t_box_in(&g->boxes[g->num_boxes == 1 ? 0 : n], y, x);
  for (int64_t k = g->box_offsets[n]; k < g->box_offsets[n + 1]; k++)
    if (t_box_in(&g->boxes[k], y, x))
      return 1;
  return 0;
}

int64_t t_box_sample(const t_case *c, int64_t k) {
  const sl_region *g = &c->region;
  if (!g->box_offsets)
    return g->num_boxes == 1 ? -1 : k;
  int64_t n = 0;
  while (g->box_offsets[n + 1] <= k)
    n++;
  return n;
}

/* ---- the main check ----------------------------------------------------------------------- */
/* Compares got[0..n) with the reference; sel(i) says whether element i is in the section (else
 * the value must be exactly 0). Reports the first mismatch. */
static int compare_array(const char *desc, const char *what, const float *got, const double *want,
                         const double *nat, const uint8_t *sel, int64_t sel_div, int64_t sel_c,
                         int64_t n) {
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < n; i++) {
    int ok;
    /* grads of CE are per logit, sel per pixel: pixel = (i / (C*HW)) * HW + i % HW */
    int64_t si = sel_div ? (i / (sel_c * sel_div)) * sel_div + i % sel_div : i;
    if (!sel[si])
      ok = got[i] == 0.0f;
    else
      ok = t_close(got[i], want[i], t_tol(want[i], nat[i]));
    if (!ok) {
      if (first < 0)
        first = i;
      bad++;
    }
  }
  if (bad) {
    int64_t i = first;
    int64_t si = sel_div ? (i / (sel_c * sel_div)) * sel_div + i % sel_div : i;
    cr_expect(0,
              "%s: %s: %lld of %lld elements wrong; first at %lld: got %.9g want %.9g "
              "(tol %.3g, %s)",
              desc, what, (long long)bad, (long long)n, (long long)i, (double)got[i], want[i],
              t_tol(want[i], nat[i]), sel[si] ? "selected" : "outside the section: must be 0");
  }
  return bad != 0;
}

/* Checks the outputs of one call (NULL = not requested) against the reference. */
static int check_outputs(const t_case *c, const ref_out *r, const char *desc, const char *mode,
                         const float *loss, const float *grad, const sl_stats *st) {
  const int none = c->opt.reduction == SL_REDUCTION_NONE;
  const int64_t me = t_map_elems(c), ne = t_elems(&c->shape);
  const int64_t hw = c->shape.h * c->shape.w;
  char what[64];
  int fails = 0;
  if (grad) {
    snprintf(what, sizeof what, "%s: grad", mode);
    if (t_op_labels(c->op) || t_op_pixel(c->op))
      fails += compare_array(desc, what, grad, r->grad, r->grad_nat, r->sel, hw, c->shape.c, ne);
    else
      fails += compare_array(desc, what, grad, r->grad, r->grad_nat, r->sel, 0, 0, ne);
  }
  if (loss && none) {
    snprintf(what, sizeof what, "%s: loss map", mode);
    fails += compare_array(desc, what, loss, r->map, r->map_nat, r->sel, 0, 0, me);
  } else if (loss && !t_close(loss[0], r->loss, t_tol(r->loss, r->loss_nat))) {
    cr_expect(0, "%s: %s: loss %.9g, want %.9g (tol %.3g)", desc, mode, (double)loss[0], r->loss,
              t_tol(r->loss, r->loss_nat));
    fails++;
  }
  if (st) {
    double sum_nat = 0.0;
    for (int64_t i = 0; i < me; i++)
      sum_nat += r->sel[i] ? r->map_nat[i] : 0.0;
    int st_ok = st->count == r->stats.count &&
                fabs(st->normalizer - r->stats.normalizer) <= 1e-12 * fabs(r->stats.normalizer) &&
                ((isnan(st->loss_sum) && isnan(r->stats.loss_sum)) ||
                 fabs(st->loss_sum - r->stats.loss_sum) <= t_tol(r->stats.loss_sum, sum_nat));
    if (!st_ok) {
      cr_expect(0,
                "%s: %s: stats {loss_sum %.17g, normalizer %.17g, count %lld}, want {%.17g, "
                "%.17g, %lld}",
                desc, mode, st->loss_sum, st->normalizer, (long long)st->count, r->stats.loss_sum,
                r->stats.normalizer, (long long)r->stats.count);
      fails++;
    }
  }
  return fails;
}

/* box_stats against the reference: per box, the sums over its elements of the reference's
 * per-element loss, normaliser term and counted flag (a pixel in two boxes counts in both; the
 * box of num_boxes == 1 is every sample's). Tolerances as for stats. */
static int check_box_stats(const t_case *c, const ref_out *r, const char *desc, const char *mode,
                           const sl_stats *bs) {
  const int64_t N = c->shape.n, H = c->shape.h, W = c->shape.w;
  const int64_t planes = t_map_elems(c) / (N * H * W); /* C for BCE, 1 for CE */
  int fails = 0;
  for (int64_t k = 0; k < c->region.num_boxes; k++) {
    const sl_box *b = &c->region.boxes[k];
    int64_t s0 = t_box_sample(c, k), n0 = s0 < 0 ? 0 : s0, n1 = s0 < 0 ? N : s0 + 1;
    double sum = 0.0, nat = 0.0, norm = 0.0;
    int64_t count = 0;
    for (int64_t n = n0; n < n1; n++)
      for (int64_t p = 0; p < planes; p++)
        for (int64_t y = b->y1; y < b->y2; y++)
          for (int64_t x = b->x1; x < b->x2; x++) {
            int64_t i = ((n * planes + p) * H + y) * W + x;
            if (!r->sel[i])
              continue;
            sum += r->map[i];
            nat += r->map_nat[i];
            norm += r->norm_map[i];
            count++;
          }
    int ok =
        bs[k].count == count && fabs(bs[k].normalizer - norm) <= 1e-12 * fabs(norm) &&
        ((isnan(bs[k].loss_sum) && isnan(sum)) || fabs(bs[k].loss_sum - sum) <= t_tol(sum, nat));
    if (!ok) {
      cr_expect(0,
                "%s: %s: box_stats[%lld] {loss_sum %.17g, normalizer %.17g, count %lld}, want "
                "{%.17g, %.17g, %lld}",
                desc, mode, (long long)k, bs[k].loss_sum, bs[k].normalizer, (long long)bs[k].count,
                sum, norm, (long long)count);
      fails++;
    }
  }
  return fails;
}

int t_check_case(const t_case *c, const char *desc) {
  ref_out r;
  ref_run(c, &r);
  const int none = c->opt.reduction == SL_REDUCTION_NONE;
  const int64_t ne = t_elems(&c->shape);
  const int64_t lsize = none ? t_map_elems(c) : 1;
  /* outputs sit between guard zones of G floats that must stay untouched */
  enum { G = 16 };
  float *loss_buf = t_alloc((size_t)(lsize + 2 * G) * sizeof(float)), *loss = loss_buf + G;
  float *grad_buf = t_alloc((size_t)(ne + 2 * G) * sizeof(float)), *grad = grad_buf + G;
  sl_stats st;
  sl_options opt = c->opt;
  int fails = 0;
  /* per-box statistics, with canaries after the last box */
  const int64_t nbs = c->use_region ? c->region.num_boxes : 0;
  sl_stats *bs = t_alloc((size_t)(nbs + 1) * sizeof(sl_stats));

  /* The five ways to call: fused with stats, loss (+ stats), grad only, stats only,
   * grad + stats. Each is compared with the reference on its own. */
  static const struct {
    int loss, grad, stats;
    const char *name;
  } modes[] = {{1, 1, 1, "fused"},
               {1, 0, 1, "loss only"},
               {0, 1, 0, "grad only"},
               {0, 0, 1, "stats only"},
               {0, 1, 1, "grad + stats"}};
  for (int m = 0; m < 5; m++) {
    t_canary(loss_buf, (size_t)(lsize + 2 * G) * sizeof(float));
    t_canary(grad_buf, (size_t)(ne + 2 * G) * sizeof(float));
    t_canary(&st, sizeof st);
    t_canary(bs, (size_t)(nbs + 1) * sizeof(sl_stats));
    opt.stats = modes[m].stats ? &st : NULL;
    opt.box_stats = nbs > 0 && modes[m].stats ? bs : NULL;
    float *l = modes[m].loss ? loss : NULL, *g = modes[m].grad ? grad : NULL;
    sl_status s = t_call(c, &opt, l, g);
    int guards =
        t_is_canary(loss_buf, G * sizeof(float)) && t_is_canary(loss + lsize, G * sizeof(float)) &&
        t_is_canary(grad_buf, G * sizeof(float)) && t_is_canary(grad + ne, G * sizeof(float));
    guards = guards && t_is_canary(bs + nbs, sizeof(sl_stats));
    cr_expect(guards, "%s: %s: a write before or after an output buffer", desc, modes[m].name);
    fails += !guards;
    if (s != r.status) {
      cr_expect(0, "%s: %s: status %d (%s), expected %d (%s)", desc, modes[m].name, (int)s,
                sl_status_string(s), (int)r.status, sl_status_string(r.status));
      fails++;
      continue;
    }
    if (r.status == SL_ERR_LABEL) {
      int untouched = t_is_canary(loss, (size_t)lsize * sizeof(float)) &&
                      t_is_canary(grad, (size_t)ne * sizeof(float)) &&
                      t_is_canary(&st, sizeof st) &&
                      t_is_canary(bs, (size_t)nbs * sizeof(sl_stats));
      cr_expect(untouched, "%s: %s: SL_ERR_LABEL but an output was written", desc, modes[m].name);
      fails += !untouched;
    } else if (r.status == SL_ERR_DOMAIN) {
      int untouched = t_is_canary(&st, sizeof st) && (none || t_is_canary(loss, sizeof(float)));
      cr_expect(untouched, "%s: %s: SL_ERR_DOMAIN but the scalar loss or the stats were written",
                desc, modes[m].name);
      fails += !untouched;
    } else {
      fails += check_outputs(c, &r, desc, modes[m].name, l, g, opt.stats);
      if (opt.box_stats)
        fails += check_box_stats(c, &r, desc, modes[m].name, opt.box_stats);
    }
  }
  free(bs);
  free(loss_buf);
  free(grad_buf);
  ref_free(&r);
  return fails;
}

int t_check_spec(const t_spec *s) {
  char desc[256];
  t_case c;
  t_case_make(&c, s);
  int f = t_check_case(&c, t_spec_str(s, desc, sizeof desc));
  t_case_free(&c);
  return f;
}

/* Every dimension from 1 up to odd sizes; W covers the SIMD edges (1, 7, 8, 9, 15, 16, 17, 31,
 * 33, 67: below, at and above one and two vectors of 8 and 16 floats). */
const sl_shape t_shapes[] = {
    {1, 1, 1, 1},  {2, 3, 5, 7},  {3, 5, 17, 33}, {2, 2, 3, 1},  {2, 2, 3, 8},  {2, 2, 3, 9},
    {1, 2, 3, 15}, {2, 1, 3, 16}, {2, 2, 2, 17},  {1, 3, 2, 31}, {2, 2, 3, 33}, {2, 2, 3, 67},
    {1, 1, 1, 67}, {4, 1, 1, 5},  {1, 7, 1, 1},   {1, 1, 9, 1},  {3, 2, 1, 16}, {1, 4, 5, 66},
};
const int t_num_shapes = (int)(sizeof t_shapes / sizeof t_shapes[0]);

int t_matrix_shapes(t_op op, uint64_t seed) {
  int fails = 0;
  for (int si = 0; si < t_num_shapes; si++)
    for (int red = 0; red < 3; red++)
      for (int variant = 0; variant < 3; variant++) {
        t_spec s = t_spec_default(op, t_shapes[si], seed++);
        s.reduction = (sl_reduction)red;
        if (variant == 0)
          s.null_region = 1;
        else if (variant == 1)
          s.box = TB_INTERIOR;
        else {
          s.box = TB_PER_SAMPLE;
          s.mask = TM_RANDOM;
        }
        s.weight = (si + red) % 2;
        s.grad_scale = red == 1 ? 0.75f : 1.0f;
        fails += t_check_spec(&s);
      }
  return fails;
}

int t_matrix_boxes(t_op op, uint64_t seed) {
  static const sl_shape shapes[] = {
      {2, 3, 5, 7}, {3, 2, 4, 17}, {1, 1, 1, 1}, {2, 1, 6, 33}, {3, 2, 3, 9}};
  static const t_mask masks[] = {TM_NONE, TM_RANDOM, TM_CHECKER};
  int fails = 0;
  for (int b = TB_NONE; b < TB_COUNT_; b++)
    for (int m = 0; m < 3; m++)
      for (int si = 0; si < 5; si++)
        for (int rep = 0; rep < 2; rep++) {
          t_spec s = t_spec_default(op, shapes[si], seed++);
          s.box = (t_box)b;
          s.mask = masks[m];
          s.reduction = (sl_reduction)((b + m + si + rep) % 3);
          fails += t_check_spec(&s);
        }
  return fails;
}

int t_matrix_masks(t_op op, uint64_t seed) {
  static const sl_shape shapes[] = {
      {2, 3, 5, 7}, {1, 2, 3, 31}, {3, 1, 2, 16}, {2, 4, 3, 67}, {1, 1, 1, 1}};
  int fails = 0;
  for (int m = TM_NONE; m < TM_COUNT_; m++) {
    if (m == TM_PER_CHANNEL && (t_op_labels(op) || t_op_pixel(op)))
      continue;
    for (int si = 0; si < 5; si++)
      for (int red = 0; red < 3; red++) {
        t_spec s = t_spec_default(op, shapes[si], seed++);
        s.mask = (t_mask)m;
        s.box = si % 2 ? TB_INTERIOR : TB_NONE;
        s.reduction = (sl_reduction)red;
        s.weight = si % 2;
        fails += t_check_spec(&s);
      }
  }
  return fails;
}
