// SPDX-License-Identifier: MIT
/*
 * exhaustive/kernels_strict.c - every SIMD row-microkernel table of this build (AVX2 on x86-64,
 * NEON on AArch64 and in the SIMDe build, any later table) against sl_kernels_scalar, called
 * directly (below the driver), with exactly the accuracy contract of tests/contract.h
 * (docs/accuracy.md), on data wider than the Criterion suite's: BCE probabilities with exact 0 / 1
 * and tiny values, logits in [-40, 40] with +-inf and NaN and some of magnitude 87..104 (a float
 * subnormal exp(-|x|)), targets outside [0, 1] and pos_weight 0 (logits), CE logits spread over
 * [-30, 30] and sometimes [-100, 100] (softmax probabilities below 2^-126),
 * confident predictions (p_t near 1), NaN and -inf logits, NaN in unselected lanes; every flag
 * combination (loss map, grad, weights, grad_map, mask / smoothing), row widths 1..67, input
 * offsets 0..7 floats, guard zones around every output.
 * Checks per table: every element within its bound (contract.h: ct_elem_err; CE and the softmax
 * focal loss: the shifted algorithm's tolerance, the others CT_MAX_ULP of ulp(M)), non-finite
 * results as scalar's; row sums (double) within CT_SUM_REL of the sum of |per-element loss|
 * (plus the per-element tolerances for CE);
 * domain_error equal; guards untouched. Prints the largest error (in ulp(M)) per kernel and
 * output. Kernels are called through their tables (the fields bce_prob, bce_logits, ce).
 * Shape legend: a BCE row is len elements; a CE run is len pixels x C classes, cstride apart.
 * make test-kernels-strict (mk/avx2.mk; make NEON_SIMDE=1 ... for the NEON table on x86);
 * argument: number of passes over the matrix (default 3). Exit 77: no SIMD table runs here.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../contract.h"
#include "kernels.h"
#include "workspace.h"

/* The kernels' workspace of this thread (the driver's job in the library). */
static void *t_ws(void) {
  void *w = sl_workspace(SL_WS_KERNEL, SL_WS_KERNEL_BYTES);
  if (!w) {
    fprintf(stderr, "kernels_strict: no workspace\n");
    exit(1);
  }
  return w;
}

/* Every SIMD table this build may hold (kernels.h declares those of the ISAs built). */
static const sl_kernels *const tables[] = {
#if defined(SL_BUILD_AVX2)
    &sl_kernels_avx2,
#endif
#if defined(SL_BUILD_AVX512)
    &sl_kernels_avx512,
#endif
#if defined(SL_BUILD_NEON)
    &sl_kernels_neon,
#endif
    NULL};
enum { MAX_TABLES = sizeof tables / sizeof tables[0] };

static uint64_t rs = 88172645463325252ull;
static double urand(void) {
  rs ^= rs << 13;
  rs ^= rs >> 7;
  rs ^= rs << 17;
  return (double)(rs >> 11) * (1.0 / 9007199254740992.0);
}

enum {
  O_PLOSS,
  O_PGRAD,
  O_LLOSS,
  O_LGRAD,
  O_CLOSS,
  O_CGRAD,
  O_FLOSS,
  O_FGRAD,
  O_SLOSS,
  O_SGRAD,
  O_QLOSS,
  O_QGRAD,
  O_SUM,
  O_COUNT
};
static const char *const out_name[O_COUNT] = {
    "bce_prob loss", "bce_prob grad", "bce_logits loss", "bce_logits grad", "ce loss",
    "ce grad",       "smfocal loss",  "smfocal grad",    "sgfocal loss",    "sgfocal grad",
    "ce_prob loss",  "ce_prob grad",  "row sums (x tol)"};
static double maxerr[MAX_TABLES][O_COUNT];
static char maxwhere[MAX_TABLES][O_COUNT][160];
static long nfail[MAX_TABLES][O_COUNT], nchecked[MAX_TABLES][O_COUNT];
static long fails = 0;
static double cur_gamma = 0.0; /* the focal row's gamma (its bound: ct_focal_ulp) */

