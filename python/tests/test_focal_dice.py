# SPDX-License-Identifier: MIT
"""The 0.2 and 0.3 losses against the PyTorch forms users write, evaluated in float64 on the
same (float32) data (conftest): the softmax focal loss (`(1 - p_t)**gamma * ce`, class and
pixel weights as the C header documents), pixel-weighted cross-entropy, Dice / Tversky
(segmentation_models_pytorch's formulas written out over the selected elements), many boxes
per sample (the union) and the per-box statistics, the sigmoid focal loss against
torchvision.ops.sigmoid_focal_loss on x[sel] (its formula written out when torchvision is not
installed); losses and gradients through .backward().
"""
import pytest
import torch
import torch.nn.functional as F

import sectionloss as sl
from conftest import assert_close_grad, assert_close_loss, double, random_section

CASES = range(12)


def _shape(rng, min_c=1):
    return rng.randint(1, 3), rng.randint(min_c, 4), rng.randint(1, 9), rng.randint(1, 11)


def _random_boxes(rng, n, h, w, max_k=3):
    """A list of N per-sample box tensors [k_n, 4] (k_n may be 0) and their union [N, H, W]."""
    boxes, union = [], torch.zeros((n, h, w), dtype=torch.bool)
    for i in range(n):
        rows = []
        for _ in range(rng.randint(0, max_k)):
            x1, x2 = sorted(rng.randint(0, w) for _ in range(2))
            y1, y2 = sorted(rng.randint(0, h) for _ in range(2))
            rows.append((x1, y1, x2, y2))
            union[i, y1:y2, x1:x2] = True
        boxes.append(torch.tensor(rows, dtype=torch.int64).reshape(len(rows), 4))
    return boxes, union


def _section(rng, n, c, h, w, allow_per_channel):
    """random_section's forms, or (a third of the time) several boxes per sample instead."""
    box, mask, sel = random_section(rng, n, c, h, w, allow_per_channel)
    if rng.random() < 1 / 3:
        box, union = _random_boxes(rng, n, h, w)
        sel = union.unsqueeze(1).expand(n, c, h, w).clone()
        if mask is not None:
            m = mask.bool()
            sel &= (m.unsqueeze(1) if m.dim() == 3 else m).expand(n, c, h, w)
    return box, mask, sel


def _backward_check(rng, ours_fn, ref_fn, x, sel_grad):
    """Loss and gradient of ours_fn(x) against ref_fn(x in float64); the gradient is 0 outside
    sel_grad."""
    xo = x.clone().requires_grad_(True)
    xr = x.double().requires_grad_(True)
    lo, lr = ours_fn(xo), ref_fn(xr)
    assert lo.shape == lr.shape and lo.dtype == torch.float32
    if lo.dim() == 0 and not sel_grad.any() and torch.isnan(lr):
        # MEAN over an empty selection: 0 here, NaN in PyTorch (a documented difference)
        lo.backward()
        assert lo.item() == 0.0 and (xo.grad == 0).all()
        return
    assert_close_loss(lo, lr)
    g = torch.Generator().manual_seed(rng.randint(0, 999))
    up = torch.tensor(rng.choice([1.0, -1.7])) if lo.dim() == 0 else torch.randn(lo.shape,
                                                                                 generator=g)
    (lo * up).sum().backward()
    if lr.requires_grad:
        (lr * up.double()).sum().backward()
        if lo.dim() == 0 and lr.item() == 0.0 and torch.isnan(xr.grad).any():
            # Tversky gamma < 1 at a loss of 0: PyTorch's d(M**gamma)/dM is inf there, times
            # 0 gives NaN; the library gives 0
            assert (xo.grad == 0).all()
        else:
            assert_close_grad(xo.grad, xr.grad)
    else:  # an empty selection: no reference graph at all
        assert (xo.grad == 0).all()
    assert (xo.grad[~sel_grad] == 0).all()


def _labels(rng, g, n, c, h, w):
    labels = torch.randint(0, c, (n, h, w), generator=g)
    ignore_index = rng.choice([-100, rng.randrange(c)])
    if ignore_index == -100 and rng.random() < 0.5:
        labels[torch.rand((n, h, w), generator=g) < 0.2] = -100
    return labels, ignore_index


def _weighted_reference(per_pixel, labels, counted, weight, pixel_weight, reduction):
    """per_pixel: the unweighted per-pixel loss [N, H, W] (float64). Class weight w_t times
    pixel weight at the counted pixels; MEAN divides by the sum of w_t x pixel weight there."""
    safe = torch.where(counted, labels, 0)
    scale = torch.ones(per_pixel.shape, dtype=torch.float64)
    if weight is not None:
        scale = scale * weight.double()[safe]
    if pixel_weight is not None:
        scale = scale * pixel_weight.double()
    scale = torch.where(counted, scale, torch.zeros((), dtype=torch.float64))
    loss = per_pixel * scale
    if reduction == "none":
        return torch.where(counted, loss, torch.zeros((), dtype=torch.float64))
    if reduction == "sum":
        return loss[counted].sum()
    return loss[counted].sum() / scale[counted].sum()


@pytest.mark.parametrize("case", CASES)
def test_softmax_focal(rng, case):
    n, c, h, w = _shape(rng, 2)
    g = torch.Generator().manual_seed(100 + case)
    x = torch.randn((n, c, h, w), generator=g) * 2
    labels, ignore_index = _labels(rng, g, n, c, h, w)
    box, mask, sel = _section(rng, n, 1, h, w, False)
    counted = sel[:, 0] & (labels != ignore_index)
    weight = rng.choice([None, torch.rand(c, generator=g) + 0.2])
    pixel_weight = rng.choice([None, torch.rand((n, h, w), generator=g) * 2])
    gamma = rng.choice([0.0, 0.5, 2.0, 3.5])
    reduction = rng.choice(["mean", "sum", "none"])
    target = labels.to(rng.choice([torch.int64, torch.int32]))

    def ref(x):
        ce = F.cross_entropy(x, torch.where(counted, labels, ignore_index),
                             ignore_index=ignore_index, reduction="none")
        p_t = torch.exp(-ce)
        return _weighted_reference((1 - p_t) ** gamma * ce, labels, counted, weight,
                                   pixel_weight, reduction)

    _backward_check(
        rng,
        lambda x: sl.softmax_focal_loss(x, target, box=box, mask=mask, weight=weight,
                                        pixel_weight=pixel_weight, gamma=gamma,
                                        ignore_index=ignore_index, reduction=reduction,
                                        num_threads=rng.choice([None, 1, 2])),
        ref, x, counted.unsqueeze(1).expand(n, c, h, w))


