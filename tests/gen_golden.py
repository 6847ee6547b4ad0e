#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
gen_golden.py - writes tests/golden/golden_cases.h: small section-loss cases with PyTorch's
loss and gradient, for tests/test_golden.c (which runs them through the library).

Run with Debian's python3-torch (1.13):  /usr/bin/python3 tests/gen_golden.py [OUT]
(or make golden-regen; make golden-check regenerates into build/ and compares with the fixture).
The output is committed, so the C test suite needs no PyTorch. Output is deterministic (fixed
seeds, one PyTorch thread); its data part is marked clang-format off (lines stay <= 100 columns).

Every value PyTorch computes here is computed the way a PyTorch user would for the SELECTED
elements of an N x C x H x W tensor (shape legend N, C, H, W as in include/sectionloss.h):
  BCE in a box:        F.binary_cross_entropy(p[:, :, y1:y2, x1:x2], t[...], weight=w[...])
  per-sample boxes:    the same on torch.cat of the per-sample slices
  BCE under a mask:    F.binary_cross_entropy(p[sel], t[sel], weight=w[sel])
  BCE with logits:     F.binary_cross_entropy_with_logits(..., pos_weight=pw.view(C, 1, 1)) on a
                       slice, or the gathered per-element pos weight under a mask
  CE under a mask:     F.cross_entropy(logits, labels with unselected pixels set to ignore_index,
                       weight=..., ignore_index=..., label_smoothing=...)   (classes in dim 1)
Gradients come from autograd: loss.backward(grad_scale) for mean/sum, loss.backward(grad_map[sel])
for reduction 'none'. All inputs are float32 and written exactly (%.9g round-trips a float32).

Tolerance data. PyTorch computes in float32; the library computes each element in double and
rounds once. Where PyTorch's float32 formula cancels (BCE with logits: (1 - y) x + max(-x, 0) ...;
log_softmax: x_c - max - log(sum)), its error is relative to the magnitude of the cancelling
terms, not to the result. For those the generator writes an absolute "scale" next to each
expected value (the sum of the magnitudes PyTorch's formula adds, see *_scale() below); the test
accepts |ours - torch| <= R * 2^-24 * (|torch| + scale). BCE on probabilities never cancels
(all terms have one sign, p - y is exact), so its scale is 0: a purely relative check.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

# The licence line every source file starts with (scripts/spdx.sh checks it).
SPDX_LINE = "// SPDX-License-Identifier: MIT\n"

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "golden_cases.h")
F32 = np.float32


# ---- case description ---------------------------------------------------------------------
class Case:
    """One call. op: 'bce' | 'logits' | 'ce'. x: float32 N x C x H x W. target: float32 (BCE) or
    labels: int N x H x W (CE) with label_type 'i64' | 'i32' | 'u8'. boxes: None or a list of
    (x1, y1, x2, y2), one or N of them. mask: None or uint8 N x mc x H x W. region=False means
    the call passes a NULL region (whole tensor)."""

    def __init__(self, name, op, x, note="", target=None, labels=None, label_type="i64",
                 boxes=None, mask=None, reduction="mean", weight=None, pos_weight=None,
                 ignore_index=-100, smoothing=0.0, grad_scale=1.0, grad_map=None, expect=None):
        self.name, self.op, self.note = name, op, note
        self.x = np.ascontiguousarray(x, dtype=F32)
        self.n, self.c, self.h, self.w = self.x.shape
        self.target = None if target is None else np.ascontiguousarray(target, dtype=F32)
        self.labels = None if labels is None else np.ascontiguousarray(labels, dtype=np.int64)
        self.label_type = label_type
        self.boxes = boxes
        self.mask = None if mask is None else np.ascontiguousarray(mask, dtype=np.uint8)
        self.reduction = reduction
        self.weight = None if weight is None else np.ascontiguousarray(weight, dtype=F32)
        self.pos_weight = None if pos_weight is None else np.ascontiguousarray(pos_weight, F32)
        self.ignore_index = ignore_index
        self.smoothing = float(F32(smoothing))
        self.grad_scale = float(F32(grad_scale))
        self.grad_map = None if grad_map is None else np.ascontiguousarray(grad_map, dtype=F32)
        self.expect = expect  # None: decided from what PyTorch does

    # selection: N x C x H x W (BCE) or N x H x W (CE) booleans
    def box_sel(self):
        s = np.zeros((self.n, self.h, self.w), dtype=bool)
        if self.boxes is None:
            s[:] = True
        else:
            for i in range(self.n):
                x1, y1, x2, y2 = self.boxes[0 if len(self.boxes) == 1 else i]
                s[i, y1:y2, x1:x2] = True
        return s

    def sel(self):
        b = self.box_sel()
        if self.op == "ce":
            if self.mask is not None:
                b = b & (self.mask[:, 0] != 0)
            return b
        s = np.broadcast_to(b[:, None], self.x.shape).copy()
        if self.mask is not None:
            s &= np.broadcast_to(self.mask != 0, self.x.shape)
        return s


# ---- PyTorch, the way a user writes it ------------------------------------------------------
def bce_take(case, t):
    """The selected elements of a full N x C x H x W torch tensor, in the user's form."""
    if case.mask is None and case.boxes is None:
        return t
    if case.mask is None and len(case.boxes) == 1:
        x1, y1, x2, y2 = case.boxes[0]
        return t[:, :, y1:y2, x1:x2]
    if case.mask is None:
        return torch.cat([t[i, :, b[1]:b[3], b[0]:b[2]].reshape(-1)
                          for i, b in enumerate(case.boxes)])
    return t[torch.from_numpy(case.sel())]


def torch_bce(case):
    x = torch.tensor(case.x, requires_grad=True)
    t = torch.tensor(case.target)
    xs, ts = bce_take(case, x), bce_take(case, t)
    ws = None if case.weight is None else bce_take(case, torch.tensor(case.weight))
    if case.op == "bce":
        loss = F.binary_cross_entropy(xs, ts, weight=ws, reduction=case.reduction)
    else:
        pw = None
        if case.pos_weight is not None:
            pwt = torch.tensor(case.pos_weight)
            if case.mask is None and (case.boxes is None or len(case.boxes) == 1):
                pw = pwt.view(case.c, 1, 1)  # broadcasts over the N x C x h x w slice
            else:  # the gathered per-element pos weight
                pw = bce_take(case, pwt.view(1, case.c, 1, 1).expand(case.x.shape))
        loss = F.binary_cross_entropy_with_logits(xs, ts, weight=ws, pos_weight=pw,
                                                  reduction=case.reduction)
    if case.reduction == "none":
        lmap = torch.zeros(case.x.shape)
        place(case, lmap, loss.detach())
        loss.backward(bce_take(case, torch.tensor(case.grad_map)))
        return None, lmap.numpy(), x.grad.numpy()
    loss.backward(torch.tensor(case.grad_scale))
    return float(loss.detach()), None, x.grad.numpy()


def place(case, full, v):
    """Writes v, the selected elements in the user's form (bce_take), into the full tensor."""
    if case.mask is None and case.boxes is None:
        full[...] = v
    elif case.mask is None and len(case.boxes) == 1:
        x1, y1, x2, y2 = case.boxes[0]
        full[:, :, y1:y2, x1:x2] = v
    elif case.mask is None:
        k = 0
        for i, b in enumerate(case.boxes):
            part = full[i, :, b[1]:b[3], b[0]:b[2]]
            full[i, :, b[1]:b[3], b[0]:b[2]] = v[k:k + part.numel()].reshape(part.shape)
            k += part.numel()
    else:
        full[torch.from_numpy(case.sel())] = v


