// SPDX-License-Identifier: MIT
/*
 * test_equiv.c - the ISA active at test start against SL_ISA_SCALAR, the reference kernels.
 *
 * Every case runs twice, once per ISA (sl_isa_set, restored before any assertion), on
 * unaligned buffers (each input and output starts 1..7 floats past an aligned address) with
 * row widths 1..67, boxes that start rows at odd columns, masks, every reduction and option,
 * and special values. Criteria: the accuracy contract (tests/contract.h, docs/accuracy.md):
 *   - per element (NONE loss map, grad): NaN exactly where scalar has NaN, the same infinity
 *     where scalar has one, otherwise within 4 ulp(M), M = max(|scalar|, the magnitudes of the
 *     terms the element is the difference of, from its inputs); no absolute tolerance;
 *   - reduced loss and stats.loss_sum within 1e-6 of the sum of |per-element loss| (MEAN: over
 *     the normaliser; the float loss also its final rounding); normaliser and count exact;
 *   - the same status.
 * When the active ISA is scalar the comparison is trivial; the test says so with cr_log_info.
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "harness.h"
#include "ref.h"
#include "sectionloss.h"
#include "util.h"

/* A copy of a case whose every buffer starts off floats (or bytes / labels) past an aligned
 * base. */
typedef struct shifted {
  t_case c;
  void *base[8];
} shifted;

static void *shift_copy(shifted *s, int slot, const void *src, size_t bytes, size_t off) {
  if (!src)
    return NULL;
  unsigned char *b = t_alloc(bytes + 64);
  s->base[slot] = b;
  memcpy(b + off, src, bytes);
  return b + off;
}

static void shift_case(shifted *s, const t_case *src, int off) {
  memset(s, 0, sizeof *s);
  s->c = *src;
  const int64_t e = t_elems(&src->shape), m = t_map_elems(src), C = src->shape.c;
  const size_t fo = (size_t)(off % 8) * sizeof(float);
  const size_t fo2 = (size_t)((off + 3) % 8) * sizeof(float);
  s->c.x = shift_copy(s, 0, src->x, (size_t)e * 4, fo);
  s->c.target = shift_copy(s, 1, src->target, (size_t)e * 4, fo2);
  if (src->labels)
    s->c.labels = shift_copy(s, 2, src->labels, (size_t)m * t_label_size(src->label_type),
                             (size_t)(off % 8) * t_label_size(src->label_type));
  s->c.weight = shift_copy(s, 3, src->weight,
                           (size_t)(t_op_labels(src->op) || t_op_pixel(src->op) ? C : e) * 4, fo2);
  s->c.pixel_weight = shift_copy(s, 7, src->pixel_weight, (size_t)m * 4, fo);
  s->c.opt.pixel_weight = s->c.pixel_weight;
  s->c.pos_weight = shift_copy(s, 4, src->pos_weight, (size_t)C * 4, fo);
  s->c.grad_map = shift_copy(s, 5, src->grad_map, (size_t)m * 4, fo2);
  if (src->mask)
    s->c.mask =
        shift_copy(s, 6, src->mask,
                   (size_t)(src->shape.n * src->region.mask_channels * src->shape.h * src->shape.w),
                   (size_t)off);
  s->c.region.mask = s->c.mask;
  s->c.opt.weight = s->c.weight;
  s->c.opt.pos_weight = s->c.pos_weight;
  s->c.opt.grad_map = s->c.grad_map;
}

static void shift_free(shifted *s) {
  for (int i = 0; i < 8; i++)
    free(s->base[i]);
}

typedef struct result {
  sl_status status;
  float *loss, *grad;
  sl_stats stats;
  int guards_ok;
} result;

static void run_isa(const t_case *c, sl_isa isa, int off, result *r, void **bases) {
  int64_t lsize = c->opt.reduction == SL_REDUCTION_NONE ? t_map_elems(c) : 1;
  int64_t e = t_elems(&c->shape);
  unsigned char *lb = t_alloc((size_t)lsize * 4 + 64), *gb = t_alloc((size_t)e * 4 + 64);
  bases[0] = lb;
  bases[1] = gb;
  r->loss = (float *)(lb + (size_t)((off + 5) % 8) * 4);
  r->grad = (float *)(gb + (size_t)((off + 1) % 8) * 4);
  t_canary(lb, (size_t)lsize * 4 + 64);
  t_canary(gb, (size_t)e * 4 + 64);
  sl_options o = c->opt;
  o.stats = &r->stats;
  sl_isa before = sl_isa_active();
  sl_isa_set(isa);
  r->status = t_call(c, &o, r->loss, r->grad);
  sl_isa_set(before);
  /* nothing written around the outputs (the canary fills the slack on both sides) */
  r->guards_ok = t_is_canary(lb, (size_t)((off + 5) % 8) * 4) && t_is_canary(r->loss + lsize, 32) &&
                 t_is_canary(gb, (size_t)((off + 1) % 8) * 4) && t_is_canary(r->grad + e, 32);
}