def test_softmax_focal_gamma_0_is_cross_entropy():
    g = torch.Generator().manual_seed(7)
    x, t = torch.randn((2, 5, 6, 7), generator=g), torch.randint(0, 5, (2, 6, 7), generator=g)
    w, pw = torch.rand(5, generator=g) + 0.5, torch.rand((2, 6, 7), generator=g)
    for reduction in ("mean", "sum", "none"):
        kw = dict(box=(1, 1, 6, 5), weight=w, pixel_weight=pw, reduction=reduction)
        assert_close_loss(sl.softmax_focal_loss(x, t, gamma=0.0, **kw),
                          sl.cross_entropy(x, t, **kw))


@pytest.mark.parametrize("case", range(8))
def test_cross_entropy_pixel_weight(rng, case):
    n, c, h, w = _shape(rng, 2)
    g = torch.Generator().manual_seed(200 + case)
    x = torch.randn((n, c, h, w), generator=g) * 2
    labels, ignore_index = _labels(rng, g, n, c, h, w)
    box, mask, sel = _section(rng, n, 1, h, w, False)
    counted = sel[:, 0] & (labels != ignore_index)
    weight = rng.choice([None, torch.rand(c, generator=g) + 0.2])
    pw_map = torch.rand((n, h, w), generator=g) * 3
    pixel_weight = rng.choice([pw_map, pw_map.unsqueeze(1)])  # [N, H, W] or [N, 1, H, W]
    smoothing = rng.choice([0.0, 0.0, 0.2])
    reduction = rng.choice(["mean", "sum", "none"])

    def ref(x):
        # (F.cross_entropy(..., reduction="none") * map).sum() / (map * weight[target]).sum()
        # over the counted pixels
        ce = F.cross_entropy(x, torch.where(counted, labels, ignore_index), weight=double(weight),
                             ignore_index=ignore_index, label_smoothing=smoothing,
                             reduction="none")
        m = torch.where(counted, pw_map.double(), torch.zeros((), dtype=torch.float64))
        if reduction == "none":
            return ce * m
        if reduction == "sum":
            return (ce * m).sum()
        wt = torch.ones((n, h, w), dtype=torch.float64) if weight is None else \
            weight.double()[torch.where(counted, labels, 0)]
        return (ce * m).sum() / (m * wt).sum()

    _backward_check(
        rng,
        lambda x: sl.cross_entropy(x, labels, box=box, mask=mask, weight=weight,
                                   pixel_weight=pixel_weight, ignore_index=ignore_index,
                                   label_smoothing=smoothing, reduction=reduction),
        ref, x, counted.unsqueeze(1).expand(n, c, h, w))


# ---- Dice / Tversky --------------------------------------------------------------------------
def smp_reference(p, t, sel, *, tversky=False, alpha=0.5, beta=0.5, gamma=1.0, smooth=0.0,
                  eps=1e-7, log_loss=False, reduction="mean", smp="0.5", l1=False):
    """segmentation_models_pytorch's soft_dice_score / soft_tversky_score and DiceLoss /
    TverskyLoss over the selected elements: p, t float64 N x C x H x W, sel bool. smp "0.5"
    (0.5 and 0.6): Dice is Tversky with alpha = beta = 0.5; "0.4" (0.3, 0.4): Dice
    (2 I + smooth) / max(P + T + smooth, eps). l1: smp 0.5+'s intersection
    (P + T - sum |p - t|) / 2 (equal to sum p t for targets 0 or 1), as smp writes it (its
    autograd: d I / d p = [p < t] + [p == t] / 2); otherwise sum p t (smp 0.3-0.4)."""
    s = sel.to(p.dtype)
    dims = (0, 2, 3)
    if l1:
        intersection = ((p * s).sum(dims) + (t * s).sum(dims)
                        - torch.linalg.vector_norm((p - t) * s, ord=1, dim=dims)) / 2
    else:
        intersection = (p * t * s).sum(dims)
    if not tversky and smp == "0.5":
        tversky, alpha, beta = True, 0.5, 0.5
    if tversky:
        fp = (p * s).sum(dims) - intersection
        fn = (t * s).sum(dims) - intersection
        score = (intersection + smooth) / (intersection + alpha * fp + beta * fn
                                           + smooth).clamp_min(eps)
    else:
        cardinality = ((p + t) * s).sum(dims)
        score = (2.0 * intersection + smooth) / (cardinality + smooth).clamp_min(eps)
    loss = -torch.log(score.clamp_min(eps)) if log_loss else 1.0 - score
    loss = loss * ((t * s).sum(dims) > 0).to(loss.dtype)
    if reduction == "none":
        return loss
    return (loss.mean() if reduction == "mean" else loss.sum()) ** gamma


def _dice_options(rng, tversky):
    opts = dict(smooth=rng.choice([0.0, 0.0, 1.0]), log_loss=rng.random() < 0.3,
                reduction=rng.choice(["mean", "sum", "none"]))
    if rng.random() < 0.3:
        opts["eps"] = rng.choice([1e-7, 0.5])
    if tversky:
        opts.update(alpha=rng.choice([0.5, 0.3, 1.0]), beta=rng.choice([0.5, 0.7, 0.0]),
                    gamma=rng.choice([1.0, 0.75, 2.0]))
    return opts


