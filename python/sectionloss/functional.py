"""Section losses shaped like torch.nn.functional, with autograd and torch.compile support.

Each public function checks and converts its arguments (see README "Python": a documented copy
for non-contiguous tensors, other float dtypes and int8/int16 labels; TypeError or ValueError
otherwise), then calls one operator:

  sectionloss::bce(input, target, boxes, mask, weight, pos_weight, logits, reduction,
                   num_threads, with_grad) -> (loss, grad, stats)
  sectionloss::ce(input, target, boxes, mask, weight, ignore_index, label_smoothing, reduction,
                  num_threads, with_grad) -> (loss, grad, stats)

which runs ONE C call: the loss, and when the input needs a gradient, the gradient in the same
pass (unscaled: grad_scale 1, and for reduction "none" d loss_e / d input_e before the upstream
map). Backward multiplies that saved gradient by grad_output (MEAN/SUM: returned as is when
grad_output is 1, in eager mode) or by the upstream map (NONE: one elementwise product, no
second pass over the inputs). stats is float64 [loss_sum, normalizer, count] from sl_stats.

On PyTorch with torch.library.custom_op (2.4 and later) the operators are registered custom ops
with a fake implementation and register_autograd, so torch.compile(fullgraph=True) traces
through them; on older versions (Debian's 1.13) the same functions run as a
torch.autograd.Function.
"""
from typing import Optional, Tuple

import torch

from . import _lib

try:
    import numpy as _np
except ImportError:  # numpy is optional: only the numpy input path needs it
    _np = None

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy"]

_INT32_MAX = 2**31 - 1
_LABEL_TYPES = {torch.int64: _lib.LABEL_I64, torch.int32: _lib.LABEL_I32,
                torch.uint8: _lib.LABEL_U8}


# ---- the operators' real implementation: one C call ------------------------------------------
def _ptr(t):
    return None if t is None else t.data_ptr()


def _run(entry, input, target, boxes, mask, weight, pos_weight, reduction, num_threads,
         with_grad, ignore_index=-100, label_smoothing=0.0):
    n, c, h, w = input.shape
    if entry == "ce":
        map_shape, label_type = (n, h, w), _LABEL_TYPES[target.dtype]
    else:
        map_shape, label_type = (n, c, h, w), _lib.LABEL_I64
    loss = torch.empty(map_shape if reduction == "none" else (), dtype=torch.float32)
    grad = torch.empty_like(input) if with_grad else input.new_empty((0,))
    # NONE with a gradient: the C API takes the upstream map at call time; the forward pass does
    # not know it yet, so it asks for d loss_e / d input_e (a map of ones) and backward
    # multiplies by the upstream map (README: "reduction none").
    ones_map = torch.ones(map_shape) if with_grad and reduction == "none" else None
    mask_channels = 1
    if mask is not None and mask.dim() == 4:
        mask_channels = mask.shape[1]
    stats = _lib.call(
        entry, n, c, h, w, input.data_ptr(), target.data_ptr(), label_type=label_type,
        boxes_ptr=_ptr(boxes), num_boxes=0 if boxes is None else boxes.shape[0],
        mask_ptr=_ptr(mask), mask_channels=mask_channels, weight_ptr=_ptr(weight),
        pos_weight_ptr=_ptr(pos_weight), reduction=reduction, ignore_index=ignore_index,
        label_smoothing=label_smoothing, grad_map_ptr=_ptr(ones_map),
        num_threads=torch.get_num_threads() if num_threads < 0 else num_threads,
        loss_ptr=loss.data_ptr(), grad_ptr=grad.data_ptr() if with_grad else None)
    return loss, grad, torch.tensor(stats, dtype=torch.float64)


def _contiguous(*tensors):
    return [None if t is None else t.contiguous() for t in tensors]


