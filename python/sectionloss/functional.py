"""Section losses shaped like torch.nn.functional, with autograd and torch.compile support.

Each public function checks and converts its arguments (see README "Python": a documented copy
for non-contiguous tensors, other float dtypes and int8/int16 labels; TypeError or ValueError
otherwise), then calls one operator:

  sectionloss::bce(input, target, boxes, mask, weight, pos_weight, logits, reduction,
                   num_threads, with_grad, box_offsets=None, want_box_stats=False)
      -> (loss, grad, stats, box_stats)
  sectionloss::ce(input, target, boxes, mask, weight, ignore_index, label_smoothing, reduction,
                  num_threads, with_grad, box_offsets=None, pixel_weight=None,
                  want_box_stats=False) -> (loss, grad, stats, box_stats)
  sectionloss::softmax_focal(input, target, boxes, box_offsets, mask, weight, pixel_weight,
                             gamma, ignore_index, reduction, num_threads, with_grad,
                             want_box_stats) -> (loss, grad, stats, box_stats)
  sectionloss::sigmoid_focal(input, target, boxes, box_offsets, mask, weight, alpha, gamma,
                             reduction, num_threads, with_grad, want_box_stats)
      -> (loss, grad, stats, box_stats)
  sectionloss::dice(input, target, boxes, box_offsets, mask, multiclass, ignore_index, tversky,
                    alpha, beta, gamma, smooth, eps, log_loss, from_logits, reduction,
                    num_threads, with_grad) -> (loss, grad, stats)

which runs ONE C call: the loss, and when the input needs a gradient, the gradient in the same
pass (unscaled: grad_scale 1, and for reduction "none" d loss_e / d input_e before the upstream
map). Backward multiplies that saved gradient by grad_output (MEAN/SUM: returned as is when
grad_output is 1, in eager mode) or by the upstream map (NONE: one elementwise product, no
second pass over the inputs). stats is float64 [loss_sum, normalizer, count] from sl_stats,
box_stats float64 [num_boxes, 3] of them per box (empty unless asked for). Dice with "none" is
the exception: its C per-class losses all depend on every class's input (softmax), so its
forward computes no gradient and backward runs sectionloss::dice_backward(grad_map, input,
...), a second C call given the upstream [C] map.

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

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
           "softmax_focal_loss", "sigmoid_focal_loss", "dice_loss", "tversky_loss"]

_INT32_MAX = 2**31 - 1
_LABEL_TYPES = {torch.int64: _lib.LABEL_I64, torch.int32: _lib.LABEL_I32,
                torch.uint8: _lib.LABEL_U8}


# ---- the operators' real implementation: one C call ------------------------------------------
def _ptr(t):
    return None if t is None else t.data_ptr()


_LABEL_ENTRIES = ("ce", "softmax_focal", "dice_mc")


def _map_shape(entry, shape):
    """Shape of the reduction "none" loss: per element (BCE), per pixel (CE, focal) or per
    class (Dice)."""
    n, c, h, w = shape
    if entry in ("dice", "dice_mc"):
        return (c,)
    return (n, h, w) if entry in ("ce", "softmax_focal") else (n, c, h, w)


def _run(entry, input, target, boxes, box_offsets, mask, reduction, num_threads, with_grad,
         want_box_stats=False, grad_map=None, want_loss=True, **options):
    """One C call. Returns (loss, grad, stats, box_stats); grad is empty without with_grad,
    box_stats float64 [num_boxes, 3] (empty unless want_box_stats). With reduction "none" and a
    gradient, grad_map None asks for d loss_e / d input_e (a map of ones as grad_map)."""
    n, c, h, w = input.shape
    label_type = _LABEL_TYPES[target.dtype] if entry in _LABEL_ENTRIES else _lib.LABEL_I64
    map_shape = _map_shape(entry, input.shape)
    loss = torch.empty(map_shape if reduction == "none" else (), dtype=torch.float32)
    grad = torch.empty_like(input) if with_grad else input.new_empty((0,))
    # NONE with a gradient: the C API takes the upstream map at call time; the forward pass does
    # not know it yet, so it asks for d loss_e / d input_e (a map of ones) and backward
    # multiplies by the upstream map (README: "reduction none"). Dice's per-class losses share
    # their inputs (softmax over C), so its backward makes a second call with the real map.
    if grad_map is None and with_grad and reduction == "none":
        grad_map = torch.ones(map_shape)
    num_boxes = 0 if boxes is None else boxes.shape[0]
    # sl_stats is {double, double, int64}: float64 storage, the count column reinterpreted.
    raw_box_stats = torch.zeros((num_boxes if want_box_stats else 0, 3), dtype=torch.float64)
    mask_channels = 1
    if mask is not None and mask.dim() == 4:
        mask_channels = mask.shape[1]
    stats = _lib.call(
        entry, n, c, h, w, input.data_ptr(), target.data_ptr(), label_type=label_type,
        boxes_ptr=_ptr(boxes) if num_boxes else None, num_boxes=num_boxes,
        box_offsets_ptr=_ptr(box_offsets), mask_ptr=_ptr(mask), mask_channels=mask_channels,
        reduction=reduction, grad_map_ptr=_ptr(grad_map),
        num_threads=torch.get_num_threads() if num_threads < 0 else num_threads,
        loss_ptr=loss.data_ptr() if want_loss else None,
        grad_ptr=grad.data_ptr() if with_grad else None,
        box_stats_ptr=raw_box_stats.data_ptr() if raw_box_stats.numel() else None, **options)
    box_stats = raw_box_stats
    if box_stats.numel():
        box_stats = raw_box_stats.clone()
        box_stats[:, 2] = raw_box_stats.view(torch.int64)[:, 2].to(torch.float64)
    return loss, grad, torch.tensor(stats, dtype=torch.float64), box_stats


def _contiguous(*tensors):
    return [None if t is None else t.contiguous() for t in tensors]


def _bce_impl(input: torch.Tensor, target: torch.Tensor, boxes: Optional[torch.Tensor],
              mask: Optional[torch.Tensor], weight: Optional[torch.Tensor],
              pos_weight: Optional[torch.Tensor], logits: bool, reduction: str,
              num_threads: int, with_grad: bool, box_offsets: Optional[torch.Tensor] = None,
              want_box_stats: bool = False
              ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    input, target, boxes, mask, weight, pos_weight, box_offsets = _contiguous(
        input, target, boxes, mask, weight, pos_weight, box_offsets)
    return _run("bce_logits" if logits else "bce", input, target, boxes, box_offsets, mask,
                reduction, num_threads, with_grad, want_box_stats, weight_ptr=_ptr(weight),
                pos_weight_ptr=_ptr(pos_weight))


def _ce_impl(input: torch.Tensor, target: torch.Tensor, boxes: Optional[torch.Tensor],
             mask: Optional[torch.Tensor], weight: Optional[torch.Tensor], ignore_index: int,
             label_smoothing: float, reduction: str, num_threads: int, with_grad: bool,
             box_offsets: Optional[torch.Tensor] = None,
             pixel_weight: Optional[torch.Tensor] = None, want_box_stats: bool = False
             ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    input, target, boxes, mask, weight, box_offsets, pixel_weight = _contiguous(
        input, target, boxes, mask, weight, box_offsets, pixel_weight)
    return _run("ce", input, target, boxes, box_offsets, mask, reduction, num_threads, with_grad,
                want_box_stats, weight_ptr=_ptr(weight), pixel_weight_ptr=_ptr(pixel_weight),
                ignore_index=ignore_index, label_smoothing=label_smoothing)


def _focal_impl(input: torch.Tensor, target: torch.Tensor, boxes: Optional[torch.Tensor],
                box_offsets: Optional[torch.Tensor], mask: Optional[torch.Tensor],
                weight: Optional[torch.Tensor], pixel_weight: Optional[torch.Tensor],
                gamma: float, ignore_index: int, reduction: str, num_threads: int,
                with_grad: bool, want_box_stats: bool
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    input, target, boxes, box_offsets, mask, weight, pixel_weight = _contiguous(
        input, target, boxes, box_offsets, mask, weight, pixel_weight)
    return _run("softmax_focal", input, target, boxes, box_offsets, mask, reduction,
                num_threads, with_grad, want_box_stats, weight_ptr=_ptr(weight),
                pixel_weight_ptr=_ptr(pixel_weight), ignore_index=ignore_index,
                focal_gamma=gamma)


def _sigmoid_focal_impl(input: torch.Tensor, target: torch.Tensor,
                        boxes: Optional[torch.Tensor], box_offsets: Optional[torch.Tensor],
                        mask: Optional[torch.Tensor], weight: Optional[torch.Tensor],
                        alpha: float, gamma: float, reduction: str, num_threads: int,
                        with_grad: bool, want_box_stats: bool
                        ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    input, target, boxes, box_offsets, mask, weight = _contiguous(
        input, target, boxes, box_offsets, mask, weight)
    return _run("sigmoid_focal", input, target, boxes, box_offsets, mask, reduction,
                num_threads, with_grad, want_box_stats, weight_ptr=_ptr(weight),
                focal_alpha=alpha, focal_gamma=gamma)


def _dice_options(tversky, alpha, beta, gamma, smooth, eps, log_loss, from_logits):
    return dict(dice_tversky=int(tversky), tversky_alpha=alpha, tversky_beta=beta,
                tversky_gamma=gamma, dice_smooth=smooth, dice_eps=eps,
                dice_log_loss=int(log_loss), dice_from_logits=int(from_logits))


def _dice_impl(input: torch.Tensor, target: torch.Tensor, boxes: Optional[torch.Tensor],
               box_offsets: Optional[torch.Tensor], mask: Optional[torch.Tensor],
               multiclass: bool, ignore_index: int, tversky: bool, alpha: float, beta: float,
               gamma: float, smooth: float, eps: float, log_loss: bool, from_logits: bool,
               reduction: str, num_threads: int, with_grad: bool
               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    input, target, boxes, box_offsets, mask = _contiguous(input, target, boxes, box_offsets,
                                                          mask)
    # reduction "none": the gradient comes from _dice_backward_op, given the upstream map.
    loss, grad, stats, _ = _run(
        "dice_mc" if multiclass else "dice", input, target, boxes, box_offsets, mask, reduction,
        num_threads, with_grad and reduction != "none", ignore_index=ignore_index,
        dice=_dice_options(tversky, alpha, beta, gamma, smooth, eps, log_loss, from_logits))
    return loss, grad, stats


def _dice_backward_impl(grad_map: torch.Tensor, input: torch.Tensor, target: torch.Tensor,
                        boxes: Optional[torch.Tensor], box_offsets: Optional[torch.Tensor],
                        mask: Optional[torch.Tensor], multiclass: bool, ignore_index: int,
                        tversky: bool, alpha: float, beta: float, gamma: float, smooth: float,
                        eps: float, log_loss: bool, from_logits: bool, num_threads: int
                        ) -> torch.Tensor:
    grad_map, input, target, boxes, box_offsets, mask = _contiguous(
        grad_map.to(torch.float32), input, target, boxes, box_offsets, mask)
    _, grad, _, _ = _run(
        "dice_mc" if multiclass else "dice", input, target, boxes, box_offsets, mask, "none",
        num_threads, True, grad_map=grad_map, want_loss=False, ignore_index=ignore_index,
        dice=_dice_options(tversky, alpha, beta, gamma, smooth, eps, log_loss, from_logits))
    return grad


def _fake(input, reduction, with_grad, map_shape, boxes=None, want_box_stats=False):
    loss = input.new_empty(map_shape if reduction == "none" else ())
    grad = torch.empty_like(input) if with_grad else input.new_empty((0,))
    num_boxes = boxes.shape[0] if want_box_stats and boxes is not None else 0
    return (loss, grad, input.new_empty((3,), dtype=torch.float64),
            input.new_empty((num_boxes, 3), dtype=torch.float64))


def _bce_fake(input, target, boxes, mask, weight, pos_weight, logits, reduction, num_threads,
              with_grad, box_offsets=None, want_box_stats=False):
    return _fake(input, reduction, with_grad, input.shape, boxes, want_box_stats)


def _ce_fake(input, target, boxes, mask, weight, ignore_index, label_smoothing, reduction,
             num_threads, with_grad, box_offsets=None, pixel_weight=None, want_box_stats=False):
    return _fake(input, reduction, with_grad, _map_shape("ce", input.shape), boxes,
                 want_box_stats)


def _focal_fake(input, target, boxes, box_offsets, mask, weight, pixel_weight, gamma,
                ignore_index, reduction, num_threads, with_grad, want_box_stats):
    return _fake(input, reduction, with_grad, _map_shape("ce", input.shape), boxes,
                 want_box_stats)


def _sigmoid_focal_fake(input, target, boxes, box_offsets, mask, weight, alpha, gamma, reduction,
                        num_threads, with_grad, want_box_stats):
    return _fake(input, reduction, with_grad, input.shape, boxes, want_box_stats)


def _dice_fake(input, target, boxes, box_offsets, mask, multiclass, ignore_index, tversky,
               alpha, beta, gamma, smooth, eps, log_loss, from_logits, reduction, num_threads,
               with_grad):
    return _fake(input, reduction, with_grad and reduction != "none",
                 _map_shape("dice", input.shape))[:3]


def _dice_backward_fake(grad_map, input, *args):
    return torch.empty_like(input)


# ---- autograd: the saved gradient times the upstream gradient --------------------------------
# Position of `reduction` among each operator's inputs, and its kind of loss map.
_REDUCTION_AT = {"bce": 7, "ce": 7, "focal": 9, "sigmoid_focal": 8, "dice": 15}


def _setup_context(kind):
    def setup_context(ctx, inputs, output):
        grad, stats = output[1], output[2]
        ctx.mark_non_differentiable(grad, stats, *output[3:])
        ctx.reduction = inputs[_REDUCTION_AT[kind]]
        ctx.kind = kind
        ctx.num_inputs = len(inputs)
        if kind == "dice" and ctx.reduction == "none":
            # the inputs of the second C call (tensors saved, the rest as is)
            ctx.save_for_backward(*inputs[:5])
            ctx.dice_args = tuple(inputs[5:15]) + (inputs[16],)
        else:
            ctx.save_for_backward(grad)

    return setup_context


_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)


def _eager_one(g):
    """True when g is a plain eager tensor equal to 1 (not a tensor being traced)."""
    return type(g) is torch.Tensor and not _is_compiling() and g.item() == 1.0


def _backward(ctx, grad_loss, *_grad_rest):
    if ctx.kind == "dice" and ctx.reduction == "none":
        g = _dice_backward_op(grad_loss, *ctx.saved_tensors, *ctx.dice_args)
        return (g,) + (None,) * (ctx.num_inputs - 1)
    (grad,) = ctx.saved_tensors
    if ctx.reduction == "none":
        g = grad * (grad_loss.unsqueeze(1) if ctx.kind in ("ce", "focal") else grad_loss)
    elif _eager_one(grad_loss):
        g = grad  # loss.backward(): no pass over the gradient at all
    else:
        g = grad * grad_loss
    return (g,) + (None,) * (ctx.num_inputs - 1)


_OPS = {"bce": (_bce_impl, _bce_fake), "ce": (_ce_impl, _ce_fake),
        "softmax_focal": (_focal_impl, _focal_fake),
        "sigmoid_focal": (_sigmoid_focal_impl, _sigmoid_focal_fake),
        "dice": (_dice_impl, _dice_fake)}
_KIND = {"bce": "bce", "ce": "ce", "softmax_focal": "focal", "sigmoid_focal": "sigmoid_focal",
         "dice": "dice"}

if hasattr(torch, "library") and hasattr(torch.library, "custom_op"):
    HAS_CUSTOM_OP = True

    def _custom_op(name, impl, fake):
        op = torch.library.custom_op(f"sectionloss::{name}", mutates_args=(),
                                     device_types="cpu")(impl)
        op.register_fake(fake)
        return op

    _ops = {}
    for _name, (_impl, _fake_impl) in _OPS.items():
        _ops[_name] = _custom_op(_name, _impl, _fake_impl)
        _ops[_name].register_autograd(_backward, setup_context=_setup_context(_KIND[_name]))
    _dice_backward_op = _custom_op("dice_backward", _dice_backward_impl, _dice_backward_fake)
else:
    HAS_CUSTOM_OP = False

    def _function(impl, kind):
        setup_context = _setup_context(kind)

        class _Op(torch.autograd.Function):
            @staticmethod
            def forward(ctx, *inputs):
                output = impl(*inputs)
                setup_context(ctx, inputs, output)
                return output

            backward = staticmethod(_backward)

        return _Op.apply

    _ops = {name: _function(impl, _KIND[name]) for name, (impl, _) in _OPS.items()}
    _dice_backward_op = _dice_backward_impl

_bce_op, _ce_op, _focal_op, _sigmoid_focal_op, _dice_op = (
    _ops[k] for k in ("bce", "ce", "softmax_focal", "sigmoid_focal", "dice"))


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


def _box_tensor(fname, name, box):
    _tensor(fname, name, box)
    if box.is_floating_point() or box.is_complex() or box.dtype == torch.bool:
        raise TypeError(f"{fname}: {name} must be an integer tensor, got {box.dtype}")
    # Outside int32 is outside any image: clamped to a value the library rejects (SL_ERR_BOX).
    return box if box.dtype == torch.int32 else box.clamp(-1, _INT32_MAX).to(torch.int32)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _image_boxes(fname, i, b):
    """Sample i's boxes of the per-sample list form: an integer tensor / array [k, 4] or [4],
    or a sequence of (x1, y1, x2, y2)."""
    name = f"box[{i}]"
    if _np is not None and isinstance(b, _np.ndarray):
        b = torch.from_numpy(b)
    if isinstance(b, (tuple, list)):
        rows = [b] if len(b) == 4 and all(_is_int(v) for v in b) else list(b)
        if not all(isinstance(r, (tuple, list)) and len(r) == 4 and all(_is_int(v) for v in r)
                   for r in rows):
            raise TypeError(f"{fname}: {name} must be an integer tensor [k, 4] or a list of "
                            f"(x1, y1, x2, y2) of ints, got {b!r}")
        b = torch.tensor([[max(-1, min(v, _INT32_MAX)) for v in r] for r in rows],
                         dtype=torch.int32).reshape(len(rows), 4)
    b = _box_tensor(fname, name, b)
    if b.dim() == 1 and b.shape[0] == 4:
        b = b.unsqueeze(0)
    if b.dim() != 2 or b.shape[1] != 4:
        raise ValueError(f"{fname}: {name} must have shape [k, 4] (k boxes of sample {i}), got "
                         f"{tuple(b.shape)}")
    return b


def _check_boxes(fname, box, n, box_offsets=None):
    """(boxes int32 [K, 4] or None, box_offsets int64 [N + 1] or None) for the forms of box:
    (x1, y1, x2, y2), an integer tensor [4], [1, 4] or [N, 4], a list of N per-sample tensors
    [k_n, 4], or a tensor [K, 4] with box_offsets [N + 1]."""
    if box_offsets is not None:
        if _np is not None and isinstance(box_offsets, _np.ndarray):
            box_offsets = torch.from_numpy(box_offsets)
        if not isinstance(box, torch.Tensor):
            raise TypeError(f"{fname}: box_offsets needs box as an integer tensor [K, 4] (all "
                            f"the boxes, sample by sample), got {type(box).__name__}")
        box = _box_tensor(fname, "box", box)
        if box.dim() != 2 or box.shape[1] != 4:
            raise ValueError(f"{fname}: with box_offsets, box must have shape [K, 4], got "
                             f"{tuple(box.shape)}")
        _tensor(fname, "box_offsets", box_offsets)
        if box_offsets.is_floating_point() or box_offsets.is_complex() or \
                box_offsets.dtype == torch.bool:
            raise TypeError(f"{fname}: box_offsets must be an integer tensor, got "
                            f"{box_offsets.dtype}")
        if tuple(box_offsets.shape) != (n + 1,):
            raise ValueError(f"{fname}: box_offsets must have shape [N + 1] = [{n + 1}], got "
                             f"{tuple(box_offsets.shape)}")
        return box.contiguous(), box_offsets.to(torch.int64).contiguous()
    if box is None:
        return None, None
    if isinstance(box, (tuple, list)):
        if len(box) > 0 and all(isinstance(v, (tuple, list, torch.Tensor)) or
                                (_np is not None and isinstance(v, _np.ndarray)) for v in box):
            # one entry per sample, each with its own number of boxes (box_offsets)
            if len(box) != n:
                raise ValueError(f"{fname}: box as a list of per-sample boxes must have N = {n} "
                                 f"entries, got {len(box)}")
            parts = [_image_boxes(fname, i, b) for i, b in enumerate(box)]
            offsets = [0]
            for part in parts:
                offsets.append(offsets[-1] + part.shape[0])
            return (torch.cat(parts).contiguous(), torch.tensor(offsets, dtype=torch.int64))
        if len(box) != 4 or not all(_is_int(v) for v in box):
            raise TypeError(f"{fname}: box must be (x1, y1, x2, y2) of ints, an integer "
                            f"tensor [N, 4], or a list of N integer tensors [k_n, 4], got "
                            f"{box!r}")
        # Outside int32 is outside any image: clamped to a value the library rejects (SL_ERR_BOX).
        return torch.tensor([[max(-1, min(v, _INT32_MAX)) for v in box]],
                            dtype=torch.int32), None
    box = _box_tensor(fname, "box", box)
    if box.dim() == 1:
        box = box.unsqueeze(0)
    if box.dim() != 2 or box.shape[1] != 4 or box.shape[0] not in (1, n):
        raise ValueError(f"{fname}: box must be [4], [1, 4] or [N, 4] = [{n}, 4], got shape "
                         f"{tuple(box.shape)} (several boxes per sample: a list of N tensors "
                         f"[k_n, 4], or box_offsets)")
    return box.contiguous(), None


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


def _result(loss, stats, box_stats, return_stats, return_box_stats):
    out = (loss,) + ((stats,) if return_stats else ()) + ((box_stats,) if return_box_stats
                                                           else ())
    return out if len(out) > 1 else loss


def _check_box_stats(fname, return_box_stats, boxes):
    if return_box_stats and boxes is None:
        raise ValueError(f"{fname}: return_box_stats=True needs box (the statistics are per "
                         f"box)")
    return bool(return_box_stats) and boxes is not None and boxes.shape[0] > 0


def _check_elementwise(fname, input, target, weight):
    """(target, weight) of an elementwise loss (BCE, sigmoid focal): a float target of the
    input's shape, weight None or anything that broadcasts to it (expanded, a copy)."""
    target = _float32(fname, "target", target)
    if target.shape != input.shape:
        raise ValueError(f"{fname}: target shape {tuple(target.shape)} differs from input shape "
                         f"{tuple(input.shape)}")
    if weight is not None:
        weight = _float32(fname, "weight", weight)
        if not _broadcasts_to(weight.shape, input.shape):
            raise ValueError(f"{fname}: weight of shape {tuple(weight.shape)} does not broadcast "
                             f"to the input shape {tuple(input.shape)}")
        weight = weight.expand(input.shape).contiguous()
    return target, weight


