#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The README's Python quick start, then BCE with logits in a box: masked cross-entropy with
autograd, beside PyTorch's form."""
import torch
import torch.nn.functional as F

import sectionloss

torch.manual_seed(0)
logits = torch.randn(4, 21, 128, 128, requires_grad=True)  # N x C x H x W
labels = torch.randint(0, 21, (4, 128, 128))               # N x H x W, int64
mask = torch.rand(4, 1, 128, 128) < 0.5                    # which pixels count

loss = sectionloss.cross_entropy(logits, labels, mask=mask, label_smoothing=0.1)
loss.backward()  # one fused C call computed the loss and the gradient

# The same in PyTorch: unselected pixels become ignore_index.
ref = F.cross_entropy(logits, torch.where(mask[:, 0], labels, -100), label_smoothing=0.1)
print(f"sectionloss {loss.item():.6f}  PyTorch {ref.item():.6f}")

# A box (x1, y1, x2, y2) and BCE with logits, in nn.Module form:
bce = sectionloss.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0]))
x = torch.randn(4, 1, 128, 128)
y = (torch.rand(4, 1, 128, 128) < 0.3).float()
print(f"BCE with logits in a box: {bce(x, y, box=(16, 16, 112, 112)).item():.6f}")
