# SPDX-License-Identifier: MIT
"""Every function against torch.nn.functional on random cases: shapes, boxes (tuple, one tensor
box, one per sample), masks ([N,1,H,W], [N,H,W], per channel; bool and uint8), element weights,
pos_weight, class weights, ignore_index, label smoothing, label types, reductions, thread
counts; losses and gradients through .backward() (upstream scalar or map)."""
import pytest
import torch
import torch.nn.functional as F

import sectionloss as sl
from conftest import (assert_close_grad, assert_close_loss, double, random_section,
                      reference_reduce)

CASES = range(40)


def _shape(rng):
    return rng.randint(1, 3), rng.randint(1, 4), rng.randint(1, 13), rng.randint(1, 17)


def _upstream(rng, loss):
    """A random upstream gradient: a scalar for MEAN/SUM (sometimes exactly 1), a map for NONE."""
    if loss.dim() == 0:
        return torch.tensor(1.0 if rng.random() < 0.5 else rng.uniform(-3, 3))
    return torch.randn(loss.shape, generator=torch.Generator().manual_seed(rng.randint(0, 999)))


def _check(rng, ours_fn, ref_fn, x, sel):
    xo = x.clone().requires_grad_(True)
    xr = x.double().requires_grad_(True)  # the reference in float64 (conftest)
    lo, lr = ours_fn(xo), ref_fn(xr)
    assert lo.shape == lr.shape and lo.dtype == torch.float32
    if sel.any() or lo.dim() > 0:
        assert_close_loss(lo, lr)
    else:  # MEAN over an empty selection: 0 here, NaN in PyTorch (a documented difference)
        assert lo.item() == 0.0 and (lo.dim() > 0 or torch.isnan(lr) or lr.item() == 0.0)
        return
    up = _upstream(rng, lo)
    (lo * up).sum().backward()
    (lr * up.double()).sum().backward()
    assert_close_grad(xo.grad, xr.grad)
    assert (xo.grad[~sel] == 0).all()


@pytest.mark.parametrize("case", CASES)
def test_bce(rng, case):
    n, c, h, w = _shape(rng)
    g = torch.Generator().manual_seed(case)
    p = torch.rand((n, c, h, w), generator=g) * 0.98 + 0.01
    y = torch.rand((n, c, h, w), generator=g)
    if rng.random() < 0.5:
        y = y.round()
    box, mask, sel = random_section(rng, n, c, h, w, True)
    weight = rng.choice([None, torch.rand((n, c, h, w), generator=g) + 0.5,
                         torch.rand((c, 1, 1), generator=g) + 0.5])
    reduction = rng.choice(["mean", "sum", "none"])
    threads = rng.choice([None, 1, 2])
    _check(rng,
           lambda x: sl.binary_cross_entropy(x, y, box=box, mask=mask, weight=weight,
                                             reduction=reduction, num_threads=threads),
           lambda x: reference_reduce(F.binary_cross_entropy(
               x, double(y), weight=None if weight is None else double(weight.expand(n, c, h, w)),
               reduction="none"), sel, reduction),
           p, sel)


@pytest.mark.parametrize("case", CASES)
def test_bce_with_logits(rng, case):
    n, c, h, w = _shape(rng)
    g = torch.Generator().manual_seed(case)
    x = torch.randn((n, c, h, w), generator=g) * 4
    y = torch.rand((n, c, h, w), generator=g).round()
    box, mask, sel = random_section(rng, n, c, h, w, True)
    weight = rng.choice([None, torch.rand((n, c, h, w), generator=g) + 0.5])
    pos_weight = rng.choice([None, torch.rand(c, generator=g) * 3 + 0.1])
    reduction = rng.choice(["mean", "sum", "none"])
    _check(rng,
           lambda x: sl.binary_cross_entropy_with_logits(
               x, y, box=box, mask=mask, weight=weight, pos_weight=pos_weight,
               reduction=reduction, num_threads=rng.choice([None, 1, 2])),
           lambda x: reference_reduce(F.binary_cross_entropy_with_logits(
               x, double(y), weight=double(weight),
               pos_weight=None if pos_weight is None else double(pos_weight.view(c, 1, 1)),
               reduction="none"), sel, reduction),
           x, sel)


