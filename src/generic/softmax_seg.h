// SPDX-License-Identifier: MIT
/*
 * generic/softmax_seg.h - the softmax over the classes of a segment of pixels, shared by the CE
 * and softmax focal kernels (generic/ce.h) and the multiclass Dice kernel (generic/dice.h):
 * the workspace layout (ce_ws), the segment (ce_seg), pass 1 (the class planes of the logits
 * copied to the scratch, per-pixel max and min) and the exponentials of a block of pixels over
 * the classes (ce_classes). The algorithm and its error bounds: generic/ce.h. Needs
 * <isa>/vec.h and src/kernels.h before it.
 */
#ifndef SL_GENERIC_SOFTMAX_SEG_H
#define SL_GENERIC_SOFTMAX_SEG_H

#include "generic/common.h"

#if !defined(SL_CE_SMAX)
#define SL_CE_SMAX 256 /* pixels per segment at most (1024: no better, docs/performance.md) */
#endif
enum {
  CE_SCR = SL_CE_SCR, /* scratch floats for the class planes (C = 21 uses 22 KiB at S = 256) */
  CE_SMAX = SL_CE_SMAX,
  CE_PAD = SL_CE_PAD /* floats between scratch planes: planes never a multiple of 4 KiB apart */
};

/* The workspace r->ws (src/kernels.h, src/workspace.h) as the CE and multiclass Dice kernels
 * use it: the class planes, then per-pixel arrays of a segment (CE: m, lo, k, ft, gk;
 * multiclass Dice: m, lo, ih, il, cf, sh, sl), its class indices and its reference pixels. */
typedef struct ce_ws {
  float scr[CE_SCR];
  float pix[7][CE_SMAX];
  int32_t cls[CE_SMAX + SL_W];
  int64_t hard[CE_SMAX];
} ce_ws;
_Static_assert(sizeof(ce_ws) <= SL_WS_KERNEL_BYTES, "the kernels' scratch exceeds the workspace");
/* SL_CE_VEC_CMAX (src/kernels.h, tests/test_stack.c) is the last class count whose segment
 * (ce_body, sl_dice_mc) holds a vector of pixels */
_Static_assert((CE_SCR / SL_CE_VEC_CMAX(SL_W) - CE_PAD) / SL_W * SL_W >= SL_W &&
                   (CE_SCR / (SL_CE_VEC_CMAX(SL_W) + 1) - CE_PAD) / SL_W * SL_W < SL_W,
               "SL_CE_VEC_CMAX is not the vector path's class limit");

/* CE flags (generic/ce.h); ce_classes reads CF_SMOOTH and CF_CW */
enum { CF_LOSS = 1, CF_GRAD = 2, CF_CW = 4, CF_GMAP = 8, CF_SMOOTH = 16, CF_FOCAL = 32 };

typedef struct ce_seg {
  float *xs;     /* class c of pixel j at xs[c * ps + j]: logits, then exponentials */
  int64_t ps;    /* plane stride of xs */
  int32_t *cls;  /* cls[0 .. S + SL_W), padded with -1 */
  float *m, *lo; /* per pixel: max and min logit (0 for uncounted pixels) */
  float *k, *ft; /* per pixel: g A / s, target gradient */
  float *gk;     /* per pixel: g e / C (smoothing) */
  int64_t *hard; /* pixels for the reference */
} ce_seg;

/* input:  segment of S pixels at i0 (all counted when all), class rows of r->x (element type
 *         r->xt, converted here: the scratch holds floats)
 * output: sg->xs (logits, uncounted pixels 0), sg->m, sg->lo */
