#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
gen_golden_focal.py - writes tests/golden/golden_focal.h: small section cases of the focal losses
and of pixel-weighted CE with PyTorch's loss and autograd gradient, for tests/test_golden_focal.c.

Run with Debian's python3-torch (1.13) and python3-torchvision (0.14):
    /usr/bin/python3 tests/gen_golden_focal.py [OUT]       (or make golden-focal-regen)
The output is committed (the C suite needs no PyTorch) and deterministic (fixed seeds).

What PyTorch computes, for the SELECTED elements of an N x C x H x W tensor (shape legend as in
include/sectionloss.h; sel = the union of the sample's boxes AND the mask):
  sigmoid focal:  torchvision.ops.sigmoid_focal_loss(x[sel], t[sel], alpha, gamma, reduction)
                  times the per-element weight w[sel] (then mean / sum by hand when weighted)
  softmax focal:  logp = F.log_softmax(x, 1); lpt = logp at the label; per counted pixel
                  pw * w[t] * (1 - exp(lpt))**gamma * (-lpt); MEAN: sum / sum(pw * w[t])
  pixel-weighted CE: (F.cross_entropy(x, t', weight=w, reduction="none", label_smoothing=e)
                  * pw).sum() / (pw * w[t']).sum() over the counted pixels (t' = ignore_index
                  outside the section)
In float64: the inputs are float32 values, exactly; the golden values are then PyTorch's and
torchvision's own code evaluated without float32 rounding, so they are the exact function to
about 1e-15 and the test's tolerance is the library's own accuracy bound: |ours - golden| <=
R 2^-24 (|golden| + scale), scale = the magnitude of the terms the value is the difference of
(per element; the sum of |l| / normaliser for a MEAN / SUM loss), R in test_golden_focal.c.
Float32 PyTorch rounds 1 - p_t of a confident logit to 0 (docs/c-api.md, "Differences"); that is why
float32 values are not the reference here.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden import SPDX_LINE, carray, cf, pack  # noqa: E402

torch.set_num_threads(1)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden", "golden_focal.h")
F32 = np.float32
D = torch.float64


def rng(k):
    return np.random.default_rng(9000 + k)


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


def upstream(r, red, shape):
    return r.uniform(-2, 2, shape).astype(F32) if red == "none" else None


def sigmoid_case(k, name, shape, alpha, gamma, red, weighted=False, boxes=None, offsets=None,
                 masked=False, xscale=4.0, grad_scale=1.0):
    r = rng(k)
    n, c, h, w = shape
    x = (r.uniform(-1, 1, shape) * xscale).astype(F32)
    t = np.where(r.uniform(0, 1, shape) < 0.3, 1.0, 0.0).astype(F32)
    t[..., ::5] = r.uniform(0, 1, t[..., ::5].shape).astype(F32)  # soft targets too
    wt = r.uniform(0.25, 2.0, shape).astype(F32) if weighted else None
    mask = (r.uniform(0, 1, (n, 1, h, w)) < 0.7).astype(np.uint8) if masked else None
    sel = np.broadcast_to(section(n, h, w, boxes, offsets, mask)[:, None], shape)
    gm = upstream(r, red, shape)
    X = torch.tensor(x, dtype=D, requires_grad=True)
    T = torch.tensor(t, dtype=D)
    S = torch.tensor(sel.copy())
    l = torchvision.ops.sigmoid_focal_loss(X[S], T[S], alpha=alpha, gamma=gamma, reduction="none")
    if wt is not None:
        l = l * torch.tensor(wt, dtype=D)[S]
    cnt = int(sel.sum())
    if red == "mean":
        loss = l.sum() / cnt if cnt else l.sum() * 0
        loss.backward(torch.tensor(grad_scale, dtype=D))
        out = [loss.item()]
    elif red == "sum":
        loss = l.sum()
        loss.backward(torch.tensor(grad_scale, dtype=D))
        out = [loss.item()]
    else:
        l.backward(torch.tensor(gm, dtype=D)[S])
        full = np.zeros(shape)
        full[sel] = l.detach().numpy()
        out = full.reshape(-1)
    # scales: the BCE terms times |f| (loss), |g w| (|f' ce| + |f| (|1-t| sp + |t| sn)) (grad)
    xd, td = x.astype(np.float64), t.astype(np.float64)
    sp, sn = 1 / (1 + np.exp(-xd)), 1 / (1 + np.exp(xd))
    m = sp * (1 - td) + sn * td
    at = np.ones_like(xd) if alpha < 0 else alpha * td + (1 - alpha) * (1 - td)
    f = at * m ** gamma
    df = np.where(m > 0, at * gamma * np.maximum(m, 1e-300) ** (gamma - 1) * sp * sn *
                  np.abs(1 - 2 * td), 0.0) if gamma > 0 else np.zeros_like(xd)
    ce = np.logaddexp(0, -np.abs(xd)) + np.abs(xd) * np.where(xd >= 0, 1 - td, td)
    ww = wt.astype(np.float64) if wt is not None else np.ones_like(xd)
    lmag = np.where(sel, ww * f * (np.log1p(np.exp(-np.abs(xd))) + np.abs(xd)), 0.0)
    if red == "none":
        g = gm.astype(np.float64)
        lscale = lmag.reshape(-1)
    else:
        g = np.full(shape, grad_scale / (cnt if red == "mean" and cnt else 1.0))
        lscale = [lmag.sum() / (cnt if red == "mean" and cnt else 1.0)]
    gscale = np.where(sel, np.abs(g * ww) * (df * ce + f * (np.abs(1 - td) * sp + np.abs(td) * sn)),
                      0.0)
    grad = X.grad.numpy() if X.grad is not None else np.zeros(shape)
    return dict(name=name, op=0, x=x, target=t, labels=None, weight=wt, pw=None, boxes=boxes,
                offsets=offsets, mask=mask, red=red, grad_scale=grad_scale, gm=gm, gamma=gamma,
                alpha=alpha, smoothing=0.0, ignore=-100, loss=out, lscale=lscale,
                grad=grad.reshape(-1), gscale=gscale.reshape(-1))


def labels_case(k, name, op, shape, gamma=2.0, red="mean", weighted=False, pixw=False,
                boxes=None, offsets=None, masked=False, smoothing=0.0, ignore=-100,
                xscale=3.0, grad_scale=1.0, confident=False):
    """op 1: softmax focal, op 2: sl_ce with pixel weights."""
    r = rng(k)
    n, c, h, w = shape
    x = (r.uniform(-1, 1, shape) * xscale).astype(F32)
    lab = r.integers(0, c, (n, h, w)).astype(np.int64)
    if ignore != -100:
        lab[r.uniform(0, 1, lab.shape) < 0.15] = ignore
    if confident:  # the label's logit far above: 1 - p_t ~ 1e-8
        for idx in np.ndindex(n, h, w):
            if 0 <= lab[idx] < c:
                x[idx[0], lab[idx], idx[1], idx[2]] += F32(18 + (sum(idx) % 5))
    cw = r.uniform(0.25, 2.0, c).astype(F32) if weighted else None
    pw = r.uniform(0.0, 3.0, (n, h, w)).astype(F32) if pixw else None
    mask = (r.uniform(0, 1, (n, 1, h, w)) < 0.7).astype(np.uint8) if masked else None
    sel = section(n, h, w, boxes, offsets, mask) & (lab != ignore)
    gm = upstream(r, red, (n, h, w))
    X = torch.tensor(x, dtype=D, requires_grad=True)
    L = torch.tensor(np.where(sel, lab, 0))
    S = torch.tensor(sel)
    CW = torch.tensor(cw, dtype=D) if cw is not None else torch.ones(c, dtype=D)
    PW = torch.tensor(pw, dtype=D) if pw is not None else torch.ones((n, h, w), dtype=D)
    if op == 1:
        lpt = F.log_softmax(X, 1).gather(1, L[:, None])[:, 0]
        per = PW * CW[L] * (1 - torch.exp(lpt)) ** gamma * (-lpt)
    else:
        per = F.cross_entropy(X, torch.where(S, L, torch.full_like(L, -100)),
                              weight=CW if cw is not None else None, reduction="none",
                              label_smoothing=smoothing) * PW
    per = torch.where(S, per, torch.zeros_like(per))
    norm = float((PW * CW[L])[S].sum())
    if red == "none":
        per.backward(torch.tensor(gm, dtype=D))
        out = per.detach().numpy().reshape(-1)
    else:
        loss = per.sum() / norm if red == "mean" and norm != 0 else per.sum()
        if red == "mean" and norm == 0:
            loss = per.sum() * 0
        loss.backward(torch.tensor(grad_scale, dtype=D))
        out = [loss.item()]
    # scales: |per| and the logit range for the loss; |g| (pw w_t + e W) (p_c + [c == t]) grad
    xd = x.astype(np.float64)
    lse = np.log(np.exp(xd - xd.max(1, keepdims=True)).sum(1)) + xd.max(1)
    spread = np.abs(xd - lse[:, None]).max(1)
    wts = (PW * CW[L]).numpy()
    lmag = np.where(sel, np.abs(wts) * (spread + 1) * (1 + smoothing * c), 0.0)
    if red == "none":
        g = gm.astype(np.float64)
        lscale = lmag.reshape(-1)
    else:
        dn = norm if red == "mean" and norm != 0 else 1.0
        g = np.full((n, h, w), grad_scale / dn)
        lscale = [lmag.sum() / dn]
    wsum = float(CW.sum())
    fac = np.where(sel, np.abs(g) * (np.abs(wts) + smoothing * wsum * np.abs(PW.numpy())), 0.0)
    fac = fac * (1 + gamma * (spread + 1) if op == 1 else 1)
    gscale = np.broadcast_to(fac[:, None], shape) * 2
    grad = X.grad.numpy()
    return dict(name=name, op=op, x=x, target=None, labels=lab, weight=cw, pw=pw, boxes=boxes,
                offsets=offsets, mask=mask, red=red, grad_scale=grad_scale, gm=gm, gamma=gamma,
                alpha=0.25, smoothing=smoothing, ignore=ignore, loss=out, lscale=lscale,
                grad=grad.reshape(-1), gscale=np.ascontiguousarray(gscale).reshape(-1))


def build():
    many = [(0, 0, 4, 3), (2, 1, 7, 5), (5, 0, 9, 2), (1, 2, 3, 5), (0, 0, 9, 5)]
    offs = [0, 3, 3, 5]  # sample 1 has no box
    cs = []
    k = 0
    for args, kw in [
        (("sf_mean_default", (2, 2, 5, 9), 0.25, 2.0, "mean"), {}),
        (("sf_sum_noalpha", (2, 1, 5, 9), -1.0, 2.0, "sum"), {"grad_scale": -0.75}),
        (("sf_none_gamma1_5", (1, 3, 4, 7), 0.5, 1.5, "none"), {}),
        (("sf_gamma0", (2, 2, 3, 8), 0.25, 0.0, "mean"), {"weighted": True}),
        (("sf_many_boxes_mask", (3, 2, 5, 9), 0.25, 2.0, "mean"),
         {"boxes": many, "offsets": offs, "masked": True}),
        (("sf_saturated", (2, 1, 4, 8), 0.75, 3.0, "sum"), {"xscale": 40.0}),
        (("sf_weighted_box", (2, 2, 5, 9), 0.1, 2.5, "mean"),
         {"weighted": True, "boxes": [(1, 1, 7, 4)]}),
    ]:
        cs.append(sigmoid_case(k, *args, **kw))
        k += 1
    for args, kw in [
        (("smf_mean", 1, (2, 4, 4, 7)), {}),
        (("smf_weights_pixw", 1, (2, 5, 3, 8)), {"weighted": True, "pixw": True, "gamma": 1.5}),
        (("smf_none_ignore", 1, (1, 3, 4, 9)), {"red": "none", "ignore": 2, "gamma": 3.0}),
        (("smf_confident", 1, (2, 6, 3, 5)), {"confident": True, "xscale": 1.0, "red": "sum"}),
        (("smf_many_boxes", 1, (3, 4, 5, 9)), {"boxes": many, "offsets": offs, "masked": True,
                                                "pixw": True}),
        (("ce_pixw_mean", 2, (2, 5, 4, 7)), {"pixw": True, "weighted": True}),
        (("ce_pixw_smooth", 2, (2, 4, 3, 9)), {"pixw": True, "smoothing": 0.1, "masked": True}),
        (("ce_pixw_none", 2, (1, 3, 4, 6)), {"pixw": True, "red": "none", "ignore": 1}),
    ]:
        cs.append(labels_case(k, *args, **kw))
        k += 1
    return cs


def emit(cases):
    out = ["/*",
           " * golden_focal.h - GENERATED by tests/gen_golden_focal.py with PyTorch %s and"
           % torch.__version__,
           " * torchvision %s: do not edit, regenerate (make golden-focal-regen)."
           % torchvision.__version__,
           " *",
           " * The focal losses and pixel-weighted CE: PyTorch's / torchvision's loss and autograd",
           " * gradient in float64 over the selected elements (gen_golden_focal.py). Used by",
           " * tests/test_golden_focal.c. Shape legend N, C, H, W as in sectionloss.h.",
           " * Tolerance: |ours - golden| <= R 2^-24 (|golden| + scale).",
           " */",
           "#ifndef SL_GOLDEN_FOCAL_H", "#define SL_GOLDEN_FOCAL_H", "",
           "#include <stddef.h>", "#include <stdint.h>", "", '#include "sectionloss.h"', "",
           "typedef struct golden_focal {",
           "  const char *name;",
           "  int op; /* 0: sl_sigmoid_focal, 1: sl_softmax_focal, 2: sl_ce (pixel weights) */",
           "  sl_shape shape;",
           "  const float *x, *target;",
           "  const int64_t *labels;",
           "  const float *weight, *pixel_weight;",
           "  const sl_box *boxes;",
           "  int64_t num_boxes;",
           "  const int64_t *offsets;",
           "  const uint8_t *mask;",
           "  sl_reduction reduction;",
           "  float grad_scale;",
           "  const float *grad_map;",
           "  float gamma, alpha, smoothing;",
           "  int64_t ignore_index;",
           "  int64_t nloss;",
           "  const double *loss, *loss_scale, *grad, *grad_scale_terms;",
           "} golden_focal;", "", "/* clang-format off */"]
    entries = []
    dfmt = lambda v: repr(float(v))  # noqa: E731
    for i, c in enumerate(cases):
        p = "gf%d_" % i
        n, ch, h, w = c["x"].shape
        carray(out, "float", p + "x", c["x"], cf)
        tg = carray(out, "float", p + "t", c["target"], cf) if c["target"] is not None else "NULL"
        lb = carray(out, "int64_t", p + "lab", c["labels"], lambda v: "%d" % v) \
            if c["labels"] is not None else "NULL"
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
        entries.extend(pack(['"%s"' % c["name"], "%d" % c["op"], "{%d, %d, %d, %d}" % (n, ch, h, w),
                             p + "x", tg, lb, wt, pw, bx, "%d" % nb, of, mk, red,
                             cf(c["grad_scale"]), gm, cf(c["gamma"]), cf(c["alpha"]),
                             cf(c["smoothing"]), "%d" % c["ignore"], "%d" % len(c["loss"]), ls,
                             lsc, gr, gsc], "    {", "},"))
    out.append("static const golden_focal golden_focal_cases[] = {")
    out.extend(entries)
    out.append("};")
    out.append("/* clang-format on */")
    out.append("static const int golden_focal_count = %d;" % len(cases))
    out.append("")
    out.append("#endif /* SL_GOLDEN_FOCAL_H */")
    return "\n".join(out) + "\n"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else OUT
    cases = build()
    text = emit(cases)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write(SPDX_LINE + text)
    print("wrote %s: %d cases" % (out, len(cases)), file=sys.stderr)


if __name__ == "__main__":
    main()