def _bce(fname, logits, input, target, box, box_offsets, mask, weight, pos_weight, reduction,
         num_threads, return_stats, return_box_stats):
    _check_reduction(fname, reduction)
    input = _check_input(fname, input)
    target, weight = _check_elementwise(fname, input, target, weight)
    n, c, h, w = input.shape
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
    boxes, offsets = _check_boxes(fname, box, n, box_offsets)
    want_box_stats = _check_box_stats(fname, return_box_stats, boxes)
    mask = _check_mask(fname, mask, input, True)
    with_grad = input.requires_grad and torch.is_grad_enabled()
    threads = _check_threads(fname, num_threads)
    loss, _, stats, box_stats = _bce_op(input, target, boxes, mask, weight, pos_weight, logits,
                                        reduction, threads, with_grad, offsets, want_box_stats)
    return _result(loss, stats, box_stats, return_stats, return_box_stats)


def binary_cross_entropy(input, target, *, box=None, box_offsets=None, mask=None, weight=None,
                         reduction="mean", num_threads=None, return_stats=False,
                         return_box_stats=False):
    """F.binary_cross_entropy(input[sel], target[sel], weight[sel]) over the section sel (box
    and/or mask); reduction "none" gives the full N x C x H x W map, 0 outside the section.
    return_stats=True also returns float64 [loss_sum, normalizer, count] (sl_stats),
    return_box_stats=True float64 [num_boxes, 3] of them, one row per box."""
    if _is_numpy(input, target, box, box_offsets, mask, weight):
        return _numpy_call(binary_cross_entropy, (input, target),
                           dict(box=box, box_offsets=box_offsets, mask=mask, weight=weight,
                                reduction=reduction, num_threads=num_threads,
                                return_stats=return_stats, return_box_stats=return_box_stats))
    return _bce("binary_cross_entropy", False, input, target, box, box_offsets, mask, weight,
                None, reduction, num_threads, return_stats, return_box_stats)


