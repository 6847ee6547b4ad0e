# SPDX-License-Identifier: MIT
"""atheris fuzz target over sectionloss's public functions.

Each input decodes to one call: a loss, a shape, the input's dtype and strides, a target (its
dtype too, and the per-element weight's, for the BCE losses: float32, float16, bfloat16), a
section (box tuple / tensor / per-sample list / box_offsets, mask bool / uint8 of each allowed
shape), options, requires_grad, grad_out or inplace; with some probability one argument is made
invalid on purpose. A valid call must return the loss (and gradient) of a float64 PyTorch
reference over the same section, within the package's tolerances (docs/testing.md); an invalid
one must raise TypeError / ValueError (SectionLossError is a ValueError). Anything else (another
exception, a NaN or a value off the reference, a crash) is a finding.

  build/venv/bin/python python/fuzz/fuzz_losses.py -max_total_time=60   (make python-fuzz)
"""
import sys

import atheris

with atheris.instrument_imports():
    import sectionloss as sl

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
LOSSES = ["bce", "bce_logits", "ce", "softmax_focal", "sigmoid_focal", "dice", "tversky"]
INPLACE_OK = ["bce_logits", "ce", "softmax_focal", "sigmoid_focal"]


class Invalid(Exception):
    """The case was made invalid on purpose: the call must raise TypeError / ValueError."""


def section(fdp, n, c, h, w, per_channel):
    """(box kwargs, mask, selection bool [N, C, H, W])."""
    sel = torch.ones((n, c, h, w), dtype=torch.bool)
    kw = {}
    kind = fdp.ConsumeIntInRange(0, 4)

    def rand_box():
        x1, x2 = sorted(fdp.ConsumeIntInRange(0, w) for _ in range(2))
        y1, y2 = sorted(fdp.ConsumeIntInRange(0, h) for _ in range(2))
        return [x1, y1, x2, y2]

    if kind == 1:  # one tuple for every sample
        b = rand_box()
        kw["box"] = tuple(b)
        s = torch.zeros_like(sel)
        s[:, :, b[1]:b[3], b[0]:b[2]] = True
        sel &= s
    elif kind in (2, 3, 4):  # [N, 4]; a per-sample list; [K, 4] + box_offsets
        counts = [1] * n if kind == 2 else [fdp.ConsumeIntInRange(0, 3) for _ in range(n)]
        boxes = [[rand_box() for _ in range(k)] for k in counts]
        s = torch.zeros_like(sel)
        for i, bs in enumerate(boxes):
            for b in bs:
                s[i, :, b[1]:b[3], b[0]:b[2]] = True
        sel &= s
        flat = torch.tensor([b for bs in boxes for b in bs], dtype=torch.int64).reshape(-1, 4)
        if kind == 2:
            kw["box"] = flat.to(fdp.PickValueInList([torch.int64, torch.int32]))
        elif kind == 3:
            kw["box"] = [torch.tensor(bs, dtype=torch.int64).reshape(-1, 4) for bs in boxes]
        else:
            kw["box"] = flat
            kw["box_offsets"] = torch.tensor([0] + list(torch.tensor(counts).cumsum(0)))
    mask = None
    if fdp.ConsumeBool():
        shapes = [(n, 1, h, w), (n, h, w)] + ([(n, c, h, w)] if per_channel else [])
        shape = fdp.PickValueInList(list(shapes))
        m = torch.rand(shape) < fdp.ConsumeFloatInRange(0.0, 1.0)
        m = m.to(fdp.PickValueInList([torch.bool, torch.uint8]))
        mask = m
        sel &= (m != 0).reshape(n, -1, h, w)
    return kw, mask, sel


def reduce(elem, sel, reduction, norm=None):
    """elem float64 per element / pixel, 0 outside sel; MEAN: sum / norm (0 when empty)."""
    if reduction == "none":
        return torch.where(sel, elem, torch.zeros((), dtype=elem.dtype))
    total = torch.where(sel, elem, torch.zeros((), dtype=elem.dtype)).sum()
    if reduction == "sum":
        return total
    norm = sel.sum().double() if norm is None else norm
    return total / norm if norm > 0 else total * 0.0


