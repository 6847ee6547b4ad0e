# SPDX-License-Identifier: MIT
"""bfloat16 and float16 tensors go through without a float32 copy (sl_options.input_dtype and
its neighbours): the loss equals the float32 call on the same values, the gradient comes back in
the input's dtype, rounded from the float32 gradient; in place; under torch.autocast("cpu",
bfloat16) a bf16 logit reaches the library as it is; torch.compile.
"""
import pytest
import torch
import torch.nn.functional as F

import sectionloss as sl

DTYPES = [torch.bfloat16, torch.float16]


def _case(seed, n=2, c=5, h=9, w=11):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, h, w, generator=g) * 3
    y = torch.randint(0, c, (n, h, w), generator=g)
    t = (torch.rand(n, c, h, w, generator=g) > 0.5).float()
    m = torch.rand(n, 1, h, w, generator=g) > 0.3
    return x, y, t, m


def _check(fn_half, fn_f32, x, dtype):
    xh = x.to(dtype).requires_grad_(True)
    xf = xh.detach().float().requires_grad_(True)  # the same values, exactly
    lh, lf = fn_half(xh), fn_f32(xf)
    lh.backward()
    lf.backward()
    assert xh.grad.dtype == dtype
    assert torch.equal(lh.float(), lf.float())
    assert torch.equal(xh.grad, xf.grad.to(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_and_focal(dtype):
    x, y, _, m = _case(1)
    for fn in (lambda v: sl.cross_entropy(v, y, mask=m, label_smoothing=0.1),
               lambda v: sl.softmax_focal_loss(v, y, mask=m),
               lambda v: sl.cross_entropy(v, y, ohem_thresh=0.6, ohem_min_kept=5)):
        _check(fn, fn, x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_probability_targets(dtype):
    x, _, _, m = _case(4)
    g = torch.Generator().manual_seed(5)
    q = torch.softmax(torch.randn(x.shape, generator=g), dim=1)
    qh = q.to(dtype)
    pw = torch.rand(x.shape[0], x.shape[2], x.shape[3], generator=g).to(dtype)
    # 2-byte targets and pixel weights as they are, against float32 ones of the same values
    _check(lambda v: sl.cross_entropy(v, qh, mask=m, label_smoothing=0.1, pixel_weight=pw),
           lambda v: sl.cross_entropy(v, qh.float(), mask=m, label_smoothing=0.1,
                                      pixel_weight=pw.float()), x, dtype)
    _check(lambda v: sl.cross_entropy(v, q), lambda v: sl.cross_entropy(v, q), x, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_family(dtype):
    x, _, t, m = _case(2)
    th = t.to(dtype)
    for fn in (sl.binary_cross_entropy_with_logits, sl.sigmoid_focal_loss):
        _check(lambda v: fn(v, th, mask=m), lambda v: fn(v, t, mask=m), x, dtype)
    p = torch.sigmoid(x)
    _check(lambda v: sl.binary_cross_entropy(v, th), lambda v: sl.binary_cross_entropy(v, t),
           p, dtype)


def test_matches_pytorch_on_the_same_values():
    x, y, _, _ = _case(3)
    xb = x.bfloat16()
    ours = sl.cross_entropy(xb, y)
    ref = F.cross_entropy(xb.double(), y)
    torch.testing.assert_close(ours.double(), ref, rtol=1e-6, atol=1e-7)


def test_no_float32_copy_of_the_input(monkeypatch):
    """The C call receives the bf16 tensor's own storage."""
    x, y, _, _ = _case(4)
    xb = x.bfloat16()
    seen = {}
    real = sl._lib.call

    def spy(entry, n, c, h, w, input_ptr, *args, **kwargs):
        seen["ptr"], seen["dtype"] = input_ptr, kwargs.get("input_dtype")
        return real(entry, n, c, h, w, input_ptr, *args, **kwargs)

    monkeypatch.setattr(sl._lib, "call", spy)
    sl.cross_entropy(xb, y)
    assert seen == {"ptr": xb.data_ptr(), "dtype": sl._lib.DTYPE_BF16}


def test_inplace_bf16():
    x, y, _, _ = _case(5)
    base = x.bfloat16().requires_grad_(True)
    a = base * 1  # a non-leaf bf16 tensor
    loss = sl.cross_entropy(a, y, inplace=True)
    loss.backward()
    ref = x.bfloat16().requires_grad_(True)
    sl.cross_entropy(ref * 1, y).backward()
    assert torch.equal(base.grad, ref.grad)


def test_autocast_keeps_bf16():
    x, y, _, _ = _case(6)
    lin = torch.nn.Conv2d(5, 5, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = lin(x)
        assert logits.dtype == torch.bfloat16
        loss = sl.cross_entropy(logits, y)
    loss.backward()
    assert lin.weight.grad is not None and torch.isfinite(lin.weight.grad).all()


def test_dice_converts_to_float32():
    x, _, t, _ = _case(7)
    a = sl.dice_loss(x.bfloat16(), t, mode="multilabel")
    b = sl.dice_loss(x.bfloat16().float(), t, mode="multilabel")
    assert torch.equal(a, b)


@pytest.mark.skipif(not sl.functional.HAS_CUSTOM_OP, reason="custom ops need PyTorch 2.4+")
def test_compiled_bf16():
    x, y, _, _ = _case(8)

    def step(v):
        return sl.cross_entropy(v, y)

    xe = x.bfloat16().requires_grad_(True)
    xc = x.bfloat16().requires_grad_(True)
    step(xe).backward()
    torch.compile(step, fullgraph=True)(xc).backward()
    assert torch.equal(xe.grad, xc.grad)


def test_float32_grad_out_keeps_a_half_input_on_the_float32_path():
    """grad_out float32 (the buffer of 1.0) with a bf16 input: the float32 gradient lands in it."""
    x, y, _, _ = _case(9)
    xb = x.bfloat16().requires_grad_(True)
    buf = torch.empty(x.shape)
    sl.cross_entropy(xb, y, grad_out=buf).backward()
    ref = xb.detach().float().requires_grad_(True)
    sl.cross_entropy(ref, y).backward()
    assert torch.equal(buf, ref.grad) and torch.equal(xb.grad, ref.grad.bfloat16())
