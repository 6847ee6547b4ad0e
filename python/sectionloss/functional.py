# SPDX-License-Identifier: MIT
"""Section losses shaped like torch.nn.functional, with autograd and torch.compile support.

Each public function checks and converts its arguments (see docs/python.md: a documented copy
for non-contiguous tensors, other float dtypes and int8/int16 labels; TypeError or ValueError
otherwise), then calls one operator:

  sectionloss::bce(input, target, boxes, mask, weight, pos_weight, logits, reduction,
                   num_threads, with_grad, box_offsets=None, want_box_stats=False)
      -> (loss, grad, stats, box_stats)
  sectionloss::ce(input, target, boxes, mask, weight, ignore_index, label_smoothing, reduction,
                  num_threads, with_grad, box_offsets=None, pixel_weight=None,
                  want_box_stats=False) -> (loss, grad, stats, box_stats)
  sectionloss::ce_prob(input, target, boxes, mask, weight, label_smoothing, reduction,
                       num_threads, with_grad, box_offsets=None, pixel_weight=None,
                       want_box_stats=False) -> (loss, grad, stats, box_stats)
      (cross_entropy with class-probability targets, [N, C, H, W] floats: sl_ce_prob)
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
import functools
import inspect
import itertools
import math
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


def _map_shape(entry, shape):
    """Shape of the reduction "none" loss: per element (BCE), per pixel (CE, focal) or per
    class (Dice), as the library's registry says (_lib.LOSSES)."""
    n, c, h, w = shape
    kind = _lib.LOSSES[entry][2]
    return (c,) if kind == _lib.MAP_CLASS else (n, h, w) if kind == _lib.MAP_PIXEL else (n, c, h, w)


def _run(entry, input, target, boxes, box_offsets, mask, reduction, num_threads, with_grad,
         want_box_stats=False, grad_map=None, want_loss=True, grad_buffer=None, **options):
    """One C call. Returns (loss, grad, stats, box_stats); grad is empty without with_grad,
    box_stats float64 [num_boxes, 3] (empty unless want_box_stats). With reduction "none" and a
    gradient, grad_map None asks for d loss_e / d input_e (a map of ones as grad_map).
    grad_buffer: where the gradient goes (a caller's persistent buffer, or the input itself for
    an in-place gradient), else a new tensor."""
    n, c, h, w = input.shape
    label_type = _LABEL_TYPES[target.dtype] if _lib.LOSSES[entry][1] else _lib.LABEL_I64
    map_shape = _map_shape(entry, input.shape)
    loss = torch.empty(map_shape if reduction == "none" else (), dtype=torch.float32)
    if not with_grad:
        grad = _NO_GRAD
    elif grad_buffer is None:
        grad = torch.empty_like(input)
        _lib.advise_huge_pages(grad.data_ptr(), grad.element_size() * grad.numel())
    else:
        grad = grad_buffer.detach()  # shares storage (and version counter), not the tensor
    # NONE with a gradient: the C API takes the upstream map at call time; the forward pass does
    # not know it yet, so it asks for d loss_e / d input_e (a map of ones) and backward
    # multiplies by the upstream map (docs/python.md, "Autograd and torch.compile"). Dice's
    # per-class losses share their inputs (softmax over C), so its backward makes a second call
    # with the real map.
    if grad_map is None and with_grad and reduction == "none":
        grad_map = torch.ones(map_shape)
    num_boxes = 0 if boxes is None else boxes.shape[0]
    # sl_stats is {double, double, int64}: float64 storage, the count column reinterpreted.
    raw_box_stats = torch.zeros((num_boxes if want_box_stats else 0, 3), dtype=torch.float64)
    mask_channels = 1
    if mask is not None and mask.dim() == 4:
        mask_channels = mask.shape[1]
    if not _lib.LOSSES[entry][1]:
        options.setdefault("target_dtype", _dtype_code(target))
    try:
        stats = _lib.call(
            entry, n, c, h, w, input.data_ptr(), target.data_ptr(), label_type=label_type,
            input_dtype=_dtype_code(input),
            boxes_ptr=_ptr(boxes) if num_boxes else None, num_boxes=num_boxes,
            box_offsets_ptr=_ptr(box_offsets), mask_ptr=_ptr(mask), mask_channels=mask_channels,
            reduction=reduction, grad_map_ptr=_ptr(grad_map),
            num_threads=torch.get_num_threads() if num_threads < 0 else num_threads,
            loss_ptr=loss.data_ptr() if want_loss else None,
            grad_ptr=grad.data_ptr() if with_grad else None,
            box_stats_ptr=raw_box_stats.data_ptr() if raw_box_stats.numel() else None,
            **options)
    except _lib.SectionLossError as e:
        detail = _explain(e.status_name, input, target, boxes, box_offsets, mask,
                          options.get("ignore_index", -100))
        if not detail:
            raise
        raise _lib.SectionLossError(e.args[0].split(":")[0], e.status, detail) from None
    if with_grad and grad_buffer is not None:
        # written through a pointer: autograd's version check must see it (a tensor saved by
        # another operator and overwritten here then fails loudly in backward)
        _increment_version(grad_buffer)
    box_stats = raw_box_stats
    if box_stats.numel():
        box_stats = raw_box_stats.clone()
        box_stats[:, 2] = raw_box_stats.view(torch.int64)[:, 2].to(torch.float64)
    return loss, grad, torch.tensor(stats, dtype=torch.float64), box_stats


def _selection(shape, boxes, box_offsets, mask):
    """The section as bool [N, 1 or C, H, W] (error path only: where a bad value counts)."""
    n, c, h, w = shape
    sel = torch.ones((n, 1, h, w), dtype=torch.bool)
    if boxes is not None:
        sel = torch.zeros((n, 1, h, w), dtype=torch.bool)
        rows = boxes.tolist()
        if box_offsets is not None:
            off = box_offsets.tolist()
            owners = [i for i in range(n) for _ in range(off[i], off[i + 1])]
        else:
            owners = [None] * len(rows) if len(rows) == 1 else list(range(n))
        for i, (x1, y1, x2, y2) in zip(owners, rows):
            sel[slice(None) if i is None else i, :, y1:y2, x1:x2] = True
    if mask is not None:
        sel = sel & (mask.view(n, -1, h, w) != 0)
    return sel


def _first(bad):
    """(index list, as a string) of the first True of bad, or None."""
    where = bad.nonzero()
    return None if where.shape[0] == 0 else where[0].tolist()