def reference(loss, x, t, sel, o):
    """float64 PyTorch loss of the section (x float64 requires grad)."""
    red = o["reduction"]
    if loss in ("bce", "bce_logits", "sigmoid_focal"):
        wt = o.get("weight")
        wt = 1.0 if wt is None else wt.double()
        if loss == "bce":
            e = F.binary_cross_entropy(x, t, reduction="none") * wt
        elif loss == "bce_logits":
            pw = o.get("pos_weight")
            pw = None if pw is None else pw.double().reshape(-1, 1, 1)
            e = F.binary_cross_entropy_with_logits(x, t, pos_weight=pw, reduction="none") * wt
        else:
            p = torch.sigmoid(x)
            ce = F.binary_cross_entropy_with_logits(x, t, reduction="none")
            pt1 = p * (1 - t) + (1 - p) * t
            a = o["alpha"]
            at = a * t + (1 - a) * (1 - t) if a >= 0 else 1.0
            e = wt * at * pt1 ** o["gamma"] * ce
        return reduce(e, sel, red)
    if loss in ("ce", "softmax_focal"):
        ii = o["ignore_index"]
        counted = sel[:, 0] & (t != ii)
        tt = torch.where(counted, t, 0)
        cw = o.get("weight")
        lsm = x.log_softmax(1)
        nll = -lsm.gather(1, tt[:, None])[:, 0]
        wpix = torch.ones_like(nll) if cw is None else cw.double()[tt]
        if loss == "ce":
            eps = o["label_smoothing"]
            c = x.shape[1]
            cwv = torch.ones(c, dtype=torch.float64) if cw is None else cw.double()
            smooth = -(lsm * cwv.view(1, -1, 1, 1)).sum(1) / c
            e = (1 - eps) * nll * wpix + eps * smooth
        else:
            pt = (-nll).exp()
            e = wpix * (1 - pt) ** o["gamma"] * nll
        if red == "none":
            return torch.where(counted, e, torch.zeros((), dtype=e.dtype))
        return reduce(e, counted, red, wpix[counted].sum())
    # Dice / Tversky: smp 0.5+'s formula over the section; binary / multilabel: its L1
    # intersection (P + T - sum |p - t|) / 2; multiclass: sum p t (one-hot targets, p in (0, 1):
    # the same value; the library's)
    if o["mode"] == "multiclass":
        p = x.softmax(1)
        ii = o["ignore_index"]
        counted = sel[:, :1] & (t != ii)[:, None] if ii is not None else sel[:, :1]
        tt = F.one_hot(torch.where(counted[:, 0], t, 0), x.shape[1]).permute(0, 3, 1, 2)
        s = counted.expand_as(p).double()
        tt = tt.double() * s
    else:
        p = torch.sigmoid(x) if o["from_logits"] else x
        s = sel.double()
        ii = o["ignore_index"]
        if ii is not None:
            s = s * (t != ii).double()
        tt = t * s
    dims = (0, 2, 3)
    psum, tsum = (p * s).sum(dims), (tt * s).sum(dims)
    if o["mode"] == "multiclass":
        inter = (p * tt * s).sum(dims)
    else:
        inter = (psum + tsum - torch.linalg.vector_norm((p - tt) * s, ord=1, dim=dims)) / 2
    al, be, g, sm, ep = o["alpha"], o["beta"], o["gamma"], o["smooth"], o["eps"]
    score = (inter + sm) / (inter + al * (psum - inter) + be * (tsum - inter) + sm).clamp_min(ep)
    lc = -torch.log(score.clamp_min(ep)) if o["log_loss"] else 1.0 - score
    lc = lc * (tsum > 0).double()
    if red == "none":
        return lc
    base = lc.mean() if red == "mean" else lc.sum()
    return base ** g if g != 1.0 else base


