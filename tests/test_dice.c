// SPDX-License-Identifier: MIT
/*
 * test_dice.c - sl_dice and sl_dice_multiclass against the independent double reference
 * (dice_ref.c, smp's formulas): the matrix of shapes x regions (boxes, per-sample boxes, many
 * boxes per image through box_offsets, masks with 1 or C channels, empty sections) x classes
 * absent from the target x options (Dice / Tversky alpha beta gamma, smooth, eps, log_loss,
 * from_logits, ignore_index, reductions, dice_sums, stats), on every ISA this CPU has, with 1
 * and 2 threads (bitwise identical), fused and loss-only / gradient-only calls (bitwise
 * identical); every ISA's gradient against the scalar ISA within the accuracy bound
 * (docs/accuracy.md: 4 ULP of M, M = max(|ref|, the terms of the gradient)); the reference's
 * gradient against finite differences; statuses; NaN propagation.
 * Shape legend: N, C, H, W as in sectionloss.h.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "dice_ref.h"
#include "harness.h"
#include "sectionloss.h"
#include "util.h"

/* Library vs reference: reduced losses within 1e-5 (1 + |ref|) (float probabilities: a few
 * 1e-7 relative in the sums, reaching the loss through the score's quotient); gradients within
 * 2e-6 of the magnitude of their terms (the float sigmoid / softmax, ~4 ULP); sums within 1e-6
 * relative of the sum of |terms| (computed in double lanes). */
#define LOSS_TOL 1e-5
#define GRAD_TOL 2e-6
#define SUM_TOL  1e-6

/* A SIMD ISA's gradient element against the scalar ISA's, in units of its bound (<= 1 passes):
 * sl_dice CT_MAX_ULP of ulp(M); sl_dice_multiclass the float softmax's bound (tests/contract.h:
 * ct_ce_k(C) u times its terms, each weighted by 1 + |x_k - max|). */
static double dice_isa_err(const d_case *c, float got, float scalar, const d_ref *ref, int64_t e) {
  if (!c->mc)
    return ct_err(got, scalar, ref->gmag[e]) / CT_MAX_ULP;
  return ct_tol_err(got, scalar, ct_ce_k(c->shape.c) * 0x1p-24 * ref->gmag_sm[e] + 0x1p-149);
}

static int64_t elems(const sl_shape *s) {
  return s->n * s->c * s->h * s->w;
}

static int close_to(double got, double want, double tol) {
  if (isnan(want))
    return isnan(got);
  if (isinf(want))
    return got == want;
  return fabs(got - want) <= tol;
}

/* One call (loss, grad, stats, dice_sums as requested). */
typedef struct d_out {
  float *loss, *grad;
  sl_stats st;
  double *sums;
  sl_status status;
} d_out;

static void d_out_make(d_out *o, const d_case *c) {
  o->loss = t_alloc((size_t)c->shape.c * sizeof(float));
  o->grad = t_alloc((size_t)elems(&c->shape) * sizeof(float));
  o->sums = t_alloc((size_t)(3 * c->shape.c) * sizeof(double));
}
static void d_out_free(d_out *o) {
  free(o->loss);
  free(o->grad);
  free(o->sums);
}

static void d_run(const d_case *c, int threads, int want_loss, int want_grad, d_out *o) {
  sl_options opt = c->opt;
  opt.num_threads = threads;
  opt.stats = &o->st;
  opt.dice_sums = o->sums;
  if (!want_grad)
    opt.grad_map = NULL;
  t_canary(o->grad, (size_t)elems(&c->shape) * sizeof(float));
  o->status = d_call(c, &opt, want_loss ? o->loss : NULL, want_grad ? o->grad : NULL);
}