def torch_ce(case):
    x = torch.tensor(case.x, requires_grad=True)
    lab = torch.tensor(case.labels)
    lab[~torch.from_numpy(case.sel())] = case.ignore_index
    cw = None if case.weight is None else torch.tensor(case.weight)
    loss = F.cross_entropy(x, lab, weight=cw, ignore_index=case.ignore_index,
                           label_smoothing=case.smoothing, reduction=case.reduction)
    if case.reduction == "none":
        loss.backward(torch.tensor(case.grad_map))
        return None, loss.detach().numpy(), x.grad.numpy()
    loss.backward(torch.tensor(case.grad_scale))
    return float(loss.detach()), None, x.grad.numpy()


# ---- tolerance scales (float64, numpy) ------------------------------------------------------
def upstream(case, norm):
    """Per-element upstream gradient g (BCE: N x C x H x W, CE: N x H x W)."""
    shape = case.x.shape if case.op != "ce" else (case.n, case.h, case.w)
    if case.reduction == "none":
        return case.grad_map.astype(np.float64).reshape(shape)
    g = case.grad_scale
    if case.reduction == "mean":
        g = g / norm if norm > 0 else 0.0
    return np.full(shape, g)


def finite0(a):
    a = np.asarray(a, dtype=np.float64)
    return np.where(np.isfinite(a), a, 0.0)


def reduce_scale(case, m, sel, norm):
    m = np.where(sel, finite0(m), 0.0)
    if case.reduction == "none":
        return None, m
    s = m.sum()
    return (s / norm if (case.reduction == "mean" and norm > 0) else s), None


def logits_scale(case):
    """PyTorch 1.13's float formula is (1 - y) x + lw (log(exp(-m) + exp(-x - m)) + m),
    m = max(-x, 0): the scale is |(1 - y) x| + lw (1 + log1p(exp(-|x|)) + m), the magnitudes it
    adds, the 1 for the rounding of the log's argument (in [1, 2]: x = 20 gives log(1 + 2e-9)
    = 0 in float32, the exact loss being 2e-9). Grad: (pw y + 1 - y) sigmoid(x) and pw y, the two
    terms its backward subtracts (and all of sigmoid(x) where PyTorch's float sigmoid underflows
    to 0, x < -88.7)."""
    sel = case.sel()
    x, y = case.x.astype(np.float64), case.target.astype(np.float64)
    w = 1.0 if case.weight is None else case.weight.astype(np.float64)
    pw = 1.0 if case.pos_weight is None else case.pos_weight.astype(np.float64)[None, :, None, None]
    lw = (pw - 1.0) * y + 1.0
    with np.errstate(all="ignore"):
        m = w * (np.abs((1.0 - y) * x)
                 + lw * (1.0 + np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)))
        sig = 1.0 / (1.0 + np.exp(-x))
        # PyTorch's float32 sigmoid is 1 / (1 + exp(-x)): for x < -log(FLT_MAX) ~ -88.7 exp
        # overflows and it returns 0, losing the whole (subnormal) value: widen the scale there.
        sig_lost = np.where(-x > np.log(np.finfo(np.float32).max), sig * 2.0**24, 0.0)
        norm = float(sel.sum())
        gm = np.abs(upstream(case, norm)) * w * ((pw * y + 1.0 - y) * (sig + sig_lost) + pw * y)
    ls, lmap = reduce_scale(case, m, sel, norm)
    return ls, lmap, np.where(sel, finite0(gm), 0.0)


def ce_scale(case):
    """PyTorch's log_softmax is out_c = (x_c - max) - log(s), s = sum exp(x - max) in [1, C]:
    each step rounds to float relative to its result, and the rounding of s (relative) is an
    absolute error in log(s) (logits [40, 0, -40]: s = 1 + 4e-18 rounds to 1 and the loss, 4e-18,
    to 0). So out_c is off by about 2^-24 L_c, L_c = |x_c - max| + log(s) + 1. Per pixel:
    (1 - e) w_t L_t + (e / C) sum_c w_c L_c. Grad of logit c: log_softmax's backward
    go_c - p_c sum(go), p_c = exp(out_c) (relative error that of out_c):
    g ((1 - e) w_t [c == t] + (e / C) w_c + a p_c (1 + L_c)), a = (1 - e) w_t + (e / C) sum w."""
    sel = case.sel()
    lab = np.where(sel & (case.labels != case.ignore_index), case.labels, -1)
    counted = lab >= 0
    C, e = case.c, case.smoothing
    cw = np.ones(C) if case.weight is None else case.weight.astype(np.float64)
    x = case.x.astype(np.float64)
    with np.errstate(all="ignore"):
        mx = x.max(axis=1)
        s = np.exp(x - mx[:, None]).sum(axis=1)
        lse = mx + np.log(s)
        L = np.abs(x - mx[:, None]) + np.log(s)[:, None] + 1.0
        p = np.exp(x - lse[:, None])
    t = np.where(counted, lab, 0)
    wt = np.where(counted, cw[t], 0.0)
    Lt = np.take_along_axis(L, t[:, None], axis=1)[:, 0]
    with np.errstate(all="ignore"):
        m = (1 - e) * wt * Lt + (e / C) * (cw[None, :, None, None] * L).sum(axis=1)
    norm = float(wt.sum())
    g = np.abs(upstream(case, norm))
    a = (1 - e) * wt + (e / C) * cw.sum()
    onehot = (np.arange(C)[None, :, None, None] == t[:, None]) & counted[:, None]
    with np.errstate(all="ignore"):
        gm = g[:, None] * ((1 - e) * wt[:, None] * onehot + (e / C) * cw[None, :, None, None]
                           + a[:, None] * p * (1.0 + L))
    ls, lmap = reduce_scale(case, m, counted, norm)
    gm = np.where(counted[:, None], finite0(gm), 0.0)
    return ls, lmap, gm


# ---- C output ----------------------------------------------------------------------------------
def cf(v):
    """A float32 value as an exact C float constant."""
    v = float(F32(v))
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    s = "%.9g" % v
    if all(ch in "-0123456789" for ch in s):
        s += ".0"
    return s + "f"


def cd(v):
    """A double value as an exact C double constant."""
    if v is None:
        return "0.0"
    if math.isnan(v):
        return "NAN"
    if math.isinf(v):
        return "INFINITY" if v > 0 else "-INFINITY"
    return repr(float(v))


def carray(out, ctype, name, values, fmt):
    """A static const C array, values packed into lines of at most 100 columns."""
    vals = [fmt(v) for v in np.asarray(values).reshape(-1)]
    out.append("static const %s %s[%d] = {" % (ctype, name, len(vals)))
    line = "   "
    for v in vals:
        if len(line) + len(v) + 2 > 100:
            out.append(line)
            line = "   "
        line += " " + v + ","
    out.append(line)
    out.append("};")
    return name


def pack(items, first, last, width=100):
    """items joined by ", " into lines of at most width columns (an item longer than a line gets
    its own line), the first line starting with first, the last ending with last."""
    lines, line = [], first
    for i, it in enumerate(items):
        piece = it + (last if i == len(items) - 1 else ",")
        if len(line) + len(piece) + 1 > width and line.strip() not in ("", first.strip()):
            lines.append(line.rstrip())
            line = "     "
        line += ("" if line.endswith("{") else " ") + piece
    lines.append(line.rstrip())
    return lines


