// SPDX-License-Identifier: MIT
/*
 * exhaustive/ce_prob_strict.h - the sl_ce_prob kernels (cross-entropy with class-probability
 * targets) of every SIMD table against sl_kernels_scalar.ce_prob, called directly, under
 * contract.h's ct_ce_prob_* bound: logits spread over [-5, 5], [-30, 30] and [-100, 100]
 * (softmax probabilities below 2^-126), confident pixels, NaN and -inf logits; targets one-hot,
 * distributions, any floats, with rare 0 / negative / subnormal / huge / inf / NaN values (NaN
 * at uncounted pixels too); class weights, label smoothing, pixel weights (0, subnormal, huge,
 * inf, NaN), upstream gradient maps, loss map and gradient on and off, rows of 1..67 pixels
 * and some of several segments (up to 600 pixels), C from 1 to 40 and beyond the vector path's
 * class limit (1100 classes: the reference kernel). Included by kernels_strict.c (its cmp,
 * cmp_sum, tables, urand and t_ws).
 * Shape legend: a run of len pixels x C classes, cstride apart.
 */
#ifndef SL_CE_PROB_STRICT_H
#define SL_CE_PROB_STRICT_H

static void ce_prob_strict(int iters, const int *ran, float *const *buf, double *terms_l,
                           double *terms_g) {
  static int32_t cls[640];
  static float cw[1100];
  static const float odd_q[] = {0.0f, -0.75f, 1e-40f, 1e30f, 3e38f, INFINITY, NAN, 2.0f};
  for (int it = 0; it < iters; it++)
    for (int k = 0; k < 67 * 8 + 40; k++)
      for (int fl = 0; fl < 32; fl++) {
        const int hasl = fl & 1, hasg = fl & 2, hasw = fl & 4, hasgm = fl & 8, hassm = fl & 16;
        const int off = k % 8, wide = k >= 67 * 8, huge = wide && k % 10 == 9;
        int w = wide ? (huge ? 1 + k % 7 : 257 + (int)(urand() * 343)) : 1 + k / 8;
        int C = huge ? 1100 : wide ? 1 + (int)(urand() * 8) : 1 + (int)(urand() * 40);
        int cs = w + 3 + (int)(urand() * 5);
        float *x = buf[0] + off, *q = buf[1] + off, *pw = NULL, *gm = buf[3];
        float *l1 = buf[4] + GUARD, *l2 = buf[5] + GUARD, *g1 = buf[6] + GUARD,
              *g2 = buf[7] + GUARD;
        const int tot = C * cs + GUARD * 2;
        double u = urand(), sc = u < 0.1 ? 100 : u < 0.4 ? 30 : 5;
        for (int i = 0; i < C * cs; i++) {
          x[i] = (float)((urand() * 2 - 1) * sc);
          if (urand() < 0.003)
            x[i] = NAN;
          if (urand() < 0.003)
            x[i] = -INFINITY;
        }
        const double kind = urand(); /* one-hot, distributions, or any floats */
        for (int i = 0; i < w; i++) {
          int hot = (int)(urand() * C);
          double tsum = 0.0;
          for (int c = 0; c < C; c++) {
            double v = kind < 0.3 ? (c == hot) : kind < 0.8 ? urand() : urand() * 3 - 1;
            q[c * cs + i] = (float)v;
            tsum += v;
          }
          for (int c = 0; kind >= 0.3 && kind < 0.8 && c < C; c++)
            q[c * cs + i] = (float)(q[c * cs + i] / tsum);
          for (int c = 0; c < C; c++)
            if (urand() < 0.004)
              q[c * cs + i] = odd_q[(int)(urand() * 8)];
          cls[i] = urand() < 0.25 ? -1 : 0;
          if (cls[i] < 0 && urand() < 0.5)
            for (int c = 0; c < C; c++)
              x[c * cs + i] = q[c * cs + i] = NAN;
          if (cls[i] == 0 && urand() < 0.2)
            x[hot * cs + i] += 8; /* confident, on the one-hot target when there is one */
        }
        for (int c = 0; c < C; c++)
          cw[c] = (float)(urand() * 2);
        for (int i = 0; i < w; i++)
          gm[i] = (float)(urand() * 4 - 2);
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
          }
        }
        const float eps = hassm ? (urand() < 0.1 ? 1.0f : (float)(urand() * 0.3)) : 0.0f;
        sl_ce_row r = {.x = x,
                       .cls = cls,
                       .q = q,
                       .cw = hasw ? cw : NULL,
                       .pw = pw,
                       .gmap = hasgm ? gm : NULL,
                       .loss = hasl ? l1 : NULL,
                       .grad = hasg ? g1 : NULL,
                       .gscale = 1.0 / (w + 3),
                       .smoothing = eps,
                       .cstride = cs,
                       .classes = C,
                       .len = w,
                       .ws = t_ws()};
        for (int i = 0; i < tot; i++)
          buf[4][i] = buf[6][i] = FILL;
        double s1 = sl_kernels_scalar.ce_prob(&r);
        double abs_sum = 0.0;
        for (int i = 0; i < w; i++) {
          terms_l[i] = 0.0;
          for (int c = 0; c < C; c++)
            terms_g[c * cs + i] = 0.0;
          if (cls[i] < 0)
            continue;
          ct_ce_prob_px px;
          ct_ce_prob_pixel(&px, x + i, q + i, cs, C, r.cw, eps, pw ? (double)pw[i] : 1.0);
          terms_l[i] = px.tol_loss;
          double g = (r.gmap ? (double)r.gmap[i] : r.gscale) * (pw ? (double)pw[i] : 1.0);
          for (int c = 0; c < C; c++)
            terms_g[c * cs + i] = ct_ce_prob_grad_tol(
                &px, x[c * cs + i], r.cw ? (double)r.cw[c] : 1.0, q[c * cs + i], eps, g);
          double sc2 = fabs(px.loss) + px.tol_loss / CT_SUM_REL;
          abs_sum += isfinite(sc2) ? sc2 : 0.0;
        }
        for (int ti = 0; tables[ti]; ti++) {
          if (!ran[ti])
            continue;
          for (int i = 0; i < tot; i++)
            buf[5][i] = buf[7][i] = FILL;
          sl_ce_row r2 = r;
          r2.loss = hasl ? l2 : NULL;
          r2.grad = hasg ? g2 : NULL;
          double s2 = tables[ti]->ce_prob(&r2);
          cmp_sum(ti, s2, s1, abs_sum, "ce_prob", w, 1.0);
          for (int i = -GUARD; i < w + GUARD; i++) {
            if (i < 0 || i >= w) {
              if (l2[i] != FILL && fails++ < 30)
                printf("%s: ce_prob loss guard w%d i%d\n", sl_isa_name(tables[ti]->isa), w, i);
            } else if (hasl) {
              char nm[128];
              snprintf(nm, sizeof nm, "(C=%d,sel=%d,eps=%g,pw=%g)", C, cls[i] >= 0, (double)eps,
                       pw ? (double)pw[i] : 1.0);
              cmp(ti, O_QLOSS, l2[i], l1[i], terms_l[i], w, off, i, nm);
            }
          }
          for (int i = -GUARD; i < C * cs + GUARD; i++) {
            int col = ((i % cs) + cs) % cs;
            int in = i >= 0 && i < C * cs && col < w;
            if (!in) {
              if (g2[i] != FILL && fails++ < 30)
                printf("%s: ce_prob grad guard w%d i%d C%d cs%d\n", sl_isa_name(tables[ti]->isa), w,
                       i, C, cs);
            } else if (hasg) {
              char nm[128];
              snprintf(nm, sizeof nm, "(C=%d,c=%d,sel=%d,eps=%g,q=%g,pw=%g)", C, i / cs,
                       cls[col] >= 0, (double)eps, (double)q[i], pw ? (double)pw[col] : 1.0);
              cmp(ti, O_QGRAD, g2[i], g1[i], terms_g[i], w, off, i, nm);
            }
          }
        }
      }
}

#endif /* SL_CE_PROB_STRICT_H */