/* The largest difference seen, in ulp(M) (contract.h), over all elements (reported per test:
 * how close the ISA really is). */
static double max_ulps_seen;
static char max_ulps_where[320];
/* The per-element bound: ct_elem_err's op and ulp bound (CT_MAX_ULP, ct_focal_ulp(gamma) for
 * the sigmoid focal loss; CE and the softmax focal loss have absolute tolerances). */
static double elem_bound = CT_MAX_ULP;
static t_op elem_op = T_BCE_PROB;

static int compare_elems(const char *desc, const char *what, const float *a, const float *b,
                         int64_t n, const double *terms) {
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < n; i++) {
    double u = ct_elem_err(elem_op, a[i], b[i], terms[i], elem_bound);
    if (!(u <= 1.0)) {
      bad++;
      if (first < 0)
        first = i;
    } else if (u > max_ulps_seen) {
      max_ulps_seen = u;
      snprintf(max_ulps_where, sizeof max_ulps_where, "%s[%lld] = %.9g, scalar %.9g, in %s", what,
               (long long)i, (double)a[i], (double)b[i], desc);
    }
  }
  if (bad)
    cr_expect(0,
              "%s: %s: %lld of %lld differ from scalar; first at %lld: %.9g vs scalar %.9g "
              "(terms %.9g, %g x bound)",
              desc, what, (long long)bad, (long long)n, (long long)first, (double)a[first],
              (double)b[first], terms[first],
              ct_elem_err(elem_op, a[first], b[first], terms[first], elem_bound));
  return bad != 0;
}

/* Runs c (shifted by off) on the active ISA and on scalar and compares. */
static int equiv_case(const t_case *src, int off, const char *desc) {
  const sl_isa active = sl_isa_active();
  shifted s;
  shift_case(&s, src, off);
  const t_case *c = &s.c;
  void *bases[4];
  result a, b;
  run_isa(c, active, off, &a, bases);
  run_isa(c, SL_ISA_SCALAR, off + 2, &b, bases + 2);
  int fails = 0;
  if (!a.guards_ok || !b.guards_ok) {
    cr_expect(0, "%s: a write outside the output buffers (%s)", desc,
              a.guards_ok ? "scalar" : sl_isa_name(active));
    fails++;
  }
  if (a.status != b.status) {
    cr_expect(0, "%s: status %d on %s, %d on scalar", desc, a.status, sl_isa_name(active),
              b.status);
    fails++;
  } else if (a.status == SL_OK) {
    const int none = c->opt.reduction == SL_REDUCTION_NONE;
    ref_out ro; /* only for the selection (ref.c: sel per map element) */
    ref_run(c, &ro);
    const int64_t ne = t_elems(&c->shape), nm = t_map_elems(c);
    const int focal = c->op == T_SOFTMAX_FOCAL || c->op == T_SIGMOID_FOCAL;
    elem_bound = c->op == T_SIGMOID_FOCAL ? ct_focal_ulp(c->opt.focal_gamma) : CT_MAX_ULP;
    ct_call cc = {.op = c->op,
                  .shape = c->shape,
                  .x = c->x,
                  .t = c->target,
                  .labels = c->labels,
                  .lt = c->label_type,
                  .weight = c->opt.weight,
                  .pos_weight = c->op == T_BCE_LOGITS ? c->opt.pos_weight : NULL,
                  .grad_map = c->opt.grad_map,
                  .reduction = c->opt.reduction,
                  .grad_scale = c->opt.grad_scale,
                  .normalizer = b.stats.normalizer,
                  .smoothing = c->op == T_CE || c->op == T_CE_PROB ? c->opt.label_smoothing : 0.0,
                  .sel = ro.sel,
                  .pixel_weight = c->opt.pixel_weight,
                  .gamma = focal ? c->opt.focal_gamma : 0.0,
                  .alpha = c->opt.focal_alpha};
    elem_op = cc.op;
    const double sum_bound = c->op == T_SIGMOID_FOCAL ? ct_focal_sum_rel(c->opt.focal_gamma) : 1.0;
    double *lterms = t_alloc((size_t)nm * sizeof(double));
    double *gterms = t_alloc((size_t)ne * sizeof(double));
    const double abs_sum = ct_terms(&cc, lterms, gterms);
    ref_free(&ro);
    fails += compare_elems(desc, "grad", a.grad, b.grad, ne, gterms);
    if (none) {
      fails += compare_elems(desc, "loss map", a.loss, b.loss, nm, lterms);
    } else {
      double mn = c->opt.reduction == SL_REDUCTION_MEAN && b.stats.normalizer > 0
                      ? b.stats.normalizer
                      : 1.0;
      if (!(ct_sum_err(a.loss[0], b.loss[0], abs_sum / mn, 1) <= sum_bound)) {
        cr_expect(0, "%s: loss %.9g, scalar %.9g (sum |l| %g)", desc, (double)a.loss[0],
                  (double)b.loss[0], abs_sum);
        fails++;
      }
    }
    free(lterms);
    free(gterms);
    if (!(ct_sum_err(a.stats.loss_sum, b.stats.loss_sum, abs_sum, 0) <= sum_bound) ||
        !(a.stats.normalizer == b.stats.normalizer ||
          (isnan(a.stats.normalizer) && isnan(b.stats.normalizer))) ||
        a.stats.count != b.stats.count) {
      cr_expect(0, "%s: stats {%.17g, %.17g, %lld}, scalar {%.17g, %.17g, %lld}", desc,
                a.stats.loss_sum, a.stats.normalizer, (long long)a.stats.count, b.stats.loss_sum,
                b.stats.normalizer, (long long)b.stats.count);
      fails++;
    }
  }
  for (int i = 0; i < 4; i++)
    free(bases[i]);
  shift_free(&s);
  return fails;
}