@pytest.mark.parametrize("case", CASES)
def test_cross_entropy(rng, case):
    n, c, h, w = _shape(rng)
    c += 1  # at least two classes
    g = torch.Generator().manual_seed(case)
    x = torch.randn((n, c, h, w), generator=g) * 3
    label_dtype = rng.choice([torch.int64, torch.int32, torch.uint8])
    labels = torch.randint(0, c, (n, h, w), generator=g)
    ignore_index = rng.choice([-100, rng.randrange(c)])
    if ignore_index == -100 and label_dtype != torch.uint8 and rng.random() < 0.5:
        labels[torch.rand((n, h, w), generator=g) < 0.2] = -100
    box, mask, sel = random_section(rng, n, 1, h, w, False)
    weight = rng.choice([None, torch.rand(c, generator=g) + 0.2])
    smoothing = rng.choice([0.0, 0.0, 0.1, 0.5])
    reduction = rng.choice(["mean", "sum", "none"])
    target = labels.to(label_dtype)
    counted = sel[:, 0] & (labels != ignore_index)

    def ref(x):
        return F.cross_entropy(x, torch.where(sel[:, 0], labels, ignore_index),
                               weight=double(weight),
                               ignore_index=ignore_index, label_smoothing=smoothing,
                               reduction=reduction)

    _check(rng,
           lambda x: sl.cross_entropy(x, target, box=box, mask=mask, weight=weight,
                                      ignore_index=ignore_index, label_smoothing=smoothing,
                                      reduction=reduction, num_threads=rng.choice([None, 1, 2])),
           ref, x, counted.unsqueeze(1).expand(n, c, h, w))


@pytest.mark.parametrize("case", CASES)
def test_cross_entropy_probability_targets(rng, case):
    # a float target of the input's shape: PyTorch's probability-target form; MEAN divides by
    # the selected pixel count (F.cross_entropy on the selected pixels), not by the weights
    n, c, h, w = _shape(rng)
    c += 1
    g = torch.Generator().manual_seed(100 + case)
    x = torch.randn((n, c, h, w), generator=g) * 3
    kind = rng.choice(["dist", "onehot", "any"])
    if kind == "dist":
        q = torch.softmax(torch.randn((n, c, h, w), generator=g) * 2, 1)
    elif kind == "onehot":
        q = F.one_hot(torch.randint(0, c, (n, h, w), generator=g), c).permute(0, 3, 1, 2).float()
    else:  # any floats: PyTorch does not check them
        q = torch.rand((n, c, h, w), generator=g) * 2 - 0.5
    box, mask, sel = random_section(rng, n, 1, h, w, False)
    weight = rng.choice([None, torch.rand(c, generator=g) + 0.2])
    smoothing = rng.choice([0.0, 0.0, 0.1, 0.5])
    reduction = rng.choice(["mean", "sum", "none"])
    pix = sel[:, 0]

    def ref(x):
        xs, qs = x.permute(0, 2, 3, 1)[pix], q.double().permute(0, 2, 3, 1)[pix]
        if reduction == "none":
            per = F.cross_entropy(xs, qs, weight=double(weight), label_smoothing=smoothing,
                                  reduction="none")
            out = torch.zeros((n, h, w), dtype=torch.float64)
            return out.masked_scatter(pix, per)
        return F.cross_entropy(xs, qs, weight=double(weight), label_smoothing=smoothing,
                               reduction=reduction)

    _check(rng,
           lambda x: sl.cross_entropy(x, q, box=box, mask=mask, weight=weight,
                                      label_smoothing=smoothing, reduction=reduction,
                                      num_threads=rng.choice([None, 1, 2])),
           ref, x, sel.expand(n, c, h, w))