RED = {"mean": "SL_REDUCTION_MEAN", "sum": "SL_REDUCTION_SUM", "none": "SL_REDUCTION_NONE"}
OPS = {"bce": "GOLDEN_BCE", "logits": "GOLDEN_BCE_LOGITS", "ce": "GOLDEN_CE"}
LT = {"i64": ("SL_LABEL_I64", "int64_t"), "i32": ("SL_LABEL_I32", "int32_t"),
      "u8": ("SL_LABEL_U8", "uint8_t")}

HEADER_TOP = """\
/*
 * golden_cases.h - GENERATED by tests/gen_golden.py with PyTorch %s: do not edit, regenerate.
 *
 * Small section-loss cases with PyTorch's float32 loss and gradient (autograd), computed on the
 * selected elements the way a PyTorch user would (see tests/gen_golden.py). Used by
 * tests/test_golden.c. Shape legend N, C, H, W as in sectionloss.h; tensors are NCHW float32,
 * labels N x H x W, masks N x mask_channels x H x W bytes.
 *
 * Tolerance: |ours - torch| <= R * 2^-24 * (|torch| + scale), scale from the *_tol fields
 * (NULL / 0: purely relative). See gen_golden.py for how the scales are derived.
 */
#ifndef SL_GOLDEN_CASES_H
#define SL_GOLDEN_CASES_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "sectionloss.h"

typedef enum golden_op { GOLDEN_BCE, GOLDEN_BCE_LOGITS, GOLDEN_CE } golden_op;

typedef enum golden_expect {
  GOLDEN_MATCH,          /* SL_OK; loss and gradient as PyTorch's */
  GOLDEN_DOMAIN,         /* PyTorch raises (probability NaN / outside [0, 1]): SL_ERR_DOMAIN */
  GOLDEN_DOC_EMPTY_MEAN, /* documented difference: nothing counted with MEAN; PyTorch gives a
                            NaN loss, sectionloss 0 (loss 0, gradient 0) */
  GOLDEN_DOC_TARGET      /* documented difference: a selected BCE target outside [0, 1];
                            PyTorch 1.13 computes a value, sectionloss returns SL_ERR_DOMAIN */
} golden_expect;

typedef struct golden_case {
  const char *name;
  const char *note;
  golden_op op;
  golden_expect expect;
  sl_shape shape;
  const float *x;      /* probabilities or logits, N x C x H x W */
  const float *target; /* BCE targets, N x C x H x W, or NULL */
  const void *labels;  /* CE labels, N x H x W of label_type, or NULL */
  sl_label_type label_type;
  int has_region; /* 0: the call passes region = NULL */
  const sl_box *boxes;
  int64_t num_boxes;
  const uint8_t *mask;
  int64_t mask_channels;
  sl_reduction reduction;
  const float *weight;
  const float *pos_weight;
  int64_t ignore_index;
  float label_smoothing;
  float grad_scale;
  const float *grad_map;
  double loss;               /* MEAN / SUM: PyTorch's loss (a float32 value) */
  double loss_tol;           /* its tolerance scale */
  const float *loss_map;     /* NONE: PyTorch's loss map (BCE N x C x H x W, CE N x H x W) */
  const float *loss_map_tol; /* its tolerance scales, or NULL (0) */
  const float *grad;         /* PyTorch's gradient, N x C x H x W (0 outside the section) */
  const float *grad_tol;     /* its tolerance scales, or NULL (0) */
} golden_case;
"""


def emit(cases):
    out = [HEADER_TOP % torch.__version__ + "/* clang-format off */"]
    rows = []
    for k, case in enumerate(cases):
        p = "g%d_" % k
        out.append("")
        out.append("/* ---- %d: %s */" % (k, case.name))
        expect, loss, lmap, grad = case.expect, None, None, None
        try:
            if case.op == "ce":
                loss, lmap, grad = torch_ce(case)
            else:
                loss, lmap, grad = torch_bce(case)
            if expect is None:
                expect = "GOLDEN_MATCH"
        except RuntimeError as err:
            if "between 0 and 1" not in str(err):
                raise
            assert expect is None, case.name
            expect = "GOLDEN_DOMAIN"
        if expect == "GOLDEN_DOC_EMPTY_MEAN":
            assert loss is not None and math.isnan(loss), case.name  # PyTorch: NaN
        if expect == "GOLDEN_DOC_TARGET":
            assert loss is not None and math.isfinite(loss), case.name  # PyTorch computes
        if expect in ("GOLDEN_DOMAIN", "GOLDEN_DOC_TARGET"):
            loss, lmap, grad = None, None, None
        ls, lms, gs = 0.0, None, None
        if expect == "GOLDEN_MATCH" and case.op == "logits":
            ls, lms, gs = logits_scale(case)
        elif expect == "GOLDEN_MATCH" and case.op == "ce":
            ls, lms, gs = ce_scale(case)
        x = carray(out, "float", p + "x", case.x, cf)
        tgt = "NULL"
        if case.target is not None:
            tgt = carray(out, "float", p + "target", case.target, cf)
        labels = "NULL"
        if case.labels is not None:
            labels = carray(out, LT[case.label_type][1], p + "labels", case.labels, str)
        boxes = "NULL"
        if case.boxes is not None:
            out.append("static const sl_box %sboxes[%d] = {%s};" % (
                p, len(case.boxes), ", ".join("{%d, %d, %d, %d}" % b for b in case.boxes)))
            boxes = p + "boxes"
        mask = "NULL"
        if case.mask is not None:
            mask = carray(out, "uint8_t", p + "mask", case.mask, str)
        names = {}
        for key, arr in (("weight", case.weight), ("pos_weight", case.pos_weight),
                         ("grad_map", case.grad_map), ("loss_map", lmap),
                         ("loss_map_tol", lms), ("grad", grad), ("grad_tol", gs)):
            names[key] = "NULL" if arr is None else carray(out, "float", p + key, arr, cf)
        has_region = case.boxes is not None or case.mask is not None
        fields = [
            '"%s"' % case.name, '"%s"' % case.note, OPS[case.op], expect,
            "{%d, %d, %d, %d}" % (case.n, case.c, case.h, case.w), x, tgt, labels,
            LT[case.label_type][0], str(int(has_region)), boxes,
            str(0 if case.boxes is None else len(case.boxes)), mask,
            str(0 if case.mask is None else case.mask.shape[1]), RED[case.reduction],
            names["weight"], names["pos_weight"], "%dLL" % case.ignore_index, cf(case.smoothing),
            cf(case.grad_scale), names["grad_map"], cd(loss), cd(ls), names["loss_map"],
            names["loss_map_tol"], names["grad"], names["grad_tol"]]
        rows.extend(pack(fields, "    {", "},"))
    out.append("")
    out.append("static const golden_case golden_cases[] = {")
    out.extend(rows)
    out.append("};")
    out.append("#define GOLDEN_NUM_CASES (sizeof golden_cases / sizeof golden_cases[0])")
    out.append("")
    out.append("/* clang-format on */")
    out.append("")
    out.append("#endif /* SL_GOLDEN_CASES_H */")
    return "\n".join(out) + "\n"


# ---- the cases -----------------------------------------------------------------------------------
def rng(k):
    return np.random.default_rng(20261128 + k)


def probs(r, shape, lo=0.02, hi=0.98):
    return r.uniform(lo, hi, shape).astype(F32)