/* Checks case c on every available ISA; returns the failure count. */
static int check_case(const d_case *c, const char *desc) {
  const int64_t C = c->shape.c, E = elems(&c->shape);
  const int none = c->opt.reduction == SL_REDUCTION_NONE;
  d_ref ref;
  d_ref_run(c, &ref);
  int fails = 0;
  sl_isa saved = sl_isa_active();
  float *scalar_grad = t_alloc((size_t)E * sizeof(float));
  for (int isa = 0; isa < SL_ISA_COUNT_; isa++) {
    if (!sl_isa_available((sl_isa)isa))
      continue;
    sl_isa_set((sl_isa)isa);
    d_out a, b, l, g;
    d_out_make(&a, c);
    d_out_make(&b, c);
    d_out_make(&l, c);
    d_out_make(&g, c);
    d_run(c, 1, 1, 1, &a);
    d_run(c, 2, 1, 1, &b);
    d_run(c, 2, 1, 0, &l);
    d_run(c, 0, 0, 1, &g);
    const char *in = sl_isa_name((sl_isa)isa);
    if (ref.bad_label) {
      int ok = a.status == SL_ERR_LABEL && t_is_canary(a.grad, (size_t)E * sizeof(float));
      cr_expect(ok, "%s [%s]: bad label: status %d", desc, in, a.status);
      fails += !ok;
      goto next;
    }
    if (a.status != SL_OK || b.status != SL_OK || l.status != SL_OK || g.status != SL_OK) {
      cr_expect(0, "%s [%s]: status %d %d %d %d", desc, in, a.status, b.status, l.status, g.status);
      fails++;
      goto next;
    }
    /* thread-count and fused / separate identity */
    int nl = none ? (int)C : 1;
    if (memcmp(a.loss, b.loss, (size_t)nl * sizeof(float)) ||
        memcmp(a.loss, l.loss, (size_t)nl * sizeof(float)) ||
        t_first_diff(a.grad, b.grad, E) >= 0 || t_first_diff(a.grad, g.grad, E) >= 0 ||
        memcmp(a.sums, b.sums, (size_t)(3 * C) * sizeof(double)) ||
        memcmp(&a.st, &b.st, sizeof a.st)) {
      cr_expect(0, "%s [%s]: results differ between thread counts or call kinds", desc, in);
      fails++;
    }
    /* loss */
    for (int k = 0; k < nl; k++) {
      double want = none ? ref.lc[k] : ref.loss;
      if (!close_to(a.loss[k], want, LOSS_TOL * (1.0 + fabs(want)))) {
        cr_expect(0, "%s [%s]: loss[%d] %.9g, ref %.9g", desc, in, k, (double)a.loss[k], want);
        fails++;
      }
    }
    /* stats and sums */
    double lsum = 0.0;
    for (int64_t k = 0; k < C; k++)
      lsum += ref.lc[k];
    if (a.st.count != ref.count || a.st.normalizer != (double)C ||
        !close_to(a.st.loss_sum, lsum, LOSS_TOL * (1.0 + fabs(lsum)))) {
      cr_expect(0, "%s [%s]: stats %g %g %lld, ref %g %lld", desc, in, a.st.loss_sum,
                a.st.normalizer, (long long)a.st.count, lsum, (long long)ref.count);
      fails++;
    }
    for (int64_t k = 0; k < 3 * C; k++) {
      double want = ref.sums[k];
      /* I, P, T of non-negative terms here: relative to the sum itself */
      if (!close_to(a.sums[k], want, SUM_TOL * fabs(want) + 1e-300)) {
        cr_expect(0, "%s [%s]: dice_sums[%lld] %.17g, ref %.17g", desc, in, (long long)k, a.sums[k],
                  want);
        fails++;
        break;
      }
    }
    /* gradient: reference within GRAD_TOL of the terms; the scalar ISA's within dice_isa_err */
    int gbad = 0;
    for (int64_t e = 0; e < E && gbad < 3; e++) {
      double want = ref.grad[e];
      if (!close_to(a.grad[e], want, GRAD_TOL * ref.gmag[e] + 1e-37)) {
        cr_expect(0, "%s [%s]: grad[%lld] %.9g, ref %.9g (terms %g)", desc, in, (long long)e,
                  (double)a.grad[e], want, ref.gmag[e]);
        gbad++;
      }
      if (isa == SL_ISA_SCALAR)
        scalar_grad[e] = a.grad[e];
      else if (!(dice_isa_err(c, a.grad[e], scalar_grad[e], &ref, e) <= 1.0)) {
        cr_expect(0, "%s [%s]: grad[%lld] %.9g, scalar ISA %.9g: %.2f x bound (terms %g)", desc, in,
                  (long long)e, (double)a.grad[e], (double)scalar_grad[e],
                  dice_isa_err(c, a.grad[e], scalar_grad[e], &ref, e), ref.gmag[e]);
        gbad++;
      }
    }
    fails += gbad;
  next:
    d_out_free(&a);
    d_out_free(&b);
    d_out_free(&l);
    d_out_free(&g);
  }
  sl_isa_set(saved);
  free(scalar_grad);
  d_ref_free(&ref);
  return fails;
}