@pytest.mark.parametrize("tversky", [False, True])
@pytest.mark.parametrize("case", range(8))
def test_dice_binary_multilabel(rng, case, tversky):
    n, c, h, w = _shape(rng)
    mode = "binary" if c == 1 and rng.random() < 0.7 else "multilabel"
    g = torch.Generator().manual_seed(300 + case)
    x = torch.randn((n, c, h, w), generator=g) * 2
    t = (torch.rand((n, c, h, w), generator=g) < 0.4).float()
    soft = rng.random() < 0.3
    if soft:
        t = torch.rand((n, c, h, w), generator=g)  # soft targets
    smp = rng.choice(["0.5", "0.4"]) if not tversky else "0.5"
    form = {} if tversky else {"smp_form": smp}
    box, mask, sel = _section(rng, n, c, h, w, True)
    from_logits = rng.random() < 0.7
    opts = _dice_options(rng, tversky)
    ignore_index = rng.choice([None, -100])  # no target is -100: nothing left out
    if rng.random() < 0.3:  # smp: elements whose target is ignore_index leave the sums
        ignore_index = -1
        t[torch.rand((n, c, h, w), generator=g) < 0.2] = -1.0
        sel = sel & (t != -1)
    if not from_logits:
        x = torch.sigmoid(x)
    fn = sl.tversky_loss if tversky else sl.dice_loss

    def ref(x):
        p = torch.sigmoid(x) if from_logits else x
        tt = torch.where(sel, t.double(), torch.zeros((), dtype=torch.float64))
        # smp 0.5+'s L1 intersection (Tversky, Dice "0.5"), sum p t for the 0.4 Dice
        return smp_reference(p, tt, sel, tversky=tversky, smp=smp,
                             l1=tversky or smp == "0.5", **opts)

    _backward_check(
        rng,
        lambda x: fn(x, t, box=box, mask=mask, mode=mode, from_logits=from_logits,
                     ignore_index=ignore_index, num_threads=rng.choice([None, 1]), **form,
                     **opts),
        ref, x, sel)


@pytest.mark.parametrize("tversky", [False, True])
@pytest.mark.parametrize("case", range(8))
def test_dice_multiclass(rng, case, tversky):
    n, c, h, w = _shape(rng, 2)
    g = torch.Generator().manual_seed(400 + case)
    x = torch.randn((n, c, h, w), generator=g) * 2
    labels, ignore_index = _labels(rng, g, n, c, h, w)
    box, mask, sel = _section(rng, n, 1, h, w, False)
    counted = sel[:, 0] & (labels != ignore_index)
    opts = _dice_options(rng, tversky)
    fn = sl.tversky_loss if tversky else sl.dice_loss

    def ref(x):
        p = x.softmax(dim=1)
        onehot = F.one_hot(torch.where(counted, labels, 0), c).permute(0, 3, 1, 2).double()
        return smp_reference(p, onehot, counted.unsqueeze(1).expand(n, c, h, w),
                             tversky=tversky, l1=True, **opts)

    _backward_check(
        rng,
        lambda x: fn(x, labels.to(rng.choice([torch.int64, torch.uint8])) if ignore_index >= 0
                     else labels, box=box, mask=mask, mode="multiclass",
                     ignore_index=ignore_index, **opts),
        ref, x, counted.unsqueeze(1).expand(n, c, h, w))


def test_dice_is_smp_05_by_default_and_smp_04_by_name():
    # a worked example: logits [2, -1, 0.5, -3], target [1, 0, 1, 0], smooth 1
    x = torch.tensor([[[[2.0, -1.0, 0.5, -3.0]]]], dtype=torch.float64)
    t = torch.tensor([[[[1.0, 0.0, 1.0, 0.0]]]], dtype=torch.float64)
    sel = torch.ones_like(t, dtype=torch.bool)
    new = smp_reference(torch.sigmoid(x), t, sel, smooth=1.0, l1=True)
    old = smp_reference(torch.sigmoid(x), t, sel, smooth=1.0, smp="0.4")
    assert abs(new.item() - old.item()) > 0.02  # the two forms differ here
    assert_close_loss(sl.dice_loss(x, t, smooth=1.0), new)
    assert_close_loss(sl.DiceLoss(smooth=1.0)(x, t), new)
    assert_close_loss(sl.dice_loss(x, t, smooth=1.0, smp_form="0.4"), old)
    assert_close_loss(sl.DiceLoss(smooth=1.0, smp_form="0.4")(x, t), old)
    with pytest.raises(ValueError, match="smp_form='0.6'"):
        sl.dice_loss(x, t, smp_form="0.6")


@pytest.mark.parametrize("fn", ["dice", "tversky"])
def test_soft_targets_take_smp_05s_l1_intersection_and_its_gradient(fn):
    # smp 0.5+'s soft_tversky_score: I = (P + T - ||p - t||_1) / 2 = sum min(p, t), and the
    # gradient of PyTorch's autograd through it: d I / d p = [p < t] + [p == t] / 2 (sign(0) =
    # 0). Probabilities with some targets equal to p (both 0, both 1, and in between).
    g = torch.Generator().manual_seed(2105)
    p = torch.rand((2, 3, 4, 5), generator=g)
    t = torch.rand((2, 3, 4, 5), generator=g)
    tie = torch.rand((2, 3, 4, 5), generator=g) < 0.3
    t = torch.where(tie, p, t)
    p[0, 0, 0, :2], t[0, 0, 0, :2] = 0.0, 0.0
    p[1, 2, 3, :2], t[1, 2, 3, :2] = 1.0, 1.0
    kw = dict(mode="multilabel", from_logits=False, smooth=0.5)
    if fn == "tversky":
        kw.update(alpha=0.3, beta=0.8, gamma=1.5)
    call = sl.dice_loss if fn == "dice" else sl.tversky_loss
    x = p.clone().requires_grad_(True)
    call(x, t, **kw).backward()
    xr = p.double().requires_grad_(True)
    opts = {k: v for k, v in kw.items() if k in ("smooth", "alpha", "beta", "gamma")}
    want = smp_reference(xr, t.double(), torch.ones_like(t, dtype=torch.bool),
                         tversky=fn == "tversky", l1=True, **opts)
    want.backward()
    assert_close_loss(call(p, t, **kw), want)
    assert_close_grad(x.grad, xr.grad)
    # the sum p t form differs here (the test would not tell them apart otherwise)
    old = smp_reference(p.double(), t.double(), torch.ones_like(t, dtype=torch.bool),
                        tversky=fn == "tversky", l1=False, **opts)
    assert abs(old.item() - want.item()) > 1e-3