/* The error in units of the element's bound (<= 1 passes): CE and the softmax focal loss
 * against their absolute tolerance (terms), the others in ulp(M) over their ulp bound. */
static void cmp(int ti, int kind, float got, float ref, double terms, int w, int off, int i,
                const char *extra) {
  const int ce = kind == O_CLOSS || kind == O_CGRAD || kind == O_FLOSS || kind == O_FGRAD ||
                 kind == O_QLOSS || kind == O_QGRAD;
  double e = ct_elem_err(ce ? T_CE : T_BCE_PROB, got, ref, terms,
                         kind == O_SLOSS || kind == O_SGRAD ? ct_focal_ulp(cur_gamma) : CT_MAX_ULP);
  const double bound = 1.0;
  nchecked[ti][kind]++;
  nfail[ti][kind] += !(e <= bound);
  if (e > maxerr[ti][kind]) {
    maxerr[ti][kind] = e;
    snprintf(maxwhere[ti][kind], sizeof maxwhere[ti][kind], "%.9g vs %.9g, M-terms %.3g, w%d %s",
             (double)got, (double)ref, terms, w, extra);
  }
  if (!(e <= bound) && fails++ < 30)
    printf("%s %s w%d o%d i%d %s: %.9g vs scalar %.9g, terms %.9g: %g x bound\n",
           sl_isa_name(tables[ti]->isa), out_name[kind], w, off, i, extra, (double)got, (double)ref,
           terms, e);
}

/* rel: the row sum's bound in units of CT_SUM_REL (1; the softmax focal loss above gamma 2:
 * ct_focal_sum_rel, its per-element bound grows with gamma) */
static void cmp_sum(int ti, double got, double ref, double abs_sum, const char *what, int w,
                    double rel) {
  double e = ct_sum_err(got, ref, abs_sum, 0) / rel;
  nchecked[ti][O_SUM]++;
  nfail[ti][O_SUM] += !(e <= 1.0);
  if (e > maxerr[ti][O_SUM])
    maxerr[ti][O_SUM] = e;
  if (!(e <= 1.0) && (fails++ < 30 || nfail[ti][O_SUM] <= 5))
    printf("%s %s sum w%d: %.17g vs scalar %.17g (abs sum %g)\n", sl_isa_name(tables[ti]->isa),
           what, w, got, ref, abs_sum);
}

#define GUARD 16
#define FILL  12345.f

#include "ce_prob_strict.h" /* CE with class-probability targets */
#include "dice_strict.h"    /* the Dice / Tversky kernels */