static const sl_shape shapes[] = {{1, 1, 1, 1},   {2, 1, 5, 7},  {2, 3, 4, 19},
                                  {1, 2, 33, 40}, {3, 4, 8, 17}, {1, 5, 3, 70}};
static const int nshapes = sizeof shapes / sizeof shapes[0];

/* Option sets: tversky, alpha, beta, gamma, smooth, eps, log_loss */
typedef struct dopt {
  int tv;
  float a, b, g, sm, eps;
  int log;
} dopt;
static const dopt opts[] = {
    {0, 0.5f, 0.5f, 1.0f, 0.0f, 1e-7f, 0}, {0, 0.5f, 0.5f, 1.0f, 1.0f, 1e-7f, 0},
    {0, 0.5f, 0.5f, 1.0f, 0.0f, 1e-7f, 1}, {0, 0.5f, 0.5f, 1.0f, 0.5f, 0.3f, 1},
    {1, 0.5f, 0.5f, 1.0f, 0.0f, 1e-7f, 0}, {1, 0.3f, 0.7f, 1.0f, 0.1f, 1e-7f, 0},
    {1, 0.7f, 0.3f, 2.0f, 0.0f, 1e-7f, 1}, {1, 0.0f, 1.5f, 0.75f, 1.0f, 1e-7f, 0},
};
static const int nopts = sizeof opts / sizeof opts[0];

static void apply(d_case *c, const dopt *o) {
  c->opt.dice_tversky = o->tv;
  c->opt.tversky_alpha = o->a;
  c->opt.tversky_beta = o->b;
  c->opt.tversky_gamma = o->g;
  c->opt.dice_smooth = o->sm;
  c->opt.dice_eps = o->eps;
  c->opt.dice_log_loss = o->log;
}

static int matrix(int mc, uint64_t seed) {
  int fails = 0;
  char desc[160];
  for (int s = 0; s < nshapes; s++)
    for (int region = 0; region < DR_COUNT_; region++)
      for (int red = 0; red < 3; red++)
        for (int lg = 0; lg < (mc ? 1 : 2); lg++) {
          d_case c;
          int absent = (int)(seed % 3) == 0 ? (int)(seed % (uint64_t)shapes[s].c) : -1;
          d_case_make(&c, mc, shapes[s], seed++, region, lg, absent, (sl_reduction)red);
          apply(&c, &opts[seed % (uint64_t)nopts]);
          if (red != SL_REDUCTION_NONE)
            c.opt.grad_scale = (seed & 1) ? 1.0f : -0.37f;
          snprintf(desc, sizeof desc,
                   "%s %lldx%lldx%lldx%lld region %d red %d logits %d absent %d opt %d",
                   mc ? "dice_mc" : "dice", (long long)c.shape.n, (long long)c.shape.c,
                   (long long)c.shape.h, (long long)c.shape.w, region, red, lg, absent,
                   (int)(seed % (uint64_t)nopts));
          fails += check_case(&c, desc);
          d_case_free(&c);
        }
  return fails;
}