static void say_isa(void) {
  sl_isa active = sl_isa_active();
  max_ulps_seen = 0.0;
  max_ulps_where[0] = '\0';
  if (active == SL_ISA_SCALAR)
    cr_log_info("equivalence: the active ISA is scalar: comparing scalar with itself (trivial)");
}

static void say_ulps(const char *test) {
  cr_log_info("equivalence %s: %s vs scalar, largest element difference %.2f ulp(M) (%s)", test,
              sl_isa_name(sl_isa_active()), max_ulps_seen, max_ulps_where);
}

/* Row widths 1..67 for one entry point: every reduction, boxes starting at odd columns, masks,
 * options on and off, unaligned buffers. */
static void widths(t_op op, uint64_t seed) {
  say_isa();
  int fails = 0;
  for (int w = 1; w <= 67; w++)
    for (int red = 0; red < 3; red++) {
      sl_shape sh = {2, op == T_CE ? 5 : 3, 3, w};
      t_spec s = t_spec_default(op, sh, seed++);
      s.reduction = (sl_reduction)red;
      static const t_box kinds[] = {TB_NONE, TB_PER_SAMPLE, TB_INTERIOR, TB_MANY};
      s.box = kinds[(w + red) % 4];
      s.mask = (w % 4 == 0)   ? TM_NONE
               : (w % 4 == 1) ? TM_RANDOM
               : (w % 4 == 2) ? TM_CHECKER
                              : TM_FULL;
      if (op != T_CE && w % 5 == 0)
        s.mask = TM_PER_CHANNEL;
      s.weight = (w + red) % 2;
      s.pos_weight = op == T_BCE_LOGITS && w % 3 == 0;
      s.grad_scale = red == 1 ? -1.5f : 1.0f;
      if (op == T_CE) {
        s.label_type = (sl_label_type)(w % 3);
        s.ignore = w % 2;
        s.ignore_index = w % 4 == 1 ? 1 : s.label_type == SL_LABEL_U8 ? 255 : -100;
        s.smoothing = w % 3 == 1 ? 0.15f : 0.0f;
      }
      t_case c;
      t_case_make(&c, &s);
      char desc[256];
      fails += equiv_case(&c, 1 + w % 7, t_spec_str(&s, desc, sizeof desc));
      t_case_free(&c);
    }
  say_ulps(t_op_name(op));
  cr_assert(fails == 0);
}

Test(equiv, bce_widths) {
  widths(T_BCE_PROB, 30000);
}
Test(equiv, bce_logits_widths) {
  widths(T_BCE_LOGITS, 31000);
}
Test(equiv, ce_widths) {
  widths(T_CE, 32000);
}

/* Larger rows (several CE segments of 256 pixels, long SIMD loops), logits at wider scales. */
Test(equiv, long_rows) {
  say_isa();
  int fails = 0;
  for (int op = 0; op < 3; op++)
    for (int red = 0; red < 3; red++) {
      sl_shape sh = {2, op == T_CE ? 7 : 2, 3, 600};
      t_spec s = t_spec_default((t_op)op, sh, 33000 + (uint64_t)(op * 3 + red));
      s.reduction = (sl_reduction)red;
      s.box = TB_INTERIOR;
      s.mask = TM_RANDOM;
      s.weight = 1;
      s.scale = red == 2 ? 30.0f : 0.0f;
      s.smoothing = op == T_CE && red == 0 ? 0.2f : 0.0f;
      t_case c;
      t_case_make(&c, &s);
      char desc[256];
      fails += equiv_case(&c, 3 + red, t_spec_str(&s, desc, sizeof desc));
      t_case_free(&c);
    }
  say_ulps("long rows");
  cr_assert(fails == 0);
}