def hard(r, shape):
    return r.integers(0, 2, shape).astype(F32)


def soft(r, shape):
    return r.uniform(0, 1, shape).astype(F32)


def rmask(r, n, mc, h, w, p=0.6):
    return (r.uniform(0, 1, (n, mc, h, w)) < p).astype(np.uint8)


def gmap(r, shape):
    return r.uniform(-2, 2, shape).astype(F32)


def logits(r, shape, scale=3.0):
    return (r.standard_normal(shape) * scale).astype(F32)


def build_cases():
    cs = []
    add = cs.append
    k = iter(range(1000))

    # ---- sl_bce (probabilities) ----
    r = rng(next(k)); s = (2, 3, 5, 37)
    add(Case("bce_box_mean", "bce", probs(r, s), target=hard(r, s), boxes=[(3, 1, 30, 4)],
             note="one box for all samples; W = 37: vector body + tail"))
    r = rng(next(k)); s = (2, 2, 4, 19)
    add(Case("bce_box_sum_soft", "bce", probs(r, s), target=soft(r, s), boxes=[(0, 0, 19, 4)],
             reduction="sum", note="box = whole image, soft targets"))
    r = rng(next(k)); s = (2, 2, 6, 21)
    add(Case("bce_box_none_weight", "bce", probs(r, s), target=hard(r, s), boxes=[(2, 1, 19, 5)],
             weight=r.uniform(0.25, 2, s), reduction="none", grad_map=gmap(r, s)))
    r = rng(next(k)); s = (2, 3, 6, 23)
    add(Case("bce_mask_mean_weight", "bce", probs(r, s), target=hard(r, s),
             mask=rmask(r, 2, 1, 6, 23), weight=r.uniform(0.25, 2, s)))
    r = rng(next(k)); s = (2, 3, 5, 17)
    add(Case("bce_channel_mask_sum", "bce", probs(r, s), target=soft(r, s),
             mask=rmask(r, 2, 3, 5, 17), weight=r.uniform(0.25, 2, s), reduction="sum",
             note="mask_channels = C"))
    r = rng(next(k)); s = (3, 2, 7, 33)
    add(Case("bce_sample_boxes_mask_mean", "bce", probs(r, s), target=hard(r, s),
             boxes=[(0, 0, 33, 7), (5, 2, 20, 6), (31, 3, 33, 4)], mask=rmask(r, 3, 1, 7, 33),
             grad_scale=2.5, note="per-sample boxes AND a mask, grad_scale 2.5"))
    r = rng(next(k)); s = (3, 1, 6, 40)
    add(Case("bce_sample_boxes_mean", "bce", probs(r, s), target=hard(r, s),
             boxes=[(1, 0, 39, 6), (7, 7 - 1, 7, 6), (20, 2, 40, 3)],
             note="per-sample boxes, one of them empty"))
    r = rng(next(k)); s = (1, 2, 3, 70)
    p = probs(r, s)
    p.flat[:12] = [1e-7, 1 - 2**-24, 2**-24, 0.5, 1e-30, 1 - 2**-23, 0.999, 1e-3,
                   3e-38, 0.25, 0.75, 1e-12]
    add(Case("bce_whole_mean_extreme", "bce", p, target=soft(r, s), grad_scale=0.75,
             note="region NULL, probabilities near 0 and 1, grad_scale 0.75"))
    add(Case("bce_clamp_mean", "bce", np.array([0, 1], F32).reshape(1, 1, 1, 2),
             target=np.array([1, 0], F32).reshape(1, 1, 1, 2),
             note="p = 0, y = 1 and p = 1, y = 0: log clamped at -100, grad -+5e11"))
    add(Case("bce_clamp_none", "bce",
             np.array([0, 1, 0, 1, 0, 1, 1.4e-45, 1e-30], F32).reshape(1, 1, 2, 4),
             target=np.array([1, 0, 0, 1, 0.5, 0.5, 1, 1], F32).reshape(1, 1, 2, 4),
             reduction="none", grad_map=np.array([1, -1, 2, 3, 0.5, 1, 1, 1], F32).reshape(
                 1, 1, 2, 4), note="0 and 1, a subnormal probability, per-element map"))
    r = rng(next(k)); s = (1, 1, 3, 4)
    p = probs(r, s); p[0, 0, 1, 2] = np.nan
    add(Case("bce_nan_prob", "bce", p, target=hard(r, s), boxes=[(1, 1, 4, 3)],
             note="a NaN probability in the box: PyTorch raises"))
    r = rng(next(k)); s = (1, 2, 3, 4)
    p = probs(r, s); p[0, 1, 2, 0] = 1.5
    add(Case("bce_prob_above_one", "bce", p, target=hard(r, s), mask=rmask(r, 1, 1, 3, 4, 1.0),
             note="a probability of 1.5 under the mask: PyTorch raises"))
    r = rng(next(k)); s = (1, 2, 4, 9)
    p = probs(r, s); p[0, 0, 0, 0] = np.nan; p[0, 1, 3, 8] = 7.0; p[0, 1, 2, 1] = -1.0
    t = hard(r, s); t[0, 0, 3, 3] = 2.0
    add(Case("bce_bad_values_outside", "bce", p, target=t, boxes=[(2, 1, 8, 3)],
             note="NaN, 7, -1 and a target of 2 outside the box: not checked, no effect"))
    r = rng(next(k)); s = (1, 1, 3, 5)
    t = hard(r, s); t[0, 0, 1, 1] = 1.5
    add(Case("bce_target_above_one", "bce", probs(r, s), target=t, expect="GOLDEN_DOC_TARGET",
             note="documented difference: PyTorch 1.13 accepts a target of 1.5"))
    r = rng(next(k)); s = (2, 1, 3, 5)
    add(Case("bce_empty_mask_mean", "bce", probs(r, s), target=hard(r, s),
             mask=np.zeros((2, 1, 3, 5), np.uint8), expect="GOLDEN_DOC_EMPTY_MEAN",
             note="documented difference: empty selection, MEAN: PyTorch NaN, we 0"))
    r = rng(next(k)); s = (2, 1, 3, 5)
    add(Case("bce_empty_box_sum", "bce", probs(r, s), target=hard(r, s), boxes=[(2, 1, 2, 3)],
             reduction="sum", note="empty box, SUM: 0 for both"))

    # ---- sl_bce_logits ----
    r = rng(next(k)); s = (2, 3, 5, 37)
    add(Case("logits_box_mean", "logits", logits(r, s), target=hard(r, s),
             boxes=[(3, 1, 30, 4)]))
    r = rng(next(k)); s = (2, 3, 6, 23)
    add(Case("logits_mask_posweight_weight_mean", "logits", logits(r, s), target=hard(r, s),
             mask=rmask(r, 2, 1, 6, 23), weight=r.uniform(0.25, 2, s),
             pos_weight=[0.5, 2.0, 3.5], note="pos_weight gathered per element"))
    r = rng(next(k)); s = (2, 3, 4, 19)
    add(Case("logits_channel_mask_none_posweight", "logits", logits(r, s), target=soft(r, s),
             mask=rmask(r, 2, 3, 4, 19), pos_weight=[1.5, 0.25, 4.0], reduction="none",
             grad_map=gmap(r, s)))
    r = rng(next(k)); s = (2, 2, 5, 29)
    add(Case("logits_sample_boxes_sum", "logits", logits(r, s), target=soft(r, s),
             boxes=[(0, 1, 29, 5), (4, 0, 11, 2)], reduction="sum", grad_scale=3.0))
    r = rng(next(k)); s = (1, 2, 4, 40)
    x = logits(r, s, 12.0); x.flat[:4] = [-20, 20, -30, 30]
    t = hard(r, s); t.flat[:4] = [0, 1, 1, 0]
    add(Case("logits_whole_mean_large", "logits", x, target=t, pos_weight=[2.0, 0.5],
             note="region NULL, |x| up to ~40, pos_weight.view(C, 1, 1)"))
    x = np.array([[1e30, -1e30, np.inf, -np.inf, np.nan, 100, -100, -20],
                  [1e30, -1e30, np.inf, 88, -88, 1e-30, 0, 20]], F32).reshape(1, 1, 2, 8)
    x = np.concatenate([x, x[:, :, ::-1]], axis=1)
    t = np.array([[0, 1, 0, 1, 1, 0, 1, 0], [1, 0, 0.5, 0, 1, 0.5, 1, 1]], F32)
    t = np.stack([t, t[::-1]])[None]
    add(Case("logits_special_none", "logits", x, target=t, pos_weight=[1.0, 2.5],
             reduction="none", grad_map=np.ones((1, 2, 2, 8), F32),
             note="+-1e30, +-inf, NaN, +-100, +-88 logits"))
    r = rng(next(k)); s = (1, 1, 2, 5)
    x = logits(r, s); x[0, 0, 1, 3] = np.inf
    t = hard(r, s); t[0, 0, 1, 3] = 0
    add(Case("logits_inf_mean", "logits", x, target=t, note="+inf logit, y = 0: loss +inf"))
    r = rng(next(k)); s = (1, 2, 2, 5)
    x = logits(r, s); x[0, 1, 0, 2] = np.nan
    add(Case("logits_nan_mean", "logits", x, target=hard(r, s), boxes=[(1, 0, 4, 2)],
             note="NaN logit: NaN loss"))
    r = rng(next(k)); s = (1, 2, 3, 5)
    add(Case("logits_empty_mean", "logits", logits(r, s), target=hard(r, s),
             boxes=[(0, 0, 5, 0)], expect="GOLDEN_DOC_EMPTY_MEAN",
             note="documented difference: empty box, MEAN: PyTorch NaN, we 0"))

    # ---- sl_ce ----
    r = rng(next(k)); n, c, h, w = 2, 4, 5, 37
    add(Case("ce_mask_mean_i64", "ce", logits(r, (n, c, h, w), 2.0),
             labels=r.integers(0, c, (n, h, w)), mask=rmask(r, n, 1, h, w)))
    r = rng(next(k)); n, c, h, w = 2, 3, 6, 21
    add(Case("ce_box_mean_weight_i32", "ce", logits(r, (n, c, h, w), 2.0),
             labels=r.integers(0, c, (n, h, w)), label_type="i32", boxes=[(2, 1, 20, 5)],
             weight=[0.2, 1.5, 3.0]))
    r = rng(next(k)); n, c, h, w = 2, 5, 4, 19
    lab = r.integers(0, c, (n, h, w)); lab[r.uniform(0, 1, lab.shape) < 0.2] = 255
    add(Case("ce_ignore255_u8_sum", "ce", logits(r, (n, c, h, w), 2.0), labels=lab,
             label_type="u8", ignore_index=255, boxes=[(1, 0, 18, 4)],
             mask=rmask(r, n, 1, h, w, 0.7), reduction="sum", note="box AND mask, uint8"))
    r = rng(next(k)); n, c, h, w = 2, 4, 5, 23
    add(Case("ce_smoothing_mean", "ce", logits(r, (n, c, h, w), 2.0),
             labels=r.integers(0, c, (n, h, w)), mask=rmask(r, n, 1, h, w), smoothing=0.1))
    r = rng(next(k)); n, c, h, w = 2, 3, 5, 17
    lab = r.integers(0, c, (n, h, w)); lab[r.uniform(0, 1, lab.shape) < 0.15] = -100
    add(Case("ce_smoothing_weight_mean", "ce", logits(r, (n, c, h, w), 2.0), labels=lab,
             mask=rmask(r, n, 1, h, w, 0.8), weight=[0.5, 2.0, 1.25], smoothing=0.2,
             note="class weights + smoothing + ignore_index -100"))
    r = rng(next(k)); n, c, h, w = 3, 4, 4, 19
    add(Case("ce_sample_boxes_mask_none", "ce", logits(r, (n, c, h, w), 2.0),
             labels=r.integers(0, c, (n, h, w)), boxes=[(0, 0, 19, 4), (3, 1, 17, 3),
                                                        (18, 2, 19, 4)],
             mask=rmask(r, n, 1, h, w), weight=[1.0, 0.5, 2.0, 1.5], smoothing=0.05,
             reduction="none", grad_map=gmap(r, (n, h, w))))
    r = rng(next(k)); n, c, h, w = 1, 6, 4, 40
    lab = r.integers(0, c, (n, h, w)); lab[r.uniform(0, 1, lab.shape) < 0.1] = -100
    add(Case("ce_whole_sum_i64", "ce", logits(r, (n, c, h, w), 4.0), labels=lab,
             reduction="sum", grad_scale=0.25, note="region NULL, ignore -100, grad_scale 0.25"))
    r = rng(next(k)); n, c, h, w = 1, 21, 3, 11
    add(Case("ce_21_classes_mean", "ce", logits(r, (n, c, h, w), 2.0),
             labels=r.integers(0, c, (n, h, w)), label_type="i32", boxes=[(1, 0, 10, 3)],
             weight=r.uniform(0.5, 2, c), smoothing=0.1))
    r = rng(next(k)); n, c, h, w = 1, 3, 3, 9
    add(Case("ce_smoothing_one_weight_mean", "ce", logits(r, (n, c, h, w), 2.0),
             labels=r.integers(0, c, (n, h, w)), weight=[0.5, 1.0, 3.0], smoothing=1.0,
             boxes=[(0, 0, 9, 3)], note="label_smoothing = 1"))
    r = rng(next(k)); n, c, h, w = 2, 4, 3, 9
    add(Case("ce_ignore_real_class_i32", "ce", logits(r, (n, c, h, w), 2.0),
             labels=r.integers(0, c, (n, h, w)), label_type="i32", ignore_index=2,
             mask=rmask(r, n, 1, h, w, 0.8), note="ignore_index = 2, a real class"))
    r = rng(next(k)); n, c, h, w = 1, 3, 2, 300
    add(Case("ce_wide_rows_mean", "ce", logits(r, (n, c, h, w), 2.0),
             labels=r.integers(0, c, (n, h, w)), boxes=[(5, 0, 297, 2)],
             mask=rmask(r, n, 1, h, w, 0.9), note="rows longer than one 256-pixel segment"))
    x = np.array([[1e30, -1e30, 0], [np.inf, 1, 2], [-np.inf, 0, 1], [np.nan, 0, 1],
                  [-1e30, 3e38, -3e38], [-40, 40, 0]], F32).T.reshape(1, 3, 1, 6)
    x = np.concatenate([x, x[:, ::-1]], axis=2)
    add(Case("ce_special_none", "ce", x,
             labels=np.array([[0, 1, 0, 2, 1, 0], [1, 0, 2, 0, 2, 1]]).reshape(1, 2, 6),
             reduction="none", grad_map=np.ones((1, 2, 6), F32),
             note="+-1e30, +-3e38, +-inf, NaN logits, a -inf target logit"))
    x = np.array([[1e30, 1e30, -1e30], [3e38, 3e38, 0], [1e20, 1e20, 1e20], [-1e30, -1e30, 5],
                  [1e17, 1e17 + 2**44, 0]], F32).T.reshape(1, 3, 1, 5)
    add(Case("ce_huge_tied_logits_none", "ce", x,
             labels=np.array([0, 1, 2, 1, 0]).reshape(1, 1, 5), reduction="none",
             grad_map=np.ones((1, 1, 5), F32),
             note="tied huge maxima: p = 1/2 or 1/3, loss log 2 or log 3 (needs (x - max) - log s,"
                  " not x - (max + log s))"))
    x = np.array([[0, 88, -88], [-88, 88, 0], [0, 100, 1], [-87, 0, 0]], F32).T.reshape(
        1, 3, 1, 4)
    add(Case("ce_subnormal_softmax_none", "ce", x,
             labels=np.array([1, 1, 1, 1]).reshape(1, 1, 4), reduction="none",
             grad_map=np.ones((1, 1, 4), F32),
             note="softmax probabilities in the float32 subnormal range (exp(-88) = 6e-39)"))
    add(Case("logits_subnormal_none", "logits",
             np.array([-88, -90, -100, -103, 88, 90, 100, 103], F32).reshape(1, 1, 1, 8),
             target=np.array([0, 0, 0, 0, 1, 1, 1, 1], F32).reshape(1, 1, 1, 8),
             reduction="none", grad_map=np.ones((1, 1, 1, 8), F32),
             note="loss and gradient in the float32 subnormal range (sigmoid(-88) = 6e-39)"))
    r = rng(next(k)); n, c, h, w = 1, 3, 2, 5
    x = logits(r, (n, c, h, w)); x[0, 1, 1, 2] = np.nan
    add(Case("ce_nan_mean", "ce", x, labels=r.integers(0, c, (n, h, w)),
             note="NaN logit: NaN loss"))
    r = rng(next(k)); n, c, h, w = 2, 3, 3, 5
    lab = r.integers(0, c, (n, h, w)); lab[:, 1:, :] = 7
    add(Case("ce_all_ignored_mean", "ce", logits(r, (n, c, h, w)), labels=lab, label_type="u8",
             ignore_index=7, boxes=[(0, 1, 5, 3)], expect="GOLDEN_DOC_EMPTY_MEAN",
             note="documented difference: every selected pixel ignored, MEAN: PyTorch NaN"))
    return cs


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else OUT  # another path: to compare with the fixture
    cases = build_cases()
    text = emit(cases)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(SPDX_LINE + text)
    print("wrote %s: %d cases" % (out, len(cases)), file=sys.stderr)


