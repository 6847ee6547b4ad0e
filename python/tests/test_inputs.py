# SPDX-License-Identifier: MIT
"""Inputs a PyTorch user may pass: numpy arrays, and every bad input (each a TypeError or a
ValueError with a clear message, never a crash); library statuses as SectionLossError."""
import numpy as np
import pytest
import torch

import sectionloss as sl
from sectionloss import SectionLossError

N, C, H, W = 2, 3, 6, 5


def bce_args():
    g = torch.Generator().manual_seed(1)
    return torch.rand((N, C, H, W), generator=g) * 0.9 + 0.05, torch.rand((N, C, H, W),
                                                                           generator=g)


def ce_args():
    g = torch.Generator().manual_seed(2)
    return torch.randn((N, C, H, W), generator=g), torch.randint(0, C, (N, H, W), generator=g)


BCE = sl.binary_cross_entropy
BCEL = sl.binary_cross_entropy_with_logits
CE = sl.cross_entropy


def test_numpy_path_matches_torch_path():
    p, y = bce_args()
    x, t = ce_args()
    m = (torch.rand((N, 1, H, W), generator=torch.Generator().manual_seed(3)) < 0.5)
    for fn, a, b in ((BCE, p, y), (BCEL, p, y), (CE, x, t)):
        for reduction in ("mean", "none"):
            want = fn(a, b, mask=m, box=(1, 0, 4, 5), reduction=reduction)
            got = fn(a.numpy(), b.numpy(), mask=m.numpy(), box=(1, 0, 4, 5), reduction=reduction)
            assert isinstance(got, np.ndarray) and got.dtype == np.float32
            np.testing.assert_array_equal(got, want.numpy())
    loss, stats = CE(x.numpy(), t.numpy(), return_stats=True)
    assert isinstance(stats, np.ndarray) and stats.dtype == np.float64
    np.testing.assert_array_equal(loss, CE(x, t).numpy())
    # numpy float64 arrays and a numpy box array
    got = BCE(p.double().numpy(), y.double().numpy(), box=np.array([[0, 0, 3, 3]] * N))
    assert got == BCE(p, y, box=(0, 0, 3, 3)).numpy()


def raises(exc, match, fn, *args, **kwargs):
    with pytest.raises(exc, match=match):
        fn(*args, **kwargs)


@pytest.mark.parametrize("fn", [BCE, BCEL])
def test_bce_bad_inputs(fn):
    p, y = bce_args()
    raises(TypeError, "input must be a torch.Tensor", fn, p.tolist(), y)
    raises(TypeError, "input must be a floating-point tensor", fn, p.to(torch.int32), y)
    raises(TypeError, "target must be a floating-point tensor", fn, p, y.to(torch.int64))
    raises(TypeError, "on device meta", fn, p.to("meta"), y)
    raises(TypeError, "on device meta", fn, p, y.to("meta"))
    raises(ValueError, "input must be 4-D", fn, p[0], y[0])
    raises(ValueError, "target shape", fn, p, y[:, :1])
    raises(ValueError, "not a valid value for reduction", fn, p, y, reduction="avg")
    raises(TypeError, "mask must be a bool or uint8", fn, p, y, mask=torch.ones(N, 1, H, W))
    raises(ValueError, "mask must have shape", fn, p, y, mask=torch.ones(N, 2, H, W, dtype=bool))
    raises(ValueError, "mask must have shape", fn, p, y, mask=torch.ones(H, W, dtype=bool))
    raises(TypeError, "box must be", fn, p, y, box=(0, 0, 2))
    raises(TypeError, "box must be", fn, p, y, box=(0, 0, 2.0, 2))
    raises(TypeError, "box must be an integer tensor", fn, p, y, box=torch.zeros(4))
    raises(ValueError, r"box must be \[4\], \[1, 4\] or \[N, 4\]", fn, p, y,
           box=torch.zeros((3, 4), dtype=torch.int64))
    raises(ValueError, "weight of shape", fn, p, y, weight=torch.ones(C, 2, 1))
    raises(ValueError, "gradient with respect to target", fn, p, y.clone().requires_grad_())
    raises(ValueError, "gradient with respect to weight", fn, p, y,
           weight=torch.ones(C, 1, 1, requires_grad=True))
    for bad_box in ((0, 0, W + 1, H), (-1, 0, 2, 2), (3, 0, 2, 2), (0, 0, 2**40, 2)):
        with pytest.raises(SectionLossError, match="SL_ERR_BOX") as e:
            fn(p, y, box=bad_box)
        assert e.value.status_name == "SL_ERR_BOX" and isinstance(e.value, ValueError)
        assert e.value.status_string in str(e.value) and len(e.value.status_string) > 10
        # the offending box and the image size
        assert f"for an image of W x H = {W} x {H}" in str(e.value)
        assert str(tuple(max(-1, min(v, 2**31 - 1)) for v in bad_box)) in str(e.value)
    raises(ValueError, "input has no elements", fn, p[:0], y[:0])
    raises(ValueError, "num_threads must be None or an int >= 0", fn, p, y, num_threads=-1)