def binary_cross_entropy_with_logits(input, target, *, box=None, box_offsets=None, mask=None,
                                     weight=None, pos_weight=None, reduction="mean",
                                     num_threads=None, return_stats=False,
                                     return_box_stats=False):
    """F.binary_cross_entropy_with_logits over the section; pos_weight is per channel ([C],
    PyTorch's pos_weight.view(C, 1, 1)). Otherwise as binary_cross_entropy."""
    if _is_numpy(input, target, box, box_offsets, mask, weight, pos_weight):
        return _numpy_call(binary_cross_entropy_with_logits, (input, target),
                           dict(box=box, box_offsets=box_offsets, mask=mask, weight=weight,
                                pos_weight=pos_weight, reduction=reduction,
                                num_threads=num_threads, return_stats=return_stats,
                                return_box_stats=return_box_stats))
    return _bce("binary_cross_entropy_with_logits", True, input, target, box, box_offsets, mask,
                weight, pos_weight, reduction, num_threads, return_stats, return_box_stats)


def sigmoid_focal_loss(input, target, *, box=None, box_offsets=None, mask=None, weight=None,
                       alpha=0.25, gamma=2.0, reduction="mean", num_threads=None,
                       return_stats=False, return_box_stats=False):
    """torchvision.ops.sigmoid_focal_loss(input[sel], target[sel], alpha, gamma) (times
    weight[sel]) over the section, per selected element: p = sigmoid(input), ce =
    BCE with logits, 1 - p_t = p (1 - t) + (1 - p) t, weight * alpha_t * (1 - p_t)**gamma * ce
    with alpha_t = alpha t + (1 - alpha) (1 - t) (no alpha weighting for alpha < 0; alpha > 1
    or NaN: SL_ERR_FOCAL). MEAN divides by the selected count. No pos_weight. Otherwise as
    binary_cross_entropy_with_logits (masks per channel, box statistics, reduction "none"
    gives the N x C x H x W map)."""
    fname = "sigmoid_focal_loss"
    if _is_numpy(input, target, box, box_offsets, mask, weight):
        return _numpy_call(sigmoid_focal_loss, (input, target),
                           dict(box=box, box_offsets=box_offsets, mask=mask, weight=weight,
                                alpha=alpha, gamma=gamma, reduction=reduction,
                                num_threads=num_threads, return_stats=return_stats,
                                return_box_stats=return_box_stats))
    _check_reduction(fname, reduction)
    input = _check_input(fname, input)
    target, weight = _check_elementwise(fname, input, target, weight)
    for name, t in (("target", target), ("weight", weight)):
        _no_grad_needed(fname, name, t)
    n = input.shape[0]
    boxes, offsets = _check_boxes(fname, box, n, box_offsets)
    want_box_stats = _check_box_stats(fname, return_box_stats, boxes)
    mask = _check_mask(fname, mask, input, True)
    with_grad = input.requires_grad and torch.is_grad_enabled()
    threads = _check_threads(fname, num_threads)
    loss, _, stats, box_stats = _sigmoid_focal_op(input, target, boxes, offsets, mask, weight,
                                                  float(alpha), float(gamma), reduction, threads,
                                                  with_grad, want_box_stats)
    return _result(loss, stats, box_stats, return_stats, return_box_stats)