# ---- Dice / Tversky: tests/golden/golden_dice.h from segmentation_models_pytorch ----
# smp's DiceLoss and TverskyLoss (segmentation_models_pytorch/losses/dice.py, tversky.py,
# _functional.py) are imported directly from a directory holding them (the package's __init__
# pulls in timm and torchvision models), two releases:
#   SMP_LOSSES    smp 0.5 or later (0.6.0 for the committed file: what `pip install
#                 segmentation-models-pytorch` gives): its TverskyLoss, whose I is the L1 form
#                 (P + T - sum |p - t|) / 2 (= sum min(p, t): sum p t only for targets 0 / 1),
#                 what sl_dice computes with dice_tversky 1; and its DiceLoss (Tversky with
#                 alpha = beta = 0.5: dice_tversky 1 with those), the Python package's default
#                 dice_loss (smp_form="0.5");
#   SMP04_LOSSES  smp 0.3.3: its DiceLoss, (2 sum p t + smooth) / max(P + T + smooth, eps), what
#                 sl_dice computes with dice_tversky 0 (Python smp_form="0.4").
# E.g. (wheels unpacked, no dependencies; any PyTorch with torch.linalg):
#   pip download --no-deps segmentation-models-pytorch==0.6.0 segmentation-models-pytorch==0.3.3
#   (unzip each wheel into its own directory D06, D033)
#   SMP_LOSSES=D06/segmentation_models_pytorch/losses \
#   SMP04_LOSSES=D033/segmentation_models_pytorch/losses python3 tests/gen_golden.py --dice
# The section is given to smp through its ignore_index: every element (multilabel / binary) or
# pixel (multiclass) outside the section gets the target / label DICE_IGN, which smp removes
# from both p and t (y_pred * mask, y_true * mask): the sums are then the section's. MEAN is
# smp's own aggregate_loss; SUM and NONE subclass it (loss.sum() ** gamma, loss), the one thing
# smp does not offer. Gradients by autograd (backward(grad_scale), NONE backward(grad_map)).
# Tolerance data: PyTorch's float32 gradient of element e is the sum of two terms (through I and
# through the denominator; multiclass: through the softmax as well); the generator writes their
# magnitude ("scale", computed in float64 from the same inputs); the test accepts
# |ours - torch| <= R 2^-24 (|torch| + scale).
DICE_IGN = -1
DICE_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "golden_dice.h")


