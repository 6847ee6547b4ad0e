# SPDX-License-Identifier: MIT
"""nn.Module forms, shaped like torch.nn.BCELoss, BCEWithLogitsLoss and CrossEntropyLoss (and
softmax and sigmoid focal losses, segmentation_models_pytorch's DiceLoss / TverskyLoss). The
constructor takes the loss's options, as torch.nn's; the section and every other keyword of the
functional form are given per call: loss_fn(input, target, box=..., mask=..., ...)."""
import torch

from . import functional as F


class _SectionLoss(torch.nn.Module):
    """One module per functional form (_fn); its constructor's options (names as the
    functional's keywords) are stored as attributes, tensors as buffers (they follow .to())."""
    _fn = None
    _tensor_options = ("weight", "pos_weight")

    def __init__(self, **options):
        super().__init__()
        self._option_names = tuple(options)
        for name, value in options.items():
            if name in self._tensor_options:
                self.register_buffer(name, value)
            else:
                setattr(self, name, value)

    def forward(self, input, target, **kwargs):
        options = {name: getattr(self, name) for name in self._option_names}
        clash = set(options) & set(kwargs)
        if clash:
            raise TypeError(f"{type(self).__name__}: {sorted(clash)} set at construction; "
                            f"pass the others per call (box, mask, ...)")
        return type(self)._fn(input, target, **options, **kwargs)

    def extra_repr(self):
        return ", ".join(f"{n}={getattr(self, n)!r}" for n in self._option_names
                         if n not in self._tensor_options)


def _module_doc(cls):
    fn = cls._fn
    cls.__doc__ = (f"{cls.__doc__}\n\n    Called as loss(input, target, **keywords): any keyword "
                   f"of sectionloss.{fn.__name__} not set at construction (box, box_offsets, "
                   f"mask, return_stats, ...).\n\n    sectionloss.{fn.__name__}: {fn.__doc__}")
    return cls


@_module_doc
class BCELoss(_SectionLoss):
    """torch.nn.BCELoss(weight, reduction) over a section (sectionloss.binary_cross_entropy)."""
    _fn = staticmethod(F.binary_cross_entropy)

    def __init__(self, weight=None, reduction="mean", num_threads=None):
        super().__init__(weight=weight, reduction=reduction, num_threads=num_threads)


@_module_doc
class BCEWithLogitsLoss(_SectionLoss):
    """torch.nn.BCEWithLogitsLoss(weight, reduction, pos_weight) over a section
    (sectionloss.binary_cross_entropy_with_logits)."""
    _fn = staticmethod(F.binary_cross_entropy_with_logits)

    def __init__(self, weight=None, reduction="mean", pos_weight=None, num_threads=None):
        super().__init__(weight=weight, reduction=reduction, pos_weight=pos_weight,
                         num_threads=num_threads)


@_module_doc
class CrossEntropyLoss(_SectionLoss):
    """torch.nn.CrossEntropyLoss(weight, ignore_index, reduction, label_smoothing) over a
    section (sectionloss.cross_entropy); ohem_thresh / ohem_min_kept: hard example mining as
    mmsegmentation's OHEMPixelSampler."""
    _fn = staticmethod(F.cross_entropy)

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                 num_threads=None, ohem_thresh=None, ohem_min_kept=0):
        super().__init__(weight=weight, ignore_index=ignore_index, reduction=reduction,
                         label_smoothing=label_smoothing, num_threads=num_threads,
                         ohem_thresh=ohem_thresh, ohem_min_kept=ohem_min_kept)


@_module_doc
class SoftmaxFocalLoss(_SectionLoss):
    """Softmax focal loss (sectionloss.softmax_focal_loss); the per-pixel weight map is given
    per call, like the section."""
    _fn = staticmethod(F.softmax_focal_loss)

    def __init__(self, weight=None, gamma=2.0, ignore_index=-100, reduction="mean",
                 num_threads=None, ohem_thresh=None, ohem_min_kept=0):
        super().__init__(weight=weight, gamma=gamma, ignore_index=ignore_index,
                         reduction=reduction, num_threads=num_threads, ohem_thresh=ohem_thresh,
                         ohem_min_kept=ohem_min_kept)


@_module_doc
class SigmoidFocalLoss(_SectionLoss):
    """torchvision.ops.sigmoid_focal_loss over a section (sectionloss.sigmoid_focal_loss);
    weight is per element (broadcast to the input), as BCEWithLogitsLoss's."""
    _fn = staticmethod(F.sigmoid_focal_loss)

    def __init__(self, weight=None, alpha=0.25, gamma=2.0, reduction="mean", num_threads=None):
        super().__init__(weight=weight, alpha=alpha, gamma=gamma, reduction=reduction,
                         num_threads=num_threads)


@_module_doc
class DiceLoss(_SectionLoss):
    """segmentation_models_pytorch.losses.DiceLoss(mode, log_loss=..., from_logits=...,
    smooth=..., ignore_index=..., eps=...) over a section (sectionloss.dice_loss); reduction
    "mean" is smp's; smp_form "0.5" (smp 0.5-0.6, default) or "0.4" (smp 0.3-0.4)."""
    _fn = staticmethod(F.dice_loss)

    def __init__(self, mode="binary", log_loss=False, from_logits=True, smooth=0.0,
                 ignore_index=-100, eps=1e-7, reduction="mean", num_threads=None,
                 smp_form="0.5"):
        super().__init__(mode=mode, log_loss=log_loss, from_logits=from_logits, smooth=smooth,
                         ignore_index=ignore_index, eps=eps, reduction=reduction,
                         num_threads=num_threads, smp_form=smp_form)


@_module_doc
class TverskyLoss(_SectionLoss):
    """segmentation_models_pytorch.losses.TverskyLoss(mode, ..., alpha, beta, gamma) over a
    section (sectionloss.tversky_loss)."""
    _fn = staticmethod(F.tversky_loss)

    def __init__(self, mode="binary", log_loss=False, from_logits=True, smooth=0.0,
                 ignore_index=-100, eps=1e-7, alpha=0.5, beta=0.5, gamma=1.0, reduction="mean",
                 num_threads=None):
        super().__init__(mode=mode, log_loss=log_loss, from_logits=from_logits, smooth=smooth,
                         ignore_index=ignore_index, eps=eps, alpha=alpha, beta=beta,
                         gamma=gamma, reduction=reduction, num_threads=num_threads)
