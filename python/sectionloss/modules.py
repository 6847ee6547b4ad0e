"""nn.Module forms, shaped like torch.nn.BCELoss, BCEWithLogitsLoss and CrossEntropyLoss; the
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

    def forward(self, input, target, box=None, mask=None):
        return F.cross_entropy(input, target, box=box, mask=mask, weight=self.weight,
                               ignore_index=self.ignore_index,
                               label_smoothing=self.label_smoothing, reduction=self.reduction,
                               num_threads=self.num_threads)