def smp_losses(var):
    """DiceLoss, TverskyLoss and the version of the smp release whose losses directory the
    environment variable var names."""
    import importlib
    import types
    d = os.environ.get(var)
    if not d:
        sys.exit("gen_golden.py --dice: set %s to segmentation_models_pytorch/losses" % var)
    name = "smp_losses_" + var.lower()
    pkg = types.ModuleType(name)
    pkg.__path__ = [d]
    sys.modules[name] = pkg
    dice = importlib.import_module(name + ".dice")
    tversky = importlib.import_module(name + ".tversky")
    ver = {}
    with open(os.path.join(os.path.dirname(os.path.abspath(d)), "__version__.py")) as f:
        exec(f.read(), ver)
    return dice.DiceLoss, tversky.TverskyLoss, ver["__version__"]


def dice_sel(n, c, h, w, boxes, offsets, mask, mc):
    """Selected elements N x C x H x W (bool) of a region."""
    sel = np.zeros((n, c, h, w), dtype=bool)
    for i in range(n):
        if offsets is not None:
            bl = boxes[offsets[i]:offsets[i + 1]]
        elif boxes is None:
            bl = [(0, 0, w, h)]
        else:
            bl = [boxes[0] if len(boxes) == 1 else boxes[i]]
        for (x1, y1, x2, y2) in bl:
            sel[i, :, y1:y2, x1:x2] = True
    if mask is not None:
        sel &= np.broadcast_to(mask != 0, sel.shape)
    return sel