def _check_labels(fname, target, input):
    n, _, h, w = input.shape
    _tensor(fname, "target", target)
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(f"{fname}: target must hold class indices (int64, int32 or uint8); "
                        f"class-probability targets are not supported, got {target.dtype}")
    if target.dtype not in _LABEL_TYPES:
        target = target.to(torch.int32)  # int8 / int16: a documented copy
    if tuple(target.shape) != (n, h, w):
        raise ValueError(f"{fname}: target must have shape [N, H, W] = {[n, h, w]} for input "
                         f"{list(input.shape)}, got {list(target.shape)}")
    return target.contiguous()


def _check_class_weight(fname, weight, c):
    if weight is None:
        return None
    weight = _float32(fname, "weight", weight)
    if tuple(weight.shape) != (c,):
        raise ValueError(f"{fname}: weight must have one value per class, shape [{c}], got "
                         f"{tuple(weight.shape)}")
    _no_grad_needed(fname, "weight", weight)
    return weight


def _check_pixel_weight(fname, pixel_weight, input):
    if pixel_weight is None:
        return None
    n, _, h, w = input.shape
    pixel_weight = _float32(fname, "pixel_weight", pixel_weight)
    if tuple(pixel_weight.shape) == (n, 1, h, w):
        pixel_weight = pixel_weight.reshape(n, h, w)
    if not _broadcasts_to(pixel_weight.shape, (n, h, w)):
        raise ValueError(f"{fname}: pixel_weight must have shape [N, H, W] = {[n, h, w]} (or "
                         f"[N, 1, H, W], or broadcast to [N, H, W]), got "
                         f"{list(pixel_weight.shape)}")
    _no_grad_needed(fname, "pixel_weight", pixel_weight)
    return pixel_weight.expand(n, h, w).contiguous()