static int options_all(int mc, uint64_t seed) {
  int fails = 0;
  char desc[160];
  sl_shape sh = {2, 3, 6, 21};
  for (int o = 0; o < nopts; o++)
    for (int red = 0; red < 3; red++)
      for (int lg = 0; lg < (mc ? 1 : 2); lg++) {
        d_case c;
        d_case_make(&c, mc, sh, seed++, DR_OFFSETS, lg, o % 3 == 0 ? 1 : -1, (sl_reduction)red);
        apply(&c, &opts[o]);
        snprintf(desc, sizeof desc, "%s options %d red %d logits %d", mc ? "dice_mc" : "dice", o,
                 red, lg);
        fails += check_case(&c, desc);
        d_case_free(&c);
      }
  return fails;
}

Test(dice, matrix) {
  cr_assert(matrix(0, 100) == 0);
}
Test(dice, options) {
  cr_assert(options_all(0, 900) == 0);
}
Test(dice_mc, matrix) {
  cr_assert(matrix(1, 5100) == 0);
}
Test(dice_mc, options) {
  cr_assert(options_all(1, 5900) == 0);
}

/* The reference's gradient against central differences of its own loss (in double), and so the
 * library's through the matrix; every option set, both ops. */
static int fd_check(int mc, uint64_t seed) {
  int fails = 0;
  sl_shape sh = {2, 3, 3, 5};
  for (int o = 0; o < nopts; o++)
    for (int red = 0; red < 3; red++) {
      d_case c;
      d_case_make(&c, mc, sh, seed++, o % 2 ? DR_MASK : DR_PER_SAMPLE, o % 2, -1,
                  (sl_reduction)red);
      apply(&c, &opts[o]);
      d_ref r;
      d_ref_run(&c, &r);
      for (int64_t e = 0; e < elems(&sh); e += 7) {
        double x = (double)c.x[e], h = 1e-6;
        double fd = (d_ref_loss_at(&c, e, x + h) - d_ref_loss_at(&c, e, x - h)) / (2 * h);
        if (!(fabs(fd - r.grad[e]) <= 1e-6 * (1.0 + fabs(r.gmag[e])))) {
          cr_expect(0, "%s fd opt %d red %d e %lld: fd %.12g, ref %.12g", mc ? "mc" : "bin", o, red,
                    (long long)e, fd, r.grad[e]);
          fails++;
        }
      }
      d_ref_free(&r);
      d_case_free(&c);
    }
  return fails;
}

Test(dice, finite_differences) {
  cr_assert(fd_check(0, 7000) == 0);
  cr_assert(fd_check(1, 7100) == 0);
}

/* NaN inputs give a NaN loss (PyTorch); a NaN outside the section does not leak. */
Test(dice, nan) {
  sl_isa saved = sl_isa_active();
  for (int isa = 0; isa < SL_ISA_COUNT_; isa++) {
    if (!sl_isa_available((sl_isa)isa))
      continue;
    sl_isa_set((sl_isa)isa);
    for (int mc = 0; mc < 2; mc++) {
      d_case c;
      d_case_make(&c, mc, (sl_shape){1, 2, 4, 9}, 42, DR_BOX, 0, -1, SL_REDUCTION_MEAN);
      c.boxes[0] = (sl_box){2, 1, 6, 3};
      float loss = 0.0f;
      c.x[0] = NAN; /* outside the box */
      cr_expect(d_call(&c, &c.opt, &loss, NULL) == SL_OK && isfinite(loss), "%s outside: %g",
                sl_isa_name((sl_isa)isa), (double)loss);
      c.x[1 * 9 + 3] = NAN; /* inside */
      cr_expect(d_call(&c, &c.opt, &loss, NULL) == SL_OK && isnan(loss), "%s inside: %g",
                sl_isa_name((sl_isa)isa), (double)loss);
      d_case_free(&c);
    }
  }
  sl_isa_set(saved);
}