@pytest.mark.parametrize("mode", ["binary", "multilabel", "multiclass"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_tversky_gamma_below_one_at_zero_loss_has_zero_gradient(mode, reduction):
    # (loss)**gamma, gamma < 1, at a loss of exactly 0 gave NaN gradients
    if mode == "binary":
        x = torch.tensor([[[[0.3, -1.2, 2.0, 0.7]]]], requires_grad=True)
        t, kw = torch.zeros(1, 1, 1, 4), dict(gamma=0.5)
    elif mode == "multilabel":
        x = torch.randn(2, 3, 4, 5, requires_grad=True)
        t, kw = torch.zeros(2, 3, 4, 5), dict(gamma=0.75)
    else:  # a perfect score whatever p: alpha = beta = 0
        x = torch.randn(2, 3, 4, 5, requires_grad=True)
        t, kw = torch.randint(0, 3, (2, 4, 5)), dict(gamma=0.5, alpha=0.0, beta=0.0)
    loss = sl.tversky_loss(x, t, mode=mode, reduction=reduction, **kw)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_dice_stats_and_modules():
    g = torch.Generator().manual_seed(21)
    x, t = torch.randn((2, 3, 5, 6), generator=g), torch.randint(0, 3, (2, 5, 6), generator=g)
    m = torch.rand((2, 1, 5, 6), generator=g) < 0.7
    per_class, stats = sl.dice_loss(x, t, mode="multiclass", mask=m, reduction="none",
                                    return_stats=True)
    # count: the selected pixels (multiclass), the selected elements (binary / multilabel)
    assert stats[1].item() == 3 and stats[2].item() == int(m.sum())
    assert abs(stats[0].item() - per_class.sum().item()) <= 1e-6
    y = (t == 1).float().unsqueeze(1).expand(2, 3, 5, 6)
    stats = sl.dice_loss(x, y, mode="multilabel", mask=m, return_stats=True)[1]
    assert stats[1].item() == 3 and stats[2].item() == 3 * int(m.sum())
    kw = dict(mode="multiclass", log_loss=True, smooth=0.5, ignore_index=1)
    assert torch.equal(sl.DiceLoss(**kw)(x, t, mask=m), sl.dice_loss(x, t, mask=m, **kw))
    tv = sl.TverskyLoss(alpha=0.2, beta=0.8, gamma=1.5, **kw)
    assert torch.equal(tv(x, t, box=(1, 0, 5, 4)),
                       sl.tversky_loss(x, t, box=(1, 0, 5, 4), alpha=0.2, beta=0.8, gamma=1.5,
                                       **kw))
    # alpha = beta = 1/2, gamma 1: Tversky is Dice
    assert_close_loss(sl.tversky_loss(x, t, mode="multiclass"),
                      sl.dice_loss(x, t, mode="multiclass"))
    w, pw = torch.rand(3, generator=g) + 0.5, torch.rand((2, 5, 6), generator=g)
    mod = sl.SoftmaxFocalLoss(weight=w, gamma=1.5, ignore_index=2, reduction="sum")
    assert torch.equal(mod(x, t, mask=m, pixel_weight=pw),
                       sl.softmax_focal_loss(x, t, mask=m, weight=w, pixel_weight=pw, gamma=1.5,
                                             ignore_index=2, reduction="sum"))
    assert "weight" in dict(mod.named_buffers())
    assert torch.equal(sl.CrossEntropyLoss(weight=w)(x, t, pixel_weight=pw),
                       sl.cross_entropy(x, t, weight=w, pixel_weight=pw))


# ---- many boxes per sample -------------------------------------------------------------------
def test_many_boxes_are_the_union_and_box_stats_count_each_box():
    g = torch.Generator().manual_seed(31)
    n, c, h, w = 3, 4, 9, 11
    x, t = torch.randn((n, c, h, w), generator=g), torch.randint(0, c, (n, h, w), generator=g)
    t[0, 2, 3] = -100
    pw = torch.rand((n, h, w), generator=g) + 0.5
    weight = torch.rand(c, generator=g) + 0.5
    # overlapping boxes in sample 0, none in sample 1, one in sample 2
    per_sample = [torch.tensor([[0, 0, 5, 4], [3, 2, 9, 7], [3, 2, 4, 3]]),
                  torch.zeros((0, 4), dtype=torch.int64), [(2, 1, 11, 9)]]
    flat = torch.tensor([[0, 0, 5, 4], [3, 2, 9, 7], [3, 2, 4, 3], [2, 1, 11, 9]])
    offsets = torch.tensor([0, 3, 3, 4])
    union = torch.zeros((n, h, w), dtype=torch.bool)
    for i, (x1, y1, x2, y2) in zip([0, 0, 0, 2], flat.tolist()):
        union[i, y1:y2, x1:x2] = True
    for fn, kw in ((sl.cross_entropy, dict(weight=weight, pixel_weight=pw)),
                   (sl.softmax_focal_loss, dict(weight=weight, pixel_weight=pw, gamma=1.5))):
        loss, stats, box_stats = fn(x, t, box=per_sample, return_stats=True,
                                    return_box_stats=True, **kw)
        # the same as a mask holding the union (each pixel once)
        want, want_stats = fn(x, t, mask=union, return_stats=True, **kw)
        assert_close_loss(loss, want)
        torch.testing.assert_close(stats, want_stats, rtol=1e-12, atol=0)
        same = fn(x, t, box=flat, box_offsets=offsets, return_box_stats=True, **kw)
        assert torch.equal(same[0], loss) and torch.equal(same[1], box_stats)
        # per box: its own sums (a pixel in two boxes counts in both)
        loss_map = fn(x, t, reduction="none", **kw)
        counted = t != -100
        safe = torch.where(counted, t, 0)
        norm_map = torch.where(counted, weight[safe] * pw, torch.zeros(()))
        assert box_stats.shape == (4, 3) and box_stats.dtype == torch.float64
        for k, (i, (x1, y1, x2, y2)) in enumerate(zip([0, 0, 0, 2], flat.tolist())):
            region = (slice(i, i + 1), slice(y1, y2), slice(x1, x2))
            want_row = torch.tensor([loss_map[region].double().sum(),
                                     norm_map[region].double().sum(),
                                     counted[region].sum()], dtype=torch.float64)
            torch.testing.assert_close(box_stats[k], want_row, rtol=1e-6, atol=1e-9)


def test_many_boxes_bce_and_dice():
    g = torch.Generator().manual_seed(32)
    n, c, h, w = 2, 2, 7, 8
    x, y = torch.randn((n, c, h, w), generator=g), torch.rand((n, c, h, w), generator=g).round()
    boxes = [[(0, 0, 3, 3), (2, 2, 6, 5)], [(1, 4, 8, 7)]]
    union = torch.zeros((n, 1, h, w), dtype=torch.bool)
    for i, rows in enumerate(boxes):
        for x1, y1, x2, y2 in rows:
            union[i, 0, y1:y2, x1:x2] = True
    loss, box_stats = sl.binary_cross_entropy_with_logits(x, y, box=boxes, return_box_stats=True)
    assert_close_loss(loss, sl.binary_cross_entropy_with_logits(x, y, mask=union))
    elem = F.binary_cross_entropy_with_logits(x.double(), y.double(), reduction="none")
    for k, (i, (x1, y1, x2, y2)) in enumerate([(0, b) for b in boxes[0]] + [(1, boxes[1][0])]):
        part = elem[i, :, y1:y2, x1:x2]
        torch.testing.assert_close(box_stats[k], torch.tensor(
            [part.sum().item(), part.numel(), part.numel()], dtype=torch.float64),
            rtol=1e-6, atol=1e-9)
    for mode, target in (("multilabel", y), ("multiclass", y[:, 0].long())):
        assert_close_loss(sl.dice_loss(x, target, box=boxes, mode=mode),
                          sl.dice_loss(x, target, mask=union, mode=mode))
    # a single box tuple: one row, the whole call's statistics
    loss, stats, box_stats = sl.cross_entropy(x, y[:, 0].long(), box=(1, 1, 6, 5),
                                              return_stats=True, return_box_stats=True)
    assert box_stats.shape == (1, 3) and torch.equal(box_stats[0], stats)


# ---- numpy, torch.compile, bad inputs -------------------------------------------------------
def test_numpy_path():
    np = pytest.importorskip("numpy")
    g = torch.Generator().manual_seed(41)
    x, t = torch.randn((2, 3, 5, 6), generator=g), torch.randint(0, 3, (2, 5, 6), generator=g)
    pw = torch.rand((2, 5, 6), generator=g)
    boxes = [np.array([[0, 0, 3, 3], [1, 1, 5, 4]]), np.zeros((0, 4), dtype=np.int64)]
    got = sl.softmax_focal_loss(x.numpy(), t.numpy(), pixel_weight=pw.numpy(), box=boxes)
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    want = sl.softmax_focal_loss(x, t, pixel_weight=pw, box=[torch.from_numpy(b) for b in boxes])
    np.testing.assert_array_equal(got, want.numpy())
    got = sl.dice_loss(x.numpy(), t.numpy(), mode="multiclass", reduction="none")
    np.testing.assert_array_equal(got, sl.dice_loss(x, t, mode="multiclass",
                                                    reduction="none").numpy())


@pytest.mark.skipif(not sl.functional.HAS_CUSTOM_OP,
                    reason="this PyTorch has no torch.library.custom_op")
def test_compiled_focal_and_dice_match_eager():
    g = torch.Generator().manual_seed(51)
    img = torch.randn((2, 3, 8, 9), generator=g)
    labels = torch.randint(0, 4, (2, 8, 9), generator=g)
    pw = torch.rand((2, 8, 9), generator=g) + 0.5
    flat = torch.tensor([[0, 0, 5, 6], [3, 2, 9, 8], [1, 1, 7, 7]])
    offsets = torch.tensor([0, 2, 3])
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 4, 3, padding=1)

    def step(img, labels, pw, flat, offsets):
        logits = model(img)
        a = sl.softmax_focal_loss(logits, labels, box=flat, box_offsets=offsets, pixel_weight=pw)
        b = sl.cross_entropy(logits, labels, pixel_weight=pw, reduction="sum")
        d = sl.tversky_loss(logits, labels, mode="multiclass", alpha=0.3, beta=0.7, gamma=1.5)
        m = sl.dice_loss(logits, labels, mode="multiclass", reduction="none")
        return a + 0.01 * b + d + (m * torch.linspace(0.5, 1.5, 4)).sum()

    def grads(fn):
        model.zero_grad(set_to_none=True)
        loss = fn(img, labels, pw, flat, offsets)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    torch._dynamo.reset()
    want_loss, want_grads = grads(step)
    loss, got = grads(torch.compile(step, fullgraph=True))
    torch.testing.assert_close(loss, want_loss, rtol=1e-6, atol=1e-7)
    for a, b in zip(got, want_grads):
        assert_close_grad(a, b)


@pytest.mark.skipif(not sl.functional.HAS_CUSTOM_OP,
                    reason="this PyTorch has no torch.library.custom_op")
def test_new_operators_pass_opcheck():
    x = torch.randn((2, 3, 4, 5), requires_grad=True)
    t = torch.randint(0, 3, (2, 4, 5))
    y = torch.rand((2, 3, 4, 5))
    pw = torch.rand((2, 4, 5))
    boxes = torch.tensor([[0, 1, 4, 3], [1, 0, 5, 4], [0, 0, 2, 2]], dtype=torch.int32)
    offsets = torch.tensor([0, 2, 3])
    ops = torch.ops.sectionloss
    torch.library.opcheck(ops.softmax_focal.default, (x, t, boxes, offsets, None, None, pw, 2.0,
                                                      -100, "mean", 1, True, True))
    torch.library.opcheck(ops.ce.default, (x, t, boxes, None, None, -100, 0.0, "none", 1, True,
                                           offsets, pw, True))
    for multiclass, target, reduction in ((True, t, "mean"), (True, t, "none"),
                                          (False, y, "none")):
        torch.library.opcheck(ops.dice.default,
                              (x, target, boxes, offsets, None, multiclass, -100, True, 0.3, 0.7,
                               1.0, 0.0, 1e-7, False, True, reduction, 1, True))


def raises(exc, match, fn, *args, **kwargs):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


def test_bad_inputs():
    from sectionloss import SectionLossError

    g = torch.Generator().manual_seed(61)
    x, t = torch.randn((2, 3, 5, 6), generator=g), torch.randint(0, 3, (2, 5, 6), generator=g)
    y = torch.rand((2, 3, 5, 6), generator=g).round()
    FL, D, TV, CE = sl.softmax_focal_loss, sl.dice_loss, sl.tversky_loss, sl.cross_entropy
    raises(TypeError, "class-probability targets", FL, x, t.float())
    raises(ValueError, r"target must have shape \[N, H, W\]", FL, x, t[:, None])
    raises(ValueError, "weight must have one value per class", FL, x, t, weight=torch.ones(4))
    for fn in (FL, CE):
        raises(ValueError, "pixel_weight must have shape", fn, x, t,
               pixel_weight=torch.ones(3, 5))
        raises(ValueError, "gradient with respect to pixel_weight", fn, x, t,
               pixel_weight=torch.ones((2, 5, 6), requires_grad=True))
        raises(TypeError, "pixel_weight must be a floating-point", fn, x, t,
               pixel_weight=torch.ones((2, 5, 6), dtype=torch.int64))
    for bad in (-1.0, float("inf"), float("nan")):
        raises(ValueError, rf"gamma={bad} (must be finite|is outside \[0, inf\))", FL, x, t,
               gamma=bad)
    raises(SectionLossError, "SL_ERR_LABEL", FL, x, torch.full((2, 5, 6), 3))
    # many boxes
    raises(ValueError, "must have N = 2 entries", FL, x, t, box=[torch.zeros((1, 4), dtype=int)])
    raises(ValueError, r"box\[1\] must have shape \[k, 4\]", FL, x, t,
           box=[torch.zeros((1, 4), dtype=int), torch.zeros((2, 3), dtype=int)])
    raises(TypeError, r"box\[0\] must be an integer tensor", FL, x, t,
           box=[torch.zeros((1, 4)), torch.zeros((1, 4), dtype=int)])
    raises(TypeError, r"box\[0\] must be an integer tensor \[k, 4\] or a list", FL, x, t,
           box=[[(0, 0, 1)], []])
    raises(SectionLossError, "SL_ERR_BOX", FL, x, t, box=[[(0, 0, 7, 2)], []])
    flat = torch.tensor([[0, 0, 2, 2], [1, 1, 3, 3]])
    raises(ValueError, r"box_offsets must have shape \[N \+ 1\] = \[3\]", FL, x, t, box=flat,
           box_offsets=torch.tensor([0, 2]))
    raises(TypeError, "box_offsets must be an integer tensor", FL, x, t, box=flat,
           box_offsets=torch.tensor([0.0, 1.0, 2.0]))
    raises(TypeError, "box_offsets needs box as an integer tensor", FL, x, t, box=(0, 0, 1, 1),
           box_offsets=torch.tensor([0, 1, 1]))
    for bad in ([0, 2, 1], [1, 1, 2], [0, 1, 3]):
        raises(SectionLossError, "SL_ERR_BOX_OFFSETS", FL, x, t, box=flat,
               box_offsets=torch.tensor(bad))
    raises(ValueError, r"box must be \[4\], \[1, 4\] or \[N, 4\]", FL, x, t,
           box=torch.zeros((3, 4), dtype=int))
    raises(ValueError, "return_box_stats=True needs box", FL, x, t, return_box_stats=True)
    # Dice / Tversky
    raises(ValueError, "not a valid value for mode", D, x, y, mode="binary_")
    raises(ValueError, "mode \"binary\" needs one channel", D, x, y)
    raises(ValueError, "from_logits must be True", D, x, t, mode="multiclass", from_logits=False)
    raises(TypeError, "class-probability targets", D, x, y, mode="multiclass")
    raises(ValueError, "target shape", D, x, y[:, :1], mode="multilabel")
    raises(ValueError, "mask must have shape", D, x, t, mode="multiclass",
           mask=torch.ones((2, 3, 5, 6), dtype=torch.bool))
    raises(ValueError, "gradient with respect to target", D, x, y.requires_grad_(),
           mode="multilabel")
    raises(ValueError, "not a valid value for reduction", D, x, t, mode="multiclass",
           reduction="avg")
    for kw, bound in ((dict(eps=0.0), r"eps=0.0 is outside \(0, inf\)"),
                      (dict(smooth=-1.0), r"smooth=-1.0 is outside \[0, inf\)"),
                      (dict(alpha=-0.1), r"alpha=-0.1 is outside \[0, inf\)"),
                      (dict(beta=float("nan")), "beta=nan must be finite"),
                      (dict(gamma=0.0), r"gamma=0.0 is outside \(0, inf\)")):
        raises(ValueError, bound, TV, x, t, mode="multiclass", **kw)
    raises(SectionLossError, "SL_ERR_LABEL", D, x, torch.full((2, 5, 6), 3), mode="multiclass")


# ---- sigmoid focal loss (0.3) ----------------------------------------------------------------
try:
    from torchvision.ops import sigmoid_focal_loss as _torchvision_sigmoid_focal
except ImportError:  # not a test dependency: the formula below is torchvision's, written out
    _torchvision_sigmoid_focal = None


def _sigmoid_focal_formula(x, t, alpha, gamma):
    """torchvision.ops.sigmoid_focal_loss(x, t, alpha, gamma, reduction="none"), written out
    as torchvision's source has it."""
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * t + (1 - alpha) * (1 - t)) * loss
    return loss