def cross_entropy(input, target, *, box=None, box_offsets=None, mask=None, weight=None,
                  pixel_weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean",
                  num_threads=None, return_stats=False, return_box_stats=False):
    """F.cross_entropy(input, target, weight, ignore_index, label_smoothing) counting only the
    pixels in the section (box and/or mask [N, 1, H, W] or [N, H, W]); target holds class
    indices [N, H, W] (int64, int32 or uint8). Reduction "none" gives the N x H x W map.
    pixel_weight [N, H, W] multiplies each pixel's loss (with the class weight); MEAN divides
    by the sum of pixel_weight x weight[target] over the counted pixels."""
    fname = "cross_entropy"
    if _is_numpy(input, target, box, box_offsets, mask, weight, pixel_weight):
        return _numpy_call(cross_entropy, (input, target),
                           dict(box=box, box_offsets=box_offsets, mask=mask, weight=weight,
                                pixel_weight=pixel_weight, ignore_index=ignore_index,
                                label_smoothing=label_smoothing, reduction=reduction,
                                num_threads=num_threads, return_stats=return_stats,
                                return_box_stats=return_box_stats))
    _check_reduction(fname, reduction)
    input = _check_input(fname, input)
    n, c, h, w = input.shape
    target = _check_labels(fname, target, input)
    weight = _check_class_weight(fname, weight, c)
    pixel_weight = _check_pixel_weight(fname, pixel_weight, input)
    boxes, offsets = _check_boxes(fname, box, n, box_offsets)
    want_box_stats = _check_box_stats(fname, return_box_stats, boxes)
    mask = _check_mask(fname, mask, input, False)
    with_grad = input.requires_grad and torch.is_grad_enabled()
    threads = _check_threads(fname, num_threads)
    loss, _, stats, box_stats = _ce_op(input, target, boxes, mask, weight, int(ignore_index),
                                       float(label_smoothing), reduction, threads, with_grad,
                                       offsets, pixel_weight, want_box_stats)
    return _result(loss, stats, box_stats, return_stats, return_box_stats)