/* Special values spread over rows of every width class. */
Test(equiv, special_values) {
  say_isa();
  static const float probs[] = {0.0f,        1.0f,          1e-30f,  1e-45f, 1e-7f, 0.5f,
                                0.99999994f, 5.9604645e-8f, 0.9999f, 1e-38f, 0.25f};
  static const float targets[] = {0.0f, 1.0f, 0.5f, 0.25f, 1e-8f};
  /* 1e37, not 3e38: with weights and pos_weight the per-element loss stays below FLT_MAX
   * (a float kernel may overflow a single element's loss beyond it; scalar works in double) */
  static const float logits[] = {0.0f,   -0.0f,  1e-30f,   -1e-45f,   1.0f,    -1.0f,  17.5f,
                                 -17.5f, 88.7f,  -88.7f,   103.9f,    -103.9f, 1e30f,  -1e30f,
                                 1e37f,  -1e37f, INFINITY, -INFINITY, NAN,     15.25f, -40.0f};
  const int np = sizeof probs / sizeof probs[0], nt = sizeof targets / sizeof targets[0];
  const int nl = sizeof logits / sizeof logits[0];
  int fails = 0;
  uint64_t seed = 34000;
  for (int op = 0; op < 3; op++)
    for (int w = 1; w <= 33; w += (w < 17 ? 1 : 8))
      for (int red = 0; red < 3; red++) {
        sl_shape sh = {1, op == T_CE ? 4 : 2, 5, w};
        t_spec s = t_spec_default((t_op)op, sh, seed++);
        s.reduction = (sl_reduction)red;
        s.weight = red != 1;
        s.pos_weight = op == T_BCE_LOGITS && red != 2;
        s.smoothing = op == T_CE && red == 1 ? 0.1f : 0.0f;
        s.box = w > 2 ? TB_INTERIOR : TB_NONE;
        t_case c;
        t_case_make(&c, &s);
        t_rng r = t_rng_seed(seed * 7);
        for (int64_t i = 0; i < t_elems(&sh); i++) {
          if (op == T_BCE_PROB) {
            c.x[i] = probs[t_rng_int(&r, 0, np)];
            c.target[i] = targets[t_rng_int(&r, 0, nt)];
          } else if (t_rng_unit(&r) < 0.5) {
            c.x[i] = logits[t_rng_int(&r, 0, nl)];
          }
        }
        char desc[256];
        fails += equiv_case(&c, 1 + (w + red) % 7, t_spec_str(&s, desc, sizeof desc));
        t_case_free(&c);
      }
  say_ulps("special values");
  cr_assert(fails == 0);
}

/* An infinite class weight (a fuzz finding, with label smoothing): W = inf makes A infinite,
 * and where one class dominates log s rounds to 0. The SIMD kernels regroup the loss and the
 * target class's gradient (W log s + sum w_c (m - x_c); (A - B_t) - A (1 - p_t)), which gave
 * inf * 0 and inf - inf = NaN where the scalar kernel has +-inf (AVX2 and NEON), and NEON's
 * float gradient 0 where MEAN's normaliser is infinite. The driver now runs such calls on the
 * reference kernel; every ISA must agree with it, NaN for NaN, inf for inf. */
Test(equiv, infinite_class_weight_smoothing) {
  say_isa();
  static const float pairs[][2] = {{-0x1.5952e8p+5f, 0x1.aa3ddap+1f},
                                   {0.5f, -1.0f},
                                   {3.0f, 3.0f},
                                   {-100.0f, 20.0f},
                                   {1e30f, 0.0f},
                                   {-7.0f, 2.5f}};
  const int np = sizeof pairs / sizeof pairs[0];
  int fails = 0;
  uint64_t seed = 35000;
  for (int red = 0; red < 3; red++)
    for (int sm = 0; sm < 3; sm++)
      for (int wi = 0; wi < 2; wi++) {
        sl_shape sh = {1, 2, 1, 2 * np + 3};
        t_spec s = t_spec_default(T_CE, sh, seed++);
        s.reduction = (sl_reduction)red;
        s.weight = 1;
        s.smoothing = sm == 0 ? 1.0f : sm == 1 ? 0.5f : 0.0f;
        s.box = TB_NONE;
        s.mask = TM_NONE;
        t_case c;
        t_case_make(&c, &s);
        c.weight[wi] = INFINITY;
        c.weight[1 - wi] = 100.0f;
        for (int64_t i = 0; i < sh.w; i++) {
          c.x[i] = pairs[i % np][(i / np) % 2];
          c.x[sh.w + i] = pairs[i % np][1 - (i / np) % 2];
          t_label_set(&c, i, i % 2);
        }
        char desc[256];
        fails += equiv_case(&c, 1 + (red + sm) % 7, t_spec_str(&s, desc, sizeof desc));
        t_case_free(&c);
      }
  cr_assert(fails == 0);
}

/* An infinite pos_weight (a fuzz finding: x = -230, y = -1.56e30, loss NaN on AVX2, -inf on
 * scalar, from a float exp(-|x|) underflowing to 0 under the infinite weight). Such calls run the
 * reference kernel (src/loss_bce.c, src/loss_ce.c); every ISA must agree with it, NaN for NaN, inf
 * for inf. */