def sigmoid_focal_reference(x, t, alpha, gamma):
    if _torchvision_sigmoid_focal is not None:
        return _torchvision_sigmoid_focal(x, t, alpha=alpha, gamma=gamma, reduction="none")
    return _sigmoid_focal_formula(x, t, alpha, gamma)


def _focal_target(rng, g, shape):
    """Hard 0 / 1 targets (detection) or soft ones in [0, 1], or a mix."""
    hard = (torch.rand(shape, generator=g) < 0.3).float()
    kind = rng.choice(["hard", "soft", "mixed"])
    if kind == "hard":
        return hard
    soft = torch.rand(shape, generator=g)
    return soft if kind == "soft" else torch.where(torch.rand(shape, generator=g) < 0.5, hard,
                                                   soft)


@pytest.mark.parametrize("case", CASES)
def test_sigmoid_focal(rng, case):
    n, c, h, w = _shape(rng)
    g = torch.Generator().manual_seed(700 + case)
    x = torch.randn((n, c, h, w), generator=g) * 3
    y = _focal_target(rng, g, (n, c, h, w))
    box, mask, sel = _section(rng, n, c, h, w, True)
    weight = rng.choice([None, torch.rand((n, c, h, w), generator=g) + 0.2,
                         torch.rand((c, 1, 1), generator=g) + 0.2])
    alpha = rng.choice([0.25, 0.25, 0.6, 0.0, 1.0, -1.0])
    gamma = rng.choice([2.0, 2.0, 0.0, 0.5, 1.0, 2.7])
    reduction = rng.choice(["mean", "sum", "none"])

    def ref(x):
        # torchvision on the selected elements, x[sel] (times weight[sel])
        elem = sigmoid_focal_reference(x[sel], y.double()[sel], alpha, gamma)
        if weight is not None:
            elem = elem * weight.double().expand(n, c, h, w)[sel]
        if reduction == "none":
            return torch.zeros_like(x).masked_scatter(sel, elem)
        return elem.sum() if reduction == "sum" else elem.mean()

    _backward_check(
        rng,
        lambda x: sl.sigmoid_focal_loss(x, y, box=box, mask=mask, weight=weight, alpha=alpha,
                                        gamma=gamma, reduction=reduction,
                                        num_threads=rng.choice([None, 1, 2])),
        ref, x, sel)