/* With logits, p = sigmoid(-104.5) ~ 4e-46 is positive in double but 0 as a float: an
 * infinite target there makes the reference's I = p t +inf, and a kernel that took the float
 * p made it 0 inf = NaN (fuzz finding crash-b6875259, tests/fuzz/regressions/dice/). Every ISA
 * gives the reference's sums (I +inf, P finite, T +inf), the element in a full vector block
 * and in the tail. */
Test(dice, logit_underflow_infinite_target) {
  sl_isa saved = sl_isa_active();
  for (int isa = 0; isa < SL_ISA_COUNT_; isa++) {
    if (!sl_isa_available((sl_isa)isa))
      continue;
    sl_isa_set((sl_isa)isa);
    for (int at = 0; at < 37; at += 4) {
      float x[37], t[37], loss = 0.0f;
      for (int i = 0; i < 37; i++) {
        x[i] = 0.25f * (float)(i % 5);
        t[i] = (float)(i % 2);
      }
      x[at] = -104.5f;
      t[at] = INFINITY;
      double sums[3] = {0.0, 0.0, 0.0};
      sl_shape sh = {1, 1, 1, 37};
      sl_options o = sl_options_default();
      o.dice_from_logits = 1;
      o.dice_sums = sums;
      cr_assert(sl_dice(&sh, x, t, NULL, &o, &loss, NULL) == SL_OK);
      cr_expect(sums[0] == INFINITY && isfinite(sums[1]) && sums[2] == INFINITY,
                "%s, element %d: sums %g %g %g, want inf, finite, inf", sl_isa_name((sl_isa)isa),
                at, sums[0], sums[1], sums[2]);
    }
  }
  sl_isa_set(saved);
}

/* Tversky with gamma < 1 at a loss of exactly 0: d L^gamma / d L = gamma L^(gamma - 1) is
 * infinite there and every dL/dloss_c product gave NaN; the limit docs/python.md states is 0 (so
 * are gamma 0 and any gamma at base 0). Every ISA, MEAN and SUM: an all-zero binary target, an
 * all-zero multilabel target, a perfect multiclass score with alpha = beta = 0. */
Test(dice, tversky_gamma_below_one_at_zero_loss) {
  sl_isa saved = sl_isa_active();
  for (int isa = 0; isa < SL_ISA_COUNT_; isa++) {
    if (!sl_isa_available((sl_isa)isa))
      continue;
    sl_isa_set((sl_isa)isa);
    for (int red = 0; red < 2; red++)
      for (int kind = 0; kind < 3; kind++) {
        float x[24], t[24] = {0.0f}, loss = 7.0f, grad[24];
        int64_t lab[8];
        for (int i = 0; i < 24; i++)
          x[i] = 0.3f * (float)(i % 7) - 1.2f;
        sl_options o = sl_options_default();
        o.reduction = (sl_reduction)red;
        o.dice_tversky = 1;
        o.dice_from_logits = 1;
        o.tversky_gamma = kind == 1 ? 0.75f : 0.5f;
        sl_status st;
        if (kind == 2) { /* multiclass, 3 classes, 8 pixels: score 1 whatever p */
          sl_shape sh = {1, 3, 2, 4};
          for (int i = 0; i < 8; i++)
            lab[i] = i % 3;
          o.tversky_alpha = o.tversky_beta = 0.0f;
          st = sl_dice_multiclass(&sh, x, lab, SL_LABEL_I64, NULL, &o, &loss, grad);
        } else { /* binary 1x1x1x4 or multilabel 1x3x2x4, target all 0 */
          sl_shape sh = kind == 0 ? (sl_shape){1, 1, 1, 4} : (sl_shape){1, 3, 2, 4};
          st = sl_dice(&sh, x, t, NULL, &o, &loss, grad);
        }
        int n = kind == 0 ? 4 : 24, bad = 0;
        for (int i = 0; i < n; i++)
          bad += grad[i] != 0.0f;
        cr_expect(st == SL_OK && loss == 0.0f && bad == 0,
                  "%s red %d kind %d: status %d loss %g, %d gradients not 0 (first %g)",
                  sl_isa_name((sl_isa)isa), red, kind, st, (double)loss, bad, (double)grad[0]);
      }
  }
  sl_isa_set(saved);
}