def test_cross_entropy_probability_pixel_weights_and_refusals():
    g = torch.Generator().manual_seed(7)
    x = torch.randn((2, 3, 4, 5), generator=g, requires_grad=True)
    q = torch.softmax(torch.randn((2, 3, 4, 5), generator=g), 1)
    pw = torch.rand((2, 4, 5), generator=g) * 2
    mask = torch.rand((2, 4, 5), generator=g) < 0.6
    loss, stats = sl.cross_entropy(x, q, mask=mask, pixel_weight=pw, return_stats=True)
    per = F.cross_entropy(x.double(), q.double(), reduction="none") * pw.double()
    want = per[mask].sum() / pw.double()[mask].sum()  # MEAN: over the selected pixel weights
    assert_close_loss(loss, want)
    assert stats[1].item() == pytest.approx(pw.double()[mask].sum().item(), rel=1e-12)
    assert stats[2].item() == mask.sum().item()
    with pytest.raises(ValueError, match="ignore_index"):
        sl.cross_entropy(x, q, ignore_index=0)
    with pytest.raises(ValueError, match="shape"):
        sl.cross_entropy(x, q[:, :2])
    with pytest.raises(ValueError, match="target"):
        sl.cross_entropy(x, q.clone().requires_grad_(True))
    with pytest.raises(TypeError, match="class-probability"):
        sl.softmax_focal_loss(x, q)


def test_modules_match_functional():
    g = torch.Generator().manual_seed(5)
    p, y = torch.rand((2, 3, 6, 7), generator=g), torch.rand((2, 3, 6, 7), generator=g)
    x, t = torch.randn((2, 4, 6, 7), generator=g), torch.randint(0, 4, (2, 6, 7), generator=g)
    m = torch.rand((2, 1, 6, 7), generator=g) < 0.6
    w, pw, cw = torch.rand((2, 3, 6, 7)), torch.rand(3) + 0.5, torch.rand(4) + 0.5
    assert torch.equal(sl.BCELoss(weight=w, reduction="sum")(p, y, mask=m),
                       sl.binary_cross_entropy(p, y, mask=m, weight=w, reduction="sum"))
    assert torch.equal(sl.BCEWithLogitsLoss(pos_weight=pw)(p, y, box=(1, 1, 5, 4)),
                       sl.binary_cross_entropy_with_logits(p, y, box=(1, 1, 5, 4),
                                                           pos_weight=pw))
    mod = sl.CrossEntropyLoss(weight=cw, ignore_index=2, label_smoothing=0.2)
    assert torch.equal(mod(x, t, mask=m),
                       sl.cross_entropy(x, t, mask=m, weight=cw, ignore_index=2,
                                        label_smoothing=0.2))
    assert "weight" in dict(mod.named_buffers())


def test_stats_give_the_mean():
    g = torch.Generator().manual_seed(9)
    x, t = torch.randn((3, 5, 9, 8), generator=g), torch.randint(0, 5, (3, 9, 8), generator=g)
    w = torch.rand(5, generator=g) + 0.5
    mean = sl.cross_entropy(x, t, weight=w, box=(1, 2, 7, 8))
    loss_sum, stats = sl.cross_entropy(x, t, weight=w, box=(1, 2, 7, 8), reduction="sum",
                                       return_stats=True)
    assert stats.dtype == torch.float64 and stats.shape == (3,)
    assert stats[2].item() == 3 * 6 * 6
    assert abs(stats[0].item() - loss_sum.item()) <= 1e-6 * abs(loss_sum.item())
    assert abs(stats[0].item() / stats[1].item() - mean.item()) <= 1e-6 * mean.item()


