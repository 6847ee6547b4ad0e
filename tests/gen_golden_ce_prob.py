#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
gen_golden_ce_prob.py - writes tests/golden/golden_ce_prob.h: small section cases of the
cross-entropy with class-probability targets (sl_ce_prob) with PyTorch's loss and autograd
gradient, for tests/test_golden_ce_prob.c.

Run with a PyTorch (2.x: F.cross_entropy takes probability targets since 1.10):
    python3 tests/gen_golden_ce_prob.py [OUT]        (or make golden-ce-prob-regen PY=...)
The output is committed (the C suite needs no PyTorch) and deterministic (fixed seeds).

What PyTorch computes, for the SELECTED pixels of an N x C x H x W tensor (shape legend as in
include/sectionloss.h; sel = the union of the sample's boxes AND the mask), with the real
F.cross_entropy on the gathered pixels (P x C rows, classes in dim 1):
  F.cross_entropy(x[sel], q[sel], weight=w, label_smoothing=e, reduction=red)
so MEAN divides by the selected pixel count (PyTorch's rule for probability targets: never by the
class weights); with pixel weights pw, as the library documents:
  (F.cross_entropy(..., reduction="none") * pw[sel]).sum() / pw[sel].sum()
In float64: the inputs are float32 values, exactly; the golden values are PyTorch's own code
evaluated without float32 rounding, the exact function to about 1e-15, so the test's tolerance
is the library's own bound: |ours - golden| <= R 2^-24 (|golden| + scale), scale = the
magnitudes of the terms the value is made of (the accuracy contract's, docs/accuracy.md:
sum_c |a_c| (|d_c| + log s + P) for a pixel's loss, |g pw| (A p_c (1 + |d_c|) + |a_c|) for a
gradient; the sum of the pixels' over the normaliser for a reduced loss), R in the test.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden import SPDX_LINE, carray, cf, pack  # noqa: E402

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "golden_ce_prob.h")
F32 = np.float32
D = torch.float64


def section(n, h, w, boxes, offsets, mask):
    """The selected pixels N x H x W (bool): union of each sample's boxes, AND the mask."""
    sel = np.ones((n, h, w), bool)
    if boxes is not None:
        sel[:] = False
        for s in range(n):
            if offsets is not None:
                mine = boxes[offsets[s]:offsets[s + 1]]
            else:
                mine = [boxes[0] if len(boxes) == 1 else boxes[s]]
            for (x1, y1, x2, y2) in mine:
                sel[s, y1:y2, x1:x2] = True
    if mask is not None:
        sel &= mask[:, 0] != 0
    return sel


def case(k, name, shape, red="mean", weighted=False, pixw=False, boxes=None, offsets=None,
         masked=False, smoothing=0.0, targets="dist", xscale=3.0, grad_scale=1.0):
    r = np.random.default_rng(9500 + k)
    n, c, h, w = shape
    x = (r.uniform(-1, 1, shape) * xscale).astype(F32)
    if targets == "dist":  # distributions over the classes
        q = r.uniform(0, 1, shape)
        q = (q / q.sum(1, keepdims=True)).astype(F32)
    elif targets == "any":  # any floats: PyTorch does not check them
        q = r.uniform(-0.5, 1.5, shape).astype(F32)
    else:  # one-hot, on a confident logit with "confident"
        lab = r.integers(0, c, (n, h, w))
        q = (np.arange(c)[None, :, None, None] == lab[:, None]).astype(F32)
        if targets == "confident":
            x += q * F32(18.0)
    cw = r.uniform(0.25, 2.0, c).astype(F32) if weighted else None
    pw = r.uniform(0.0, 3.0, (n, h, w)).astype(F32) if pixw else None
    mask = (r.uniform(0, 1, (n, 1, h, w)) < 0.7).astype(np.uint8) if masked else None
    sel = section(n, h, w, boxes, offsets, mask)
    gm = r.uniform(-2, 2, (n, h, w)).astype(F32) if red == "none" else None
    X = torch.tensor(x, dtype=D, requires_grad=True)
    S = torch.tensor(sel)
    Xs = X.permute(0, 2, 3, 1)[S]  # P x C, the selected pixels
    Qs = torch.tensor(q, dtype=D).permute(0, 2, 3, 1)[S]
    CW = torch.tensor(cw, dtype=D) if cw is not None else None
    cnt = int(sel.sum())
    PWs = torch.tensor(pw, dtype=D)[S] if pw is not None else torch.ones(cnt, dtype=D)
    norm = float(PWs.sum()) if pw is not None else float(cnt)
    if red != "none" and pw is None and cnt > 0:  # PyTorch's own reduction
        loss = F.cross_entropy(Xs, Qs, weight=CW, label_smoothing=smoothing, reduction=red)
        loss.backward(torch.tensor(grad_scale, dtype=D))
        out = [loss.item()]
    else:
        per = F.cross_entropy(Xs, Qs, weight=CW, label_smoothing=smoothing, reduction="none")
        per = per * PWs
        if red == "none":
            per.backward(torch.tensor(gm, dtype=D)[S])
            full = np.zeros((n, h, w))
            full[sel] = per.detach().numpy()
            out = full.reshape(-1)
        else:
            loss = per.sum() / norm if red == "mean" and norm != 0 else per.sum()
            if red == "mean" and norm == 0:
                loss = per.sum() * 0
            loss.backward(torch.tensor(grad_scale, dtype=D))
            out = [loss.item()]
    # the contract's magnitudes (docs/accuracy.md), per pixel
    xd, qd = x.astype(np.float64), q.astype(np.float64)
    wd = cw.astype(np.float64) if cw is not None else np.ones(c)
    amag = np.abs(wd)[None, :, None, None] * ((1 - smoothing) * np.abs(qd) + smoothing / c)
    m = xd.max(1, keepdims=True)
    d = xd - m
    ls = np.log(np.exp(d).sum(1, keepdims=True))
    p = np.exp(d - ls)
    P = (p * np.abs(d)).sum(1, keepdims=True)
    A = amag.sum(1, keepdims=True)
    pwd = pw.astype(np.float64) if pw is not None else np.ones((n, h, w))
    lmag = np.where(sel, np.abs(pwd) * (amag * (np.abs(d) + ls + P)).sum(1), 0.0)
    if red == "none":
        g = gm.astype(np.float64)
        lscale = lmag.reshape(-1)
    else:
        dn = norm if red == "mean" and norm != 0 else 1.0
        g = np.full((n, h, w), grad_scale / dn)
        lscale = [lmag.sum() / dn]
    gpw = np.abs(g * pwd)[:, None]
    gscale = np.where(sel[:, None], gpw * (A * p * (1 + np.abs(d)) + amag), 0.0)
    grad = X.grad.numpy() if X.grad is not None else np.zeros(shape)
    return dict(name=name, x=x, q=q, weight=cw, pw=pw, boxes=boxes, offsets=offsets, mask=mask,
                red=red, grad_scale=grad_scale, gm=gm, smoothing=smoothing, loss=out,
                lscale=lscale, grad=grad.reshape(-1), gscale=gscale.reshape(-1))


def build():
    many = [(0, 0, 4, 3), (2, 1, 7, 5), (5, 0, 9, 2), (1, 2, 3, 5), (0, 0, 9, 5)]
    offs = [0, 3, 3, 5]  # sample 1 has no box
    specs = [
        (("cp_mean", (2, 4, 5, 7)), {}),
        (("cp_weights_smoothing", (2, 5, 4, 6)), {"weighted": True, "smoothing": 0.1}),
        (("cp_sum_box", (2, 3, 5, 9)), {"red": "sum", "boxes": [(1, 1, 7, 4)],
                                        "grad_scale": -0.75}),
        (("cp_none_mask_weights", (1, 4, 4, 7)), {"red": "none", "masked": True,
                                                  "weighted": True}),
        (("cp_many_boxes_pixw", (3, 4, 5, 9)), {"boxes": many, "offsets": offs, "masked": True,
                                                "pixw": True, "weighted": True}),
        (("cp_any_floats", (2, 3, 4, 6)), {"red": "sum", "targets": "any", "smoothing": 0.2}),
        (("cp_confident", (2, 6, 3, 5)), {"red": "sum", "targets": "confident",
                                          "xscale": 1.0}),
        (("cp_onehot_mean_weights", (2, 5, 3, 8)), {"targets": "onehot", "weighted": True,
                                                    "masked": True}),
        (("cp_per_sample_boxes_mean", (3, 3, 6, 10)), {"boxes": [(0, 0, 5, 6), (2, 1, 10, 3),
                                                                 (4, 4, 4, 6)],
                                                       "smoothing": 1.0, "xscale": 20.0}),
    ]
    return [case(k, *a, **kw) for k, (a, kw) in enumerate(specs)]


def emit(cases):
    out = ["/*",
           " * golden_ce_prob.h - GENERATED by tests/gen_golden_ce_prob.py with PyTorch %s: do"
           % torch.__version__,
           " * not edit, regenerate (make golden-ce-prob-regen).",
           " *",
           " * Cross-entropy with class-probability targets: F.cross_entropy(x[sel], q[sel], ...)",
           " * and its autograd gradient in float64 (gen_golden_ce_prob.py). Used by",
           " * tests/test_golden_ce_prob.c. Shape legend N, C, H, W as in sectionloss.h.",
           " * Tolerance: |ours - golden| <= R 2^-24 (|golden| + scale).",
           " */",
           "#ifndef SL_GOLDEN_CE_PROB_H", "#define SL_GOLDEN_CE_PROB_H", "",
           "#include <stddef.h>", "#include <stdint.h>", "", '#include "sectionloss.h"', "",
           "typedef struct golden_ce_prob {",
           "  const char *name;",
           "  sl_shape shape;",
           "  const float *x, *target;",
           "  const float *weight, *pixel_weight;",
           "  const sl_box *boxes;",
           "  int64_t num_boxes;",
           "  const int64_t *offsets;",
           "  const uint8_t *mask;",
           "  sl_reduction reduction;",
           "  float grad_scale;",
           "  const float *grad_map;",
           "  float smoothing;",
           "  int64_t nloss;",
           "  const double *loss, *loss_scale, *grad, *grad_scale_terms;",
           "} golden_ce_prob;", "", "/* clang-format off */"]
    entries = []
    dfmt = lambda v: repr(float(v))  # noqa: E731
    for i, c in enumerate(cases):
        p = "gp%d_" % i
        n, ch, h, w = c["x"].shape
        carray(out, "float", p + "x", c["x"], cf)
        carray(out, "float", p + "q", c["q"], cf)
        wt = carray(out, "float", p + "w", c["weight"], cf) if c["weight"] is not None else "NULL"
        pw = carray(out, "float", p + "pw", c["pw"], cf) if c["pw"] is not None else "NULL"
        nb, bx = 0, "NULL"
        if c["boxes"] is not None:
            nb = len(c["boxes"])
            out.append("static const sl_box %sbox[%d] = {%s};" % (p, nb, ", ".join(
                "{%d, %d, %d, %d}" % b for b in c["boxes"])))
            bx = p + "box"
        of = carray(out, "int64_t", p + "off", c["offsets"], lambda v: "%d" % v) \
            if c["offsets"] is not None else "NULL"
        mk = carray(out, "uint8_t", p + "mask", c["mask"], lambda v: "%d" % v) \
            if c["mask"] is not None else "NULL"
        gm = carray(out, "float", p + "gm", c["gm"], cf) if c["gm"] is not None else "NULL"
        ls = carray(out, "double", p + "loss", c["loss"], dfmt)
        lsc = carray(out, "double", p + "lscale", c["lscale"], dfmt)
        gr = carray(out, "double", p + "grad", c["grad"], dfmt)
        gsc = carray(out, "double", p + "gscale", c["gscale"], dfmt)
        red = {"mean": "SL_REDUCTION_MEAN", "sum": "SL_REDUCTION_SUM",
               "none": "SL_REDUCTION_NONE"}[c["red"]]
        entries.extend(pack(['"%s"' % c["name"], "{%d, %d, %d, %d}" % (n, ch, h, w),
                             p + "x", p + "q", wt, pw, bx, "%d" % nb, of, mk, red,
                             cf(c["grad_scale"]), gm, cf(c["smoothing"]), "%d" % len(c["loss"]),
                             ls, lsc, gr, gsc], "    {", "},"))
    out.append("static const golden_ce_prob golden_ce_prob_cases[] = {")
    out.extend(entries)
    out.append("};")
    out.append("/* clang-format on */")
    out.append("static const int golden_ce_prob_count = %d;" % len(cases))
    out.append("")
    out.append("#endif /* SL_GOLDEN_CE_PROB_H */")
    return SPDX_LINE + "\n".join(out) + "\n"


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else OUT
    text = emit(build())
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    print("wrote %s" % path)