def test_sigmoid_focal_reference_formula_is_torchvisions():
    if _torchvision_sigmoid_focal is None:
        pytest.skip("torchvision is not installed (the tests use the written-out formula)")
    g = torch.Generator().manual_seed(71)
    x = torch.randn((2, 3, 4, 5), generator=g, dtype=torch.float64) * 4
    t = torch.rand((2, 3, 4, 5), generator=g, dtype=torch.float64).round()
    for alpha, gamma in ((0.25, 2.0), (-1.0, 0.5), (0.7, 0.0)):
        torch.testing.assert_close(_sigmoid_focal_formula(x, t, alpha, gamma),
                                   _torchvision_sigmoid_focal(x, t, alpha, gamma),
                                   rtol=1e-14, atol=0)


def test_sigmoid_focal_special_cases_stats_and_module():
    g = torch.Generator().manual_seed(72)
    n, c, h, w = 2, 3, 7, 8
    x = torch.randn((n, c, h, w), generator=g) * 2
    y = (torch.rand((n, c, h, w), generator=g) < 0.4).float()
    wt = torch.rand((n, c, h, w), generator=g) + 0.5
    m = torch.rand((n, c, h, w), generator=g) < 0.7  # one mask per channel, as BCE
    for reduction in ("mean", "sum", "none"):
        kw = dict(box=(1, 1, 7, 6), mask=m, weight=wt, reduction=reduction)
        # alpha < 0 and gamma 0: BCE with logits
        assert_close_loss(sl.sigmoid_focal_loss(x, y, alpha=-1.0, gamma=0.0, **kw),
                          sl.binary_cross_entropy_with_logits(x, y, **kw))
        # alpha 0.5 is half of no alpha weighting
        assert_close_loss(2 * sl.sigmoid_focal_loss(x, y, alpha=0.5, gamma=1.5, **kw),
                          sl.sigmoid_focal_loss(x, y, alpha=-0.5, gamma=1.5, **kw))
    # saturated logits: 1 - p_t rounds to 0 in float (torchvision's float32 loss is 0 there);
    # the library keeps the digits of the cancellation-free form sigmoid(-s x)**gamma *
    # softplus(-s x), s = 2 t - 1 (hard targets), evaluated here in float64
    xs = torch.tensor([-25.0, -20.0, -12.0, 12.0, 20.0, 25.0]).repeat(2).reshape(1, 2, 1, 6)
    ts = torch.tensor([0.0] * 6 + [1.0] * 6).reshape(1, 2, 1, 6)
    for gamma in (2.0, 0.5):
        xo, xr = xs.clone().requires_grad_(), xs.double().requires_grad_()
        lo = sl.sigmoid_focal_loss(xo, ts, gamma=gamma, reduction="none")
        sgn, at = 2 * ts.double() - 1, 0.25 * ts.double() + 0.75 * (1 - ts.double())
        lr = at * torch.sigmoid(-sgn * xr) ** gamma * F.softplus(-sgn * xr)
        lo.sum().backward()
        lr.sum().backward()
        torch.testing.assert_close(lo.double(), lr, rtol=1e-6, atol=0)
        torch.testing.assert_close(xo.grad.double(), xr.grad, rtol=2e-6, atol=0)
    # stats: MEAN divides by the selected count (the weight is not in the normalizer)
    sel = m.clone()
    sel[:, :, :, :1], sel[:, :, :, 7:], sel[:, :, :1], sel[:, :, 6:] = False, False, False, False
    loss, stats = sl.sigmoid_focal_loss(x, y, box=(1, 1, 7, 6), mask=m, weight=wt,
                                        return_stats=True)
    assert stats[1].item() == stats[2].item() == int(sel.sum())
    assert abs(stats[0].item() / stats[1].item() - loss.item()) <= 1e-6 * loss.item()
    # per-box statistics: sums of the loss map inside each box (a shared element in both)
    boxes = [[(0, 0, 5, 4), (3, 2, 8, 7)], []]
    loss_map = sl.sigmoid_focal_loss(x, y, weight=wt, gamma=1.5, reduction="none")
    _, box_stats = sl.sigmoid_focal_loss(x, y, box=boxes, weight=wt, gamma=1.5,
                                         return_box_stats=True)
    assert box_stats.shape == (2, 3)
    for k, (x1, y1, x2, y2) in enumerate(boxes[0]):
        part = loss_map[0, :, y1:y2, x1:x2]
        torch.testing.assert_close(box_stats[k], torch.tensor(
            [part.double().sum().item(), part.numel(), part.numel()], dtype=torch.float64),
            rtol=1e-6, atol=1e-9)
    # the module, and the numpy path
    mod = sl.SigmoidFocalLoss(weight=wt, alpha=0.4, gamma=1.5, reduction="sum")
    assert "weight" in dict(mod.named_buffers())
    assert torch.equal(mod(x, y, box=(1, 1, 7, 6), mask=m),
                       sl.sigmoid_focal_loss(x, y, box=(1, 1, 7, 6), mask=m, weight=wt,
                                             alpha=0.4, gamma=1.5, reduction="sum"))
    np = pytest.importorskip("numpy")
    got = sl.sigmoid_focal_loss(x.numpy(), y.numpy(), mask=m.numpy(), reduction="none")
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    np.testing.assert_array_equal(got, sl.sigmoid_focal_loss(x, y, mask=m,
                                                             reduction="none").numpy())