Test(equiv, infinite_pos_weight) {
  say_isa();
  static const float xs[] = {-0x1.cc47bp+7f, 200.0f, -200.0f, 0.0f, 1e-30f, 3.0f, -3.0f};
  static const float ts[] = {-0x1.93e594p+99f, 0.5f, 1.0f, 0.0f};
  const int nx = sizeof xs / sizeof xs[0], nt = sizeof ts / sizeof ts[0];
  int fails = 0;
  uint64_t seed = 36000;
  for (int red = 0; red < 3; red++)
    for (int pi = 0; pi < 2; pi++) {
      sl_shape sh = {1, 2, 1, nx * nt};
      t_spec s = t_spec_default(T_BCE_LOGITS, sh, seed++);
      s.reduction = (sl_reduction)red;
      s.pos_weight = 1;
      s.box = TB_NONE;
      s.mask = TM_NONE;
      t_case c;
      t_case_make(&c, &s);
      c.pos_weight[pi] = pi ? -INFINITY : INFINITY;
      c.pos_weight[1 - pi] = 2.0f;
      for (int64_t i = 0; i < t_elems(&sh); i++) {
        c.x[i] = xs[i % nx];
        c.target[i] = ts[(i / nx) % nt];
      }
      char desc[256];
      fails += equiv_case(&c, 1 + (red + pi) % 7, t_spec_str(&s, desc, sizeof desc));
      t_case_free(&c);
    }
  cr_assert(fails == 0);
}

/* Losses and gradients that lose digits to underflow in float, or overflow it (fuzz findings,
 * CI runs 3 and 4, session 4): a weighted loss w s that rounds to 0, a subnormal or inf
 * (w = 1.4e-45, w = 3e38), an unweighted loss that is subnormal before a large weight scales it
 * (t = 1e-40 with p = 1e-30; logits x = 86 with pw = 0.01), logits c |x| = 2^-150 (t = 1/2,
 * pw = -1, x = 2^-149) under w = 2^100, c |x| beyond FLT_MAX, the near-0 gradient's a - b with
 * a tiny pos_weight (1 + pw rounds to 1), lw = 1 + (pw - 1) t = 1 at t = 2.8e8 (where
 * (1 - t) + pw t rounds to 0 in float; at t = 2^59 it did in the double reference), the near-0
 * gradient's two products overflowing with opposite signs under an upstream gradient of -3e35 (NaN,
 * the reference -inf), and CE pixels whose other classes are 95 to 120 below the target (s - 1
 * subnormal or 0 in float; and label smoothing 1e-44, whose g e/C underflows to 0 in float,
 * under a class weight of 3e38: campaign findings). Each tuple fills a row of 19 elements (pixels)
 * on its own, so its reduced loss is not hidden behind larger ones; the reduced losses are held to
 * 1e-6 of sum |l| (no absolute tolerance). CE: x and t are the logits of classes 0 (the label) and
 * 1, w both class weights. */