def _bce_impl(input: torch.Tensor, target: torch.Tensor, boxes: Optional[torch.Tensor],
              mask: Optional[torch.Tensor], weight: Optional[torch.Tensor],
              pos_weight: Optional[torch.Tensor], logits: bool, reduction: str,
              num_threads: int, with_grad: bool
              ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    input, target, boxes, mask, weight, pos_weight = _contiguous(input, target, boxes, mask,
                                                                 weight, pos_weight)
    return _run("bce_logits" if logits else "bce", input, target, boxes, mask, weight, pos_weight,
                reduction, num_threads, with_grad)


def _ce_impl(input: torch.Tensor, target: torch.Tensor, boxes: Optional[torch.Tensor],
             mask: Optional[torch.Tensor], weight: Optional[torch.Tensor], ignore_index: int,
             label_smoothing: float, reduction: str, num_threads: int, with_grad: bool
             ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    input, target, boxes, mask, weight = _contiguous(input, target, boxes, mask, weight)
    return _run("ce", input, target, boxes, mask, weight, None, reduction, num_threads,
                with_grad, ignore_index, label_smoothing)


def _fake(input, reduction, with_grad, map_shape):
    loss = input.new_empty(map_shape if reduction == "none" else ())
    grad = torch.empty_like(input) if with_grad else input.new_empty((0,))
    return loss, grad, input.new_empty((3,), dtype=torch.float64)


def _bce_fake(input, target, boxes, mask, weight, pos_weight, logits, reduction, num_threads,
              with_grad):
    return _fake(input, reduction, with_grad, input.shape)


def _ce_fake(input, target, boxes, mask, weight, ignore_index, label_smoothing, reduction,
             num_threads, with_grad):
    n, _, h, w = input.shape
    return _fake(input, reduction, with_grad, (n, h, w))


# ---- autograd: the saved gradient times the upstream gradient --------------------------------
def _setup_context(is_ce):
    def setup_context(ctx, inputs, output):
        _, grad, stats = output
        ctx.mark_non_differentiable(grad, stats)
        ctx.reduction = inputs[-3]  # (..., reduction, num_threads, with_grad)
        ctx.is_ce = is_ce
        ctx.num_inputs = len(inputs)
        ctx.save_for_backward(grad)

    return setup_context


_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)


def _eager_one(g):
    """True when g is a plain eager tensor equal to 1 (not a tensor being traced)."""
    return type(g) is torch.Tensor and not _is_compiling() and g.item() == 1.0


def _backward(ctx, grad_loss, _grad_grad, _grad_stats):
    (grad,) = ctx.saved_tensors
    if ctx.reduction == "none":
        g = grad * (grad_loss.unsqueeze(1) if ctx.is_ce else grad_loss)
    elif _eager_one(grad_loss):
        g = grad  # loss.backward(): no pass over the gradient at all
    else:
        g = grad * grad_loss
    return (g,) + (None,) * (ctx.num_inputs - 1)


if hasattr(torch, "library") and hasattr(torch.library, "custom_op"):
    HAS_CUSTOM_OP = True
    _bce_op = torch.library.custom_op("sectionloss::bce", mutates_args=(),
                                      device_types="cpu")(_bce_impl)
    _ce_op = torch.library.custom_op("sectionloss::ce", mutates_args=(),
                                     device_types="cpu")(_ce_impl)
    _bce_op.register_fake(_bce_fake)
    _ce_op.register_fake(_ce_fake)
    _bce_op.register_autograd(_backward, setup_context=_setup_context(False))
    _ce_op.register_autograd(_backward, setup_context=_setup_context(True))
else:
    HAS_CUSTOM_OP = False

    def _function(impl, is_ce):
        setup_context = _setup_context(is_ce)

        class _Op(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *inputs):
                output = impl(*inputs)
                setup_context(ctx, inputs, output)
                return output

            backward = staticmethod(_backward)

        return _Op.apply

    _bce_op = _function(_bce_impl, False)
    _ce_op = _function(_ce_impl, True)


# ---- argument checks and conversions ---------------------------------------------------------
def _tensor(fname, name, t):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{fname}: {name} must be a torch.Tensor or a numpy.ndarray, "
                        f"got {type(t).__name__}")
    if t.device.type != "cpu":
        raise TypeError(f"{fname}: {name} is on device {t.device}; sectionloss runs on the CPU "
                        f"(move it with .cpu())")
    return t


def _float32(fname, name, t):
    _tensor(fname, name, t)
    if not t.is_floating_point():
        raise TypeError(f"{fname}: {name} must be a floating-point tensor, got {t.dtype}")
    return t.to(torch.float32).contiguous()  # copies only other float dtypes / strides


def _no_grad_needed(fname, name, t):
    if t is not None and t.requires_grad and torch.is_grad_enabled():
        raise ValueError(f"{fname}: the gradient with respect to {name} is not computed; "
                         f"pass {name}.detach()")


def _check_input(fname, input):
    input = _float32(fname, "input", input)
    if input.dim() != 4:
        raise ValueError(f"{fname}: input must be 4-D (N x C x H x W), got shape "
                         f"{tuple(input.shape)}")
    if input.numel() == 0:
        raise ValueError(f"{fname}: input has no elements (shape {tuple(input.shape)})")
    return input


