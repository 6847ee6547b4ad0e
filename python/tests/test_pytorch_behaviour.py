# SPDX-License-Identifier: MIT
"""What PyTorch users expect beyond the values: torch.func, double backward, the
module forms, docstrings, SECTIONLOSS_ISA, and the memory the Python call uses (no copy of
labels / masks / the gradient, grad_out, inplace)."""
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import sectionloss as sl
from sectionloss import functional
from conftest import assert_close_grad, assert_close_loss

HAS_FUNC = hasattr(torch, "func") and hasattr(torch.func, "grad")


def _ce_data(n=2, c=4, h=5, w=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, c, h, w), generator=g)
    t = torch.randint(0, c, (n, h, w), generator=g)
    m = torch.rand((n, 1, h, w), generator=g) < 0.6
    return x, t, m


# ---- torch.func and double backward --------------------------------------------------------
@pytest.mark.skipif(not HAS_FUNC, reason="no torch.func")
def test_torch_func_grad_matches_backward():
    x, t, m = _ce_data()
    got = torch.func.grad(lambda x: sl.cross_entropy(x, t, mask=m, label_smoothing=0.1))(x)
    xr = x.clone().requires_grad_()
    sl.cross_entropy(xr, t, mask=m, label_smoothing=0.1).backward()
    torch.testing.assert_close(got, xr.grad, rtol=0, atol=0)
    y = (torch.rand_like(x) < 0.5).float()
    got = torch.func.grad(lambda x: sl.tversky_loss(x, y, mode="multilabel", gamma=0.75))(x)
    xr.grad = None
    sl.tversky_loss(xr, y, mode="multilabel", gamma=0.75).backward()
    torch.testing.assert_close(got, xr.grad, rtol=0, atol=0)


@pytest.mark.skipif(not HAS_FUNC, reason="no torch.func")
def test_torch_func_vmap_is_a_clear_error():
    x, t, _ = _ce_data()
    with pytest.raises(RuntimeError, match="sectionloss: torch.func.vmap is not supported"):
        torch.func.vmap(lambda x, t: sl.cross_entropy(x[None], t[None]))(x, t)


def test_double_backward_is_a_clear_error():
    x, t, m = _ce_data()
    x.requires_grad_()
    for fn, target in ((sl.cross_entropy, t), (sl.binary_cross_entropy_with_logits,
                                              (torch.rand_like(x) < 0.5).float())):
        (g,) = torch.autograd.grad(fn(x, target, mask=m), x, create_graph=True)
        with pytest.raises(RuntimeError, match="double backward"):
            g.sum().backward()
    if HAS_FUNC:  # nested transforms would differentiate the gradient: an error, not zeros
        def f(x):
            return sl.cross_entropy(x, t)

        with pytest.raises(RuntimeError, match="double backward"):
            torch.func.grad(lambda x: torch.func.grad(f)(x).sum())(x.detach())
    # create_graph=True is fine as long as the gradient is not differentiated again
    (g,) = torch.autograd.grad(sl.cross_entropy(x, t) * 0.5, x, create_graph=True)
    (want,) = torch.autograd.grad(sl.cross_entropy(x, t) * 0.5, x)
    torch.testing.assert_close(g.detach(), want, rtol=0, atol=0)


# ---- eager path: no custom-operator dispatch --------------------------------------------------
def test_eager_calls_run_the_autograd_function_not_the_custom_op():
    x, t, m = _ce_data()
    x.requires_grad_()
    loss = sl.cross_entropy(x, t, mask=m)
    assert type(loss.grad_fn).__name__ == "_ceBackward"  # a torch.autograd.Function's node
    if functional.HAS_CUSTOM_OP:
        # the registered operator (what torch.compile runs) gives the same bits
        op = torch.ops.sectionloss.ce.default
        loss2, grad2, _, _ = op(x.detach(), t, None, m, None, -100, 0.0, "mean", 1, True)
        loss.backward()
        assert torch.equal(loss.detach(), loss2) and torch.equal(x.grad, grad2)