SL_V void ce_pass1(const sl_ce_row *r, const ce_seg *sg, int64_t i0, int64_t S, const int all) {
  const int64_t C = r->classes, cs = r->cstride;
  for (int64_t c = 0; c < C; c++) {
    const int64_t o = c * cs + i0;
    float *sp = sg->xs + c * sg->ps;
    for (int64_t j = 0; j < S; j += SL_W) {
      int64_t n = S - j < SL_W ? S - j : SL_W;
      if (n == SL_W) /* the next segment's logits */
        __builtin_prefetch(sl_elem_at(r->x, o + S + j, r->xt), 0, 3);
      vf v = v_loadk_t(r->x, o + j, n, r->xt);
      if (!all)
        v = v_keep(vi_ge0(vi_load(sg->cls + j)), v);
      v_store(sp + j, v);
      v_store(sg->m + j, c == 0 ? v : v_max(v_load(sg->m + j), v));
      v_store(sg->lo + j, c == 0 ? v : v_min(v_load(sg->lo + j), v));
    }
  }
}

/* The row r from its pixel i on, one pixel long (the reference kernel's call for that pixel) */
SL_V sl_ce_row ce_row_at(const sl_ce_row *r, int64_t i) {
  sl_ce_row s = *r;
  s.x = sl_elem_at(s.x, i, s.xt);
  s.q = s.q ? sl_elem_at(s.q, i, s.qt) : NULL;
  s.cls += i;
  s.pw = s.pw ? sl_elem_at(s.pw, i, s.pwt) : NULL;
  s.gmap = s.gmap ? s.gmap + i : NULL;
  s.loss = s.loss ? s.loss + i : NULL;
  s.grad = s.grad ? sl_elem_at_w(s.grad, i, s.gt) : NULL;
  s.len = 1;
  return s;
}

/* The classes of pixel block j, in the scratch: e_c = exp(x_c - m), written over the logit;
 * s1 = the float sum of the e_c below the max (one class after the other), nlt = the number
 * of classes below the max (a NaN d counts as below), sw = sum_c w_c (x_c - m)
 * (smoothing). deep: some lane has a class more than 87 below its max (or -inf). */
typedef struct ce_sums {
  vf s1, sw;
  vi nlt;
} ce_sums;
SL_V ce_sums ce_classes(const sl_ce_row *r, const ce_seg *sg, int64_t j, vf m, const int fl,
                        const int deep) {
  const int64_t C = r->classes, ps = sg->ps;
  const vf zero = v_zero();
  ce_sums o = {zero, zero, vi_zero()};
  for (int64_t c = 0; c < C; c++) {
    if (!deep) /* the common case is the one the cost model measures */
      SL_MCA_BEGIN("ce_class");
    float *p = sg->xs + c * ps + j;
    vf d = v_sub(v_load(p), m);
    vf e = v_exp_neg(d, deep);
    v_store(p, e);
    vm lt = v_nge(d, zero); /* below the max, or NaN */
    o.s1 = v_add(o.s1, v_keep(lt, e));
    o.nlt = vi_sub_m(o.nlt, lt);
    if (fl & CF_SMOOTH)
      o.sw = v_fma(v_set1((fl & CF_CW) ? r->cw[c] : 1.0f), d, o.sw);
    if (!deep)
      SL_MCA_END("ce_class");
  }
  return o;
}

/* The segment's class indices (cls[i0 ..], padded with -1) and pass 1 over its planes (every
 * pixel counted or not: the two variants of ce_pass1). Shared with the multiclass Dice kernel. */
SL_V void ce_seg_load(const sl_ce_row *r, const int32_t *cls, ce_seg *sg, int64_t i0, int64_t S) {
  int all = 1;
  for (int64_t j = 0; j < S; j++) {
    sg->cls[j] = cls[i0 + j];
    all &= sg->cls[j] >= 0;
  }
  for (int64_t j = S; j < S + SL_W; j++)
    sg->cls[j] = -1;
  if (all)
    ce_pass1(r, sg, i0, S, 1);
  else
    ce_pass1(r, sg, i0, S, 0);
}

#endif /* SL_GENERIC_SOFTMAX_SEG_H */