def softmax_focal_loss(input, target, *, box=None, box_offsets=None, mask=None, weight=None,
                       pixel_weight=None, gamma=2.0, ignore_index=-100, reduction="mean",
                       num_threads=None, return_stats=False, return_box_stats=False):
    """Multi-class (softmax) focal loss, per counted pixel with label t:
    pixel_weight * weight[t] * (1 - p_t)**gamma * (-log p_t), p = softmax(input) over C; MEAN
    divides by the sum of pixel_weight * weight[t] over the counted pixels (as cross_entropy;
    gamma 0 is cross_entropy). Arguments as cross_entropy (no label_smoothing)."""
    fname = "softmax_focal_loss"
    if _is_numpy(input, target, box, box_offsets, mask, weight, pixel_weight):
        return _numpy_call(softmax_focal_loss, (input, target),
                           dict(box=box, box_offsets=box_offsets, mask=mask, weight=weight,
                                pixel_weight=pixel_weight, gamma=gamma,
                                ignore_index=ignore_index, reduction=reduction,
                                num_threads=num_threads, return_stats=return_stats,
                                return_box_stats=return_box_stats))
    _check_reduction(fname, reduction)
    input = _check_input(fname, input)
    n, c, h, w = input.shape
    target = _check_labels(fname, target, input)
    weight = _check_class_weight(fname, weight, c)
    pixel_weight = _check_pixel_weight(fname, pixel_weight, input)
    boxes, offsets = _check_boxes(fname, box, n, box_offsets)
    want_box_stats = _check_box_stats(fname, return_box_stats, boxes)
    mask = _check_mask(fname, mask, input, False)
    with_grad = input.requires_grad and torch.is_grad_enabled()
    threads = _check_threads(fname, num_threads)
    loss, _, stats, box_stats = _focal_op(input, target, boxes, offsets, mask, weight,
                                          pixel_weight, float(gamma), int(ignore_index),
                                          reduction, threads, with_grad, want_box_stats)
    return _result(loss, stats, box_stats, return_stats, return_box_stats)