Test(equiv, underflowing_losses) {
  say_isa();
  static const struct {
    int op;
    float x, t, w, pw, ls, w1; /* CE: label smoothing, class 1's weight (0: w) */
  } cases[] = {
      {T_BCE_PROB, 0.25f, 0.0f, 0x1p-149f, 1.0f, 0.0f, 0.0f},       /* w s underflows to 0 */
      {T_BCE_PROB, 0.5f, 0.0f, 0x1p-140f, 1.0f, 0.0f, 0.0f},        /* w s subnormal */
      {T_BCE_PROB, 0.99f, 0.0f, 3e38f, 1.0f, 0.0f, 0.0f},           /* w s overflows */
      {T_BCE_PROB, 1e-30f, 1e-40f, 1e8f, 1.0f, 0.0f, 0.0f},         /* s subnormal, then scaled */
      {T_BCE_PROB, 1e-30f, 1e-40f, 1.0f, 1.0f, 0.0f, 0.0f},         /* s subnormal */
      {T_BCE_PROB, 1.2e-38f, 2.4e-43f, 1.3e10f, 1.0f, 0.0f, 0.0f},  /* s = 2e-41, then scaled */
      {T_BCE_PROB, 1e-30f, 1e-40f, 1e-38f, 1.0f, 0.0f, 0.0f},       /* w 2^64 s underflows */
      {T_BCE_PROB, 0.99999994f, 0x1p-149f, 1.0f, 1.0f, 0.0f, 0.0f}, /* t lp underflows by lq */
      {T_BCE_PROB, 1e-30f, 0.0f, 3.0f, 1.0f, 0.0f, 0.0f},           /* an exact 0 */
      {T_BCE_LOGITS, -20.0f, 0.0f, 0x1p-149f, 1.0f, 0.0f, 0.0f},    /* w s underflows to 0 */
      {T_BCE_LOGITS, 86.0f, 1.0f, 1e10f, 0.01f, 0.0f, 0.0f},        /* s subnormal, then scaled */
      {T_BCE_LOGITS, 0x1p-149f, 0.5f, 0x1p100f, -1.0f, 0.0f, 0.0f}, /* c |x| underflows, lw = 0 */
      {T_BCE_LOGITS, 1e38f, -3.0f, 1.0f, 1.0f, 0.0f, 0.0f},         /* c |x| overflows */
      {T_BCE_LOGITS, 1.69837374e-41f, 1.0f, 0.825f, 1.7e-29f, 0.0f,
       0.0f},                                                     /* a - b = -pw near x = 0 */
      {T_BCE_LOGITS, -80.0f, 1.0f, 1e30f, 1e-38f, 0.0f, 0.0f},    /* d = -pw near FLT_MIN */
      {T_BCE_LOGITS, 0.0f, 0.5f, 0x1p100f, -1.0f, 0.0f, 0.0f},    /* an exact 0 */
      {T_BCE_LOGITS, 0.0f, 279932736.0f, 1.0f, 1.0f, 0.0f, 0.0f}, /* lw = 1 beside t = 2.8e8 */
      {T_BCE_LOGITS, 0.0f, 0x1p59f, 1.0f, 1.0f, 0.0f, 0.0f},      /* lw = 1 beside t = 2^59 */
      {T_BCE_LOGITS, 2.19731638e-18f, 2.19926873e-18f, 1.0f, -6.89465506e+23f, 0.0f,
       0.0f},                                              /* inf - inf */
      {T_BCE_LOGITS, 80.0f, 1.0f, 1.0f, 1.0f, 0.0f, 0.0f}, /* a normal 1.8e-35 */
      {T_CE, 95.0f, 0.0f, 1.0f, 1.0f, 0.0f, 0.0f},         /* s - 1 = 5.5e-42 */
      {T_CE, 120.0f, 0.0f, 3.0f, 1.0f, 0.0f, 0.0f},        /* s - 1 = 7.7e-53: 0 in float */
      {T_CE, 30.0f, 0.0f, 1.0f, 1.0f, 0.0f, 0.0f},
      {T_CE, 0.0f, 0.0f, 1.0f, 1.0f, 1e-44f, 3e38f},
      /* g e/C underflows to 0 under w = 3e38 */ /* s - 1 = 9.4e-14 */
  };
  int fails = 0;
  uint64_t seed = 37000;
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
    for (int red = 0; red < 3; red++)
      for (int wi = 0; wi < 2; wi++) {
        const int ce = cases[k].op == T_CE;
        sl_shape sh = {1, ce ? 2 : 1, 1, 19};
        t_spec s = t_spec_default((t_op)cases[k].op, sh, seed++);
        s.reduction = (sl_reduction)red;
        s.weight = 1;
        s.pos_weight = cases[k].op == T_BCE_LOGITS;
        s.smoothing = cases[k].ls;
        s.box = TB_NONE;
        s.mask = wi ? TM_RANDOM : TM_NONE;
        t_case c;
        t_case_make(&c, &s);
        for (int64_t i = 0; i < sh.w; i++) {
          c.x[i] = cases[k].x;
          if (ce) {
            c.x[sh.w + i] = cases[k].t;
            t_label_set(&c, i, 0);
          } else {
            c.target[i] = cases[k].t;
          }
        }
        for (int64_t i = 0; i < (ce ? 2 : sh.w); i++)
          c.weight[i] = cases[k].w;
        if (ce && cases[k].w1 != 0.0f)
          c.weight[1] = cases[k].w1;
        if (c.pos_weight)
          c.pos_weight[0] = cases[k].pw;
        if (c.grad_map && cases[k].op == T_BCE_LOGITS && cases[k].pw < -1e20f)
          for (int64_t i = 0; i < sh.w; i++) /* NONE: the upstream gradient of that case */
            c.grad_map[i] = -2.99309024e+35f;
        char desc[256];
        snprintf(desc, sizeof desc, "x %a t %a w %a pw %a, ", (double)cases[k].x,
                 (double)cases[k].t, (double)cases[k].w, (double)cases[k].pw);
        size_t used = strlen(desc);
        fails += equiv_case(&c, 1 + (int)(k + red) % 7,
                            (t_spec_str(&s, desc + used, sizeof desc - used), desc));
        t_case_free(&c);
      }
  cr_assert(fails == 0);
}

/* Out-of-domain probabilities and bad labels: both ISAs report the same status. */
Test(equiv, errors) {
  say_isa();
  int fails = 0;
  for (int k = 0; k < 4; k++) {
    sl_shape sh = {2, 2, 3, 13};
    t_spec s = t_spec_default(k < 3 ? T_BCE_PROB : T_CE, sh, 35000 + (uint64_t)k);
    s.reduction = (sl_reduction)(k % 3);
    t_case c;
    t_case_make(&c, &s);
    if (k < 3)
      c.x[17 + k] = k == 0 ? NAN : k == 1 ? 1.5f : -0.5f;
    else
      t_label_set(&c, 40, 2);
    sl_options o = c.opt;
    sl_status want = k < 3 ? SL_ERR_DOMAIN : SL_ERR_LABEL;
    sl_isa active = sl_isa_active();
    sl_isa_set(SL_ISA_SCALAR);
    float loss[160], grad[156];
    sl_status got = t_call(&c, &o, loss, grad);
    sl_isa_set(active);
    cr_expect(got == want, "case %d: scalar status %d", k, got);
    fails += equiv_case(&c, 1 + k, k < 3 ? "bce domain" : "ce label");
    t_case_free(&c);
  }
  cr_assert(fails == 0);
}

