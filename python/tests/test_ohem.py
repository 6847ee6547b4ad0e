# SPDX-License-Identifier: MIT
"""Online hard example mining (ohem_thresh, ohem_min_kept) of cross_entropy and
softmax_focal_loss against mmsegmentation's OHEMPixelSampler written out (its `sample` with a
threshold: p_t = softmax(logits)[label], sorted over the valid pixels, threshold =
max(thresh, sorted[min(min_kept * N, n - 1)]), kept where p_t < threshold), then the loss over
the kept pixels as PyTorch computes it (MEAN divided by their weights: the section's rule, not
mmseg's default of every pixel). Losses and gradients in float64 on the same data; the cases
check that no p_t lies within 1e-5 of the threshold (else the float kernel's p_t may select
differently: a documented tolerance).
"""
import random

import pytest
import torch
import torch.nn.functional as F

import sectionloss as sl


def _sampler(logits, labels, thresh, min_kept, ignore_index, section):
    """mmseg's OHEMPixelSampler.sample (thresh form) in float64 over the section; the kept
    pixels [N, H, W] and whether the case is unambiguous."""
    valid = (labels != ignore_index) & section
    prob = F.softmax(logits.double(), dim=1)
    tmp = labels.clone()
    tmp[labels == ignore_index] = 0
    pt = prob.gather(1, tmp.unsqueeze(1)).squeeze(1)
    sort_prob, _ = pt[valid].sort()
    batch_kept = min_kept * labels.size(0)
    min_threshold = sort_prob[min(batch_kept, sort_prob.numel() - 1)] if sort_prob.numel() else 0.0
    threshold = max(float(min_threshold), thresh)
    kept = valid & (pt < threshold)
    near = valid & ((pt - threshold).abs() <= 1e-5 * threshold) & (pt != float(min_threshold))
    return kept, not near.any()


CASES = [(n, c, h, w, th, mk, seed) for seed, (n, c, h, w, th, mk) in enumerate([
    (2, 5, 9, 13, 0.7, 0), (2, 5, 9, 13, 0.7, 40), (1, 19, 16, 16, 0.3, 10),
    (3, 4, 8, 8, 0.0, 7), (2, 3, 5, 7, 1.0, 0), (2, 6, 12, 10, 0.05, 10**6)])]


@pytest.mark.parametrize("focal", [False, True])
@pytest.mark.parametrize("n,c,h,w,thresh,min_kept,seed", CASES)
def test_ohem_matches_the_sampler(n, c, h, w, thresh, min_kept, seed, focal):
    rng = random.Random(seed)
    torch.manual_seed(seed)
    x = torch.randn(n, c, h, w) * 2.5
    y = torch.randint(0, c, (n, h, w))
    y[torch.rand(n, h, w) < 0.1] = -100
    mask = torch.rand(n, h, w) < 0.8 if rng.random() < 0.5 else None
    weight = torch.rand(c) + 0.5 if seed % 2 else None
    section = mask if mask is not None else torch.ones(n, h, w, dtype=torch.bool)
    kept, clear = _sampler(x, y, thresh, min_kept, -100, section)
    assert clear, "a p_t within 1e-5 of the threshold: pick another seed"

    xo = x.clone().requires_grad_(True)
    fn = sl.softmax_focal_loss if focal else sl.cross_entropy
    extra = {"gamma": 2.0} if focal else {}
    loss, stats = fn(xo, y, mask=mask, weight=weight, ohem_thresh=thresh, ohem_min_kept=min_kept,
                     return_stats=True, **extra)
    loss.backward()

    xr = x.double().requires_grad_(True)
    w = weight.double() if weight is not None else torch.ones(c, dtype=torch.float64)
    logp = F.log_softmax(xr, dim=1)
    yk = y.clone()
    yk[~kept] = 0
    lp = logp.gather(1, yk.unsqueeze(1)).squeeze(1)
    term = -lp * w[yk]
    if focal:
        term = term * (1 - lp.exp()) ** 2.0
    term = torch.where(kept, term, torch.zeros_like(term))
    norm = torch.where(kept, w[yk], torch.zeros_like(term)).sum()
    ref = term.sum() / norm if norm > 0 else term.sum() * 0
    ref.backward()
    assert int(stats[2]) == int(kept.sum())
    torch.testing.assert_close(loss.double(), ref.detach(), rtol=2e-5, atol=1e-6)
    torch.testing.assert_close(xo.grad.double(), xr.grad, rtol=1e-4, atol=1e-6)


def test_ohem_none_reduction_zero_outside_the_kept():
    torch.manual_seed(3)
    x, y = torch.randn(2, 4, 6, 7), torch.randint(0, 4, (2, 6, 7))
    kept, clear = _sampler(x, y, 0.5, 5, -100, torch.ones(2, 6, 7, dtype=torch.bool))
    assert clear
    m = sl.cross_entropy(x, y, reduction="none", ohem_thresh=0.5, ohem_min_kept=5)
    ref = F.cross_entropy(x.double(), y, reduction="none")
    torch.testing.assert_close(m.double(), torch.where(kept, ref, torch.zeros_like(ref)),
                               rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs,match", [
    ({"ohem_thresh": 1.5}, "ohem_thresh=1.5 is outside"),
    ({"ohem_thresh": float("nan")}, "ohem_thresh=nan"),
    ({"ohem_thresh": 0.7, "ohem_min_kept": -1}, "ohem_min_kept must be an int >= 0"),
    ({"ohem_min_kept": 10}, "needs ohem_thresh"),
])
def test_ohem_bad_arguments(kwargs, match):
    x, y = torch.randn(1, 3, 4, 4), torch.randint(0, 3, (1, 4, 4))
    with pytest.raises(ValueError, match=match):
        sl.cross_entropy(x, y, **kwargs)


@pytest.mark.skipif(not hasattr(torch, "compile") or not sl.functional.HAS_CUSTOM_OP,
                    reason="torch.compile custom ops need PyTorch 2.4+")
def test_ohem_compiled_matches_eager():
    torch.manual_seed(5)
    x, y = torch.randn(2, 5, 8, 9), torch.randint(0, 5, (2, 8, 9))

    def step(x):
        return sl.cross_entropy(x, y, ohem_thresh=0.6, ohem_min_kept=20)

    xe, xc = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    le = step(xe)
    le.backward()
    lc = torch.compile(step, fullgraph=True)(xc)
    lc.backward()
    assert torch.equal(le, lc) and torch.equal(xe.grad, xc.grad)


def test_ohem_modules_pass_the_options():
    torch.manual_seed(9)
    x, y = torch.randn(2, 4, 6, 7), torch.randint(0, 4, (2, 6, 7))
    for mod, fn, extra in ((sl.CrossEntropyLoss, sl.cross_entropy, {}),
                           (sl.SoftmaxFocalLoss, sl.softmax_focal_loss, {"gamma": 2.0})):
        m = mod(ohem_thresh=0.4, ohem_min_kept=3)
        assert torch.equal(m(x, y), fn(x, y, ohem_thresh=0.4, ohem_min_kept=3, **extra))
        assert not torch.equal(m(x, y), fn(x, y, **extra))