def dice_scale(x, t, sel, mc, o, up):
    """Per element the magnitude of the terms of the gradient (float64): through I and through
    the denominator, times the activation's derivative; multiclass through the softmax."""
    n, c, h, w = x.shape
    xd = x.astype(np.float64)
    if mc:
        e = np.exp(xd - xd.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    elif o["from_logits"]:
        p = 1.0 / (1.0 + np.exp(-xd))
    else:
        p = xd
    p = np.where(sel, p, 0.0)
    td = np.where(sel, t.astype(np.float64), 0.0)
    P = p.sum(axis=(0, 2, 3))
    T = td.sum(axis=(0, 2, 3))
    # smp 0.5+'s Tversky: I = (P + T - sum |p - t|) / 2, d I / d p = [p < t] + [p == t] / 2
    l1 = o["tversky"] and not mc
    I = (P + T - np.abs(p - td).sum(axis=(0, 2, 3))) / 2 if l1 else (p * td).sum(axis=(0, 2, 3))
    hd = np.where(p < td, 1.0, np.where(p == td, 0.5, 0.0)) if l1 else td
    a, b, sm, eps = o["alpha"], o["beta"], o["smooth"], o["eps"]
    if o["tversky"]:
        num = I + sm
        d0 = I + a * (P - I) + b * (T - I) + sm
    else:
        num = 2 * I + sm
        d0 = P + T + sm
    den = np.maximum(d0, eps)
    sc = num / den
    k = np.abs(np.asarray(up, dtype=np.float64)) * (T > 0)
    if o["log_loss"]:
        k = k / np.maximum(np.abs(sc), 1e-300)
    k = k.reshape(1, c, 1, 1)
    dn = (hd if o["tversky"] else 2 * td)
    dd = (hd + a * (1 - hd) - b * hd) if o["tversky"] else np.ones_like(td)
    dd = dd * (d0 >= eps).reshape(1, c, 1, 1)
    m = k * (np.abs(dn) / den.reshape(1, c, 1, 1) +
             np.abs(num.reshape(1, c, 1, 1) * dd) / (den * den).reshape(1, c, 1, 1))
    m = np.where(sel, m, 0.0)
    if mc:
        return p * (m + (p * m).sum(axis=1, keepdims=True))
    if o["from_logits"]:
        return m * p * (1 - p)
    return m


def dice_case(smp, name, mc, x, target=None, labels=None, boxes=None, offsets=None, mask=None,
              reduction="mean", grad_scale=1.0, grad_map=None, smp_dice=False, **kw):
    """One case; smp: the losses (dice_main). tversky=1: smp 0.5+'s TverskyLoss; smp_dice: smp
    0.5+'s DiceLoss (the C call: Tversky with alpha = beta = 0.5); else smp 0.3.3's DiceLoss."""
    o = dict(tversky=0, alpha=0.5, beta=0.5, gamma=1.0, smooth=0.0, eps=1e-7, log_loss=0,
             from_logits=0)
    o.update(kw)
    if smp_dice:
        o.update(tversky=1, alpha=0.5, beta=0.5, gamma=1.0)
    x = np.ascontiguousarray(x, dtype=F32)
    n, c, h, w = x.shape
    sel = dice_sel(n, c, h, w, boxes, offsets, mask, mc)
    mode = "multiclass" if mc else ("binary" if c == 1 else "multilabel")
    if mc:
        lab = np.where(sel[:, 0], labels, DICE_IGN).astype(np.int64)
        yt = torch.from_numpy(lab)
        t1 = np.stack([(labels == k) for k in range(c)], axis=1).astype(F32)
    else:
        t1 = np.ascontiguousarray(target, dtype=F32)
        yt = torch.from_numpy(np.where(sel, t1, F32(DICE_IGN)).astype(F32))
        if c == 1:
            yt = yt  # binary mode: (N, 1, H, W), flattened by smp
    base = smp["dice"] if smp_dice else smp["tversky"] if o["tversky"] else smp["dice04"]
    red = reduction

    class Agg(base):
        def aggregate_loss(self, loss):
            if red == "mean":
                return base.aggregate_loss(self, loss)
            if red == "sum":
                return loss.sum() ** self.gamma if o["tversky"] and not smp_dice else loss.sum()
            return loss

    args = dict(mode=mode, from_logits=bool(mc or o["from_logits"]), smooth=o["smooth"],
                eps=o["eps"], log_loss=bool(o["log_loss"]), ignore_index=DICE_IGN)
    if o["tversky"] and not smp_dice:
        args.update(alpha=o["alpha"], beta=o["beta"], gamma=o["gamma"])
    fn = Agg(**args)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    loss = fn(xt, yt)
    if red == "none":
        gm = np.asarray(grad_map, dtype=F32)
        loss.backward(torch.from_numpy(gm))
        up = gm.astype(np.float64)
    else:
        loss.backward(torch.tensor(grad_scale, dtype=torch.float32))
        lv = loss.detach().double().item()
        tot = lv ** (1.0 / o["gamma"]) if o["tversky"] and lv > 0 else lv
        if red == "mean":
            g = grad_scale * (o["gamma"] * tot ** (o["gamma"] - 1) if o["tversky"] else 1.0) / c
        else:
            g = grad_scale * (o["gamma"] * tot ** (o["gamma"] - 1) if o["tversky"] else 1.0)
        up = np.full(c, g)
    scale = dice_scale(x, t1, sel, mc, o, up)
    return dict(name=name, mc=mc, x=x, target=None if mc else t1, labels=labels, boxes=boxes,
                offsets=offsets, mask=mask, red=red, grad_scale=grad_scale, grad_map=grad_map,
                o=o, loss=loss.detach().numpy().reshape(-1), grad=xt.grad.numpy(), scale=scale)


def dice_build(smp):
    cs = []
    k = iter(range(9000, 9100))

    def add(*a, **kw):
        cs.append(dice_case(smp, *a, **kw))

    r = rng(next(k)); sh = (2, 1, 5, 7)
    add("bin_probs", 0, probs(r, sh), target=hard(r, sh))
    r = rng(next(k))
    add("bin_logits_box", 0, logits(r, sh), target=soft(r, sh), boxes=[(1, 1, 6, 4)],
        from_logits=1)
    r = rng(next(k)); sh = (2, 3, 5, 7)
    add("ml_mask_c_smooth", 0, probs(r, sh), target=hard(r, sh), mask=rmask(r, 2, 3, 5, 7),
        smooth=1.0)
    r = rng(next(k))
    add("ml_logits_boxes_log", 0, logits(r, sh), target=hard(r, sh),
        boxes=[(0, 1, 4, 5), (2, 0, 7, 3)], from_logits=1, log_loss=1)
    r = rng(next(k)); t = hard(r, sh); t[:, 1] = 0
    add("ml_absent_tversky", 0, logits(r, sh), target=t, from_logits=1, tversky=1, alpha=0.3,
        beta=0.7, gamma=2.0, mask=rmask(r, 2, 1, 5, 7))
    r = rng(next(k))
    add("ml_offsets_clamp", 0, probs(r, sh) * F32(1e-3), target=soft(r, sh) * F32(1e-3),
        boxes=[(0, 0, 1, 1), (3, 2, 4, 3), (4, 2, 6, 3)], offsets=[0, 1, 3], eps=0.02)
    r = rng(next(k))
    add("ml_sum_logits", 0, logits(r, sh), target=soft(r, sh), reduction="sum",
        from_logits=1, grad_scale=0.5)
    r = rng(next(k))
    add("ml_none_tversky_log", 0, probs(r, sh), target=hard(r, sh), reduction="none",
        grad_map=gmap(r, (3,)), tversky=1, alpha=0.6, beta=0.2, log_loss=1, smooth=0.5,
        boxes=[(1, 0, 6, 5), (0, 2, 7, 4)])
    r = rng(next(k)); sh = (2, 4, 5, 6)
    add("mc_mask", 1, logits(r, sh), labels=r.integers(0, 4, (2, 5, 6)),
        mask=rmask(r, 2, 1, 5, 6))
    r = rng(next(k))
    add("mc_offsets_tversky_log", 1, logits(r, sh), labels=r.integers(0, 4, (2, 5, 6)),
        boxes=[(0, 0, 3, 3), (2, 2, 6, 5), (1, 1, 5, 4)], offsets=[0, 2, 3], tversky=1,
        alpha=0.2, beta=0.8, gamma=0.5, log_loss=1, smooth=1.0)
    r = rng(next(k)); lab = r.integers(0, 3, (2, 5, 6))
    add("mc_absent_sum", 1, logits(r, sh), labels=lab, reduction="sum", grad_scale=2.0,
        boxes=[(1, 1, 5, 4)])
    r = rng(next(k))
    add("mc_none", 1, logits(r, sh), labels=r.integers(0, 4, (2, 5, 6)), reduction="none",
        grad_map=gmap(r, (4,)), boxes=[(0, 0, 6, 5), (2, 1, 4, 3)])
    # soft targets: smp 0.5+'s L1 intersection (sum min(p, t), not sum p t); probabilities with
    # some targets equal to p (its gradient's step at p == t: 1/2)
    r = rng(next(k)); sh = (2, 3, 5, 7); x = probs(r, sh); t = soft(r, sh)
    t[:, :, ::3, ::2] = x[:, :, ::3, ::2]
    add("ml_soft_tversky_ties", 0, x, target=t, tversky=1, alpha=0.3, beta=0.7, smooth=0.5,
        mask=rmask(r, 2, 3, 5, 7))
    r = rng(next(k))
    add("ml_soft_tversky_logits_sum", 0, logits(r, sh), target=soft(r, sh), tversky=1,
        alpha=0.6, beta=0.2, gamma=0.75, from_logits=1, reduction="sum", grad_scale=-0.5,
        boxes=[(0, 1, 6, 4), (1, 0, 7, 5)])
    r = rng(next(k)); sh = (2, 1, 6, 9); x = probs(r, sh); t = soft(r, sh)
    t[:, :, 1::2, ::3] = x[:, :, 1::2, ::3]
    add("bin_soft_smp06_dice", 0, x, target=t, smp_dice=True, smooth=1.0)
    r = rng(next(k)); sh = (2, 3, 5, 7)
    add("ml_soft_smp06_dice_logits_none", 0, logits(r, sh), target=soft(r, sh), smp_dice=True,
        from_logits=1, reduction="none", grad_map=gmap(r, (3,)), log_loss=1,
        boxes=[(1, 1, 6, 5)])
    return cs


def dice_emit(cases, ver, ver04):
    out = ["/*",
           " * golden_dice.h - GENERATED by tests/gen_golden.py --dice with PyTorch %s,"
           % torch.__version__,
           " * segmentation_models_pytorch %s (TverskyLoss, DiceLoss: Tversky cases) and %s"
           % (ver, ver04),
           " * (DiceLoss: the Dice cases, dice_tversky 0): do not edit, regenerate.",
           " *",
           " * Dice / Tversky cases with smp's float32 loss and autograd gradient, the section",
           " * given to smp through its ignore_index (gen_golden.py). Used by",
           " * tests/test_golden_dice.c. Shape legend N, C, H, W as in sectionloss.h.",
           " * Tolerance: |ours - torch| <= R 2^-24 (|torch| + scale), scale per gradient element.",
           " */",
           "#ifndef SL_GOLDEN_DICE_H", "#define SL_GOLDEN_DICE_H", "",
           "#include <stddef.h>", "#include <stdint.h>", "", '#include "sectionloss.h"', "",
           "typedef struct golden_dice {",
           "  const char *name;",
           "  int mc; /* 0: sl_dice, 1: sl_dice_multiclass */",
           "  sl_shape shape;",
           "  const float *x, *target;",
           "  const int64_t *labels;",
           "  const sl_box *boxes;",
           "  int64_t num_boxes;",
           "  const int64_t *offsets;",
           "  const uint8_t *mask;",
           "  int64_t mask_channels;",
           "  sl_reduction reduction;",
           "  float grad_scale;",
           "  const float *grad_map;",
           "  int tversky, log_loss, from_logits;",
           "  float alpha, beta, gamma, smooth, eps;",
           "  int nloss;",
           "  const float *loss, *grad, *scale;",
           "} golden_dice;", "", "/* clang-format off */"]
    entries = []
    for i, c in enumerate(cases):
        p = "gd%d_" % i
        n, ch, h, w = c["x"].shape
        carray(out, "float", p + "x", c["x"], cf)
        tg = carray(out, "float", p + "t", c["target"], cf) if c["target"] is not None else "NULL"
        lb = carray(out, "int64_t", p + "lab", c["labels"], lambda v: "%d" % v) if c["mc"] \
            else "NULL"
        nb = 0
        bx = "NULL"
        if c["boxes"] is not None:
            nb = len(c["boxes"])
            out.append("static const sl_box %sbox[%d] = {%s};" % (p, nb, ", ".join(
                "{%d, %d, %d, %d}" % b for b in c["boxes"])))
            bx = p + "box"
        of = carray(out, "int64_t", p + "off", c["offsets"], lambda v: "%d" % v) \
            if c["offsets"] is not None else "NULL"
        mk, mch = "NULL", 1
        if c["mask"] is not None:
            mk = carray(out, "uint8_t", p + "mask", c["mask"], lambda v: "%d" % v)
            mch = c["mask"].shape[1]
        gm = carray(out, "float", p + "gm", c["grad_map"], cf) if c["grad_map"] is not None \
            else "NULL"
        ls = carray(out, "float", p + "loss", c["loss"], cf)
        gr = carray(out, "float", p + "grad", c["grad"], cf)
        sc = carray(out, "float", p + "scale", c["scale"], cf)
        o = c["o"]
        red = {"mean": "SL_REDUCTION_MEAN", "sum": "SL_REDUCTION_SUM",
               "none": "SL_REDUCTION_NONE"}[c["red"]]
        if c["offsets"] is None and c["boxes"] is not None and nb not in (1, n):
            sys.exit("dice case %s: boxes need offsets" % c["name"])
        entries.extend(pack(['"%s"' % c["name"], "%d" % c["mc"], "{%d, %d, %d, %d}" % (n, ch, h, w),
                             p + "x", tg, lb, bx, "%d" % nb, of, mk, "%d" % mch, red,
                             cf(c["grad_scale"]), gm, "%d" % o["tversky"], "%d" % o["log_loss"],
                             "%d" % o["from_logits"], cf(o["alpha"]), cf(o["beta"]),
                             cf(o["gamma"]), cf(o["smooth"]), cf(o["eps"]),
                             "%d" % len(c["loss"]), ls, gr, sc], "    {", "},"))
    out.append("static const golden_dice golden_dice_cases[] = {")
    out.extend(entries)
    out.append("};")
    out.append("/* clang-format on */")
    out.append("static const int golden_dice_count = %d;" % len(cases))
    out.append("")
    out.append("#endif /* SL_GOLDEN_DICE_H */")
    return "\n".join(out) + "\n"


def dice_main(out):
    dice, tversky, ver = smp_losses("SMP_LOSSES")
    dice04, _, ver04 = smp_losses("SMP04_LOSSES")
    if not (ver >= "0.5" and ver04 < "0.5"):
        sys.exit("gen_golden.py --dice: SMP_LOSSES is smp %s (0.5+ wanted), SMP04_LOSSES %s "
                 "(0.3-0.4 wanted)" % (ver, ver04))
    cases = dice_build(dict(dice=dice, tversky=tversky, dice04=dice04))
    text = dice_emit(cases, ver, ver04)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(SPDX_LINE + text)
    print("wrote %s: %d cases" % (out, len(cases)), file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--dice":
        dice_main(sys.argv[2] if len(sys.argv) > 2 else DICE_OUT)
    else:
        main()