# ---- modules ------------------------------------------------------------------------------------
def test_modules_take_every_functional_keyword():
    x, t, m = _ce_data()
    boxes = torch.tensor([[0, 0, 3, 3], [1, 1, 6, 5], [2, 0, 4, 2]])
    offsets = torch.tensor([0, 2, 3])
    for mod, fn in ((sl.CrossEntropyLoss(label_smoothing=0.1), sl.cross_entropy),
                    (sl.SoftmaxFocalLoss(gamma=1.5), sl.softmax_focal_loss)):
        got = mod(x, t, box=boxes, box_offsets=offsets, mask=m, return_stats=True,
                  return_box_stats=True)
        want = fn(x, t, box=boxes, box_offsets=offsets, mask=m, return_stats=True,
                  return_box_stats=True, **{k: getattr(mod, k) for k in mod._option_names})
        assert all(torch.equal(a, b) for a, b in zip(got, want)) and len(got) == 3
    y = (torch.rand_like(x) < 0.5).float()
    for mod in (sl.BCEWithLogitsLoss(), sl.SigmoidFocalLoss()):
        loss, stats = mod(x, y, box=boxes, box_offsets=offsets, return_stats=True)
        assert stats[2].item() > 0
    loss, stats = sl.DiceLoss(mode="multiclass")(x, t, box=boxes, box_offsets=offsets,
                                                  return_stats=True)
    assert stats[1].item() == 4
    with pytest.raises(TypeError, match="set at construction"):
        sl.CrossEntropyLoss(reduction="sum")(x, t, reduction="mean")


def test_docstrings():
    for cls in (sl.BCELoss, sl.BCEWithLogitsLoss, sl.CrossEntropyLoss, sl.SoftmaxFocalLoss,
                sl.SigmoidFocalLoss, sl.DiceLoss, sl.TverskyLoss):
        doc = cls.__doc__ or ""
        assert doc != torch.nn.Module.__doc__ and f"sectionloss.{cls._fn.__name__}" in doc, cls
        assert "F.softmax_focal_loss" not in doc
    for fn in (sl.binary_cross_entropy, sl.binary_cross_entropy_with_logits, sl.cross_entropy,
               sl.softmax_focal_loss, sl.sigmoid_focal_loss, sl.dice_loss, sl.tversky_loss):
        assert "grad_out" in fn.__doc__ and "box_offsets" in fn.__doc__, fn
    for fn in (sl.binary_cross_entropy_with_logits, sl.cross_entropy, sl.softmax_focal_loss,
               sl.sigmoid_focal_loss):
        assert "inplace=True" in fn.__doc__, fn
    assert all(name in sl.isa.__doc__ for name in ("avx512", "avx2", "neon", "scalar"))
    assert sl.isa() in ("avx512", "avx2", "neon", "scalar")