def test_bce_with_logits_pos_weight_shape():
    p, y = bce_args()
    raises(ValueError, "pos_weight must have one value per channel", BCEL, p, y,
           pos_weight=torch.ones(W))
    one = BCEL(p, y, pos_weight=torch.tensor([2.0]))
    assert torch.equal(one, BCEL(p, y, pos_weight=torch.full((C,), 2.0)))
    assert torch.equal(BCEL(p, y, pos_weight=torch.full((C, 1, 1), 2.0)), one)


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), 0.0])
def test_bce_probabilities_outside_0_1(bad):
    p, y = bce_args()
    p[1, 2, 3, 4] = bad
    if bad == 0.0:  # allowed: the -100 clamp, as PyTorch
        assert torch.isfinite(BCE(p, y))
        return
    for requires_grad in (False, True):
        with pytest.raises(SectionLossError, match="SL_ERR_DOMAIN") as e:
            BCE(p.clone().requires_grad_(requires_grad), y)
        assert f"input[1, 2, 3, 4] = {bad!r} is outside [0, 1]" in str(e.value)
    # Outside the section it is not looked at.
    assert torch.isfinite(BCE(p, y, box=(0, 0, 4, 3)))
    y[0, 0, 0, 0] = 2.0
    with pytest.raises(SectionLossError, match="SL_ERR_DOMAIN"):
        BCE(p, y, box=(0, 0, 4, 3))


def test_ce_bad_inputs():
    x, t = ce_args()
    # a float target is a class-probability target (PyTorch's dispatch): the input's shape
    raises(ValueError, "class-probability target must have the input's shape", CE, x, t.float())
    raises(TypeError, "or class probabilities", CE, x, t.bool())
    raises(ValueError, r"target must have shape \[N, H, W\]", CE, x, t[:, None])
    raises(ValueError, "weight must have one value per class", CE, x, t, weight=torch.ones(C + 1))
    raises(ValueError, "mask must have shape", CE, x, t, mask=torch.ones(N, C, H, W, dtype=bool))
    raises(TypeError, "on device meta", CE, x, t.to("meta"))
    for bad in (C, -1, 255):
        t2 = t.clone()
        t2[1, 2, 3] = bad
        with pytest.raises(SectionLossError, match="SL_ERR_LABEL") as e:
            CE(x, t2)
        assert "label" in e.value.status_string
        # the label, where it is and the bound
        assert f"label {bad} at [n, y, x] = [1, 2, 3] is outside [0, {C})" in str(e.value)
        assert torch.isfinite(CE(x, t2, box=(0, 0, 3, 2)))  # outside the section: not checked
    for bad in (1.5, -0.1, float("nan")):
        raises(ValueError, rf"label_smoothing={bad} is outside \[0, 1\]", CE, x, t,
               label_smoothing=bad)
    raises(ValueError, "num_threads must be None or an int >= 0", CE, x, t, num_threads=2.0)


def test_ce_label_types_and_copies():
    x, t = ce_args()
    want = CE(x, t, ignore_index=1)
    for dtype in (torch.int32, torch.uint8, torch.int16, torch.int8):
        assert torch.equal(CE(x, t.to(dtype), ignore_index=1), want)
    # uint8 labels cannot hold -100: the default ignore_index then matches nothing
    assert torch.equal(CE(x, t.to(torch.uint8)), CE(x, t))
