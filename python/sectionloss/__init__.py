"""sectionloss: BCE, BCE with logits and cross-entropy (and their gradients) computed only
inside a box and/or a mask of an N x C x H x W float32 tensor, by the C library next to this
module. Drop-in shaped like torch.nn.functional; see the README's "Python" section."""
from ._lib import SectionLossError, isa, version
from ._version import __version__
from .functional import binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy
from .modules import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
           "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "SectionLossError", "isa",
           "version", "__version__"]
