# SPDX-License-Identifier: MIT
"""sectionloss: BCE, BCE with logits, cross-entropy, softmax and sigmoid focal and Dice / Tversky
losses (and their gradients) computed only inside boxes and/or a mask of an N x C x H x W
float32 tensor, by the C library next to this module. Drop-in shaped like torch.nn.functional;
see docs/python.md."""
import warnings

from ._lib import SectionLossError, isa, isa_env_problem, version
from ._version import __version__
from .functional import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
                         dice_loss, sigmoid_focal_loss, softmax_focal_loss, tversky_loss)
from .modules import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, DiceLoss, SigmoidFocalLoss,
                      SoftmaxFocalLoss, TverskyLoss)

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
           "softmax_focal_loss", "sigmoid_focal_loss", "dice_loss", "tversky_loss", "BCELoss",
           "BCEWithLogitsLoss", "CrossEntropyLoss", "SoftmaxFocalLoss", "SigmoidFocalLoss",
           "DiceLoss", "TverskyLoss", "SectionLossError", "isa", "version", "__version__"]

if isa_env_problem():
    warnings.warn(isa_env_problem(), RuntimeWarning, stacklevel=2)