/* smp 0.5+'s Tversky (and Dice: alpha = beta = 0.5) on soft targets: I = (P + T - sum |p - t|)
 * / 2 = sum min(p, t), and d I / d p = [p < t] + [p == t] / 2 (PyTorch's autograd of that form,
 * sign(0) = 0). Probabilities x = (1/4, 1/4, 3/4, 1), t = (1/2, 1/4, 1/4, 1), repeated k times:
 * I = 7k/4, P = 9k/4, T = 2k, D0 = 17k/8, score 14/17, loss 3/17; dL/dp_e = (7/17 - h_e) 8 /
 * (17k), h = (1, 1/2, 0, 1/2) (sum p t: h = t). The 0.3-0.4 Dice
 * (dice_tversky 0) keeps sum p t: I = 11k/8, score 11/17, loss 6/17. Every ISA, k = 1 (a tail)
 * and 9 (36 elements: full blocks and a tail), dice_sums holding I, P, T. */
Test(dice, tversky_l1_intersection_soft_targets) {
  static const float xs[4] = {0.25f, 0.25f, 0.75f, 1.0f}, ts[4] = {0.5f, 0.25f, 0.25f, 1.0f};
  static const double h[4] = {1.0, 0.5, 0.0, 0.5};
  sl_isa saved = sl_isa_active();
  for (int isa = 0; isa < SL_ISA_COUNT_; isa++) {
    if (!sl_isa_available((sl_isa)isa))
      continue;
    sl_isa_set((sl_isa)isa);
    for (int k = 1; k <= 9; k += 8)
      for (int tv = 0; tv < 2; tv++) {
        float x[36], t[36], grad[36], loss = 7.0f;
        double sums[3];
        for (int i = 0; i < 4 * k; i++) {
          x[i] = xs[i % 4];
          t[i] = ts[i % 4];
        }
        sl_shape sh = {1, 1, 1, 4 * k};
        sl_options o = sl_options_default();
        o.dice_tversky = tv;
        o.dice_sums = sums;
        cr_assert(sl_dice(&sh, x, t, NULL, &o, &loss, grad) == SL_OK);
        const double want = tv ? 3.0 / 17.0 : 6.0 / 17.0, inter = k * (tv ? 7.0 / 4 : 11.0 / 8);
        cr_expect(fabs(loss - want) <= 1e-6 && sums[0] == inter && sums[1] == 9.0 * k / 4 &&
                      sums[2] == 2.0 * k,
                  "%s k %d tversky %d: loss %.9g (want %.9g), sums %g %g %g",
                  sl_isa_name((sl_isa)isa), k, tv, (double)loss, want, sums[0], sums[1], sums[2]);
        for (int i = 0; tv && i < 4 * k; i++) {
          double g = (7.0 / 17.0 - h[i % 4]) * 8.0 / (17.0 * k);
          cr_expect(fabs(grad[i] - g) <= 0x1p-22 * fabs(g), "%s k %d element %d: %.9g, want %.9g",
                    sl_isa_name((sl_isa)isa), k, i, (double)grad[i], g);
        }
      }
  }
  sl_isa_set(saved);
}

