# SPDX-License-Identifier: MIT
"""Shared helpers: random section cases and PyTorch references (torch.nn.functional).

References are PyTorch's own functions evaluated in float64 on the same (float32) data, so
the comparison measures the library's error, not PyTorch's float32 cancellations (e.g. CE with
label smoothing, where float32 PyTorch is off by 1e-4 relative in small gradient elements).
Tolerances, from float32 rounding: the library computes each element in double and rounds it
once (scalar) or within a few float32 ULP of that (SIMD kernels), and sums in double, so a loss
is within a few ULP: rtol 1e-6 (8 ULP), atol 1e-7 for losses near 0. A gradient element is one
float32 expression: rtol 2e-6 (16 ULP) with atol 1e-6 times the largest element (elements far
below the largest come from a difference such as softmax - one-hot, computed in float32).
"""
import random

import pytest
import torch

LOSS_RTOL, LOSS_ATOL = 1e-6, 1e-7
GRAD_RTOL, GRAD_ATOL_REL = 2e-6, 1e-6


def assert_close_loss(got, want):
    torch.testing.assert_close(got.double(), want.double(), rtol=LOSS_RTOL, atol=LOSS_ATOL,
                               equal_nan=True)


def assert_close_grad(got, want):
    atol = GRAD_ATOL_REL * float(want.abs().max()) if want.numel() else 0.0
    torch.testing.assert_close(got.double(), want.double(), rtol=GRAD_RTOL, atol=atol)


def double(t):
    return None if t is None else t.double()


def random_section(rng, n, c, h, w, allow_per_channel):
    """(box argument, mask argument, selection [N, C, H, W] bool) for one random case."""
    sel = torch.ones((n, c, h, w), dtype=torch.bool)
    box = None
    kind = rng.choice(["none", "tuple", "tensor1", "tensorN"])
    if kind != "none":
        boxes = []
        for _ in range(n if kind == "tensorN" else 1):
            x1, x2 = sorted(rng.randint(0, w) for _ in range(2))
            y1, y2 = sorted(rng.randint(0, h) for _ in range(2))
            boxes.append((x1, y1, x2, y2))
        box = boxes[0] if kind == "tuple" else torch.tensor(boxes, dtype=rng.choice(
            [torch.int64, torch.int32]))
        inside = torch.zeros((n, c, h, w), dtype=torch.bool)
        for i in range(n):
            x1, y1, x2, y2 = boxes[i if kind == "tensorN" else 0]
            inside[i, :, y1:y2, x1:x2] = True
        sel &= inside
    mask = None
    mkind = rng.choice(["none", "n1hw", "nhw"] + (["nchw"] if allow_per_channel else []))
    if mkind != "none":
        g = torch.Generator().manual_seed(rng.randint(0, 2**31))
        ch = c if mkind == "nchw" else 1
        m = torch.rand((n, ch, h, w), generator=g) < rng.choice([0.3, 0.7, 1.0])
        sel &= m.expand(n, c, h, w)
        if mkind == "nhw":
            m = m[:, 0]
        mask = m if rng.random() < 0.5 else m.to(torch.uint8)
    return box, mask, sel


def reference_reduce(elementwise, sel, reduction):
    """PyTorch's own reduction over the selected elements of an elementwise loss map."""
    if reduction == "none":
        return torch.where(sel, elementwise, torch.zeros((), dtype=elementwise.dtype))
    picked = elementwise[sel]
    return picked.sum() if reduction == "sum" else picked.mean()


@pytest.fixture
def rng(request):
    return random.Random(request.node.name)