def _explain(status_name, input, target, boxes, box_offsets, mask, ignore_index):
    """The offending value and its bound for a status whose sl_status_string states the rule
    only; "" when there is nothing to add. Runs after a failed call, never on success."""
    n, c, h, w = input.shape
    if status_name == "SL_ERR_BOX":
        for k, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
            if not (0 <= x1 <= x2 <= w and 0 <= y1 <= y2 <= h):
                return (f"box {k} = (x1, y1, x2, y2) = {(x1, y1, x2, y2)} for an image of W x H "
                        f"= {w} x {h}: need 0 <= x1 <= x2 <= {w} and 0 <= y1 <= y2 <= {h}")
    if status_name == "SL_ERR_BOX_OFFSETS":
        return f"box_offsets = {box_offsets.tolist()} for {boxes.shape[0]} boxes"
    if status_name == "SL_ERR_LABEL":
        t = target.to(torch.int64)
        bad = ((t < 0) | (t >= c)) & (t != ignore_index) & _selection(
            input.shape, boxes, box_offsets, mask)[:, 0]
        at = _first(bad)
        if at is not None:
            return (f"label {int(t[tuple(at)])} at [n, y, x] = {at} is outside [0, {c}) (C = {c} "
                    f"classes) and is not ignore_index ({ignore_index})")
    if status_name == "SL_ERR_DOMAIN":
        sel = _selection(input.shape, boxes, box_offsets, mask)
        for name, t in (("input", input), ("target", target)):
            at = _first(~((t >= 0) & (t <= 1)) & sel)
            if at is not None:
                return f"{name}{at} = {float(t[tuple(at)]):.8g} is outside [0, 1]"
    return ""


_NO_GRAD = torch.empty((0,))
def _bump_version(t):
    """PyTorch 1.13 (no increment_version): an in-place op on an empty view of t bumps the
    version counter t shares with its views, at no cost."""
    with torch.no_grad():
        t.view(-1)[:0].zero_()


_increment_version = getattr(getattr(torch.autograd, "graph", None), "increment_version",
                             _bump_version)


def _contiguous(*tensors):
    return [None if t is None else t.contiguous() for t in tensors]


