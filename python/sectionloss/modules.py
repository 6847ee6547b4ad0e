"""nn.Module forms, shaped like torch.nn.BCELoss, BCEWithLogitsLoss and CrossEntropyLoss (and
softmax and sigmoid focal losses, segmentation_models_pytorch's DiceLoss / TverskyLoss); the
section (box, mask) is given per call: loss_fn(input, target, box=..., mask=...)."""
import torch

from . import functional as F


class _SectionLoss(torch.nn.Module):
    def __init__(self, weight=None, reduction="mean", num_threads=None):
        super().__init__()
        self.register_buffer("weight", weight)
        self.reduction = reduction
        self.num_threads = num_threads


class BCELoss(_SectionLoss):
    def forward(self, input, target, box=None, mask=None):
        return F.binary_cross_entropy(input, target, box=box, mask=mask, weight=self.weight,
                                      reduction=self.reduction, num_threads=self.num_threads)


class BCEWithLogitsLoss(_SectionLoss):
    def __init__(self, weight=None, reduction="mean", pos_weight=None, num_threads=None):
        super().__init__(weight, reduction, num_threads)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input, target, box=None, mask=None):
        return F.binary_cross_entropy_with_logits(
            input, target, box=box, mask=mask, weight=self.weight, pos_weight=self.pos_weight,
            reduction=self.reduction, num_threads=self.num_threads)


class CrossEntropyLoss(_SectionLoss):
    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                 num_threads=None):
        super().__init__(weight, reduction, num_threads)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target, box=None, mask=None, pixel_weight=None):
        return F.cross_entropy(input, target, box=box, mask=mask, weight=self.weight,
                               pixel_weight=pixel_weight, ignore_index=self.ignore_index,
                               label_smoothing=self.label_smoothing, reduction=self.reduction,
                               num_threads=self.num_threads)


class SoftmaxFocalLoss(_SectionLoss):
    """F.softmax_focal_loss; the per-pixel weight map is given per call, like the section."""

    def __init__(self, weight=None, gamma=2.0, ignore_index=-100, reduction="mean",
                 num_threads=None):
        super().__init__(weight, reduction, num_threads)
        self.gamma = gamma
        self.ignore_index = ignore_index

    def forward(self, input, target, box=None, mask=None, pixel_weight=None):
        return F.softmax_focal_loss(input, target, box=box, mask=mask, weight=self.weight,
                                    pixel_weight=pixel_weight, gamma=self.gamma,
                                    ignore_index=self.ignore_index, reduction=self.reduction,
                                    num_threads=self.num_threads)


class SigmoidFocalLoss(_SectionLoss):
    """F.sigmoid_focal_loss (torchvision.ops.sigmoid_focal_loss over the section); weight is
    per element (broadcast to the input), as BCEWithLogitsLoss's."""

    def __init__(self, weight=None, alpha=0.25, gamma=2.0, reduction="mean", num_threads=None):
        super().__init__(weight, reduction, num_threads)
        self.alpha = alpha
        self.gamma = gamma

    def forward(self, input, target, box=None, mask=None):
        return F.sigmoid_focal_loss(input, target, box=box, mask=mask, weight=self.weight,
                                    alpha=self.alpha, gamma=self.gamma,
                                    reduction=self.reduction, num_threads=self.num_threads)


class DiceLoss(torch.nn.Module):
    """segmentation_models_pytorch.losses.DiceLoss(mode, log_loss=..., from_logits=...,
    smooth=..., ignore_index=..., eps=...) over the section (F.dice_loss); reduction "mean" is
    smp's."""

    def __init__(self, mode="binary", log_loss=False, from_logits=True, smooth=0.0,
                 ignore_index=-100, eps=1e-7, reduction="mean", num_threads=None):
        super().__init__()
        self.mode = mode
        self.log_loss = log_loss
        self.from_logits = from_logits
        self.smooth = smooth
        self.ignore_index = ignore_index
        self.eps = eps
        self.reduction = reduction
        self.num_threads = num_threads

    def forward(self, input, target, box=None, mask=None):
        return F.dice_loss(input, target, box=box, mask=mask, mode=self.mode,
                           from_logits=self.from_logits, smooth=self.smooth, eps=self.eps,
                           log_loss=self.log_loss, ignore_index=self.ignore_index,
                           reduction=self.reduction, num_threads=self.num_threads)


class TverskyLoss(DiceLoss):
    """segmentation_models_pytorch.losses.TverskyLoss(mode, ..., alpha, beta, gamma) over the
    section (F.tversky_loss)."""

    def __init__(self, mode="binary", log_loss=False, from_logits=True, smooth=0.0,
                 ignore_index=-100, eps=1e-7, alpha=0.5, beta=0.5, gamma=1.0, reduction="mean",
                 num_threads=None):
        super().__init__(mode, log_loss, from_logits, smooth, ignore_index, eps, reduction,
                         num_threads)
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma

    def forward(self, input, target, box=None, mask=None):
        return F.tversky_loss(input, target, box=box, mask=mask, mode=self.mode,
                              from_logits=self.from_logits, smooth=self.smooth, eps=self.eps,
                              log_loss=self.log_loss, ignore_index=self.ignore_index,
                              alpha=self.alpha, beta=self.beta, gamma=self.gamma,
                              reduction=self.reduction, num_threads=self.num_threads)