_DICE_MODES = ("binary", "multilabel", "multiclass")
_NO_INDEX = -2**63  # ignore_index=None with labels: a value no counted label can have


def _dice(fname, tversky, input, target, box, box_offsets, mask, mode, from_logits, smooth,
          eps, log_loss, ignore_index, alpha, beta, gamma, reduction, num_threads,
          return_stats):
    _check_reduction(fname, reduction)
    if mode not in _DICE_MODES:
        raise ValueError(f"{fname}: {mode!r} is not a valid value for mode (\"binary\", "
                         f"\"multilabel\" or \"multiclass\")")
    input = _check_input(fname, input)
    n, c, h, w = input.shape
    multiclass = mode == "multiclass"
    if multiclass:
        if not from_logits:
            raise ValueError(f"{fname}: mode \"multiclass\" takes logits (softmax over C): "
                             f"from_logits must be True")
        target = _check_labels(fname, target, input)
        mask = _check_mask(fname, mask, input, False)
        index = _NO_INDEX if ignore_index is None else int(ignore_index)
    else:
        if mode == "binary" and c != 1:
            raise ValueError(f"{fname}: mode \"binary\" needs one channel (input N x 1 x H x "
                             f"W), got {list(input.shape)}; several channels: \"multilabel\"")
        _tensor(fname, "target", target)
        if target.is_complex():
            raise TypeError(f"{fname}: target must be a real tensor, got {target.dtype}")
        if mode == "binary" and tuple(target.shape) == (n, h, w):
            target = target.unsqueeze(1)
        if tuple(target.shape) != (n, c, h, w):
            raise ValueError(f"{fname}: target shape {list(target.shape)} differs from input "
                             f"shape {list(input.shape)}")
        target = target.to(torch.float32).contiguous()  # bool / integer targets: a copy
        mask = _check_mask(fname, mask, input, True)
        if ignore_index is not None and (_is_compiling() or
                                         bool((target == ignore_index).any())):
            # smp: elements whose target is ignore_index are left out of the sums (a mask)
            keep = target != ignore_index
            if mask is not None:
                keep = keep & (mask.view(n, -1, h, w) != 0)
            mask = keep.contiguous()
        index = -100
    _no_grad_needed(fname, "target", target)
    boxes, offsets = _check_boxes(fname, box, n, box_offsets)
    with_grad = input.requires_grad and torch.is_grad_enabled()
    threads = _check_threads(fname, num_threads)
    loss, _, stats = _dice_op(input, target, boxes, offsets, mask, multiclass, index, tversky,
                              float(alpha), float(beta), float(gamma), float(smooth),
                              float(eps), bool(log_loss), bool(from_logits), reduction,
                              threads, with_grad)
    return (loss, stats) if return_stats else loss