def build(fdp):
    loss = fdp.PickValueInList(LOSSES)
    n, c = fdp.ConsumeIntInRange(1, 3), fdp.ConsumeIntInRange(1, 5)
    h, w = fdp.ConsumeIntInRange(1, 7), fdp.ConsumeIntInRange(1, 9)
    o = {"reduction": fdp.PickValueInList(["mean", "sum", "none"])}
    mode = None
    if loss in ("dice", "tversky"):
        mode = fdp.PickValueInList(["binary", "multilabel", "multiclass"])
        if mode == "binary":
            c = 1
        if mode == "multiclass":
            c = max(c, 2)
    labels = loss in ("ce", "softmax_focal") or mode == "multiclass"
    scale = fdp.PickValueInList([1.0, 4.0, 12.0])
    x = torch.randn((n, c, h, w)) * scale
    if loss == "bce" or (mode in ("binary", "multilabel") and fdp.ConsumeBool()):
        x = torch.rand((n, c, h, w))
        if loss != "bce":
            o["from_logits"] = False
    if labels:
        ii = fdp.PickValueInList([-100, 1, None] if mode else [-100, 1])
        t = torch.randint(0, c, (n, h, w))
        if ii is not None and fdp.ConsumeBool():
            t[torch.rand((n, h, w)) < 0.2] = ii
        o["ignore_index"] = ii
    else:
        t = (torch.rand((n, c, h, w)) < 0.4).double() if fdp.ConsumeBool() else \
            torch.rand((n, c, h, w)).double()
        if mode:
            o["ignore_index"] = fdp.PickValueInList([-100, None])
    kw, mask, sel = section(fdp, n, c, h, w, not labels)
    invalid = None
    if loss in ("bce", "bce_logits", "sigmoid_focal") and fdp.ConsumeBool():
        o["weight"] = torch.rand(fdp.PickValueInList([(n, c, h, w), (c, 1, 1), (1,)])) + 0.1
    if loss == "bce_logits" and fdp.ConsumeBool():
        o["pos_weight"] = torch.rand(c) + 0.5
    if loss in ("ce", "softmax_focal") and fdp.ConsumeBool():
        o["weight"] = torch.rand(c) + 0.1
    if loss == "ce":
        o["label_smoothing"] = fdp.PickValueInList([0.0, 0.1, 1.0])
    if loss in ("softmax_focal", "sigmoid_focal"):
        o["gamma"] = fdp.PickValueInList([0.0, 0.5, 2.0, 3.5])
    if loss == "sigmoid_focal":
        o["alpha"] = fdp.PickValueInList([0.25, -1.0, 1.0, 0.0])
    if mode:
        o.update(mode=mode, smooth=fdp.PickValueInList([0.0, 1.0]),
                 eps=fdp.PickValueInList([1e-7, 0.5]), log_loss=fdp.ConsumeBool())
        o.setdefault("from_logits", True)
        if loss == "tversky":
            o.update(alpha=fdp.PickValueInList([0.5, 0.3, 0.0]),
                     beta=fdp.PickValueInList([0.5, 0.7, 1.5]),
                     gamma=fdp.PickValueInList([1.0, 0.5, 2.0]))
    # an invalid argument on purpose, sometimes
    bad = fdp.ConsumeIntInRange(0, 12)
    if bad == 1 and labels:
        t[0, 0, 0] = fdp.PickValueInList([c, -1, 255])
        if not (sel[0, 0, 0, 0] and t[0, 0, 0] != o.get("ignore_index")):
            t[0, 0, 0] = 0  # outside the section a bad label is not looked at
        else:
            invalid = "label"
    elif bad == 2:
        kw = {"box": (0, 0, w + 1, h)}
        sel = torch.zeros_like(sel)
        invalid = "box"
    elif bad == 3 and loss == "ce":
        o["label_smoothing"] = fdp.PickValueInList([1.5, -0.1, float("nan")])
        invalid = "label_smoothing"
    elif bad == 4 and loss in ("softmax_focal", "sigmoid_focal"):
        o["gamma"] = fdp.PickValueInList([-1.0, float("inf"), float("nan")])
        invalid = "gamma"
    elif bad == 5 and loss == "bce":
        x[0, 0, 0, 0] = fdp.PickValueInList([1.5, -0.5, float("nan")])
        if sel[0, 0, 0, 0]:
            invalid = "probability"
        else:
            x[0, 0, 0, 0] = 0.5
    elif bad == 6 and mode:
        o["eps"] = 0.0
        invalid = "eps"
    dtype = fdp.PickValueInList([torch.float32, torch.float32, torch.float64, torch.float16,
                                 torch.bfloat16])
    if not labels:
        t = t.float()
    return loss, x, t, kw, mask, sel, o, invalid, dtype


FN = {"bce": sl.binary_cross_entropy, "bce_logits": sl.binary_cross_entropy_with_logits,
      "ce": sl.cross_entropy, "softmax_focal": sl.softmax_focal_loss,
      "sigmoid_focal": sl.sigmoid_focal_loss, "dice": sl.dice_loss,
      "tversky": sl.tversky_loss}