/* ---- pixel weights (sl_ce, sl_softmax_focal) and the softmax focal loss ---------------------
 * Row widths 1..67, every reduction, label type, ignore_index, boxes and masks, gamma on the
 * integer path (1, 2, 3) and the pow path (0.5, 2.5), gamma 0, pixel weights with odd values
 * (0, subnormal, 1e30, inf, NaN: hard pixels, the reference's values), special logits (+-inf,
 * NaN, +-1e30, confident pixels). The focal bound is ct_focal_ulp(gamma) (contract.h). */
static void pw_widths(t_op op, uint64_t seed) {
  static const float gammas[] = {2.0f, 1.0f, 3.0f, 2.5f, 0.5f, 0.0f, 2.0f};
  static const float odd_pw[] = {0.0f, 1e-40f, 1e30f, INFINITY, NAN, 3e-39f, 0.0f};
  static const float logits[] = {INFINITY, -INFINITY, NAN, 1e30f, -1e30f, 30.0f, -90.0f};
  say_isa();
  int fails = 0;
  for (int w = 1; w <= 67; w++)
    for (int red = 0; red < 3; red++) {
      sl_shape sh = {2, 2 + w % 6, 3, w};
      t_spec s = t_spec_default(op, sh, seed++);
      s.reduction = (sl_reduction)red;
      s.box = (w + red) % 3 == 0 ? TB_NONE : (w + red) % 3 == 1 ? TB_PER_SAMPLE : TB_INTERIOR;
      s.mask = w % 3 == 0 ? TM_NONE : w % 3 == 1 ? TM_RANDOM : TM_CHECKER;
      s.weight = (w + red) % 2;
      s.pixel_weight = (w + red) % 3 != 2;
      s.grad_scale = red == 1 ? -1.5f : 1.0f;
      s.label_type = (sl_label_type)(w % 3);
      s.ignore = w % 2;
      s.ignore_index = w % 4 == 1 ? 1 : s.label_type == SL_LABEL_U8 ? 255 : -100;
      s.smoothing = op == T_CE && w % 3 == 1 ? 0.15f : 0.0f;
      s.focal_gamma = gammas[(w + red) % 7];
      s.scale = w % 5 == 0 ? 30.0f : 0.0f;
      t_case c;
      t_case_make(&c, &s);
      t_rng r = t_rng_seed(seed * 13);
      const int64_t np = sh.n * sh.h * sh.w;
      for (int64_t p = 0; c.pixel_weight && w % 2 == 0 && p < np; p++)
        if (t_rng_unit(&r) < 0.15)
          c.pixel_weight[p] = odd_pw[t_rng_int(&r, 0, 7)];
      for (int64_t i = 0; w % 4 == 3 && i < t_elems(&sh); i++)
        if (t_rng_unit(&r) < 0.1)
          c.x[i] = logits[t_rng_int(&r, 0, 7)];
      char desc[256];
      fails += equiv_case(&c, 1 + w % 7, t_spec_str(&s, desc, sizeof desc));
      t_case_free(&c);
    }
  say_ulps(op == T_CE ? "ce pixel weights" : "softmax focal");
  elem_bound = CT_MAX_ULP;
  cr_assert(fails == 0);
}

Test(equiv, ce_pixel_weight_widths) {
  pw_widths(T_CE, 36000);
}
Test(equiv, softmax_focal_widths) {
  pw_widths(T_SOFTMAX_FOCAL, 37000);
}

/* ---- the sigmoid focal loss ----------------------------------------------------------------
 * Row widths 1..67, every reduction, boxes (many per sample too) and masks (per channel too),
 * weights, gamma on the integer path (0, 1, 2, 3) and the pow path (0.5, 2.5), alpha 0.25,
 * 0.5, 1, 0 and < 0 (no alpha weighting); special logits (+-inf, NaN, 0, tiny, 1e30, beyond
 * the exp range, saturated) and targets (0, 1, 1/2, tiny, near 1, outside [0, 1], NaN: hard
 * lanes). The bound is ct_focal_ulp(gamma) (contract.h). */