# The operators' implementations. Their signatures are the custom operators' schemas (without
# grad_buffer, which only eager calls pass: a custom op may not write an input it does not
# declare, and under torch.compile the compiled graph owns the memory).
def _bce_impl(input: torch.Tensor, target: torch.Tensor, boxes: Optional[torch.Tensor],
              mask: Optional[torch.Tensor], weight: Optional[torch.Tensor],
              pos_weight: Optional[torch.Tensor], logits: bool, reduction: str,
              num_threads: int, with_grad: bool, box_offsets: Optional[torch.Tensor] = None,
              want_box_stats: bool = False, *, grad_buffer=None
              ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    input, target, boxes, mask, weight, pos_weight, box_offsets = _contiguous(
        input, target, boxes, mask, weight, pos_weight, box_offsets)
    return _run("bce_logits" if logits else "bce", input, target, boxes, box_offsets, mask,
                reduction, num_threads, with_grad, want_box_stats, grad_buffer=grad_buffer,
                weight_ptr=_ptr(weight), pos_weight_ptr=_ptr(pos_weight),
                weight_dtype=_dtype_code(weight))


def _ce_impl(input: torch.Tensor, target: torch.Tensor, boxes: Optional[torch.Tensor],
             mask: Optional[torch.Tensor], weight: Optional[torch.Tensor], ignore_index: int,
             label_smoothing: float, reduction: str, num_threads: int, with_grad: bool,
             box_offsets: Optional[torch.Tensor] = None,
             pixel_weight: Optional[torch.Tensor] = None, want_box_stats: bool = False,
             ohem_thresh: float = -1.0, ohem_min_kept: int = 0, *,
             grad_buffer=None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    input, target, boxes, mask, weight, box_offsets, pixel_weight = _contiguous(
        input, target, boxes, mask, weight, box_offsets, pixel_weight)
    return _run("ce", input, target, boxes, box_offsets, mask, reduction, num_threads, with_grad,
                want_box_stats, grad_buffer=grad_buffer, weight_ptr=_ptr(weight),
                pixel_weight_ptr=_ptr(pixel_weight), ignore_index=ignore_index,
                label_smoothing=label_smoothing, ohem_thresh=ohem_thresh,
                ohem_min_kept=ohem_min_kept, weight_dtype=_dtype_code(pixel_weight))


def _ce_prob_impl(input: torch.Tensor, target: torch.Tensor, boxes: Optional[torch.Tensor],
                  mask: Optional[torch.Tensor], weight: Optional[torch.Tensor],
                  label_smoothing: float, reduction: str, num_threads: int, with_grad: bool,
                  box_offsets: Optional[torch.Tensor] = None,
                  pixel_weight: Optional[torch.Tensor] = None, want_box_stats: bool = False, *,
                  grad_buffer=None
                  ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    input, target, boxes, mask, weight, box_offsets, pixel_weight = _contiguous(
        input, target, boxes, mask, weight, box_offsets, pixel_weight)
    return _run("ce_prob", input, target, boxes, box_offsets, mask, reduction, num_threads,
                with_grad, want_box_stats, grad_buffer=grad_buffer, weight_ptr=_ptr(weight),
                pixel_weight_ptr=_ptr(pixel_weight), label_smoothing=label_smoothing,
                weight_dtype=_dtype_code(pixel_weight))


def _focal_impl(input: torch.Tensor, target: torch.Tensor, boxes: Optional[torch.Tensor],
                box_offsets: Optional[torch.Tensor], mask: Optional[torch.Tensor],
                weight: Optional[torch.Tensor], pixel_weight: Optional[torch.Tensor],
                gamma: float, ignore_index: int, reduction: str, num_threads: int,
                with_grad: bool, want_box_stats: bool, ohem_thresh: float = -1.0,
                ohem_min_kept: int = 0, *, grad_buffer=None
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    input, target, boxes, box_offsets, mask, weight, pixel_weight = _contiguous(
        input, target, boxes, box_offsets, mask, weight, pixel_weight)
    return _run("softmax_focal", input, target, boxes, box_offsets, mask, reduction,
                num_threads, with_grad, want_box_stats, grad_buffer=grad_buffer,
                weight_ptr=_ptr(weight), pixel_weight_ptr=_ptr(pixel_weight),
                ignore_index=ignore_index, focal_gamma=gamma, ohem_thresh=ohem_thresh,
                ohem_min_kept=ohem_min_kept, weight_dtype=_dtype_code(pixel_weight))


def _sigmoid_focal_impl(input: torch.Tensor, target: torch.Tensor,
                        boxes: Optional[torch.Tensor], box_offsets: Optional[torch.Tensor],
                        mask: Optional[torch.Tensor], weight: Optional[torch.Tensor],
                        alpha: float, gamma: float, reduction: str, num_threads: int,
                        with_grad: bool, want_box_stats: bool, *, grad_buffer=None
                        ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    input, target, boxes, box_offsets, mask, weight = _contiguous(
        input, target, boxes, box_offsets, mask, weight)
    return _run("sigmoid_focal", input, target, boxes, box_offsets, mask, reduction,
                num_threads, with_grad, want_box_stats, grad_buffer=grad_buffer,
                weight_ptr=_ptr(weight), focal_alpha=alpha, focal_gamma=gamma,
                weight_dtype=_dtype_code(weight))


def _dice_options(tversky, alpha, beta, gamma, smooth, eps, log_loss, from_logits):
    return dict(dice_tversky=int(tversky), tversky_alpha=alpha, tversky_beta=beta,
                tversky_gamma=gamma, dice_smooth=smooth, dice_eps=eps,
                dice_log_loss=int(log_loss), dice_from_logits=int(from_logits))


# The arguments of _dice_impl that _dice_backward_impl takes again (Dice with reduction "none").
_DICE_BACKWARD_ARGS = ("input", "target", "boxes", "box_offsets", "mask", "multiclass",
                       "ignore_index", "tversky", "alpha", "beta", "gamma", "smooth", "eps",
                       "log_loss", "from_logits", "num_threads")


def _dice_impl(input: torch.Tensor, target: torch.Tensor, boxes: Optional[torch.Tensor],
               box_offsets: Optional[torch.Tensor], mask: Optional[torch.Tensor],
               multiclass: bool, ignore_index: int, tversky: bool, alpha: float, beta: float,
               gamma: float, smooth: float, eps: float, log_loss: bool, from_logits: bool,
               reduction: str, num_threads: int, with_grad: bool, *, grad_buffer=None
               ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    input, target, boxes, box_offsets, mask = _contiguous(input, target, boxes, box_offsets,
                                                          mask)
    # reduction "none": the gradient comes from _dice_backward_op, given the upstream map.
    loss, grad, stats, _ = _run(
        "dice_mc" if multiclass else "dice", input, target, boxes, box_offsets, mask, reduction,
        num_threads, with_grad and reduction != "none", grad_buffer=grad_buffer,
        ignore_index=ignore_index,
        dice=_dice_options(tversky, alpha, beta, gamma, smooth, eps, log_loss, from_logits))
    return loss, grad, stats


def _dice_backward_impl(grad_map: torch.Tensor, input: torch.Tensor, target: torch.Tensor,
                        boxes: Optional[torch.Tensor], box_offsets: Optional[torch.Tensor],
                        mask: Optional[torch.Tensor], multiclass: bool, ignore_index: int,
                        tversky: bool, alpha: float, beta: float, gamma: float, smooth: float,
                        eps: float, log_loss: bool, from_logits: bool, num_threads: int, *,
                        grad_buffer=None) -> torch.Tensor:
    grad_map, input, target, boxes, box_offsets, mask = _contiguous(
        grad_map.to(torch.float32), input, target, boxes, box_offsets, mask)
    _, grad, _, _ = _run(
        "dice_mc" if multiclass else "dice", input, target, boxes, box_offsets, mask, "none",
        num_threads, True, grad_map=grad_map, want_loss=False, grad_buffer=grad_buffer,
        ignore_index=ignore_index,
        dice=_dice_options(tversky, alpha, beta, gamma, smooth, eps, log_loss, from_logits))
    return grad


def _fake(input, reduction, with_grad, map_shape, boxes=None, want_box_stats=False):
    # the loss is float32 whatever the input's dtype (bfloat16 / float16 inputs too)
    loss = input.new_empty(map_shape if reduction == "none" else (), dtype=torch.float32)
    grad = torch.empty_like(input) if with_grad else input.new_empty((0,))
    num_boxes = boxes.shape[0] if want_box_stats and boxes is not None else 0
    return (loss, grad, input.new_empty((3,), dtype=torch.float64),
            input.new_empty((num_boxes, 3), dtype=torch.float64))


def _bce_fake(input, target, boxes, mask, weight, pos_weight, logits, reduction, num_threads,
              with_grad, box_offsets=None, want_box_stats=False):
    return _fake(input, reduction, with_grad, input.shape, boxes, want_box_stats)


def _ce_fake(input, target, boxes, mask, weight, ignore_index, label_smoothing, reduction,
             num_threads, with_grad, box_offsets=None, pixel_weight=None, want_box_stats=False,
             ohem_thresh=-1.0, ohem_min_kept=0):
    return _fake(input, reduction, with_grad, _map_shape("ce", input.shape), boxes,
                 want_box_stats)


def _ce_prob_fake(input, target, boxes, mask, weight, label_smoothing, reduction, num_threads,
                  with_grad, box_offsets=None, pixel_weight=None, want_box_stats=False):
    return _fake(input, reduction, with_grad, _map_shape("ce_prob", input.shape), boxes,
                 want_box_stats)


def _focal_fake(input, target, boxes, box_offsets, mask, weight, pixel_weight, gamma,
                ignore_index, reduction, num_threads, with_grad, want_box_stats,
                ohem_thresh=-1.0, ohem_min_kept=0):
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
_is_compiling = getattr(getattr(torch, "compiler", None), "is_compiling", lambda: False)
HAS_CUSTOM_OP = hasattr(torch, "library") and hasattr(torch.library, "custom_op")
# PyTorch 2.0+: forward without ctx and a separate setup_context (what torch.func needs)
_SETUP_CONTEXT_STYLE = hasattr(torch.autograd.Function, "setup_context")
# how many torch.func transforms are active (inside one no leaf can be made)
_functorch_depth = getattr(getattr(torch._C, "_functorch", None),
                           "get_dynamic_layer_stack_depth", lambda: 0)
_DelayedError = getattr(getattr(torch._C, "_functions", None), "DelayedError", None)
_DOUBLE_BACKWARD = (b"sectionloss: the gradient of a sectionloss gradient (double backward, "
                    b"create_graph=True then differentiating again) is not supported: the "
                    b"gradient is computed by the C library, not by differentiable operations")


def _traced(t):
    """True under torch.compile (dynamo, or AOTAutograd's fake / functional tensors)."""
    return _is_compiling() or type(t) is not torch.Tensor


def _eager_one(g):
    """True when g is a plain eager tensor equal to 1 (not a tensor being traced)."""
    return not _traced(g) and g.item() == 1.0


def _schema_of(impl):
    """impl as the custom operator sees it: without the keyword-only grad_buffer."""
    sig = inspect.signature(impl)
    params = [p for p in sig.parameters.values() if p.name != "grad_buffer"]

    def schema_fn(*args):
        return impl(*args)

    schema_fn.__name__ = impl.__name__
    schema_fn.__signature__ = sig.replace(parameters=params)
    schema_fn.__annotations__ = {p.name: p.annotation for p in params}
    schema_fn.__annotations__["return"] = sig.return_annotation
    return schema_fn


class _Operator:
    """One operator: impl (one C call) with a gradient rule. Called with keyword arguments (the
    impl's parameter names); eager calls run a plain torch.autograd.Function (with
    setup_context, so torch.func.grad works), calls traced by torch.compile the registered
    custom op sectionloss::<name> (its schema the impl's signature), both with the same
    setup_context and backward."""

    def __init__(self, name, impl, fake, differentiable=True):
        self.name = name
        self.impl = impl
        sig = inspect.signature(impl)
        self.params = [p for p in sig.parameters if p != "grad_buffer"]
        self.defaults = {p.name: p.default for p in sig.parameters.values()
                         if p.default is not inspect.Parameter.empty}
        self.custom = None
        if HAS_CUSTOM_OP:
            self.custom = torch.library.custom_op(f"sectionloss::{name}", mutates_args=(),
                                                  device_types="cpu")(_schema_of(impl))
            self.custom.register_fake(fake)
            if differentiable:
                self.custom.register_autograd(self.backward, setup_context=self.setup_context)
        # Two forms of one Function: with setup_context (what torch.func transforms need),
        # and forward(ctx, ...) for plain eager calls, which Function.apply does not bind to
        # forward's signature (inspect, about 8 us a call); PyTorch 1.13 has only the latter.
        self.function = self._function(_SETUP_CONTEXT_STYLE) if differentiable else None
        self.function_ctx = self._function(False) if differentiable else None

    def __call__(self, grad_buffer=None, **kwargs):
        unknown = set(kwargs) - set(self.params)
        assert not unknown, f"sectionloss::{self.name}: unknown arguments {sorted(unknown)}"
        args = tuple(kwargs[p] if p in kwargs else self.defaults[p] for p in self.params)
        if self.custom is not None and _traced(kwargs["input"]):
            return self.custom(*args)
        if self.function is None:
            return self.impl(*args, grad_buffer=grad_buffer)
        if _functorch_depth() == 0:
            return self.function_ctx.apply(grad_buffer, *args)
        return self.function.apply(grad_buffer, *args)

    def _function(self, setup_context_style):
        op = self

        def vmap(info, in_dims, *args):
            raise RuntimeError(
                f"sectionloss: torch.func.vmap is not supported (sectionloss::{op.name}): the "
                f"losses take the whole N x C x H x W batch; call them on the batch, or loop")

        if setup_context_style:
            def forward(grad_buffer, *args):
                return op.impl(*args, grad_buffer=grad_buffer)

            def setup_context(ctx, inputs, output):
                op.setup_context(ctx, inputs[1:], output)
                ctx.grad_buffer = inputs[0]
        else:
            def forward(ctx, grad_buffer, *args):
                output = op.impl(*args, grad_buffer=grad_buffer)
                op.setup_context(ctx, args, output)
                ctx.grad_buffer = grad_buffer
                return output

            setup_context = None

        def backward(ctx, *grads):
            return (None,) + op.backward(ctx, *grads)

        # Function.apply (setup_context form) binds its arguments to forward's signature at
        # every call: computed once here (inspect.signature returns __signature__ as it is)
        forward.__signature__ = inspect.signature(forward)
        body = {"forward": staticmethod(forward), "backward": staticmethod(backward),
                "vmap": staticmethod(vmap)}
        if setup_context is not None:
            body["setup_context"] = staticmethod(setup_context)
        return type(f"_{self.name}", (torch.autograd.Function,), body)

    def setup_context(self, ctx, inputs, output):
        args = dict(zip(self.params, inputs))
        ctx.mark_non_differentiable(*output[1:])
        # the other outputs get no gradient: None, not a zero tensor of the gradient's size
        # filled at every backward (0.8 ms for a 16 MB gradient)
        ctx.set_materialize_grads(False)
        ctx.reduction = args["reduction"]
        ctx.num_inputs = len(inputs)
        ctx.per_pixel = _lib.LOSSES[self.name][2] == _lib.MAP_PIXEL  # loss map [N, H, W]
        ctx.dice_none = self.name == "dice" and ctx.reduction == "none"
        if ctx.dice_none:
            # the inputs of the second C call (tensors saved, the rest as they are)
            tensors = ("input", "target", "boxes", "box_offsets", "mask")
            ctx.save_for_backward(*(args[k] for k in tensors))
            ctx.dice_args = {k: args[k] for k in _DICE_BACKWARD_ARGS if k not in tensors}
        else:
            ctx.save_for_backward(output[1])

    def backward(self, ctx, grad_loss, *_grad_rest):
        if ctx.dice_none:
            saved = dict(zip(("input", "target", "boxes", "box_offsets", "mask"),
                             ctx.saved_tensors))
            g = _dice_backward_op(grad_buffer=getattr(ctx, "grad_buffer", None),
                                  grad_map=grad_loss, **saved, **ctx.dice_args)
        else:
            (grad,) = ctx.saved_tensors
            if ctx.reduction == "none":
                g = grad * (grad_loss.unsqueeze(1) if ctx.per_pixel else grad_loss)
            elif _eager_one(grad_loss):
                g = grad  # loss.backward(): no pass over the gradient at all
            else:
                g = grad * grad_loss
        if _functorch_depth() > 1:
            # nested torch.func transforms (grad of grad, hessian): the outer one would
            # differentiate this gradient and get zeros; no lazy error exists inside a transform
            raise RuntimeError(_DOUBLE_BACKWARD.decode())
        if torch.is_grad_enabled() and not _traced(g) and _DelayedError is not None and \
                _functorch_depth() == 0:
            # create_graph=True: differentiating this gradient again raises a clear error (the
            # node needs an input that requires grad to be recorded: a leaf alias of g)
            g = _DelayedError(_DOUBLE_BACKWARD, 1)(g if g.requires_grad else
                                                   g.detach().requires_grad_())
        return (g,) + (None,) * (ctx.num_inputs - 1)


_bce_op = _Operator("bce", _bce_impl, _bce_fake)
_ce_op = _Operator("ce", _ce_impl, _ce_fake)
_ce_prob_op = _Operator("ce_prob", _ce_prob_impl, _ce_prob_fake)
_focal_op = _Operator("softmax_focal", _focal_impl, _focal_fake)
_sigmoid_focal_op = _Operator("sigmoid_focal", _sigmoid_focal_impl, _sigmoid_focal_fake)
_dice_op = _Operator("dice", _dice_impl, _dice_fake)
_dice_backward_op = _Operator("dice_backward", _dice_backward_impl, _dice_backward_fake,
                              differentiable=False)


# ---- argument checks and conversions ---------------------------------------------------------
def _tensor(fname, name, t):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{fname}: {name} must be a torch.Tensor or a numpy.ndarray, "
                        f"got {type(t).__name__}")
    if not t.is_cpu:
        raise TypeError(f"{fname}: {name} is on device {t.device}; sectionloss runs on the CPU "
                        f"(move it with .cpu())")
    return t


def _float32(fname, name, t, half=False):
    """A contiguous float32 tensor (a copy of other float dtypes and strides); half: bfloat16 and
    float16 go through as they are (the library reads and writes them: sl_options.input_dtype
    and its neighbours)."""
    _tensor(fname, name, t)
    if not t.is_floating_point():
        raise TypeError(f"{fname}: {name} must be a floating-point tensor, got {t.dtype}")
    if half and t.dtype in _HALF_DTYPES:
        return t.contiguous()
    return t.to(torch.float32).contiguous()  # copies only other float dtypes / strides


# the 2-byte element types the library takes (sl_dtype)
_HALF_DTYPES = {torch.bfloat16: _lib.DTYPE_BF16, torch.float16: _lib.DTYPE_F16}


def _dtype_code(t):
    """sl_dtype of a float tensor (None: float32)."""
    return _lib.DTYPE_F32 if t is None else _HALF_DTYPES.get(t.dtype, _lib.DTYPE_F32)


def _no_grad_needed(fname, name, t):
    if t is not None and t.requires_grad and torch.is_grad_enabled():
        raise ValueError(f"{fname}: the gradient with respect to {name} is not computed; "
                         f"pass {name}.detach()")


def _check_input(fname, input, half=True, grad_out=None):
    """The input as the library takes it: float32, or bfloat16 / float16 as it is (half); a
    float32 grad_out (the float32 gradient buffer it was before 1.1) keeps a 2-byte input on the
    float32 path (a copy), so that buffer still receives the gradient."""
    if isinstance(grad_out, torch.Tensor) and grad_out.dtype == torch.float32:
        half = False
    input = _float32(fname, "input", input, half)
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


def _grad_buffer(fname, original, input, with_grad, grad_out, inplace=False):
    """Where the forward call writes the gradient: None (a new tensor), grad_out (a buffer the
    caller keeps from step to step) or, with inplace, the input's own storage."""
    if inplace and grad_out is not None:
        raise ValueError(f"{fname}: inplace=True and grad_out are exclusive (inplace writes the "
                         f"gradient over the input)")
    if inplace:
        if original is not input:  # _check_input converted it: original is a tensor
            layout = "" if original.is_contiguous() else ", not contiguous"
            raise ValueError(f"{fname}: inplace=True needs a contiguous float32, bfloat16 or "
                             f"float16 input tensor (the gradient would go to a converted "
                             f"copy), got {original.dtype}"
                             f"{layout}")
        if input.is_leaf and input.requires_grad:
            raise ValueError(f"{fname}: inplace=True overwrites the input with the gradient; this "
                             f"input is a leaf tensor that requires grad (a parameter or a "
                             f"user's tensor): pass logits computed from it instead")
        return input if with_grad else None
    if grad_out is None:
        return None
    _tensor(fname, "grad_out", grad_out)
    if grad_out.dtype != input.dtype or grad_out.shape != input.shape or \
            not grad_out.is_contiguous():
        raise ValueError(f"{fname}: grad_out must be a contiguous tensor of the input's dtype "
                         f"({input.dtype}) and shape {list(input.shape)}, got {grad_out.dtype} "
                         f"{list(grad_out.shape)}"
                         f"{'' if grad_out.is_contiguous() else ', not contiguous'}")
    if grad_out.requires_grad:
        raise ValueError(f"{fname}: grad_out must not require grad")
    return grad_out if with_grad else None


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
    target = _float32(fname, "target", target, half=True)
    if target.shape != input.shape:
        raise ValueError(f"{fname}: target shape {tuple(target.shape)} differs from input shape "
                         f"{tuple(input.shape)}")
    if weight is not None:
        weight = _float32(fname, "weight", weight, half=True)
        if not _broadcasts_to(weight.shape, input.shape):
            raise ValueError(f"{fname}: weight of shape {tuple(weight.shape)} does not broadcast "
                             f"to the input shape {tuple(input.shape)}")
        weight = weight.expand(input.shape).contiguous()
    return target, weight


def _accepts_numpy(fn):
    """The numpy path of a public function: when an argument is a numpy array, arrays become
    tensors without a copy, the call runs without autograd and the result is an ndarray."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        if _np is None or not any(isinstance(v, _np.ndarray)
                                  for v in itertools.chain(args, kwargs.values())):
            return fn(*args, **kwargs)

        def conv(v):
            return torch.from_numpy(v) if isinstance(v, _np.ndarray) else v

        with torch.no_grad():
            out = fn(*[conv(a) for a in args], **{k: conv(v) for k, v in kwargs.items()})
        return tuple(t.numpy() for t in out) if isinstance(out, tuple) else out.numpy()

    return call


def _with_grad(input):
    return input.requires_grad and torch.is_grad_enabled()


def _bce(fname, logits, input, target, box, box_offsets, mask, weight, pos_weight, reduction,
         num_threads, return_stats, return_box_stats, grad_out, inplace):
    _check_reduction(fname, reduction)
    original, input = input, _check_input(fname, input, grad_out=grad_out)
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
    with_grad = _with_grad(input)
    grad_buffer = _grad_buffer(fname, original, input, with_grad, grad_out, inplace)
    loss, _, stats, box_stats = _bce_op(
        grad_buffer=grad_buffer, input=input, target=target, boxes=boxes, mask=mask,
        weight=weight, pos_weight=pos_weight, logits=logits, reduction=reduction,
        num_threads=_check_threads(fname, num_threads), with_grad=with_grad,
        box_offsets=offsets, want_box_stats=want_box_stats)
    return _result(loss, stats, box_stats, return_stats, return_box_stats)


_COMMON_DOC = """
    Common keywords: box (x1, y1, x2, y2), an integer tensor [4] / [1, 4] / [N, 4], a list of N
    per-sample [k, 4] boxes, or [K, 4] with box_offsets [N + 1]; mask bool / uint8 [N, 1, H, W]
    or [N, H, W]{per_channel}; reduction "mean", "sum" or "none"; num_threads None
    (torch.get_num_threads()), 0 (OpenMP's default) or k; return_stats=True also returns
    float64 [loss_sum, normalizer, count]{box_stats}. grad_out: a contiguous float32 tensor of
    the input's shape the gradient is written to (a buffer kept from step to step: no new
    gradient-sized memory per call; it becomes the gradient handed to autograd, so it must not
    be reused before that gradient is consumed).{inplace}
    Under torch.compile, grad_out{and_inplace} are ignored (the compiled graph owns memory)."""
_BOX_STATS_DOC = (", return_box_stats=True float64 [num_boxes, 3] of them, one row per box "
                  "(needs box)")
_INPLACE_DOC = """ inplace=True: the gradient is written over the input's own storage
    (no new gradient-sized memory at all): the input must be a float32 contiguous non-leaf
    tensor (logits computed by the model) that nothing else needs after this call (an operator
    that saved it for its backward then raises PyTorch's "modified by an inplace operation";
    reading the logits afterwards reads the gradient)."""


def _doc(per_channel=", or [N, C, H, W] (one mask per channel)", box_stats=_BOX_STATS_DOC,
         inplace=True):
    def deco(fn):
        fn.__doc__ += _COMMON_DOC.format(per_channel=per_channel, box_stats=box_stats,
                                         inplace=_INPLACE_DOC if inplace else "",
                                         and_inplace=" and inplace" if inplace else "")
        return fn
    return deco


@_accepts_numpy
@_doc(inplace=False)
def binary_cross_entropy(input, target, *, box=None, box_offsets=None, mask=None, weight=None,
                         reduction="mean", num_threads=None, return_stats=False,
                         return_box_stats=False, grad_out=None):
    """F.binary_cross_entropy(input[sel], target[sel], weight[sel]) over the section sel (box
    and/or mask); input holds probabilities. reduction "none" gives the full N x C x H x W map,
    0 outside the section. weight broadcasts to the input (expanded: a copy)."""
    return _bce("binary_cross_entropy", False, input, target, box, box_offsets, mask, weight,
                None, reduction, num_threads, return_stats, return_box_stats, grad_out, False)


@_accepts_numpy
@_doc()
def binary_cross_entropy_with_logits(input, target, *, box=None, box_offsets=None, mask=None,
                                     weight=None, pos_weight=None, reduction="mean",
                                     num_threads=None, return_stats=False,
                                     return_box_stats=False, grad_out=None, inplace=False):
    """F.binary_cross_entropy_with_logits over the section; pos_weight is per channel ([C],
    PyTorch's pos_weight.view(C, 1, 1)). Otherwise as binary_cross_entropy."""
    return _bce("binary_cross_entropy_with_logits", True, input, target, box, box_offsets, mask,
                weight, pos_weight, reduction, num_threads, return_stats, return_box_stats,
                grad_out, inplace)


@_accepts_numpy
@_doc()
def sigmoid_focal_loss(input, target, *, box=None, box_offsets=None, mask=None, weight=None,
                       alpha=0.25, gamma=2.0, reduction="mean", num_threads=None,
                       return_stats=False, return_box_stats=False, grad_out=None,
                       inplace=False):
    """torchvision.ops.sigmoid_focal_loss(input[sel], target[sel], alpha, gamma) (times
    weight[sel]) over the section, per selected element: p = sigmoid(input), ce =
    BCE with logits, 1 - p_t = p (1 - t) + (1 - p) t, weight * alpha_t * (1 - p_t)**gamma * ce
    with alpha_t = alpha t + (1 - alpha) (1 - t) (no alpha weighting for alpha < 0; alpha > 1
    or NaN: ValueError). MEAN divides by the selected count. No pos_weight. Otherwise as
    binary_cross_entropy_with_logits (reduction "none" gives the N x C x H x W map)."""
    fname = "sigmoid_focal_loss"
    _check_reduction(fname, reduction)
    _check_focal(fname, gamma, alpha)
    original, input = input, _check_input(fname, input, grad_out=grad_out)
    target, weight = _check_elementwise(fname, input, target, weight)
    for name, t in (("target", target), ("weight", weight)):
        _no_grad_needed(fname, name, t)
    boxes, offsets = _check_boxes(fname, box, input.shape[0], box_offsets)
    want_box_stats = _check_box_stats(fname, return_box_stats, boxes)
    mask = _check_mask(fname, mask, input, True)
    with_grad = _with_grad(input)
    grad_buffer = _grad_buffer(fname, original, input, with_grad, grad_out, inplace)
    loss, _, stats, box_stats = _sigmoid_focal_op(
        grad_buffer=grad_buffer, input=input, target=target, boxes=boxes, box_offsets=offsets,
        mask=mask, weight=weight, alpha=float(alpha), gamma=float(gamma), reduction=reduction,
        num_threads=_check_threads(fname, num_threads), with_grad=with_grad,
        want_box_stats=want_box_stats)
    return _result(loss, stats, box_stats, return_stats, return_box_stats)


def _check_labels(fname, target, input):
    n, _, h, w = input.shape
    _tensor(fname, "target", target)
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        soft = ("or class probabilities (a float tensor of the input's shape)"
                if fname == "cross_entropy" else "(class-probability targets are not supported)")
        raise TypeError(f"{fname}: target must hold class indices (int64, int32 or uint8) "
                        f"{soft}, got {target.dtype}")
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


def _check_pixel_weight(fname, pixel_weight, input, half=True):
    if pixel_weight is None:
        return None
    n, _, h, w = input.shape
    pixel_weight = _float32(fname, "pixel_weight", pixel_weight, half)
    if tuple(pixel_weight.shape) == (n, 1, h, w):
        pixel_weight = pixel_weight.reshape(n, h, w)
    if not _broadcasts_to(pixel_weight.shape, (n, h, w)):
        raise ValueError(f"{fname}: pixel_weight must have shape [N, H, W] = {[n, h, w]} (or "
                         f"[N, 1, H, W], or broadcast to [N, H, W]), got "
                         f"{list(pixel_weight.shape)}")
    _no_grad_needed(fname, "pixel_weight", pixel_weight)
    return pixel_weight.expand(n, h, w).contiguous()


def _check_range(fname, name, value, low, high=math.inf, low_open=False):
    """A float option within [low, high] ((low, high] with low_open): ValueError naming the
    value and the bound otherwise (NaN included)."""
    v = float(value)
    if not ((v > low if low_open else v >= low) and v <= high):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high == math.inf else ']'}"
        raise ValueError(f"{fname}: {name}={value!r} is outside {interval}")


def _check_focal(fname, gamma, alpha=None):
    if not math.isfinite(float(gamma)):
        raise ValueError(f"{fname}: gamma={gamma!r} must be finite")
    _check_range(fname, "gamma", gamma, 0.0)
    if alpha is not None and not float(alpha) <= 1.0:
        raise ValueError(f"{fname}: alpha={alpha!r} must be <= 1 (alpha < 0: no alpha "
                         f"weighting)")


def _check_probabilities(fname, target, input, ignore_index):
    """A class-probability target (floats of the input's shape; any values, as PyTorch takes
    them unchecked): float32, bfloat16 or float16 (as it is), contiguous. ignore_index must
    stay at -100, as in PyTorch."""
    target = _float32(fname, "target", target, half=True)
    if target.shape != input.shape:
        raise ValueError(f"{fname}: a class-probability target must have the input's shape "
                         f"{list(input.shape)} (N x C x H x W), got {list(target.shape)}")
    if int(ignore_index) != -100:
        raise ValueError(f"{fname}: ignore_index={ignore_index} is not supported for "
                         f"floating point (class-probability) targets, as in PyTorch")
    _no_grad_needed(fname, "target", target)
    return target


def _ce_like(fname, op, input, target, box, box_offsets, mask, weight, pixel_weight,
             ignore_index, reduction, num_threads, return_stats, return_box_stats, grad_out,
             inplace, **options):
    """The shared body of cross_entropy and softmax_focal_loss (options: the loss's own). A
    floating-point target with cross_entropy is a class-probability target: sl_ce_prob."""
    _check_reduction(fname, reduction)
    probs = op is _ce_op and isinstance(target, torch.Tensor) and target.is_floating_point()
    original, input = input, _check_input(fname, input, grad_out=grad_out)
    n, c, h, w = input.shape
    if probs:
        if "ohem_thresh" in options:
            raise ValueError(f"{fname}: ohem_thresh (hard example mining) needs class-index "
                             f"targets, got a floating-point (class-probability) target")
        target = _check_probabilities(fname, target, input, ignore_index)
        op = _ce_prob_op
    else:
        target = _check_labels(fname, target, input)
    weight = _check_class_weight(fname, weight, c)
    pixel_weight = _check_pixel_weight(fname, pixel_weight, input)
    boxes, offsets = _check_boxes(fname, box, n, box_offsets)
    want_box_stats = _check_box_stats(fname, return_box_stats, boxes)
    mask = _check_mask(fname, mask, input, False)
    with_grad = _with_grad(input)
    grad_buffer = _grad_buffer(fname, original, input, with_grad, grad_out, inplace)
    if not probs:
        options["ignore_index"] = int(ignore_index)
    loss, _, stats, box_stats = op(
        grad_buffer=grad_buffer, input=input, target=target, boxes=boxes, box_offsets=offsets,
        mask=mask, weight=weight, pixel_weight=pixel_weight, reduction=reduction,
        num_threads=_check_threads(fname, num_threads), with_grad=with_grad,
        want_box_stats=want_box_stats, **options)
    return _result(loss, stats, box_stats, return_stats, return_box_stats)


@_accepts_numpy
@_doc(per_channel="")
def cross_entropy(input, target, *, box=None, box_offsets=None, mask=None, weight=None,
                  pixel_weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean",
                  num_threads=None, return_stats=False, return_box_stats=False, grad_out=None,
                  inplace=False, ohem_thresh=None, ohem_min_kept=0):
    """F.cross_entropy(input, target, weight, ignore_index, label_smoothing) counting only the
    pixels in the section (box and/or mask [N, 1, H, W] or [N, H, W]); target holds class
    indices [N, H, W] (int64, int32 or uint8: used as they are; int8 / int16: an int32 copy).
    Reduction "none" gives the N x H x W map. pixel_weight [N, H, W] multiplies each pixel's
    loss (with the class weight); MEAN divides by the sum of pixel_weight x weight[target] over
    the counted pixels.

    A floating-point target of the input's shape [N, C, H, W] holds class probabilities (as
    PyTorch dispatches on the target's dtype; any values, unchecked as in PyTorch): per pixel
    -sum_c weight[c] q'_c log softmax(input)_c, q' = (1 - label_smoothing) target +
    label_smoothing / C (the C function sl_ce_prob). MEAN divides by the number of selected
    pixels, as PyTorch does for probability targets (not by the class weights), or with
    pixel_weight by the sum of the selected pixels' weights. ignore_index must stay -100 (as in
    PyTorch); no gradient with respect to the target.

    ohem_thresh, ohem_min_kept: online hard example mining as mmsegmentation's
    OHEMPixelSampler(thresh, min_kept) with a threshold: of the counted pixels, those whose
    softmax probability of their label is below max(ohem_thresh, the (ohem_min_kept x N)-th
    smallest such probability) are kept, and the loss is computed over them alone (MEAN divides
    by their weights, stats counts them; mmseg's loss divides by every pixel by default). No
    sort: one extra pass over the logits, a selection over the pixels' values."""
    _check_range("cross_entropy", "label_smoothing", label_smoothing, 0.0, 1.0)
    return _ce_like("cross_entropy", _ce_op, input, target, box, box_offsets, mask, weight,
                    pixel_weight, ignore_index, reduction, num_threads, return_stats,
                    return_box_stats, grad_out, inplace,
                    label_smoothing=float(label_smoothing),
                    **_ohem_options("cross_entropy", ohem_thresh, ohem_min_kept))


@_accepts_numpy
@_doc(per_channel="")
def softmax_focal_loss(input, target, *, box=None, box_offsets=None, mask=None, weight=None,
                       pixel_weight=None, gamma=2.0, ignore_index=-100, reduction="mean",
                       num_threads=None, return_stats=False, return_box_stats=False,
                       grad_out=None, inplace=False, ohem_thresh=None, ohem_min_kept=0):
    """Multi-class (softmax) focal loss, per counted pixel with label t:
    pixel_weight * weight[t] * (1 - p_t)**gamma * (-log p_t), p = softmax(input) over C; MEAN
    divides by the sum of pixel_weight * weight[t] over the counted pixels (as cross_entropy;
    gamma 0 is cross_entropy). Arguments as cross_entropy (no label_smoothing; the mining
    selects by the softmax probability, as for cross_entropy)."""
    _check_focal("softmax_focal_loss", gamma)
    return _ce_like("softmax_focal_loss", _focal_op, input, target, box, box_offsets, mask,
                    weight, pixel_weight, ignore_index, reduction, num_threads, return_stats,
                    return_box_stats, grad_out, inplace, gamma=float(gamma),
                    **_ohem_options("softmax_focal_loss", ohem_thresh, ohem_min_kept))


def _ohem_options(fname, thresh, min_kept):
    """The C options of OHEM (ohem_thresh None: no mining; a ValueError naming the value and
    its bound otherwise)."""
    if isinstance(min_kept, bool) or not isinstance(min_kept, int) or min_kept < 0:
        raise ValueError(f"{fname}: ohem_min_kept must be an int >= 0, got {min_kept!r}")
    if thresh is None:
        if min_kept:
            raise ValueError(f"{fname}: ohem_min_kept={min_kept} needs ohem_thresh (mining is "
                             f"off without it)")
        return {}
    _check_range(fname, "ohem_thresh", thresh, 0.0, 1.0)
    return {"ohem_thresh": float(thresh), "ohem_min_kept": int(min_kept)}


_DICE_MODES = ("binary", "multilabel", "multiclass")
_SMP_FORMS = ("0.5", "0.4")
_NO_INDEX = -2**63  # ignore_index=None with labels: a value no counted label can have


def _dice(fname, tversky, input, target, box, box_offsets, mask, mode, from_logits, smooth,
          eps, log_loss, ignore_index, alpha, beta, gamma, reduction, num_threads,
          return_stats, grad_out):
    _check_reduction(fname, reduction)
    if mode not in _DICE_MODES:
        raise ValueError(f"{fname}: {mode!r} is not a valid value for mode (\"binary\", "
                         f"\"multilabel\" or \"multiclass\")")
    for name, value in (("alpha", alpha), ("beta", beta), ("smooth", smooth)):
        if not math.isfinite(float(value)):
            raise ValueError(f"{fname}: {name}={value!r} must be finite")
        _check_range(fname, name, value, 0.0)
    for name, value in (("gamma", gamma), ("eps", eps)):
        if not math.isfinite(float(value)):
            raise ValueError(f"{fname}: {name}={value!r} must be finite")
        _check_range(fname, name, value, 0.0, low_open=True)
    original, input = input, _check_input(fname, input, grad_out=grad_out)
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
        # bfloat16 / float16 as they are (sl_options.target_dtype); bool / integer: a copy
        target = target.contiguous() if target.dtype in _HALF_DTYPES else \
            target.to(torch.float32).contiguous()
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
    with_grad = _with_grad(input)
    grad_buffer = _grad_buffer(fname, original, input, with_grad, grad_out)
    loss, _, stats = _dice_op(
        grad_buffer=grad_buffer, input=input, target=target, boxes=boxes, box_offsets=offsets,
        mask=mask, multiclass=multiclass, ignore_index=index, tversky=tversky,
        alpha=float(alpha), beta=float(beta), gamma=float(gamma), smooth=float(smooth),
        eps=float(eps), log_loss=bool(log_loss), from_logits=bool(from_logits),
        reduction=reduction, num_threads=_check_threads(fname, num_threads),
        with_grad=with_grad)
    return (loss, stats) if return_stats else loss


_DICE_DOC = dict(per_channel=", or [N, C, H, W] for binary / multilabel", box_stats="",
                 inplace=False)


@_accepts_numpy
@_doc(**_DICE_DOC)
def dice_loss(input, target, *, box=None, box_offsets=None, mask=None, mode="binary",
              from_logits=True, smooth=0.0, eps=1e-7, log_loss=False, ignore_index=-100,
              reduction="mean", num_threads=None, return_stats=False, grad_out=None,
              smp_form="0.5"):
    """segmentation_models_pytorch's DiceLoss(mode, log_loss, from_logits, smooth,
    ignore_index, eps) with the per-class sums taken over the section only. mode "binary"
    (input N x 1 x H x W, float target of that shape or N x H x W) and "multilabel" (N x C x H x
    W both): sigmoid of the input with from_logits; "multiclass": logits N x C x H x W
    (softmax), integer labels N x H x W. Per class c, P, T the sums of p, t:
    smp_form "0.5" (smp 0.5 and 0.6, the default): score (I + smooth) / max((P + T) / 2 +
    smooth, eps), I = (P + T - sum |p - t|) / 2 = sum min(p, t) (smp's Tversky with alpha =
    beta = 0.5; its gradient in I is smp's, [p < t] + [p == t] / 2); "0.4" (smp 0.3 and 0.4):
    (2 I + smooth) / max(P + T + smooth, eps), I = sum p t. The two agree for targets 0 / 1
    and smooth 0 (up to eps); a soft target (not 0 or 1) gives a different I. loss_c
    1 - score (log_loss: -log(max(score, eps))), 0 for a class with T == 0. reduction "mean"
    (smp's): the mean over the C classes, "sum": their sum, "none": the C per-class losses.
    ignore_index: multiclass pixels with that label, binary / multilabel elements with that
    target value, are left out (None: nothing is). return_stats: float64 [sum of loss_c, C,
    selected elements]."""
    if smp_form not in _SMP_FORMS:
        raise ValueError(f"dice_loss: smp_form={smp_form!r} is not one of {_SMP_FORMS} (\"0.5\": "
                         f"smp 0.5-0.6's Dice, \"0.4\": smp 0.3-0.4's)")
    return _dice("dice_loss", smp_form == "0.5", input, target, box, box_offsets, mask, mode,
                 from_logits, smooth, eps, log_loss, ignore_index, 0.5, 0.5, 1.0, reduction,
                 num_threads, return_stats, grad_out)


@_accepts_numpy
@_doc(**_DICE_DOC)
def tversky_loss(input, target, *, box=None, box_offsets=None, mask=None, mode="binary",
                 from_logits=True, smooth=0.0, eps=1e-7, log_loss=False, ignore_index=-100,
                 alpha=0.5, beta=0.5, gamma=1.0, reduction="mean", num_threads=None,
                 return_stats=False, grad_out=None):
    """segmentation_models_pytorch's TverskyLoss(mode, log_loss, from_logits, smooth,
    ignore_index, eps, alpha, beta, gamma) (smp 0.5+) over the section: score (I + smooth) /
    max(I + alpha (P - I) + beta (T - I) + smooth, eps), I = (P + T - sum |p - t|) / 2 =
    sum min(p, t) (smp 0.5+'s; sum p t for targets 0 / 1); "mean" gives (mean_c loss_c)**gamma,
    "sum" (sum_c loss_c)**gamma, "none" the C per-class losses (no gamma). At a loss of exactly
    0 the gradient is 0 for every gamma (PyTorch's autograd of x**gamma, gamma < 1, gives NaN
    there). Otherwise as dice_loss (alpha = beta = 0.5, gamma 1 is smp 0.5+'s Dice loss)."""
    return _dice("tversky_loss", True, input, target, box, box_offsets, mask, mode, from_logits,
                 smooth, eps, log_loss, ignore_index, alpha, beta, gamma, reduction,
                 num_threads, return_stats, grad_out)