def dice_loss(input, target, *, box=None, box_offsets=None, mask=None, mode="binary",
              from_logits=True, smooth=0.0, eps=1e-7, log_loss=False, ignore_index=-100,
              reduction="mean", num_threads=None, return_stats=False):
    """segmentation_models_pytorch's DiceLoss(mode, log_loss, from_logits, smooth,
    ignore_index, eps) with the per-class sums taken over the section only. mode "binary"
    (input N x 1 x H x W, float target of that shape or N x H x W) and "multilabel" (N x C x H x
    W both): sigmoid of the input with from_logits; "multiclass": logits N x C x H x W
    (softmax), integer labels N x H x W. Per class c, I, P, T the sums of p t, p, t:
    score (2 I + smooth) / max(P + T + smooth, eps), loss_c 1 - score (log_loss:
    -log(max(score, eps))), 0 for a class with T == 0. reduction "mean" (smp's): the mean over
    the C classes, "sum": their sum, "none": the C per-class losses. ignore_index: multiclass
    pixels with that label, binary / multilabel elements with that target value, are left out
    (None: nothing is). return_stats: float64 [sum of loss_c, C, selected elements]."""
    if _is_numpy(input, target, box, box_offsets, mask):
        return _numpy_call(dice_loss, (input, target),
                           dict(box=box, box_offsets=box_offsets, mask=mask, mode=mode,
                                from_logits=from_logits, smooth=smooth, eps=eps,
                                log_loss=log_loss, ignore_index=ignore_index,
                                reduction=reduction, num_threads=num_threads,
                                return_stats=return_stats))
    return _dice("dice_loss", False, input, target, box, box_offsets, mask, mode, from_logits,
                 smooth, eps, log_loss, ignore_index, 0.5, 0.5, 1.0, reduction, num_threads,
                 return_stats)


def tversky_loss(input, target, *, box=None, box_offsets=None, mask=None, mode="binary",
                 from_logits=True, smooth=0.0, eps=1e-7, log_loss=False, ignore_index=-100,
                 alpha=0.5, beta=0.5, gamma=1.0, reduction="mean", num_threads=None,
                 return_stats=False):
    """segmentation_models_pytorch's TverskyLoss(mode, log_loss, from_logits, smooth,
    ignore_index, eps, alpha, beta, gamma) over the section: score (I + smooth) /
    max(I + alpha (P - I) + beta (T - I) + smooth, eps); "mean" gives (mean_c loss_c)**gamma,
    "sum" (sum_c loss_c)**gamma, "none" the C per-class losses (no gamma). Otherwise as
    dice_loss (alpha = beta = 0.5, gamma 1 is the Dice loss)."""
    if _is_numpy(input, target, box, box_offsets, mask):
        return _numpy_call(tversky_loss, (input, target),
                           dict(box=box, box_offsets=box_offsets, mask=mask, mode=mode,
                                from_logits=from_logits, smooth=smooth, eps=eps,
                                log_loss=log_loss, ignore_index=ignore_index, alpha=alpha,
                                beta=beta, gamma=gamma, reduction=reduction,
                                num_threads=num_threads, return_stats=return_stats))
    return _dice("tversky_loss", True, input, target, box, box_offsets, mask, mode, from_logits,
                 smooth, eps, log_loss, ignore_index, alpha, beta, gamma, reduction,
                 num_threads, return_stats)
