#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""torch_compare.py - PyTorch against sectionloss on the same data, the way users run both.

For each case (bce-NxCxHxW or ce-NxCxHxW), section (whole, box, mask, rand50, blobs) and thread
count, this script times, forward and forward + backward:
  torch          the PyTorch form a user writes, eager, default allocator (glibc malloc)
  torch+je       the same with a retaining allocator: Debian's libjemalloc2 preloaded with
                 MALLOC_CONF=retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1, which keeps freed
                 pages mapped, so fresh output tensors cost no page faults (about 2.5 ms per MB
                 on these VMs)
  compile        the same under torch.compile(fullgraph=True) (Inductor CPU), PyTorch 2.x only,
                 in the form compile needs (torch.where instead of boolean indexing), both
                 allocators
  sl-py          the sectionloss Python package (what a Python user pays: argument checks,
                 custom-op dispatch, output allocation, autograd), both allocators, when this
                 interpreter can import it
  sl C           build/sl-bench in-process on the very same data (written to a temporary
                 directory, read by `sl-bench --load DIR`): the C library alone
and checks that every implementation gives the same loss (relative 1e-5). Each allocator
configuration runs in its own worker process (LD_PRELOAD must be set at start) that lives for the
whole run and reads every case from the files sl-bench --load reads; the parent prints the
tables. torch.set_num_threads(t) is called explicitly for every thread count (it starts at 1 with
Debian's python3-torch), and sectionloss takes its thread count from it.

Alternation: inside a worker the implementations alternate call by call (order rotated per
call); with --rounds R each case, section and thread count is measured R times, the workers and
sl-bench taking turns in an order rotated per round, and each cell is the median of the R
per-round medians. --side (side by side) presets the big fused cases (BCE and BCE with
logits 16x1x512x512, CE 8x21x512x512, CE 1x19x1024x2048, softmax focal 8x21x512x512),
sections mask, rand50 and whole, fused only, 3 rounds and ratio columns sectionloss against
torch.compile (--ratios A/B,...: any two columns).

PyTorch forms (box and mask: the central 2/3 of H and of W, as in sl-bench; rand50 and blobs:
sl-bench's random-50% and object-with-holes masks, from sl-bench --save-masks, in the mask forms):
  BCE box:   F.binary_cross_entropy(pred[:, :, y1:y2, x1:x2], gt[:, :, y1:y2, x1:x2])
  BCE mask:  F.binary_cross_entropy(pred[mask], gt[mask])      (the article's boolean indexing)
             compiled: torch.where(mask, F.binary_cross_entropy(pred, gt, reduction="none"),
             0).sum() / mask.sum()  (boolean indexing has a data-dependent shape)
  CE box:    F.cross_entropy(logits[:, :, y1:y2, x1:x2], labels[:, y1:y2, x1:x2])
  CE mask:   F.cross_entropy(logits, torch.where(mask, labels, -100), ignore_index=-100)
  whole:     the plain call on the whole tensors
(BCE with logits: the same with F.binary_cross_entropy_with_logits.)
  softmax focal (--entries softmax_focal): the form below; compiled, with a mask:
             ce = F.cross_entropy(logits, torch.where(m, labels, -100), reduction="none");
             ((1 - torch.exp(-ce)) ** 2 * ce).sum() / m.sum(); Python: softmax_focal_loss
  ce_ohem (--entries ce_ohem): online hard example mining, mmsegmentation's
             OHEMPixelSampler(thresh=0.7, min_kept=100000): pt = softmax(x).gather(labels);
             eager: kth = pt[valid].sort()[0][min(100000 N, count - 1)] (mmseg's sample());
             compiled: torch.topk(where(valid, pt, 2), k + 1, largest=False).values[-1];
             kept = valid & (pt < max(kth, 0.7)); F.cross_entropy over the kept pixels;
             Python: cross_entropy(..., ohem_thresh=0.7, ohem_min_kept=100000); sl C: sl-bench's
             ce_ohem
The focal, Dice and many-box cases (with --entries / --sections; eager only, not the compiled or the Python-package path,
but softmax_focal outside dets and maskpw):
  sections   dets:   20 seeded boxes per image (sizes log-uniform in [W/32, W/2], overlapping,
                     the same files sl-bench reads), the user's form: the union mask built from
                     the boxes inside the timed call (m[n, :, y1:y2, x1:x2] = True per box), then
                     the mask section's form
             maskpw: the mask and an N x H x W pixel weight map pw (ce, softmax_focal only)
  softmax_focal  ce = F.cross_entropy(x, y, reduction="none", ignore_index=-100);
                 pt = torch.exp(-ce); fl = (1 - pt) ** 2 * ce; fl[m].mean()
                 (maskpw: (fl[m] * pw[m]).sum() / pw[m].sum(); box: on the slices)
  ce maskpw      the same with fl = ce (pixel-weighted CE)
  sigmoid_focal  torchvision.ops.sigmoid_focal_loss(x[m], t[m], alpha=0.25, gamma=2,
                 reduction="mean") when torchvision imports, else its formula written out
  dice, dice_logits  smp's DiceLoss formula written out over the selection, per channel:
                 p = x[sel] (dice_logits: .sigmoid()), I = sum p t, card = sum p + t,
                 loss_c = (1 - 2 I / card.clamp_min(1e-7)) * (sum t > 0), mean over channels;
                 segmentation_models_pytorch's DiceLoss itself as impl "smp" when it imports
  dice_mc        the same with p = x.softmax(1) and t = one_hot(labels) (smp multiclass mode)
  ce_prob        class-probability targets q (N x C x H x W, per pixel a distribution with the
                 label's class dominant): box F.cross_entropy(x[:, :, y1:y2, x1:x2], q[...]),
                 whole F.cross_entropy(x, q), mask F.cross_entropy(x, q, reduction="none")[m]
                 .mean() (compiled: torch.where(m, ce, 0).sum() / m.sum()), maskpw
                 (ce[m] * pw[m]).sum() / pw[m].sum(), dets the mask form on the boxes' union;
                 Python: sectionloss.cross_entropy(x, q, ...)
sectionloss Python: sectionloss.<fn>(x, target, box=(x1, y1, x2, y2) or mask=mask).
"forward" is timed under torch.no_grad() (PyTorch's fastest forward); "forward+backward" is
loss = f(x with requires_grad); loss.backward(), with x.grad reset to None before each call.
Timing: one warm-up call each (compilation included), then enough alternated calls for about
--min-time seconds (at least 5 each); medians.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

# A private Inductor cache (before torch is imported; the workers inherit it): the default
# /tmp/torchinductor_<user> is shared with every PyTorch on the machine, and a kernel another
# build compiled there can fail to load (undefined Sleef symbols), killing a compile worker.
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "build", "torchinductor"))

import numpy  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

try:
    import sectionloss
except ImportError:  # the Python path is then not timed
    sectionloss = None
try:
    import torchvision.ops
    sigmoid_focal_loss = torchvision.ops.sigmoid_focal_loss
except ImportError:  # the formula torchvision implements, written out
    sigmoid_focal_loss = None
try:
    import segmentation_models_pytorch as smp
except ImportError:
    smp = None

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
JEMALLOC_CONF = "retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1"
HAS_COMPILE = int(torch.__version__.split(".")[0]) >= 2 and hasattr(torch, "compile")

DEFAULT_CASES = "bce-4x1x64x64,ce-4x4x64x64,bce-16x1x512x512,ce-8x21x512x512,ce-1x19x1024x2048"
CSV_HEADER = ("impl,isa,threads,case,entry,section,mode,n,c,h,w,elements,bytes,reps,median_s,"
              "min_s,elem_per_s,gb_per_s,roof_pct,loss")


CE_ENTRIES = ("ce", "softmax_focal", "dice_mc", "ce_ohem", "ce_prob")
# online hard example mining: mmsegmentation's usual OHEMPixelSampler(thresh=0.7, min_kept=100000)
OHEM_THRESH, OHEM_MIN_KEPT = 0.7, 100000
# the focal / Dice entries and the dets / maskpw sections: eager PyTorch forms only (no compiled form, no Python
# package); softmax_focal has all three outside them
NEW_ENTRIES = ("softmax_focal", "sigmoid_focal", "dice", "dice_logits", "dice_mc")
NEW_SECTIONS = ("dets", "maskpw")
# sections passed as a broadcast N x 1 x H x W mask: the central 2/3, a random 50% (rand50) and
# object-like regions with holes (blobs); the last two are sl-bench's (--save-masks)
MASK_SECTIONS = ("mask", "rand50", "blobs")
BOXES_PER_IMAGE = 20


def section_mask(d, section):
    """The N x 1 x H x W bool mask of a mask section (maskpw: the central mask)."""
    return d["mask_" + section] if section in ("rand50", "blobs") else d["mask"]


def section_fits(entry, section):
    """maskpw (pixel weights) only for the losses that have them."""
    return section != "maskpw" or entry in ("ce", "softmax_focal", "ce_prob")


def parse_case(name):
    kind, dims = name.split("-", 1)
    n, c, h, w = (int(v) for v in dims.split("x"))
    if kind not in ("bce", "ce"):
        raise ValueError(name)
    return kind, (n, c, h, w)


def central_box(h, w):
    """(x1, y1, x2, y2): the central 2/3 of the image, as sl-bench's box and mask."""
    return w // 6, h // 6, w - w // 6, h - h // 6


def make_dets(n, h, w, g, per_image=BOXES_PER_IMAGE):
    """Detection boxes as sl-bench makes them: per_image per sample, sides log-uniform in
    [max(2, W/32), W/2] and [max(2, H/32), H/2], placed uniformly (so they overlap). Returns
    (boxes int32 [K, 4] as x1 y1 x2 y2, offsets int64 [N + 1])."""
    k = n * per_image

    def side(lo, hi):
        u = torch.rand(k, generator=g, dtype=torch.float64)
        v = torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))).long()
        return v.clamp_(lo, hi)

    bw, bh = side(max(2, w // 32), w // 2), side(max(2, h // 32), h // 2)
    x1 = (torch.rand(k, generator=g, dtype=torch.float64) * (w - bw + 1)).long()
    y1 = (torch.rand(k, generator=g, dtype=torch.float64) * (h - bh + 1)).long()
    x1, y1 = torch.minimum(x1, w - bw), torch.minimum(y1, h - bh)
    boxes = torch.stack([x1, y1, x1 + bw, y1 + bh], 1).to(torch.int32)
    offsets = torch.arange(0, k + 1, per_image, dtype=torch.int64)
    return boxes, offsets


def make_data(kind, shape, seed=1234, probs=False):
    n, c, h, w = shape
    g = torch.Generator().manual_seed(seed)
    x1, y1, x2, y2 = central_box(h, w)
    mask = torch.zeros((n, 1, h, w), dtype=torch.bool)
    mask[:, :, y1:y2, x1:x2] = True
    d = {"mask": mask, "logits": torch.rand(shape, generator=g) * 8.0 - 4.0}
    if kind == "ce":
        d["labels"] = torch.randint(0, c, (n, h, w), generator=g, dtype=torch.int64)
        if probs:  # ce_prob: soft labels, the label's class dominant
            q = torch.rand(shape, generator=g) + c * F.one_hot(d["labels"], c).permute(0, 3, 1, 2)
            d["probs"] = q / q.sum(1, keepdim=True)
    else:
        d["prob"] = torch.rand(shape, generator=g).clamp_(1e-6, 1.0 - 1e-6)
        d["target"] = torch.randint(0, 2, shape, generator=g).float()
    d["pw"] = torch.rand((n, h, w), generator=g) * 1.5 + 0.5
    d["det_boxes"], d["det_offsets"] = make_dets(n, h, w, g)
    return d


def union_mask(d, shape):
    """The detection user's mask: the union of each image's boxes, N x 1 x H x W bool."""
    n, c, h, w = shape
    m = torch.zeros((n, 1, h, w), dtype=torch.bool)
    boxes, off = d["det_boxes"].tolist(), d["det_offsets"].tolist()
    for i in range(n):
        for x1, y1, x2, y2 in boxes[off[i]:off[i + 1]]:
            m[i, :, y1:y2, x1:x2] = True
    return m


def sigmoid_focal_formula(x, t, alpha=0.25, gamma=2.0):
    """torchvision.ops.sigmoid_focal_loss(x, t, alpha, gamma, reduction="mean"), written out."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * ((1 - p_t) ** gamma)
    return ((alpha * t + (1 - alpha) * (1 - t)) * loss).mean()


def dice_formula(p, t, eps=1e-7):
    """smp DiceLoss (smooth 0, eps 1e-7): p, t are C x K (the selection of each channel)."""
    inter = (p * t).sum(1)
    card = (p + t).sum(1)
    score = 2.0 * inter / card.clamp_min(eps)
    return ((1.0 - score) * (t.sum(1) > 0)).mean()


def new_loss_fn(kind, entry, section, d, shape, impl="torch"):
    """The eager forms of NEW_ENTRIES / NEW_SECTIONS (see the docstring).
    Returns (x, f), or None when impl has no form."""
    n, c, h, w = shape
    x1, y1, x2, y2 = central_box(h, w)
    x = d["prob"] if entry in ("dice", "bce") else d["logits"]
    if impl == "smp" and (smp is None or not entry.startswith("dice")):
        return None

    def select(section):
        """Returns sel(m) -> a function of x giving (x's selection) and the selected target."""
        if section == "box":
            return lambda x: x[:, :, y1:y2, x1:x2], lambda t: t[..., y1:y2, x1:x2]
        if section == "whole":
            return lambda x: x, lambda t: t
        return None

    if kind == "ce":
        labels = d["labels"]
        if entry == "dice_mc":
            def f(x):
                m = union_mask(d, shape)[:, 0] if section == "dets" else (
                    None if section == "whole" else section_mask(d, section)[:, 0])
                p = x.softmax(1)
                if section == "box":
                    p, y = p[:, :, y1:y2, x1:x2], labels[:, y1:y2, x1:x2]
                    p, y = p.permute(1, 0, 2, 3).reshape(c, -1), y.reshape(-1)
                elif m is None:
                    p, y = p.permute(1, 0, 2, 3).reshape(c, -1), labels.reshape(-1)
                else:
                    p, y = p.permute(1, 0, 2, 3)[:, m], labels[m]
                if impl == "smp":
                    loss = smp.losses.DiceLoss("multiclass", from_logits=False)
                    return loss(p.unsqueeze(0), y.unsqueeze(0))
                return dice_formula(p, F.one_hot(y, c).T.float())
            return x, f
        focal = entry == "softmax_focal"

        def f(x):
            if section == "box":
                xs, ys = x[:, :, y1:y2, x1:x2], labels[:, y1:y2, x1:x2]
            else:
                xs, ys = x, labels
            ce = F.cross_entropy(xs, ys, reduction="none", ignore_index=-100)
            fl = (1 - torch.exp(-ce)) ** 2 * ce if focal else ce
            if section in ("whole", "box"):
                return fl.mean()
            m = union_mask(d, shape)[:, 0] if section == "dets" else section_mask(d, section)[:, 0]
            if section == "maskpw":
                pw = d["pw"]
                return (fl[m] * pw[m]).sum() / pw[m].sum()
            return fl[m].mean()
        return x, f
    gt = d["target"]
    if entry in ("bce", "bce_logits"):  # dets
        fn = F.binary_cross_entropy if entry == "bce" else F.binary_cross_entropy_with_logits

        def f(x):
            m = union_mask(d, shape)
            m = m if c == 1 else m.expand(shape)
            return fn(x[m], gt[m])
        return x, f
    if entry == "sigmoid_focal":
        sfl = sigmoid_focal_loss or (lambda a, b, **kw: sigmoid_focal_formula(a, b))

        def f(x):
            sel = select(section)
            if sel:
                return sfl(sel[0](x), sel[1](gt), alpha=0.25, gamma=2.0, reduction="mean")
            m = union_mask(d, shape) if section == "dets" else section_mask(d, section)
            m = m if c == 1 else m.expand(shape)
            return sfl(x[m], gt[m], alpha=0.25, gamma=2.0, reduction="mean")
        return x, f
    # dice, dice_logits: per channel C x K selections
    def f(x):
        if section in ("whole", "box"):
            sel = select(section)
            xs, ts = sel[0](x), sel[1](gt)
            xs = xs.permute(1, 0, 2, 3).reshape(c, -1)
            ts = ts.permute(1, 0, 2, 3).reshape(c, -1)
        else:
            m = (union_mask(d, shape) if section == "dets" else section_mask(d, section))[:, 0]
            xs, ts = x.permute(1, 0, 2, 3)[:, m], gt.permute(1, 0, 2, 3)[:, m]
        if impl == "smp":
            loss = smp.losses.DiceLoss("multilabel", from_logits=entry == "dice_logits")
            return loss(xs.unsqueeze(0), ts.unsqueeze(0))
        p = xs.sigmoid() if entry == "dice_logits" else xs
        return dice_formula(p, ts)
    return x, f


def ohem_loss_fn(section, d, shape, compiled):
    """Cross-entropy over the pixels mmsegmentation's OHEMPixelSampler keeps (thresh form), the
    way users write it: p_t by softmax and gather, the (min_kept N)-th smallest p_t by a sort
    of the valid pixels (mmseg's sample(); eager) or by topk (the form torch.compile takes,
    with the valid count known beforehand), then F.cross_entropy with the other pixels ignored
    (MEAN over the kept ones, as sectionloss)."""
    n = shape[0]
    labels = d["labels"]
    valid = None if section == "whole" else section_mask(d, section)[:, 0]
    count = int(labels.numel() if valid is None else valid.sum())
    k = min(OHEM_MIN_KEPT * n, count - 1)

    def f(x):
        with torch.no_grad():
            pt = F.softmax(x, dim=1).gather(1, labels.unsqueeze(1)).squeeze(1)
            if compiled:
                key = pt if valid is None else torch.where(valid, pt, 2.0)
                kth = torch.topk(key.flatten(), k + 1, largest=False).values[-1]
            else:
                kth = (pt.flatten() if valid is None else pt[valid]).sort()[0][k]
            kept = pt < torch.clamp(kth, min=OHEM_THRESH)
            if valid is not None:
                kept &= valid
        return F.cross_entropy(x, torch.where(kept, labels, -100), ignore_index=-100)
    return d["logits"], f


def ce_prob_fn(section, d, shape, compiled=False):
    """PyTorch's forms of CE with class-probability targets (the docstring's ce_prob)."""
    n, c, h, w = shape
    x1, y1, x2, y2 = central_box(h, w)
    q = d["probs"]
    if section == "whole":
        return d["logits"], lambda x: F.cross_entropy(x, q)
    if section == "box":
        qb = q[:, :, y1:y2, x1:x2]
        return d["logits"], lambda x: F.cross_entropy(x[:, :, y1:y2, x1:x2], qb)
    m = (union_mask(d, shape) if section == "dets" else section_mask(
        d, "mask" if section == "maskpw" else section))[:, 0]
    if section == "maskpw":
        pw = d["pw"]
        return d["logits"], lambda x: (
            F.cross_entropy(x, q, reduction="none")[m] * pw[m]).sum() / pw[m].sum()
    if compiled:
        count = m.sum()
        return d["logits"], lambda x: torch.where(
            m, F.cross_entropy(x, q, reduction="none"), 0.0).sum() / count
    return d["logits"], lambda x: F.cross_entropy(x, q, reduction="none")[m].mean()


def torch_loss_fn(kind, entry, section, d, shape, compiled=False):
    """Returns (x, f): f(x) computes the loss the way a PyTorch user would (compiled: in the
    form torch.compile needs)."""
    if entry == "ce_ohem":
        return ohem_loss_fn(section, d, shape, compiled)
    if entry == "ce_prob":
        return ce_prob_fn(section, d, shape, compiled)
    if compiled and entry == "softmax_focal" and section in MASK_SECTIONS:
        labels, m = d["labels"], section_mask(d, section)[:, 0]
        count = m.sum()

        def focal(x):
            ce = F.cross_entropy(x, torch.where(m, labels, -100), reduction="none")
            return ((1 - torch.exp(-ce)) ** 2 * ce).sum() / count
        return d["logits"], focal
    if entry in NEW_ENTRIES or section in NEW_SECTIONS:
        return new_loss_fn(kind, entry, section, d, shape)
    n, c, h, w = shape
    x1, y1, x2, y2 = central_box(h, w)
    mask = section_mask(d, section)
    if kind == "ce":
        labels = d["labels"]
        x = d["logits"]
        if section == "whole":
            return x, lambda x: F.cross_entropy(x, labels)
        if section == "box":
            lab = labels[:, y1:y2, x1:x2]
            return x, lambda x: F.cross_entropy(x[:, :, y1:y2, x1:x2], lab)
        m = mask[:, 0]
        return x, lambda x: F.cross_entropy(x, torch.where(m, labels, -100), ignore_index=-100)
    gt = d["target"]
    if entry == "bce":
        x, fn = d["prob"], F.binary_cross_entropy
    else:
        x, fn = d["logits"], F.binary_cross_entropy_with_logits
    if section == "whole":
        return x, lambda x: fn(x, gt)
    if section == "box":
        return x, lambda x: fn(x[:, :, y1:y2, x1:x2], gt[:, :, y1:y2, x1:x2])
    m = mask if c == 1 else mask.expand(shape)
    if compiled:
        count = m.sum()
        return x, lambda x: torch.where(m, fn(x, gt, reduction="none"), 0.0).sum() / count
    return x, lambda x: fn(x[m], gt[m])


def sl_loss_fn(kind, entry, section, d, shape):
    """Returns (x, f): f(x) computes the loss with the sectionloss Python package, or None
    where it has no such function here (NEW_ENTRIES and NEW_SECTIONS but softmax_focal)."""
    if (entry in NEW_ENTRIES and entry != "softmax_focal") or section in NEW_SECTIONS:
        return None
    n, c, h, w = shape
    kw = {}
    if section == "box":
        kw["box"] = central_box(h, w)
    elif section in MASK_SECTIONS:
        kw["mask"] = section_mask(d, section)
    if entry == "softmax_focal":
        labels = d["labels"]
        return d["logits"], lambda x: sectionloss.softmax_focal_loss(x, labels, gamma=2.0, **kw)
    if entry == "ce_ohem":
        labels = d["labels"]
        return d["logits"], lambda x: sectionloss.cross_entropy(
            x, labels, ohem_thresh=OHEM_THRESH, ohem_min_kept=OHEM_MIN_KEPT, **kw)
    if entry == "ce_prob":
        q = d["probs"]
        return d["logits"], lambda x: sectionloss.cross_entropy(x, q, **kw)
    if kind == "ce":
        labels = d["labels"]
        return d["logits"], lambda x: sectionloss.cross_entropy(x, labels, **kw)
    gt = d["target"]
    if entry == "bce":
        return d["prob"], lambda x: sectionloss.binary_cross_entropy(x, gt, **kw)
    return d["logits"], lambda x: sectionloss.binary_cross_entropy_with_logits(x, gt, **kw)


def full_forms(entry, section):
    """1 when the case has a torch.compile form and a sectionloss Python form (every entry
    point but the eager-only NEW_ENTRIES; softmax_focal has both)."""
    return section not in NEW_SECTIONS and (entry not in NEW_ENTRIES or entry == "softmax_focal")


MIN_REPS = 5


def time_alternated(calls, min_time, min_reps=None):
    """Times the callables of calls ({name: f}) call by call in alternation, the order rotated
    on every repetition, so that all see the same stretch of a noisy machine. One warm-up call
    each (compilation included), then at least min_reps repetitions and about min_time seconds.
    Returns {name: (median, min, reps)}."""
    min_reps = MIN_REPS if min_reps is None else min_reps
    names = list(calls)
    est = 0.0
    for name in names:
        t0 = time.perf_counter()
        calls[name]()
        est += time.perf_counter() - t0
    reps = max(min_reps, math.ceil(min_time / max(est, 1e-7)))
    times = {name: [] for name in names}
    for i in range(reps):
        for j in range(len(names)):
            name = names[(i + j) % len(names)]
            a = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - a)
    return {name: (statistics.median(t), min(t), reps) for name, t in times.items()}


def mode_calls(x, f, modes):
    """({mode: callable}, loss): "fwd" under no_grad, "fused" forward + backward."""
    def fwd():
        with torch.no_grad():
            return f(x)

    xg = x.detach().clone().requires_grad_(True)

    def fwdbwd():
        xg.grad = None
        loss = f(xg)
        loss.backward()
        return loss

    calls = {m: {"fwd": fwd, "fused": fwdbwd}[m] for m in modes}
    return calls, calls[modes[0]]().item()


def run_sl(bench, case, entry, section, threads, directory, min_time, isa, quick,
           modes="fwd,fused", dtype="f32"):
    """sl-bench on the same data; (doc, {mode: result}), or (None, {}) for an entry point that
    this build of the library does not have (sigmoid_focal before 0.3)."""
    cmd = [bench, "--case", case, "--entry", entry, "--section", section, "--mode", modes,
           "--threads", str(threads), "--load", directory, "--json", "--min-time", str(min_time)]
    if quick:
        cmd.append("--quick")
    if dtype != "f32":
        cmd += ["--dtype", dtype]
    if isa:
        cmd += ["--isa", isa]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0 and "not in this build" in p.stderr:
        return None, {}
    if p.returncode != 0:
        raise subprocess.CalledProcessError(p.returncode, cmd, p.stdout, p.stderr)
    doc = json.loads(p.stdout)
    res = {r["mode"]: r for r in doc["results"]}
    return doc, res


def csv_row(impl, isa, threads, case, entry, section, mode, shape, med, mn, reps, loss,
            bytes_="", gbps="", roof=""):
    n, c, h, w = shape
    el = n * c * h * w
    return (f"{impl},{isa},{threads},{case},{entry},{section},{mode},{n},{c},{h},{w},{el},"
            f"{bytes_},{reps},{med:.9g},{mn:.9g},{el / med:.6g},{gbps},{roof},{loss:.9g}")


def combos(args):
    """(case, kind, shape, entry, section) in the order of the tables. A case may name its own
    entry points: "ce-8x21x512x512:ce+softmax_focal" (else --entries)."""
    for item in args.cases.split(","):
        case, _, own = item.partition(":")
        kind, shape = parse_case(case)
        for entry in (own.split("+") if own else args.entries.split(",")):
            if (entry in CE_ENTRIES) != (kind == "ce"):
                continue
            for section in args.sections.split(","):
                if section_fits(entry, section):
                    yield case, kind, shape, entry, section


DATA_FILES = {"mask": ("mask.u8", "u1"), "mask_rand50": ("mask_rand50.u8", "u1"),
              "mask_blobs": ("mask_blobs.u8", "u1"), "logits": ("logits.f32", "<f4"),
              "labels": ("labels.i64", "<i8"), "prob": ("prob.f32", "<f4"),
              "target": ("target.f32", "<f4"), "pw": ("pixel_weight.f32", "<f4"),
              "det_boxes": ("det_boxes.i32", "<i4"), "det_offsets": ("det_offsets.i64", "<i8"),
              "probs": ("probs.f32", "<f4")}


def write_data(d, directory, bench, case):
    """Writes a case's inputs in sl-bench's --load format; the rand50 and blobs masks are
    sl-bench's own (--save-masks), so one generator makes them for every program."""
    for key, (fname, _) in DATA_FILES.items():
        if os.path.exists(os.path.join(directory, fname)):
            os.remove(os.path.join(directory, fname))  # the previous case's
        if key in d:
            t = d[key].to(torch.uint8) if key == "mask" else d[key]
            t.contiguous().numpy().tofile(os.path.join(directory, fname))
    subprocess.run([bench, "--case", case, "--save-masks", directory], check=True)


DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}


def load_data(directory, kind, shape, elem="f32"):
    """The inputs write_data wrote (every implementation reads the very same data), read into
    ordinary memory as sl-bench --load reads them; elem bf16 / f16: logits, probabilities and
    targets rounded to it (nearest even, as sl-bench --dtype rounds them)."""
    n, c, h, w = shape
    shapes = {"mask": (n, 1, h, w), "mask_rand50": (n, 1, h, w), "mask_blobs": (n, 1, h, w),
              "logits": shape, "labels": (n, h, w), "prob": shape, "target": shape,
              "pw": (n, h, w), "det_boxes": (-1, 4), "det_offsets": (n + 1,), "probs": shape}
    d = {}
    for key, (fname, dtype) in DATA_FILES.items():
        path = os.path.join(directory, fname)
        if not os.path.exists(path):
            continue
        t = torch.from_numpy(numpy.fromfile(path, dtype=dtype)).view(shapes[key])
        d[key] = t.bool() if key.startswith("mask") else t
    for key in ("logits", "prob", "target"):
        if key in d and elem != "f32":
            d[key] = d[key].to(DTYPES[elem])
    return d


def child_impls(args):
    return ["torch"] + (["smp"] if smp is not None else []) + (
        ["compile"] if args.compile and HAS_COMPILE else []) + (
        ["sl-py"] if args.python and sectionloss is not None else [])


def child_fns(args, kind, shape, entry, section, d):
    """{impl: (x, f)} for every implementation this process has a form of."""
    fns = {}
    for impl in child_impls(args):
        if impl == "smp":
            xf = new_loss_fn(kind, entry, section, d, shape, impl="smp")
        elif impl == "sl-py":
            xf = sl_loss_fn(kind, entry, section, d, shape)
        elif impl == "compile":
            if not full_forms(entry, section):
                continue  # NEW_ENTRIES / NEW_SECTIONS: eager only
            x, f = torch_loss_fn(kind, entry, section, d, shape, compiled=True)
            xf = x, torch.compile(f, fullgraph=True, dynamic=False)
        else:
            xf = torch_loss_fn(kind, entry, section, d, shape)
        if xf is not None:
            fns[impl] = xf
    return fns


def child(args):
    """A worker holding one allocator (LD_PRELOAD is read at start): reads requests as JSON
    lines on stdin, {"load": DIR, "case": CASE} or {"case", "entry", "section", "threads"},
    and answers each with one JSON line: the second times PyTorch (eager, compiled) and the
    sectionloss Python path in alternation, all modes, and returns their medians. The compiled
    functions of the last request are kept (and compiled again for another thread count:
    Inductor fixes its OpenMP thread count when it compiles)."""
    proto = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stray prints (compilers, warnings) must not reach the protocol
    d, kind, shape, key, fns = None, None, None, None, {}
    for line in sys.stdin:
        req = json.loads(line)
        if "load" in req:
            kind, shape = parse_case(req["case"])
            d, key, fns = None, None, {}
            torch._dynamo.reset()
            d = load_data(req["load"], kind, shape, args.dtype)
            proto.write("{}\n")
            proto.flush()
            continue
        t = req["threads"]
        torch.set_num_threads(t)
        if key != (req["entry"], req["section"], t):
            key, fns = (req["entry"], req["section"], t), {}
            torch._dynamo.reset()
            fns = child_fns(args, kind, shape, req["entry"], req["section"], d)
        out = []
        calls, losses = {}, {}
        for impl, (x, f) in fns.items():
            mc, losses[impl] = mode_calls(x, f, args.mode_list)
            for mode, call in mc.items():
                calls[(impl, mode)] = call
        for mode in args.mode_list:
            timed = time_alternated({k: v for k, v in calls.items() if k[1] == mode},
                                    args.min_time)
            for (impl, _), (med, mn, reps) in timed.items():
                out.append(dict(impl=impl, threads=t, case=req["case"], entry=req["entry"],
                                section=req["section"], mode=mode, median_s=med, min_s=mn,
                                reps=reps, loss=losses[impl]))
        proto.write(json.dumps(out) + "\n")
        proto.flush()
    return 0


class Worker:
    """A child process (one allocator) that answers child()'s requests."""

    def __init__(self, args, allocator):
        env = dict(os.environ)
        if allocator == "jemalloc":
            env["LD_PRELOAD"] = " ".join(filter(None, [env.get("LD_PRELOAD", ""), JEMALLOC]))
            env["MALLOC_CONF"] = JEMALLOC_CONF
        cmd = [sys.executable, os.path.abspath(__file__), "--child", allocator] + args.argv
        self.allocator = allocator
        self.p = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)

    def ask(self, req):
        self.p.stdin.write(json.dumps(req) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"torch_compare: the {self.allocator} worker died "
                               f"(exit {self.p.wait()}) on {req}")
        return json.loads(line)

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def ms(v):
    return f"{v * 1e3:.2f}" if v is not None else "-"


NAMES = {"torch": "torch", "smp": "smp", "compile": "compile", "sl-py": "sl-py", "sl-C": "sl-C"}
SUFFIX = {"default": "", "jemalloc": "+je", "-": ""}
# ratio columns: A/B = median of A / median of B (A, B: implementation names with +je for the
# jemalloc runs); --side's default puts sectionloss against torch.compile and eager PyTorch
DEFAULT_RATIOS = "torch/sl-py,torch+je/sl-py+je,torch/sl-C,torch+je/sl-C"
SIDE_RATIOS = ("compile/sl-C,compile+je/sl-C,compile+je/sl-py+je,torch+je/sl-C,"
               "sl-py+je/sl-C")
SIDE_CASES = ("bce-16x1x512x512:bce+bce_logits,ce-8x21x512x512:ce+softmax_focal,"
              "ce-1x19x1024x2048:ce")


def measure_all(args, allocators):
    """Every combination, thread count and round: the allocator workers and sl-bench (on the
    same files) in an order rotated per round. Returns ({(impl, allocator, case, entry,
    section, threads, mode): result with the median over the rounds of the per-round medians},
    {(case, entry, section, threads): sl-bench's ISA})."""
    workers = [Worker(args, a) for a in allocators]
    want_probs = any(entry == "ce_prob" for _, _, _, entry, _ in combos(args))
    rounds = {}
    sl_isa = {}
    try:
        with tempfile.TemporaryDirectory(prefix="sl-torch-") as tmp:
            written = None
            for case, kind, shape, entry, section in combos(args):
                if written != case:
                    write_data(make_data(kind, shape, probs=want_probs), tmp, args.bench, case)
                    for w in workers:
                        w.ask({"load": tmp, "case": case})
                    written = case
                for t in args.thread_list:
                    parts = workers + ([None] if not args.no_lib else [])
                    for r in range(args.rounds):
                        tty = sys.stderr.isatty()
                        print(f"{chr(13) + chr(27) + '[K' if tty else '# '}{case} {entry} "
                              f"{section} {t} thread(s), round {r + 1}/{args.rounds}"
                              f"{'...' if tty else ''}", end="" if tty else "\n",
                              file=sys.stderr, flush=True)
                        for i in range(len(parts)):
                            w = parts[(r + i) % len(parts)]
                            if w is not None:
                                for x in w.ask(dict(case=case, entry=entry, section=section,
                                                    threads=t)):
                                    rounds.setdefault((x["impl"], w.allocator, case, entry,
                                                       section, t, x["mode"]), []).append(x)
                                continue
                            doc, res = run_sl(args.bench, case, entry, section, t, tmp,
                                              args.min_time, args.isa, args.quick, args.modes,
                                              args.dtype)
                            if doc is None:
                                continue
                            sl_isa[(case, entry, section, t)] = doc["isa"]
                            for mode in args.mode_list:
                                rounds.setdefault(("sl-C", "-", case, entry, section, t, mode),
                                                  []).append(res[mode])
    finally:
        for w in workers:
            w.close()
        if sys.stderr.isatty():
            print("\r\033[K", end="", file=sys.stderr, flush=True)
    res = {}
    for k, rs in rounds.items():
        r = dict(rs[-1])
        r["median_s"] = statistics.median(x["median_s"] for x in rs)
        r["min_s"] = min(x["min_s"] for x in rs)
        r["reps"] = sum(x["reps"] for x in rs)
        r["rounds"] = len(rs)
        res[k] = r
    return res, sl_isa


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default="build/sl-bench")
    ap.add_argument("--cases", default=DEFAULT_CASES,
                    help="comma-separated; CASE:E1+E2 times only entry points E1, E2 on CASE")
    ap.add_argument("--sections", default="box,mask")
    ap.add_argument("--entries", default="bce,bce_logits,ce")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--modes", default="fwd,fused",
                    help="fwd (no_grad), fused (forward + backward), comma-separated")
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--rounds", type=int, default=1,
                    help="rounds per case, section and thread count, implementations and "
                    "processes alternated; each cell is the median of the rounds' medians")
    ap.add_argument("--ratios", default="",
                    help=f"ratio columns A/B, comma-separated (default {DEFAULT_RATIOS}; "
                    f"--side: {SIDE_RATIOS})")
    ap.add_argument("--side", action="store_true",
                    help="side by side: unless given, --cases the big fused cases, "
                    "--sections mask,rand50,whole, --modes fused, --rounds 3, --ratios "
                    "sectionloss against torch.compile")
    ap.add_argument("--isa", default="", help="sl-bench --isa (default: the active ISA)")
    ap.add_argument("--csv", default="", help="also write every timing as CSV to this file")
    ap.add_argument("--no-lib", action="store_true", help="time PyTorch only (for plots)")
    ap.add_argument("--allocators", default="default,jemalloc",
                    help="PyTorch / Python-path runs: default (glibc), jemalloc (retaining)")
    ap.add_argument("--no-compile", dest="compile", action="store_false",
                    help="skip torch.compile (PyTorch 2.x)")
    ap.add_argument("--no-python", dest="python", action="store_false",
                    help="skip the sectionloss Python path")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2 timed calls each, sl-bench --quick (timings meaningless)")
    ap.add_argument("--dtype", default="f32", choices=sorted(DTYPES),
                    help="logits, probabilities and targets in this dtype (bf16, f16: PyTorch "
                         "on those tensors, sl-bench --dtype; losses compared within 5e-2)")
    ap.add_argument("--child", default="", help=argparse.SUPPRESS)
    argv = [a for a in sys.argv[1:]]
    given = {a.split("=")[0] for a in argv if a.startswith("--")}
    args = ap.parse_args()
    if args.side:
        for opt, value in (("cases", SIDE_CASES), ("sections", "mask,rand50,whole"),
                           ("modes", "fused"), ("rounds", 3), ("ratios", SIDE_RATIOS)):
            if "--" + opt not in given:
                setattr(args, opt, value)
    args.ratios = args.ratios or DEFAULT_RATIOS
    args.argv = argv
    args.thread_list = [int(t) for t in args.threads.split(",")]
    args.mode_list = args.modes.split(",")
    args.modes = ",".join(args.mode_list)

    global MIN_REPS
    if args.quick:
        MIN_REPS, args.min_time = 2, 0.0
    if args.no_lib:
        args.python = False
    if args.child:
        return child(args)

    allocators = args.allocators.split(",")
    if "jemalloc" in allocators and not os.path.exists(JEMALLOC):
        print(f"# {JEMALLOC} not found (Debian libjemalloc2): jemalloc runs skipped",
              file=sys.stderr)
        allocators.remove("jemalloc")
    res, sl_doc = measure_all(args, allocators)
    impls = sorted({k[0] for k in res if k[0] != "sl-C"},
                   key=["torch", "smp", "compile", "sl-py"].index)
    cols = [(i, a) for i in impls for a in allocators] + ([("sl-C", "-")] if sl_doc else [])
    label = {(i, a): NAMES[i] + SUFFIX[a] for i, a in cols}
    by_label = {v: k for k, v in label.items()}
    ratios = [r.split("/") for r in args.ratios.split(",")]
    ratios = [(a, b) for a, b in ratios if a in by_label and b in by_label]
    # the 10x target (focal, Dice): the smaller of eager PyTorch / sl-C over the allocators
    min_of = [(a, b) for a, b in ratios if b == "sl-C" and a in ("torch", "torch+je")]
    py_over = ("sl-py", "default") in label and ("sl-C", "-") in label
    print(f"# dtype {args.dtype}; PyTorch {torch.__version__}, sectionloss "
          f"{sectionloss.__version__ + ' (Python package)' if 'sl-py' in impls else ''}"
          f"{' + ' + args.bench if sl_doc else ''}; medians in ms"
          f"{f' (median of {args.rounds} alternated rounds)' if args.rounds > 1 else ''}; "
          f"+je = jemalloc retain (LD_PRELOAD {JEMALLOC}, MALLOC_CONF={JEMALLOC_CONF})")
    csv_lines = [CSV_HEADER]
    failures = 0
    # float32: the implementations agree with eager PyTorch to 1e-5. bf16 / f16: eager PyTorch
    # accumulates CE in the input's dtype (bf16 CE 8x21x512x512: 4.96875 where the float32 value
    # of the same inputs is 4.887; under the mask, 0.5625), so the reference is torch.compile's
    # loss (Inductor accumulates in float32; the loss itself rounded to the input's dtype: 2^-8
    # relative for bf16), eager's where there is no compiled form, and eager's own loss is shown
    # beside the check, not checked
    loss_rel = 1e-5 if args.dtype == "f32" else 1e-2
    ref_impl = "torch" if args.dtype == "f32" else "compile"
    for mode, title in (("fwd", "forward (no_grad)"), ("fused", "forward + backward")):
        if mode not in args.mode_list:
            continue
        print(f"\n## {title}")
        head = " ".join(f"{label[c]:>11}" for c in cols)
        extra = "".join(f"  {a + '/' + b:>{max(len(a + b) + 1, 6)}}" for a, b in ratios)
        if len(min_of) > 1:
            extra += f"  {'min':>6}"
        if py_over:
            extra += "  py overhead"
        print(f"{'case':20} {'entry':13} {'section':7} {'thr':>3} {head}{extra}  loss check")
        for case, kind, shape, entry, section in combos(args):
            for t in args.thread_list:
                key = (case, entry, section, t, mode)
                vals = [res.get(c + key) for c in cols]
                cells = " ".join(f"{ms(v['median_s'] if v else None):>11}" for v in vals)
                line = f"{case:20} {entry:13} {section:7} {t:3d} {cells}"

                def med(lab):
                    v = res.get(by_label[lab] + key)
                    return v["median_s"] if v else None

                rs = {}
                for a, b in ratios:
                    w = max(len(a + b) + 1, 6)
                    rs[(a, b)] = med(a) / med(b) if med(a) and med(b) else None
                    line += f"  {rs[(a, b)]:{w - 1}.2f}x" if rs[(a, b)] else f"  {'-':>{w}}"
                if len(min_of) > 1:
                    m = [rs[r] for r in min_of]
                    line += f"  {min(m):5.1f}x" if all(m) else f"  {'-':>6}"
                if py_over:
                    if med("sl-py") and med("sl-C"):
                        line += f"  {(med('sl-py') - med('sl-C')) * 1e3:+9.3f}ms"
                    else:
                        line += f"  {'-':>11}"
                ref = (res.get((ref_impl, allocators[0]) + key)
                       or res[("torch", allocators[0]) + key])["loss"]
                unchecked = ref_impl != "torch" and (ref_impl, allocators[0]) + key in res
                bad = [label[c] for c, v in zip(cols, vals)
                       if v and abs(v["loss"] - ref) > loss_rel * abs(ref)
                       and not (unchecked and c[0] == "torch")]
                failures += bool(bad)
                eager = res.get(("torch", allocators[0]) + key)
                note = f", eager {eager['loss']:.7g}" if unchecked and eager else ""
                print(f"{line}  {'ok' if not bad else 'MISMATCH: ' + ','.join(bad)}"
                      f" (loss {ref:.7g}{note})", flush=True)
                for (i, a), v in zip(cols, vals):
                    if v is None:
                        continue
                    impl = {"torch": "torch", "smp": "smp", "compile": "torch-compile",
                            "sl-py": "sectionloss-python", "sl-C": "sectionloss"}[i]
                    if a == "jemalloc":
                        impl += "-jemalloc"
                    # isa column: the ISA for the C library (sl-bench), else the
                    # implementation's name ("torch" is eager PyTorch with the default
                    # allocator): plots select their series by this column.
                    if i == "sl-C":
                        isa = sl_doc[(case, entry, section, t)]
                        csv_lines.append(csv_row(impl, isa, t, case, entry, section, mode, shape,
                                                 v["median_s"], v["min_s"], v["reps"], v["loss"],
                                                 f"{v['bytes']:.0f}", f"{v['gb_per_s']:.4g}",
                                                 f"{v['roof_pct']:.2f}"))
                    else:
                        csv_lines.append(csv_row(impl, impl, t, case, entry, section,
                                                 mode, shape, v["median_s"], v["min_s"],
                                                 v["reps"], v["loss"]))
    print("\nA/B = median of A / median of B, same run"
          + ("; py overhead = sl-py (default allocator) - sl-C: what the Python path adds to "
             "the C call (checks, dispatch, output allocation and its page faults, autograd)"
             if py_over else ""))
    if args.csv:
        with open(args.csv, "w") as fh:
            fh.write("\n".join(csv_lines) + "\n")
    if failures:
        print(f"torch_compare: {failures} loss mismatch(es) beyond relative {loss_rel:g}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