int main(int argc, char **argv) {
  int nt = 0, ran[MAX_TABLES] = {0};
  for (int ti = 0; tables[ti]; ti++)
    if (sl_isa_available(tables[ti]->isa)) {
      ran[ti] = 1;
      nt++;
    } else {
      printf("kernels_strict: %s not available on this CPU, skipped\n",
             sl_isa_name(tables[ti]->isa));
    }
  if (!nt) {
    printf("kernels_strict: no SIMD kernel table runs here, skipped\n");
    return 77;
  }
  int iters = argc > 1 ? atoi(argv[1]) : 3;
  float *buf[8];
  for (int k = 0; k < 8; k++)
    buf[k] = malloc(sizeof(float) * 4096 * 32);
  uint8_t *mask = malloc(4096);
  /* terms_g: the CE runs' C x cstride elements (ce_prob_strict.h: up to 1100 x 10, 8 x 607) */
  double *terms_l = malloc(sizeof(double) * 4096), *terms_g = malloc(sizeof(double) * 4096 * 4);
  long rows = 0;
  for (int it = 0; it < iters; it++)
    for (int op = 0; op < 5; op++) /* 3: softmax focal (CE branch), 4: sigmoid focal (BCE) */
      for (int w = 1; w <= 67; w++)
        for (int off = 0; off < 8; off++)
          for (int fl = 0; fl < 32; fl++) {
            int hasl = fl & 1, hasg = fl & 2, hasw = fl & 4, hasgm = fl & 8, hasm = fl & 16;
            rows++;
            if (op < 2 || op == 4) {
              static const float sg_gammas[] = {2.0f, 0.0f, 1.0f, 3.0f, 0.5f, 2.5f, 8.0f, 2.0f};
              static const float sg_alphas[] = {0.25f, -1.0f, 0.0f, 1.0f, 0.75f};
              const float sgam = sg_gammas[(w + off) % 8], salpha = sg_alphas[(w + fl) % 5];
              if (op == 4)
                cur_gamma = sgam;
              float *x = buf[0] + off, *y = buf[1] + off, *wt = buf[2] + off, *gm = buf[3] + off;
              float *l1 = buf[4] + GUARD, *l2 = buf[5] + GUARD, *g1 = buf[6] + GUARD,
                    *g2 = buf[7] + GUARD;
              for (int i = 0; i < w; i++) {
                double u = urand();
                if (op == 0) {
                  x[i] = u < 0.05 ? 0.0f : u < 0.1 ? 1.0f : (float)urand();
                  if (urand() < 0.02)
                    x[i] = (float)(urand() * 1e-30);
                } else {
                  x[i] = (float)((urand() * 2 - 1) * (urand() < 0.5 ? 4 : 40));
                  if (urand() < 0.02)
                    x[i] = urand() < 0.5 ? INFINITY : -INFINITY;
                  if (urand() < 0.01)
                    x[i] = NAN;
                  if (urand() < 0.04) /* exp(-|x|) a float subnormal */
                    x[i] = (float)((urand() < 0.5 ? -1 : 1) * (87 + urand() * 17));
                }
                y[i] = urand() < 0.3 ? (urand() < 0.5 ? 0.f : 1.f) : (float)urand();
                if (op != 0 && urand() < 0.03) /* a target outside [0, 1]: a large factor */
                  y[i] = (float)((urand() * 2 - 1) * 200);
                wt[i] = (float)(urand() * 2);
                gm[i] = (float)(urand() * 4 - 2);
                mask[off + i] = urand() < 0.3 ? 0 : (uint8_t)(1 + urand() * 200);
                if (op == 0 && hasm && !mask[off + i] && urand() < 0.3)
                  x[i] = NAN; /* unselected garbage */
              }
              sl_bce_row r = {.x = x,
                              .y = y,
                              .w = hasw ? wt : NULL,
                              .mask = hasm ? mask + off : NULL,
                              .gmap = hasgm ? gm : NULL,
                              .loss = hasl ? l1 : NULL,
                              .grad = hasg ? g1 : NULL,
                              .gscale = 0.37 / (w + 1),
                              .pos_weight = (float)(urand() < 0.1 ? 0.0 : 0.5 + urand() * 3),
                              .focal_alpha = salpha,
                              .focal_gamma = sgam,
                              .len = w};
              if (op == 4)
                r.pos_weight = 1.0f;
              for (int i = 0; i < w + GUARD * 2; i++)
                buf[4][i] = buf[6][i] = FILL;
              int de1 = 0;
              double s1 = op == 0   ? sl_kernels_scalar.bce_prob(&r, &de1)
                          : op == 1 ? sl_kernels_scalar.bce_logits(&r, &de1)
                                    : sl_kernels_scalar.sigmoid_focal(&r, &de1);
              /* the terms of every element (0 where unselected: the outputs are 0 there) and
               * the sum of |per-element loss| (the row sum's scale) */
              double abs_sum = 0.0;
              for (int i = 0; i < w; i++) {
                int sel = !r.mask || r.mask[i];
                double wi = r.w ? (double)((const float *)r.w)[i] : 1.0,
                       g = r.gmap ? (double)r.gmap[i] : r.gscale;
                double li = 0.0;
                terms_l[i] = !sel      ? 0.0
                             : op == 0 ? ct_bce_prob_loss_terms(x[i], y[i], wi, &li)
                             : op == 1 ? ct_logits_loss_terms(x[i], y[i], wi, r.pos_weight, &li)
                                       : ct_sfocal_loss_terms(x[i], y[i], wi, sgam, salpha, &li);
                terms_g[i] = !sel      ? 0.0
                             : op == 0 ? ct_bce_prob_grad_terms(x[i], y[i], wi, g)
                             : op == 1 ? ct_logits_grad_terms(x[i], y[i], wi, r.pos_weight, g)
                                       : ct_sfocal_grad_terms(x[i], y[i], wi, g, sgam, salpha);
                abs_sum += fabs(li);
              }
              for (int ti = 0; tables[ti]; ti++) {
                if (!ran[ti])
                  continue;
                for (int i = 0; i < w + GUARD * 2; i++)
                  buf[5][i] = buf[7][i] = FILL;
                sl_bce_row r2 = r;
                r2.loss = hasl ? l2 : NULL;
                r2.grad = hasg ? g2 : NULL;
                int de2 = 0;
                double s2 = op == 0   ? tables[ti]->bce_prob(&r2, &de2)
                            : op == 1 ? tables[ti]->bce_logits(&r2, &de2)
                                      : tables[ti]->sigmoid_focal(&r2, &de2);
                if (de1 != de2 && fails++ < 30)
                  printf("%s domain_error %d, scalar %d: op%d w%d\n", sl_isa_name(tables[ti]->isa),
                         de2, de1, op, w);
                if (hasl)
                  cmp_sum(ti, s2, s1, abs_sum,
                          op == 0   ? "bce_prob"
                          : op == 1 ? "bce_logits"
                                    : "sigmoid_focal",
                          w, op == 4 ? ct_focal_sum_rel(sgam) : 1.0);
                for (int i = -GUARD; i < w + GUARD; i++) {
                  if (i < 0 || i >= w) {
                    if ((l2[i] != FILL || g2[i] != FILL) && fails++ < 30)
                      printf("%s: guard overwritten op%d w%d o%d i%d\n",
                             sl_isa_name(tables[ti]->isa), op, w, off, i);
                    continue;
                  }
                  char nm[96];
                  char fo[40] = "";
                  if (op == 4)
                    snprintf(fo, sizeof fo, ",g=%g,a=%g", (double)sgam, (double)salpha);
                  snprintf(nm, sizeof nm, "(x=%.9g,y=%.9g%s%s)", (double)x[i], (double)y[i], fo,
                           r.mask && !r.mask[i] ? ",unselected" : "");
                  const int ko = op == 4 ? O_SLOSS : op * 2;
                  if (hasl)
                    cmp(ti, ko, l2[i], l1[i], terms_l[i], w, off, i, nm);
                  if (hasg)
                    cmp(ti, ko + 1, g2[i], g1[i], terms_g[i], w, off, i, nm);
                }
              }
            } else {
              int C = 1 + (int)(urand() * 23);
              int cs = w + 3 + (int)(urand() * 5);
              float *x = buf[0] + off;
              int32_t cls[80];
              float cw[32];
              float *l1 = buf[4] + GUARD, *l2 = buf[5] + GUARD, *g1 = buf[6] + GUARD,
                    *g2 = buf[7] + GUARD;
              int tot = C * cs + GUARD * 2;
              double u = urand(); /* 100: softmax probabilities below 2^-126 (subnormal) */
              double sc = u < 0.1 ? 100 : u < 0.4 ? 30 : 5;
              for (int i = 0; i < C * cs; i++) {
                x[i] = (float)((urand() * 2 - 1) * sc);
                if (urand() < 0.003)
                  x[i] = NAN;
                if (urand() < 0.003)
                  x[i] = -INFINITY;
              }
              for (int i = 0; i < w; i++) {
                cls[i] = urand() < 0.25 ? -1 : (int)(urand() * C);
                if (cls[i] < 0 && urand() < 0.5)
                  for (int c = 0; c < C; c++)
                    x[c * cs + i] = NAN;
              }
              if (urand() < 0.2)
                for (int i = 0; i < w; i++) {
                  int t = cls[i];
                  if (t >= 0)
                    x[t * cs + i] += 8;
                } /* confident */
              double cwsum = 0;
              for (int c = 0; c < C; c++) {
                cw[c] = (float)(urand() * 2);
                cwsum += cw[c];
              }
              float *gm = buf[3];
              for (int i = 0; i < w; i++)
                gm[i] = (float)(urand() * 4 - 2);
              const int focal = op == 3;
              float eps = (fl & 16) && !focal ? (float)(urand() * 0.3) : 0.f;
              /* pixel weights on half the rows: mostly [0, 2], some 0, rarely huge, subnormal,
               * infinite or NaN (and NaN at uncounted pixels) */
              float *pw = NULL;
              if (urand() < 0.5) {
                pw = buf[2];
                for (int i = 0; i < w; i++) {
                  double v = urand();
                  pw[i] = v < 0.05    ? 0.0f
                          : v < 0.06  ? 1e-40f
                          : v < 0.065 ? INFINITY
                          : v < 0.07  ? NAN
                          : v < 0.08  ? 1e30f
                                      : (float)(urand() * 2);
                  if (cls[i] < 0 && urand() < 0.3)
                    pw[i] = NAN;
                }
              }
              /* focal gamma: 2 (the common case), other integers, and general values */
              static const float gammas[] = {2.0f, 2.0f, 1.0f, 3.0f, 0.5f,
                                             2.5f, 0.0f, 8.0f, 1.7f, 20.0f};
              float gam = focal ? gammas[(int)(urand() * 10)] : 0.0f;
              cur_gamma = gam;
              sl_ce_row r = {.x = x,
                             .cls = cls,
                             .cw = hasw ? cw : NULL,
                             .pw = pw,
                             .gmap = hasgm ? gm : NULL,
                             .loss = hasl ? l1 : NULL,
                             .grad = hasg ? g1 : NULL,
                             .gscale = 1.0 / (w + 3),
                             .cw_sum = hasw ? cwsum : C,
                             .smoothing = eps,
                             .gamma = gam,
                             .cstride = cs,
                             .classes = C,
                             .len = w,
                             .ws = t_ws()};
              for (int i = 0; i < tot; i++)
                buf[4][i] = buf[6][i] = FILL;
              double s1 = focal ? sl_kernels_scalar.softmax_focal(&r) : sl_kernels_scalar.ce(&r);
              double abs_sum = 0.0;
              for (int i = 0; i < w; i++) {
                terms_l[i] = 0.0;
                for (int c = 0; c < C; c++)
                  terms_g[c * cs + i] = 0.0;
                if (cls[i] < 0)
                  continue;
                ct_ce_px px;
                ct_ce_pixel_pw(&px, x + i, cs, C, cls[i], r.cw, r.cw_sum, r.smoothing,
                               pw ? (double)pw[i] : 1.0, focal, gam);
                terms_l[i] = px.tol_loss;
                double g = r.gmap ? (double)r.gmap[i] : r.gscale;
                for (int c = 0; c < C; c++)
                  terms_g[c * cs + i] = ct_ce_grad_tol(
                      &px, x[c * cs + i], r.cw ? (double)r.cw[c] : 1.0, c == cls[i], g);
                abs_sum += fabs(px.loss) + px.tol_loss / CT_SUM_REL;
              }
              for (int ti = 0; tables[ti]; ti++) {
                if (!ran[ti])
                  continue;
                for (int i = 0; i < tot; i++)
                  buf[5][i] = buf[7][i] = FILL;
                sl_ce_row r2 = r;
                r2.loss = hasl ? l2 : NULL;
                r2.grad = hasg ? g2 : NULL;
                double s2 = focal ? tables[ti]->softmax_focal(&r2) : tables[ti]->ce(&r2);
                if (hasl)
                  cmp_sum(ti, s2, s1, abs_sum, focal ? "smfocal" : "ce", w, 1.0);
                if (focal && gam == 0.0f) { /* gamma 0: bitwise the CE kernel, on every table */
                  float *l3 = buf[4] + GUARD, *g3 = buf[6] + GUARD;
                  sl_ce_row r3 = r;
                  r3.loss = hasl ? l3 : NULL;
                  r3.grad = hasg ? g3 : NULL;
                  double s3 = tables[ti]->ce(&r3);
                  int same = memcmp(&s2, &s3, sizeof s2) == 0 || (isnan(s2) && isnan(s3));
                  for (int i = 0; hasl && i < w; i++)
                    same &= memcmp(&l2[i], &l3[i], 4) == 0;
                  for (int i = 0; hasg && i < C * cs; i++)
                    same &= memcmp(&g2[i], &g3[i], 4) == 0 || (i % cs) >= w;
                  if (!same && fails++ < 30)
                    printf("%s: softmax_focal gamma 0 differs from ce w%d C%d\n",
                           sl_isa_name(tables[ti]->isa), w, C);
                  for (int i = 0; i < tot; i++) /* restore the scalar outputs */
                    buf[4][i] = buf[6][i] = FILL;
                  sl_kernels_scalar.softmax_focal(&r);
                }
                for (int i = -GUARD; i < w + GUARD; i++) {
                  if (i < 0 || i >= w) {
                    if (l2[i] != FILL && fails++ < 30)
                      printf("%s: CE loss guard w%d i%d\n", sl_isa_name(tables[ti]->isa), w, i);
                  } else if (hasl) {
                    char nm[128];
                    snprintf(nm, sizeof nm, "(C=%d,t=%d,eps=%g,g=%g,pw=%g)", C, cls[i], (double)eps,
                             (double)gam, pw ? (double)pw[i] : 1.0);
                    cmp(ti, focal ? O_FLOSS : O_CLOSS, l2[i], l1[i], terms_l[i], w, off, i, nm);
                  }
                }
                for (int i = -GUARD; i < C * cs + GUARD; i++) {
                  int col = ((i % cs) + cs) % cs;
                  int in = i >= 0 && i < C * cs && col < w;
                  if (!in) {
                    if (g2[i] != FILL && fails++ < 30)
                      printf("%s: CE grad guard w%d i%d C%d cs%d\n", sl_isa_name(tables[ti]->isa),
                             w, i, C, cs);
                  } else if (hasg) {
                    char nm[128];
                    snprintf(nm, sizeof nm, "(eps=%g,c=%d,t=%d,g=%g,pw=%g)", (double)eps, i / cs,
                             cls[col], (double)gam, pw ? (double)pw[col] : 1.0);
                    cmp(ti, focal ? O_FGRAD : O_CGRAD, g2[i], g1[i], terms_g[i], w, off, i, nm);
                  }
                }
              }
            }
          }
  ce_prob_strict(iters, ran, buf, terms_l, terms_g);
  dice_strict(iters, ran, buf, mask);
  printf("kernels_strict: %ld rows x %d table(s), contract: CE K = %g + 2 C, others %g ulp(M) per "
         "element, sums %g of sum |l|\n",
         rows, nt, CT_CE_K, CT_MAX_ULP, CT_SUM_REL);
  for (int ti = 0; tables[ti]; ti++) {
    if (!ran[ti])
      continue;
    printf("%s vs scalar, largest error per output (in units of its bound, 1 passes):\n",
           sl_isa_name(tables[ti]->isa));
    for (int k = 0; k < O_COUNT; k++)
      printf("  %-17s %10.4g  %ld of %ld fail  %s\n", out_name[k], maxerr[ti][k], nfail[ti][k],
             nchecked[ti][k], maxwhere[ti][k]);
  }
  printf("kernels_strict: %s (%ld failures)\n", fails ? "FAILED" : "OK", fails);
  free(terms_l);
  free(terms_g);
  free(mask);
  for (int k = 0; k < 8; k++)
    free(buf[k]);
  return fails != 0;
}