@pytest.mark.skipif(not sl.functional.HAS_CUSTOM_OP,
                    reason="this PyTorch has no torch.library.custom_op")
def test_sigmoid_focal_compiled_and_opcheck():
    g = torch.Generator().manual_seed(73)
    img = torch.randn((2, 3, 6, 7), generator=g)
    y = (torch.rand((2, 2, 6, 7), generator=g) < 0.3).float()
    flat = torch.tensor([[0, 0, 5, 4], [2, 1, 7, 6], [1, 1, 4, 4]])
    offsets = torch.tensor([0, 2, 3])
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 2, 3, padding=1)

    def step(img, y, flat, offsets):
        logits = model(img)
        a = sl.sigmoid_focal_loss(logits, y, box=flat, box_offsets=offsets, gamma=1.5)
        m = sl.sigmoid_focal_loss(logits, y, alpha=-1.0, reduction="none")
        return a + (m * torch.linspace(0.5, 1.5, 7)).sum()

    def grads(fn):
        model.zero_grad(set_to_none=True)
        loss = fn(img, y, flat, offsets)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    torch._dynamo.reset()
    want_loss, want_grads = grads(step)
    loss, got = grads(torch.compile(step, fullgraph=True))
    torch.testing.assert_close(loss, want_loss, rtol=1e-6, atol=1e-7)
    for a, b in zip(got, want_grads):
        assert_close_grad(a, b)
    x = torch.randn((2, 3, 4, 5), requires_grad=True)
    t = torch.rand((2, 3, 4, 5)).round()
    boxes = torch.tensor([[0, 1, 4, 3], [1, 0, 5, 4], [0, 0, 2, 2]], dtype=torch.int32)
    mask = torch.rand((2, 3, 4, 5)) < 0.5
    op = torch.ops.sectionloss.sigmoid_focal.default
    torch.library.opcheck(op, (x, t, boxes, torch.tensor([0, 2, 3]), None, None, 0.25, 2.0,
                               "mean", 1, True, True))
    torch.library.opcheck(op, (x, t, None, None, mask, torch.rand((2, 3, 4, 5)), -1.0, 0.5,
                               "none", 1, True, False))


