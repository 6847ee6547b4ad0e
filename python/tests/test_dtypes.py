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


@pytest.mark.parametrize("dtype", DTYPES)
def test_dice_and_tversky(dtype):
    """Dice / Tversky, binary / multilabel (2-byte targets too) and multiclass, every reduction:
    the float32 call on the same values, the gradient rounded to the input's dtype."""
    x, y, t, m = _case(7, h=6, w=300)  # rows wider than the library's multiclass runs
    th = t.to(dtype)
    w5 = torch.linspace(-1.0, 2.0, 5)  # reduction "none": a per-class upstream gradient
    for red, up in (("mean", None), ("sum", None), ("none", w5)):
        def reduce(loss):
            return loss if up is None else (loss * up).sum()
        for fn in (sl.dice_loss, sl.tversky_loss):
            kw = dict(reduction=red, mask=m)
            _check(lambda v: reduce(fn(v, th, mode="multilabel", **kw)),
                   lambda v: reduce(fn(v, t, mode="multilabel", **kw)), x, dtype)
            _check(lambda v: reduce(fn(v, y, mode="multiclass", box=(2, 1, 250, 5), **kw)),
                   lambda v: reduce(fn(v, y, mode="multiclass", box=(2, 1, 250, 5), **kw)),
                   x, dtype)
        p = torch.sigmoid(x[:, :1])
        _check(lambda v: reduce(sl.dice_loss(v, th[:, :1], from_logits=False, reduction=red)),
               lambda v: reduce(sl.dice_loss(v, t[:, :1], from_logits=False, reduction=red)),
               p, dtype)


def test_dice_no_float32_copy(monkeypatch):
    """Dice's C call receives the bf16 input's and target's own storage."""
    x, _, t, _ = _case(10)
    xb, tb = x.bfloat16(), t.bfloat16()
    seen = {}
    real = sl._lib.call

    def spy(entry, n, c, h, w, input_ptr, target_ptr, *args, **kwargs):
        seen.update(ptr=(input_ptr, target_ptr),
                    dtype=(kwargs.get("input_dtype"), kwargs.get("target_dtype")))
        return real(entry, n, c, h, w, input_ptr, target_ptr, *args, **kwargs)

    monkeypatch.setattr(sl._lib, "call", spy)
    sl.dice_loss(xb, tb, mode="multilabel")
    assert seen == {"ptr": (xb.data_ptr(), tb.data_ptr()),
                    "dtype": (sl._lib.DTYPE_BF16, sl._lib.DTYPE_BF16)}


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