Test(equiv, sigmoid_focal_widths) {
  static const float gammas[] = {2.0f, 1.0f, 3.0f, 2.5f, 0.5f, 0.0f, 2.0f};
  static const float alphas[] = {0.25f, -1.0f, 0.5f, 1.0f, 0.0f};
  static const float logits[] = {INFINITY, -INFINITY, NAN,   1e30f, -1e30f, 30.0f, -90.0f,
                                 0.0f,     1e-30f,    -0.1f, 17.5f, -17.5f, 88.0f, 60.0f};
  static const float targets[] = {0.0f, 1.0f, 0.5f, 1e-8f, 0.99999994f, 1.5f, -0.25f, NAN};
  say_isa();
  int fails = 0;
  uint64_t seed = 38000;
  for (int w = 1; w <= 67; w++)
    for (int red = 0; red < 3; red++) {
      sl_shape sh = {2, 1 + w % 3, 3, w};
      t_spec s = t_spec_default(T_SIGMOID_FOCAL, sh, seed++);
      s.reduction = (sl_reduction)red;
      static const t_box kinds[] = {TB_NONE, TB_PER_SAMPLE, TB_INTERIOR, TB_MANY};
      s.box = kinds[(w + red) % 4];
      s.mask = w % 5 == 0   ? TM_PER_CHANNEL
               : w % 3 == 0 ? TM_NONE
               : w % 3 == 1 ? TM_RANDOM
                            : TM_FULL;
      s.weight = (w + red) % 2;
      s.grad_scale = red == 1 ? -1.5f : 1.0f;
      s.focal_gamma = gammas[(w + red) % 7];
      s.focal_alpha = alphas[w % 5];
      s.scale = w % 5 == 0 ? 30.0f : 0.0f;
      t_case c;
      t_case_make(&c, &s);
      t_rng r = t_rng_seed(seed * 17);
      for (int64_t i = 0; w % 2 == 1 && i < t_elems(&sh); i++) {
        if (t_rng_unit(&r) < 0.15)
          c.x[i] = logits[t_rng_int(&r, 0, 14)];
        if (t_rng_unit(&r) < 0.15)
          c.target[i] = targets[t_rng_int(&r, 0, 8)];
      }
      char desc[256];
      fails += equiv_case(&c, 1 + w % 7, t_spec_str(&s, desc, sizeof desc));
      t_case_free(&c);
    }
  say_ulps("sigmoid focal");
  elem_bound = CT_MAX_ULP;
  cr_assert(fails == 0);
}

/* ---- CE with class-probability targets (sl_ce_prob) ----------------------------------------
 * Row widths 1..67, every reduction, boxes (many per sample too) and masks, class weights,
 * label smoothing, pixel weights with odd values (0, subnormal, 1e30, inf, NaN), special
 * logits (+-inf, NaN, +-1e30, confident pixels) and targets (0, 1, negative, subnormal, huge,
 * inf, NaN: the reference's pixels where float cannot give them), class counts 2..9 and a
 * segment of several blocks (C = 40). Bound: contract.h's ct_ce_prob_*. */
Test(equiv, ce_prob_widths) {
  static const float odd_pw[] = {0.0f, 1e-40f, 1e30f, INFINITY, NAN, 3e-39f, 0.0f};
  static const float logits[] = {INFINITY, -INFINITY, NAN, 1e30f, -1e30f, 30.0f, -90.0f};
  static const float targets[] = {0.0f, 1.0f, -0.5f, 1e-40f, 1e30f, 3e38f, INFINITY, NAN};
  say_isa();
  int fails = 0;
  uint64_t seed = 39000;
  for (int w = 1; w <= 67; w++)
    for (int red = 0; red < 3; red++) {
      sl_shape sh = {2, w == 67 ? 40 : 2 + w % 8, 3, w};
      t_spec s = t_spec_default(T_CE_PROB, sh, seed++);
      s.reduction = (sl_reduction)red;
      static const t_box kinds[] = {TB_NONE, TB_PER_SAMPLE, TB_INTERIOR, TB_MANY};
      s.box = kinds[(w + red) % 4];
      s.mask = w % 3 == 0 ? TM_NONE : w % 3 == 1 ? TM_RANDOM : TM_CHECKER;
      s.weight = (w + red) % 2;
      s.pixel_weight = (w + red) % 3 != 2;
      s.grad_scale = red == 1 ? -1.5f : 1.0f;
      s.smoothing = w % 3 == 1 ? 0.15f : w % 7 == 0 ? 1.0f : 0.0f;
      s.scale = w % 5 == 0 ? 30.0f : 0.0f;
      t_case c;
      t_case_make(&c, &s);
      t_rng r = t_rng_seed(seed * 19);
      const int64_t np = sh.n * sh.h * sh.w;
      for (int64_t p = 0; c.pixel_weight && w % 2 == 0 && p < np; p++)
        if (t_rng_unit(&r) < 0.15)
          c.pixel_weight[p] = odd_pw[t_rng_int(&r, 0, 7)];
      for (int64_t i = 0; w % 4 == 3 && i < t_elems(&sh); i++)
        if (t_rng_unit(&r) < 0.1)
          c.x[i] = logits[t_rng_int(&r, 0, 7)];
      for (int64_t i = 0; w % 5 == 2 && i < t_elems(&sh); i++)
        if (t_rng_unit(&r) < 0.1)
          c.target[i] = targets[t_rng_int(&r, 0, 8)];
      char desc[256];
      fails += equiv_case(&c, 1 + w % 7, t_spec_str(&s, desc, sizeof desc));
      t_case_free(&c);
    }
  say_ulps("ce_prob");
  cr_assert(fails == 0);
}
