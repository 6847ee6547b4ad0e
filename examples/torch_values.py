#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""
torch_values.py - PyTorch's values for the four examples (examples/*.c), from the same data.

Run with Debian's python3-torch (1.13) and python3-torchvision (example 4):
    /usr/bin/python3 examples/torch_values.py
It rebuilds each example's tensors with the generator of examples/example_data.h (splitmix64,
replicated bit for bit here), computes the loss and its gradient the way the article does it in
PyTorch (example 3 the correct way, see below), and prints the constants stored in the examples:
the float32 loss and the L1 norm of the gradient (a float64 sum of |grad|).
With --check it also reads those constants from examples/<name>.c and exits 1 if one differs.
Shape legend N, C, H, W as in include/sectionloss.h.
"""
import os
import re
import sys

import torch
import torch.nn.functional as F

M64 = (1 << 64) - 1


class Rng:
    """splitmix64, as ex_next() in example_data.h."""

    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)


def prob(r, shape):  # ex_fill_prob: v * 2^-24
    n = shape[0] * shape[1] * shape[2] * shape[3]
    return torch.tensor([(r.next() >> 40) * 2.0**-24 for _ in range(n)]).view(shape)


def logit(r, shape):  # ex_fill_logit: (v - 2^23) * 2^-22
    n = shape[0] * shape[1] * shape[2] * shape[3]
    return torch.tensor([((r.next() >> 40) - (1 << 23)) * 2.0**-22 for _ in range(n)]).view(shape)


def binary(r, shape):  # ex_fill_binary: the top bit
    n = shape[0] * shape[1] * shape[2] * shape[3]
    return torch.tensor([float(r.next() >> 63) for _ in range(n)]).view(shape)


def class4(r, shape):  # ex_fill_class4: the top 2 bits
    n = shape[0] * shape[1] * shape[2]
    return torch.tensor([r.next() >> 62 for _ in range(n)], dtype=torch.int64).view(shape)


def disc_mask(n, h, w):  # ex_disc_mask: N x 1 x H x W booleans
    m = torch.zeros((n, 1, h, w), dtype=torch.bool)
    for k in range(n):
        cy, cx, rad = 30 + 2 * k, 26 + 4 * k, 14 + 3 * k
        for y in range(h):
            for x in range(w):
                m[k, 0, y, x] = (y - cy) ** 2 + (x - cx) ** 2 <= rad * rad
    return m


MISMATCHES = []


def report(name, loss, grad, prefix="TORCH"):
    values = {prefix + "_LOSS": "%.9g" % loss.item(),
              prefix + "_GRAD_L1": "%.17g" % grad.double().abs().sum().item()}
    print("%s: %s" % (name, "  ".join("%s %s" % kv for kv in values.items())))
    if "--check" in sys.argv:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name + ".c")
        with open(path) as f:
            src = f.read()
        for key, want in values.items():
            m = re.search(r"#define %s\s+(\S+)" % key, src)
            if not m or m.group(1) != want:
                MISMATCHES.append("%s: %s is %s, PyTorch gives %s" % (
                    path, key, m.group(1) if m else "missing", want))


def example1():
    """BCE in the box [x1, y1, x2, y2] = [10, 10, 50, 50] of a 4 x 1 x 64 x 64 batch."""
    r = Rng(1)
    shape = (4, 1, 64, 64)
    pred = prob(r, shape).requires_grad_()
    gt = binary(r, shape)
    x1, y1, x2, y2 = 10, 10, 50, 50
    loss = F.binary_cross_entropy(pred[:, :, y1:y2, x1:x2], gt[:, :, y1:y2, x1:x2])
    loss.backward()
    report("1_box_bce", loss, pred.grad)


def example2():
    """BCE under a per-sample disc mask, 4 x 1 x 64 x 64."""
    r = Rng(2)
    shape = (4, 1, 64, 64)
    pred = prob(r, shape).requires_grad_()
    gt = binary(r, shape)
    mask = disc_mask(4, 64, 64)
    loss = F.binary_cross_entropy(pred[mask], gt[mask])
    loss.backward()
    report("2_mask_bce", loss, pred.grad)


def example3():
    """CE over 4 classes under the disc mask, 4 x 4 x 64 x 64: the mean over the selected pixels
    of -log softmax(logits[n, :, y, x])[label]. Unselected pixels get ignore_index, so
    F.cross_entropy (classes in dim 1) skips them."""
    r = Rng(3)
    logits = logit(r, (4, 4, 64, 64)).requires_grad_()
    labels = class4(r, (4, 64, 64))
    mask = disc_mask(4, 64, 64)[:, 0]
    target = labels.clone()
    target[~mask] = -100
    loss = F.cross_entropy(logits, target, ignore_index=-100)
    loss.backward()
    report("3_mask_ce", loss, logits.grad)

    # The article's version, for the record: it permutes to (B, N, C), but F.cross_entropy
    # wants the classes in dim 1, and its reshape assumes every image selects as many pixels.
    try:
        sel = logits[mask[:, None].expand_as(logits)]
        sel = sel.reshape(logits.shape[0], logits.shape[1], -1).permute(0, 2, 1)
        F.cross_entropy(sel, labels[mask])
        print("3_mask_ce: the article's version ran (it should not have)")
    except (RuntimeError, ValueError) as err:
        print("3_mask_ce: the article's version fails: %s" % str(err).splitlines()[0])


def example4():
    """The multi-class focal loss (gamma 2) over the union of each image's boxes: 2 x 4 x 96 x 128
    logits, image 0 with boxes 0..4, image 1 with boxes 5..7."""
    r = Rng(4)
    logits = logit(r, (2, 4, 96, 128)).requires_grad_()
    labels = class4(r, (2, 96, 128))
    boxes = [(4, 6, 40, 50), (30, 20, 90, 70), (50, 30, 60, 40), (100, 0, 128, 30),
             (0, 80, 128, 96), (10, 10, 70, 60), (60, 40, 120, 90), (20, 70, 30, 80)]
    owner = [0, 0, 0, 0, 0, 1, 1, 1]
    sel = torch.zeros((2, 96, 128), dtype=torch.bool)
    for (x1, y1, x2, y2), n in zip(boxes, owner):
        sel[n, y1:y2, x1:x2] = True
    logp_t = F.log_softmax(logits, 1).gather(1, labels[:, None])[:, 0][sel]
    loss = (-(1 - logp_t.exp()) ** 2 * logp_t).mean()
    loss.backward()
    report("4_detection_focal", loss, logits.grad)
    # the same logits as 4 one-vs-rest scores against the one-hot labels: torchvision's sigmoid
    # focal loss (alpha 0.25, gamma 2) over every class of the selected pixels
    import torchvision
    logits.grad = None
    onehot = F.one_hot(labels, 4).permute(0, 3, 1, 2).float()
    sel4 = sel[:, None].expand_as(logits)
    loss = torchvision.ops.sigmoid_focal_loss(logits[sel4], onehot[sel4], alpha=0.25, gamma=2,
                                              reduction="mean")
    loss.backward()
    report("4_detection_focal", loss, logits.grad, "TORCHVISION")


if __name__ == "__main__":
    torch.set_num_threads(1)
    print("PyTorch %s" % torch.__version__)
    example1()
    example2()
    example3()
    example4()
    for line in MISMATCHES:
        print("MISMATCH " + line)
    if "--check" in sys.argv:
        print("constants in examples/*.c: %s" % ("differ" if MISMATCHES else "all as PyTorch's"))
    sys.exit(1 if MISMATCHES else 0)