@pytest.mark.parametrize("value", ["AVX2", "sse2", "avx2 "])
def test_invalid_isa_environment_is_a_warning_naming_the_valid_values(value):
    env = dict(os.environ, SECTIONLOSS_ISA=value)
    code = ("import warnings; warnings.simplefilter('error');\n"
            "try:\n import sectionloss\nexcept RuntimeWarning as w:\n print('WARN', w)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert f"WARN SECTIONLOSS_ISA={value!r} is ignored" in out, out
    assert "'scalar', 'avx2', 'neon', 'avx512'" in out
    env["SECTIONLOSS_ISA"] = "scalar"
    out = subprocess.run([sys.executable, "-W", "error", "-c",
                          "import sectionloss; print(sectionloss.isa())"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "scalar"


# ---- memory: no copies, one gradient buffer, grad_out, inplace --------------------------------
def _pointers_seen(monkeypatch):
    """Records the pointers each C call receives."""
    from sectionloss import _lib
    seen = []
    real = _lib.call

    def spy(entry, n, c, h, w, input_ptr, target_ptr, **kw):
        seen.append(dict(kw, input_ptr=input_ptr, target_ptr=target_ptr))
        return real(entry, n, c, h, w, input_ptr, target_ptr, **kw)

    monkeypatch.setattr(_lib, "call", spy)
    return seen


@pytest.mark.parametrize("label_dtype", [torch.int64, torch.int32, torch.uint8])
@pytest.mark.parametrize("mask_dtype", [torch.bool, torch.uint8])
def test_labels_and_masks_reach_the_library_without_a_copy(monkeypatch, label_dtype,
                                                           mask_dtype):
    seen = _pointers_seen(monkeypatch)
    x, t, m = _ce_data()
    t, m = t.to(label_dtype), m.to(mask_dtype)
    x.requires_grad_()
    loss = sl.cross_entropy(x, t, mask=m)
    assert seen[-1]["target_ptr"] == t.data_ptr() and seen[-1]["mask_ptr"] == m.data_ptr()
    assert seen[-1]["input_ptr"] == x.data_ptr()
    # the gradient the library wrote is the one autograd hands over (no copy into x.grad)
    grad_ptr = seen[-1]["grad_ptr"]
    loss.backward()
    assert x.grad.data_ptr() == grad_ptr


def test_grad_out_is_the_gradient_buffer(monkeypatch):
    seen = _pointers_seen(monkeypatch)
    x, t, m = _ce_data()
    buf = torch.empty_like(x)
    want = x.clone().requires_grad_()
    sl.cross_entropy(want, t, mask=m).backward()
    for step in range(2):  # a persistent buffer, reused
        xr = x.clone().requires_grad_()
        sl.cross_entropy(xr, t, mask=m, grad_out=buf).backward()
        assert seen[-1]["grad_ptr"] == buf.data_ptr() and xr.grad.data_ptr() == buf.data_ptr()
        assert torch.equal(xr.grad, want.grad)
    y = (torch.rand_like(x) < 0.5).float()
    for fn, kw in ((sl.binary_cross_entropy_with_logits, {}), (sl.sigmoid_focal_loss, {}),
                   (sl.dice_loss, dict(mode="multilabel")),
                   (sl.dice_loss, dict(mode="multilabel", reduction="none"))):
        xr, xw = x.clone().requires_grad_(), x.clone().requires_grad_()
        loss = fn(xr, y, grad_out=buf, **kw)
        loss.sum().backward()
        fn(xw, y, **kw).sum().backward()
        assert xr.grad.data_ptr() == buf.data_ptr() and torch.equal(xr.grad, xw.grad), fn
    with pytest.raises(ValueError, match="grad_out must be a contiguous tensor of the input.s dtype"):
        sl.cross_entropy(x.clone().requires_grad_(), t, grad_out=buf.double())
    with pytest.raises(ValueError, match="grad_out must be a contiguous tensor of the input.s dtype"):
        sl.cross_entropy(x.clone().requires_grad_(), t, grad_out=buf[:1])


def _overlap_supported():
    """Whether this library build accepts grad == input (the C in-place contract)."""
    x = torch.randn(1, 2, 2, 2)
    w = x.clone().requires_grad_()
    try:
        sl.cross_entropy(w * 1.0, torch.zeros(1, 2, 2, dtype=torch.int64), inplace=True)
    except sl.SectionLossError as e:
        if e.status_name == "SL_ERR_ALIAS":
            return False
        raise
    return True


INPLACE = [(sl.cross_entropy, "labels", {}), (sl.softmax_focal_loss, "labels", dict(gamma=1.5)),
           (sl.binary_cross_entropy_with_logits, "float", {}),
           (sl.sigmoid_focal_loss, "float", {})]


@pytest.mark.parametrize("fn,kind,kw", INPLACE)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_inplace_gradient_over_the_logits(fn, kind, kw, reduction):
    if not _overlap_supported():
        pytest.skip("this library rejects grad == input (SL_ERR_ALIAS): no C in-place support")
    x, t, m = _ce_data(seed=3)
    target = t if kind == "labels" else (torch.rand_like(x) < 0.5).float()
    w = torch.randn(x.shape[1], 1, 1)
    # the logits come from a module: the leaf is w, the in-place tensor its product
    wa, wb = w.clone().requires_grad_(), w.clone().requires_grad_()
    want = fn(x * wa, target, mask=m, reduction=reduction, **kw)
    want.sum().backward()
    logits = x * wb
    ptr = logits.data_ptr()
    got = fn(logits, target, mask=m, reduction=reduction, inplace=True, **kw)
    assert_close_loss(got.detach(), want.detach())
    got.sum().backward()
    assert_close_grad(wb.grad, wa.grad)
    assert logits.data_ptr() == ptr  # the logits' storage now holds the gradient


def test_inplace_refuses_what_it_cannot_do():
    x, t, _ = _ce_data()
    leaf = x.clone().requires_grad_()
    with pytest.raises(ValueError, match="leaf tensor that requires grad"):
        sl.cross_entropy(leaf, t, inplace=True)
    with pytest.raises(ValueError, match="needs a contiguous float32, bfloat16 or float16 input"):
        sl.cross_entropy((leaf * 1.0).double(), t, inplace=True)
    with pytest.raises(ValueError, match="needs a contiguous float32, bfloat16 or float16 input"):
        sl.cross_entropy((leaf * 1.0).transpose(2, 3), t.transpose(1, 2), inplace=True)
    with pytest.raises(ValueError, match="exclusive"):
        sl.cross_entropy(leaf * 1.0, t, inplace=True, grad_out=torch.empty_like(x))


def test_inplace_over_a_tensor_another_operator_saved_fails_loudly():
    if not _overlap_supported():
        pytest.skip("this library rejects grad == input (SL_ERR_ALIAS): no C in-place support")
    x, t, _ = _ce_data()
    w = torch.ones(1, requires_grad=True)
    logits = torch.exp(x * w)  # exp saves its output for backward
    loss = sl.cross_entropy(logits, t, inplace=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_torch_requirement_accepts_debians_pre_release_build():
    # Debian's python3-torch reports 1.13.0a0; ">=1.13" would make pip replace it
    packaging = pytest.importorskip("packaging.requirements")
    import importlib.util
    path = os.path.join(os.path.dirname(__file__), "..", "sectionloss_build.py")
    spec = importlib.util.spec_from_file_location("sectionloss_build", path)
    sectionloss_build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sectionloss_build)
    req = packaging.Requirement(sectionloss_build.TORCH_REQUIREMENT)
    assert req.name == "torch"
    for version in ("1.13.0a0", "1.13.0", "2.15.0"):
        assert req.specifier.contains(version), version
    assert not req.specifier.contains("1.12.1")


def test_backward_makes_no_gradient_sized_tensor():
    # the non-differentiable outputs (the saved gradient among them) get None in backward,
    # not zero tensors of their size (set_materialize_grads(False)); the gradient is returned
    # as it is for loss.backward()
    x, t, m = _ce_data(n=2, c=3, h=16, w=16)
    x.requires_grad_()
    loss = sl.cross_entropy(x, t, mask=m)
    with torch.profiler.profile(record_shapes=True) as prof:
        loss.backward()
    writes = ("aten::zeros", "aten::fill_", "aten::zero_", "aten::clone", "aten::copy_",
              "aten::mul", "aten::empty_like", "aten::zeros_like")
    big = [e.key for e in prof.key_averages(group_by_input_shape=True)
           if e.key in writes and any(list(s) == list(x.shape) for s in e.input_shapes)]
    assert big == [], big


def _vm_flags(address):
    """The VmFlags of the mapping holding address (/proc/self/smaps), or None."""
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and len(head.split("-")) == 2 and ":" not in head:
                lo, hi = (int(v, 16) for v in head.split("-"))
                inside = lo <= address < hi
            elif inside and line.startswith("VmFlags:"):
                return line.split()[1:]
    return None


@pytest.mark.skipif(not os.path.exists("/sys/kernel/mm/transparent_hugepage/enabled"),
                    reason="no transparent huge pages (Linux with THP)")
def test_a_new_gradient_of_32_mib_or_more_is_advised_huge_pages():
    # fresh memory: a new gradient buffer >= 32 MiB gets MADV_HUGEPAGE (VmFlags
    # "hg"): one page fault per 2 MiB instead of per 4 KiB
    x = torch.zeros((1, 1, 9 << 10, 1024), requires_grad=True)  # 36 MiB
    sl.binary_cross_entropy_with_logits(x, torch.zeros_like(x)).backward()
    flags = _vm_flags(x.grad.data_ptr() + x.grad.numel() * 2)
    assert flags is not None and "hg" in flags, flags