def check(got, want, what, rtol, atol_rel):
    """got within the tolerances of want where want is finite (where PyTorch's float64
    gradient is NaN / inf, e.g. x**gamma at 0, the library documents its own value)."""
    want = want.detach()
    finite = torch.isfinite(want)
    got, want = got[finite], want[finite]
    atol = atol_rel * (1.0 + float(want.abs().max())) if want.numel() else 0.0
    if not torch.allclose(got.double(), want, rtol=rtol, atol=atol, equal_nan=False):
        diff = (got.double() - want).abs().max()
        raise AssertionError(f"{what}: max |diff| {float(diff):.3g} (atol {atol:.3g}), got "
                             f"{got.flatten()[:6].tolist()}, want {want.flatten()[:6].tolist()}")


def TestOneInput(data):
    fdp = atheris.FuzzedDataProvider(data)
    torch.manual_seed(fdp.ConsumeIntInRange(0, 2**31))
    loss, x, t, kw, mask, sel, o, invalid, dtype = build(fdp)
    x_in = x.to(dtype)
    if fdp.ConsumeBool():  # a non-contiguous view of the same values
        x_in = x_in.transpose(2, 3).contiguous().transpose(2, 3)
    x32 = x_in.float()  # what the library computes on
    want_grad = fdp.ConsumeBool()
    mem = fdp.ConsumeIntInRange(0, 2)
    extra = {}
    kind_mem = None
    if want_grad and mem == 1:
        extra["grad_out"] = torch.empty(x.shape)
        kind_mem = "grad_out"
    # the targets' and the per-element weights' element types (the BCE losses): float32, or
    # float16 / bfloat16, whose values the reference then takes (the library computes on them)
    t_in = t
    if loss in ("bce", "bce_logits", "sigmoid_focal"):
        half = [torch.float32, torch.float32, torch.float16, torch.bfloat16]
        t_in = t.to(fdp.PickValueInList(half))
        t = t_in.float()
        if isinstance(o.get("weight"), torch.Tensor):
            o["weight"] = o["weight"].to(fdp.PickValueInList(half))
    opts = {k: v for k, v in o.items() if k != "mode" or loss in ("dice", "tversky")}
    fn = FN[loss]
    leaf = x_in.detach().clone().requires_grad_(want_grad)
    arg = leaf
    if want_grad and mem == 2 and loss in INPLACE_OK and dtype == torch.float32 and \
            x_in.is_contiguous():
        arg = leaf * 1.0  # inplace needs a non-leaf
        extra["inplace"] = True
        kind_mem = "inplace"
    try:
        out = fn(arg, t_in, mask=mask, **kw, **opts, **extra)
        if want_grad:
            out.sum().backward()
    except (TypeError, ValueError) as e:
        if invalid is None:
            raise AssertionError(f"valid case raised {type(e).__name__}: {e}") from e
        return
    if invalid is not None:
        raise AssertionError(f"invalid {invalid} accepted: {out}")
    xr = x32.double().requires_grad_()
    ro = {k: v.double() if isinstance(v, torch.Tensor) and v.is_floating_point() else v
          for k, v in o.items()}
    if loss == "dice":
        ro.update(alpha=0.5, beta=0.5, gamma=1.0)
    ref = reference(loss, xr, t if t.dtype != torch.float32 else t.double(), sel, ro)
    if not torch.isfinite(ref).all():
        return  # outside the contract's comparisons (e.g. 0 ** negative): no crash is the check
    # tolerances: float32 computation of every element, double sums (docs/testing.md), widened
    # for logits up to 12 sigma and probabilities near 0 / 1
    check(out.detach(), ref, f"{loss} loss", 1e-5, 1e-5)
    if want_grad:
        ref.sum().backward()
        # the gradient reaches a float16 / bfloat16 input rounded to its dtype: one ULP more
        rtol = 1e-4 + (torch.finfo(dtype).eps if dtype in (torch.float16, torch.bfloat16) else 0)
        # where the reference gradient overflows the input's dtype (a float16 p rounded to 1
        # gives 1 / max(p (1 - p), 1e-12)), PyTorch's is infinite too: not compared
        want = torch.where(torch.isfinite(xr.grad.to(dtype)), xr.grad.double(),
                           torch.full((), float("nan"), dtype=torch.float64))
        check(leaf.grad.float(), want, f"{loss} grad {kind_mem}", rtol, 1e-4)


def main():
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