def test_sigmoid_focal_bad_inputs():
    from sectionloss import SectionLossError

    g = torch.Generator().manual_seed(74)
    x, y = torch.randn((2, 3, 5, 6), generator=g), torch.rand((2, 3, 5, 6), generator=g).round()
    SF = sl.sigmoid_focal_loss
    # checked before the C call: the message names the value and the bound
    for alpha in (1.5, 1.0 + 1e-6, float("inf"), float("nan")):
        raises(ValueError, rf"alpha={alpha!r} must be <= 1", SF, x, y, alpha=alpha)
        raises(ValueError, rf"alpha={alpha!r} must be <= 1", SF, x.clone().requires_grad_(), y,
               alpha=alpha, reduction="none")
    for gamma in (-1.0, float("inf"), float("nan")):
        raises(ValueError, rf"gamma={gamma} (must be finite|is outside \[0, inf\))", SF, x, y,
               gamma=gamma)
    # the edges of the valid range
    assert torch.isfinite(SF(x, y, alpha=1.0)) and torch.isfinite(SF(x, y, alpha=-float("inf")))
    raises(TypeError, "target must be a floating-point tensor", SF, x, y.long())
    raises(ValueError, "target shape", SF, x, y[:, :1])
    raises(ValueError, "weight of shape", SF, x, y, weight=torch.ones(4, 1, 1))
    raises(ValueError, "gradient with respect to weight", SF, x, y,
           weight=torch.ones(3, 1, 1, requires_grad=True))
    raises(ValueError, "gradient with respect to target", SF, x, y.clone().requires_grad_())
    raises(ValueError, "mask must have shape", SF, x, y, mask=torch.ones((2, 2, 5, 6), dtype=bool))
    raises(ValueError, "not a valid value for reduction", SF, x, y, reduction="elementwise")
    raises(ValueError, "return_box_stats=True needs box", SF, x, y, return_box_stats=True)
    raises(SectionLossError, "SL_ERR_BOX", SF, x, y, box=(0, 0, 7, 2))
    raises(TypeError, "unexpected keyword argument 'pos_weight'", SF, x, y,
           pos_weight=torch.ones(3))