Test(dice, status) {
  float x[8] = {0.5f}, t[8] = {1.0f}, loss, grad[8];
  int64_t lab[4] = {0, 1, 5, 0};
  sl_shape sh = {1, 2, 2, 2};
  sl_options o = sl_options_default();
  cr_expect(sl_dice(&sh, x, t, NULL, &o, &loss, grad) == SL_OK);
  float w[8] = {1};
  o.weight = w;
  cr_expect(sl_dice(&sh, x, t, NULL, &o, &loss, grad) == SL_ERR_OPTION);
  o = sl_options_default();
  o.dice_eps = 0.0f;
  cr_expect(sl_dice(&sh, x, t, NULL, &o, &loss, grad) == SL_ERR_DICE);
  o = sl_options_default();
  o.reduction = SL_REDUCTION_NONE;
  cr_expect(sl_dice(&sh, x, t, NULL, &o, &loss, grad) == SL_ERR_GRAD_MAP);
  o = sl_options_default();
  /* a bad label: nothing written */
  float lg[8];
  for (int i = 0; i < 8; i++)
    grad[i] = lg[i] = 7.0f;
  loss = 7.0f;
  double sums[6] = {7, 7, 7, 7, 7, 7};
  o.dice_sums = sums;
  cr_expect(sl_dice_multiclass(&sh, x, lab, SL_LABEL_I64, NULL, &o, &loss, grad) == SL_ERR_LABEL);
  cr_expect(loss == 7.0f && grad[0] == 7.0f && grad[7] == 7.0f && sums[0] == 7.0);
  /* label 5 ignored: fine */
  o.ignore_index = 5;
  cr_expect(sl_dice_multiclass(&sh, x, lab, SL_LABEL_I64, NULL, &o, &loss, grad) == SL_OK);
  /* the mask must have one channel for multiclass */
  uint8_t m[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  sl_region rg = {sizeof(sl_region), NULL, 0, m, 2, NULL};
  cr_expect(sl_dice_multiclass(&sh, x, lab, SL_LABEL_I64, &rg, &o, &loss, grad) ==
            SL_ERR_MASK_CHANNELS);
  cr_expect(sl_dice(&sh, x, t, &rg, &o, &loss, grad) == SL_OK);
  /* box_stats is not for Dice */
  sl_stats bs;
  sl_box b = {0, 0, 1, 1};
  sl_region rb = {sizeof(sl_region), &b, 1, NULL, 1, NULL};
  o.box_stats = &bs;
  cr_expect(sl_dice(&sh, x, t, &rb, &o, &loss, grad) == SL_ERR_BOX_STATS);
}

/* Shapes large enough for several chunks and a parallel region (the others run serially),
 * and more classes than chunks:
 * thread-count identity (1, 2, default) and the reference, both ops, boxes per image. */
Test(dice, large) {
  int fails = 0;
  d_case c;
  d_case_make(&c, 0, (sl_shape){2, 3, 64, 200}, 77, DR_OFFSETS, 1, -1, SL_REDUCTION_MEAN);
  fails += check_case(&c, "dice large offsets logits");
  d_case_free(&c);
  d_case_make(&c, 0, (sl_shape){4, 1, 128, 96}, 78, DR_MASK, 0, -1, SL_REDUCTION_SUM);
  c.opt.dice_tversky = 1;
  c.opt.tversky_gamma = 1.5f;
  fails += check_case(&c, "dice large mask tversky");
  d_case_free(&c);
  d_case_make(&c, 1, (sl_shape){2, 5, 64, 130}, 79, DR_BOX_MASK, 0, 2, SL_REDUCTION_MEAN);
  fails += check_case(&c, "dice_mc large box+mask");
  d_case_free(&c);
  d_case_make(&c, 1, (sl_shape){3, 4, 40, 100}, 80, DR_OFFSETS, 0, -1, SL_REDUCTION_NONE);
  c.opt.dice_log_loss = 1;
  fails += check_case(&c, "dice_mc large offsets none");
  d_case_free(&c);
  /* more classes than the runner's chunks: sl_dice sums whole classes per chunk */
  d_case_make(&c, 0, (sl_shape){1, 300, 8, 16}, 81, DR_BOX_MASK, 0, 7, SL_REDUCTION_MEAN);
  fails += check_case(&c, "dice 300 classes");
  d_case_free(&c);
  d_case_make(&c, 1, (sl_shape){2, 300, 4, 16}, 82, DR_OFFSETS, 0, -1, SL_REDUCTION_SUM);
  fails += check_case(&c, "dice_mc 300 classes");
  d_case_free(&c);
  cr_assert(fails == 0);
}