def _check_threads(fname, num_threads):
    """-1 (resolved to torch.get_num_threads() at call time) for None, else an int >= 0."""
    if num_threads is None:
        return -1
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
        raise ValueError(f"{fname}: num_threads must be None or an int >= 0 (0: the OpenMP "
                         f"default), got {num_threads!r}")
    return num_threads


def _check_reduction(fname, reduction):
    if reduction not in _lib.REDUCTIONS:
        raise ValueError(f"{fname}: {reduction!r} is not a valid value for reduction "
                         f"(\"mean\", \"sum\" or \"none\")")


def _check_boxes(fname, box, n):
    if box is None:
        return None
    if isinstance(box, (tuple, list)):
        if len(box) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) for v in box):
            raise TypeError(f"{fname}: box must be (x1, y1, x2, y2) of ints or an integer "
                            f"tensor [N, 4], got {box!r}")
        # Outside int32 is outside any image: clamped to a value the library rejects (SL_ERR_BOX).
        return torch.tensor([[max(-1, min(v, _INT32_MAX)) for v in box]], dtype=torch.int32)
    _tensor(fname, "box", box)
    if box.is_floating_point() or box.is_complex() or box.dtype == torch.bool:
        raise TypeError(f"{fname}: box must be an integer tensor, got {box.dtype}")
    if box.dim() == 1:
        box = box.unsqueeze(0)
    if box.dim() != 2 or box.shape[1] != 4 or box.shape[0] not in (1, n):
        raise ValueError(f"{fname}: box must be [4], [1, 4] or [N, 4] = [{n}, 4], got shape "
                         f"{tuple(box.shape)}")
    if box.dtype != torch.int32:
        box = box.clamp(-1, _INT32_MAX).to(torch.int32)
    return box.contiguous()


def _check_mask(fname, mask, input, per_channel_ok):
    if mask is None:
        return None
    _tensor(fname, "mask", mask)
    if mask.dtype not in (torch.bool, torch.uint8):
        raise TypeError(f"{fname}: mask must be a bool or uint8 tensor, got {mask.dtype}")
    n, c, h, w = input.shape
    shapes = [(n, 1, h, w), (n, h, w)] + ([(n, c, h, w)] if per_channel_ok else [])
    if tuple(mask.shape) not in shapes:
        raise ValueError(f"{fname}: mask must have shape "
                         f"{' or '.join(str(list(s)) for s in shapes)}, got "
                         f"{list(mask.shape)}")
    return mask.contiguous()


def _broadcasts_to(shape, full):
    return len(shape) <= len(full) and all(
        a == 1 or a == b for a, b in zip(reversed(tuple(shape)), reversed(tuple(full))))


def _numpy_call(fn, args, kwargs):
    """The numpy path: arrays become tensors without a copy, the result an ndarray."""
    def conv(v):
        return torch.from_numpy(v) if isinstance(v, _np.ndarray) else v

    with torch.no_grad():
        out = fn(*[conv(a) for a in args], **{k: conv(v) for k, v in kwargs.items()})
    if isinstance(out, tuple):
        return tuple(t.numpy() for t in out)
    return out.numpy()


def _is_numpy(*values):
    return _np is not None and any(isinstance(v, _np.ndarray) for v in values)


def _bce(fname, logits, input, target, box, mask, weight, pos_weight, reduction, num_threads,
         return_stats):
    _check_reduction(fname, reduction)
    input = _check_input(fname, input)
    target = _float32(fname, "target", target)
    if target.shape != input.shape:
        raise ValueError(f"{fname}: target shape {tuple(target.shape)} differs from input shape "
                         f"{tuple(input.shape)}")
    n, c, h, w = input.shape
    if weight is not None:
        weight = _float32(fname, "weight", weight)
        if not _broadcasts_to(weight.shape, input.shape):
            raise ValueError(f"{fname}: weight of shape {tuple(weight.shape)} does not broadcast "
                             f"to the input shape {tuple(input.shape)}")
        weight = weight.expand(input.shape).contiguous()
    if pos_weight is not None:
        pos_weight = _float32(fname, "pos_weight", pos_weight)
        if pos_weight.numel() == 1 and pos_weight.dim() <= 1:
            pos_weight = pos_weight.reshape(1).expand(c).contiguous()
        elif tuple(pos_weight.shape) in ((c,), (c, 1, 1), (1, c, 1, 1)):
            pos_weight = pos_weight.reshape(c)
        else:
            raise ValueError(f"{fname}: pos_weight must have one value per channel: shape [{c}] "
                             f"(or [{c}, 1, 1]), got {tuple(pos_weight.shape)}")
    for name, t in (("target", target), ("weight", weight), ("pos_weight", pos_weight)):
        _no_grad_needed(fname, name, t)
    boxes = _check_boxes(fname, box, n)
    mask = _check_mask(fname, mask, input, True)
    with_grad = input.requires_grad and torch.is_grad_enabled()
    threads = _check_threads(fname, num_threads)
    loss, _, stats = _bce_op(input, target, boxes, mask, weight, pos_weight, logits, reduction,
                             threads, with_grad)
    return (loss, stats) if return_stats else loss