def test_empty_selection_mean_is_zero_with_zero_normalizer():
    p = torch.full((1, 1, 4, 4), 0.3, requires_grad=True)
    loss, stats = sl.binary_cross_entropy(p, torch.ones(1, 1, 4, 4), box=(2, 2, 2, 4),
                                          return_stats=True)
    loss.backward()
    assert loss.item() == 0.0 and stats[1].item() == 0.0 and (p.grad == 0).all()


def test_float64_and_noncontiguous_inputs_are_copied():
    g = torch.Generator().manual_seed(3)
    base = torch.randn((2, 3, 7, 5), generator=g, dtype=torch.float64)
    t = torch.randint(0, 3, (2, 5, 7), generator=g)
    x = base.transpose(2, 3)  # non-contiguous [2, 3, 5, 7]
    xo = x.detach().requires_grad_(True)
    assert not xo.is_contiguous()
    ours = sl.cross_entropy(xo, t, box=(1, 0, 6, 4))
    ours.backward()
    xr = x.detach().float().contiguous().requires_grad_(True)
    want = sl.cross_entropy(xr, t, box=(1, 0, 6, 4))
    want.backward()
    assert torch.equal(ours, want)
    assert xo.grad.dtype == torch.float64 and xo.grad.shape == x.shape
    assert torch.equal(xo.grad.float(), xr.grad)


def test_backward_of_the_loss_itself_hands_over_the_saved_gradient():
    # loss.backward() (grad_output exactly 1): the gradient the fused forward call wrote becomes
    # x.grad as is, no pass over it; any other grad_output scales it into a new tensor.
    g = torch.Generator().manual_seed(8)
    x = torch.randn((2, 4, 6, 5), generator=g, requires_grad=True)
    t = torch.randint(0, 4, (2, 6, 5), generator=g)
    saved = []

    def pack(tensor):
        saved.append(tensor.data_ptr())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = sl.cross_entropy(x, t)
    loss.backward()
    assert saved and x.grad.data_ptr() in saved
    first = x.grad.clone()
    x.grad = None
    saved.clear()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = sl.cross_entropy(x, t)
    (loss * 3).backward()
    assert x.grad.data_ptr() not in saved
    torch.testing.assert_close(x.grad, first * 3, rtol=0, atol=0)


@pytest.mark.parametrize("entry", ["bce_logits", "ce"])
def test_none_backward_matches_the_c_grad_map_call(entry):
    # reduction "none": the saved unscaled gradient times the upstream map, against one C call
    # given that map as grad_map. Each is within the accuracy contract (docs/accuracy.md): 4 ulp
    # of the element's largest term, and here (no weights, targets 0/1) every term is at most
    # |upstream| in size; the Python path rounds once more: 9 float32 ulp of |upstream| in all.
    from sectionloss import _lib

    g = torch.Generator().manual_seed(12)
    n, c, h, w = 2, 3, 7, 9
    x = torch.randn((n, c, h, w), generator=g) * 3
    if entry == "ce":
        t = torch.randint(0, c, (n, h, w), generator=g)
        up = torch.randn((n, h, w), generator=g)
        fn = sl.cross_entropy
    else:
        t = torch.rand((n, c, h, w), generator=g).round()
        up = torch.randn((n, c, h, w), generator=g)
        fn = sl.binary_cross_entropy_with_logits
    xg = x.clone().requires_grad_(True)
    fn(xg, t, box=(1, 1, 8, 6), reduction="none").backward(up)
    box = torch.tensor([[1, 1, 8, 6]], dtype=torch.int32)
    want = torch.empty_like(x)
    _lib.call(entry, n, c, h, w, x.data_ptr(), t.data_ptr(), boxes_ptr=box.data_ptr(),
              num_boxes=1, reduction="none", grad_map_ptr=up.data_ptr(), num_threads=1,
              grad_ptr=want.data_ptr())
    scale = (up.unsqueeze(1) if entry == "ce" else up).abs().expand_as(want)
    tol = 9 * torch.finfo(torch.float32).eps * scale
    assert ((xg.grad - want).abs() <= tol + torch.finfo(torch.float32).tiny).all()