def binary_cross_entropy(input, target, *, box=None, mask=None, weight=None, reduction="mean",
                         num_threads=None, return_stats=False):
    """F.binary_cross_entropy(input[sel], target[sel], weight[sel]) over the section sel (box
    and/or mask); reduction "none" gives the full N x C x H x W map, 0 outside the section.
    return_stats=True also returns float64 [loss_sum, normalizer, count] (sl_stats)."""
    if _is_numpy(input, target, box, mask, weight):
        return _numpy_call(binary_cross_entropy, (input, target),
                           dict(box=box, mask=mask, weight=weight, reduction=reduction,
                                num_threads=num_threads, return_stats=return_stats))
    return _bce("binary_cross_entropy", False, input, target, box, mask, weight, None, reduction,
                num_threads, return_stats)


def binary_cross_entropy_with_logits(input, target, *, box=None, mask=None, weight=None,
                                     pos_weight=None, reduction="mean", num_threads=None,
                                     return_stats=False):
    """F.binary_cross_entropy_with_logits over the section; pos_weight is per channel ([C],
    PyTorch's pos_weight.view(C, 1, 1)). Otherwise as binary_cross_entropy."""
    if _is_numpy(input, target, box, mask, weight, pos_weight):
        return _numpy_call(binary_cross_entropy_with_logits, (input, target),
                           dict(box=box, mask=mask, weight=weight, pos_weight=pos_weight,
                                reduction=reduction, num_threads=num_threads,
                                return_stats=return_stats))
    return _bce("binary_cross_entropy_with_logits", True, input, target, box, mask, weight,
                pos_weight, reduction, num_threads, return_stats)


def cross_entropy(input, target, *, box=None, mask=None, weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", num_threads=None, return_stats=False):
    """F.cross_entropy(input, target, weight, ignore_index, label_smoothing) counting only the
    pixels in the section (box and/or mask [N, 1, H, W] or [N, H, W]); target holds class
    indices [N, H, W] (int64, int32 or uint8). Reduction "none" gives the N x H x W map."""
    fname = "cross_entropy"
    if _is_numpy(input, target, box, mask, weight):
        return _numpy_call(cross_entropy, (input, target),
                           dict(box=box, mask=mask, weight=weight, ignore_index=ignore_index,
                                label_smoothing=label_smoothing, reduction=reduction,
                                num_threads=num_threads, return_stats=return_stats))
    _check_reduction(fname, reduction)
    input = _check_input(fname, input)
    n, c, h, w = input.shape
    _tensor(fname, "target", target)
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"{fname}: target must hold class indices (int64, int32 or uint8); "
                        f"class-probability targets are not supported, got {target.dtype}")
    if target.dtype not in _LABEL_TYPES:
        target = target.to(torch.int32)  # int8 / int16: a documented copy
    if tuple(target.shape) != (n, h, w):
        raise ValueError(f"{fname}: target must have shape [N, H, W] = {[n, h, w]} for input "
                         f"{list(input.shape)}, got {list(target.shape)}")
    target = target.contiguous()
    if weight is not None:
        weight = _float32(fname, "weight", weight)
        if tuple(weight.shape) != (c,):
            raise ValueError(f"{fname}: weight must have one value per class, shape [{c}], got "
                             f"{tuple(weight.shape)}")
    _no_grad_needed(fname, "weight", weight)
    boxes = _check_boxes(fname, box, n)
    mask = _check_mask(fname, mask, input, False)
    with_grad = input.requires_grad and torch.is_grad_enabled()
    threads = _check_threads(fname, num_threads)
    loss, _, stats = _ce_op(input, target, boxes, mask, weight, int(ignore_index),
                            float(label_smoothing), reduction, threads, with_grad)
    return (loss, stats) if return_stats else loss
