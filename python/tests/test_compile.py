# SPDX-License-Identifier: MIT
"""torch.compile(fullgraph=True) of a training step's differentiable part (model, section loss):
the same loss and parameter gradients as eager. Needs torch.library.custom_op (PyTorch 2.4+)."""
import pytest
import torch

import sectionloss as sl
from sectionloss import functional
from conftest import assert_close_grad

pytestmark = pytest.mark.skipif(not functional.HAS_CUSTOM_OP,
                                reason="this PyTorch has no torch.library.custom_op")


def _model(c_in, c_out):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(c_in, 8, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(8, c_out, 1))


def _step_grads(step, model, *args):
    model.zero_grad(set_to_none=True)
    loss = step(model, *args)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters()]


def _compare(step, model, *args):
    torch._dynamo.reset()
    compiled = torch.compile(step, fullgraph=True)
    want_loss, want_grads = _step_grads(step, model, *args)
    for _ in range(2):  # the second call reuses the compiled graph
        loss, grads = _step_grads(compiled, model, *args)
        torch.testing.assert_close(loss, want_loss, rtol=1e-6, atol=1e-7)
        for g, w in zip(grads, want_grads):
            assert_close_grad(g, w)


def _data(c):
    g = torch.Generator().manual_seed(4)
    img = torch.randn((2, 3, 12, 10), generator=g)
    labels = torch.randint(0, c, (2, 12, 10), generator=g)
    mask = torch.rand((2, 1, 12, 10), generator=g) < 0.6
    return img, labels, mask


def test_compiled_cross_entropy_training_step_matches_eager():
    img, labels, mask = _data(5)

    def step(model, img, labels, mask):
        return sl.cross_entropy(model(img), labels, mask=mask, box=(1, 2, 9, 11),
                                label_smoothing=0.1, weight=torch.linspace(0.5, 1.5, 5))

    _compare(step, _model(3, 5), img, labels, mask)


def test_compiled_bce_and_none_reduction_match_eager():
    img, labels, mask = _data(2)
    target = (labels == 1).float().unsqueeze(1)
    boxes = torch.tensor([[0, 0, 10, 12], [2, 3, 8, 9]])

    def step(model, img, target, mask):
        logits = model(img)
        a = sl.binary_cross_entropy_with_logits(logits, target, mask=mask,
                                                pos_weight=torch.tensor([2.0]))
        b = sl.binary_cross_entropy(torch.sigmoid(logits), target, box=boxes, reduction="sum")
        m = sl.binary_cross_entropy_with_logits(logits, target, reduction="none")
        return a + 0.01 * b + (m * torch.linspace(0, 1, 10)).mean()

    _compare(step, _model(3, 1), img, target, mask)


def test_compiled_cross_entropy_none_reduction():
    img, labels, mask = _data(4)

    def step(model, img, labels, mask):
        m = sl.cross_entropy(model(img), labels, mask=mask[:, 0], reduction="none")
        return (m * m).sum()  # upstream map 2 * m

    _compare(step, _model(3, 4), img, labels, mask)


def test_compiled_cross_entropy_probability_targets():
    img, labels, mask = _data(5)
    g = torch.Generator().manual_seed(3)
    probs = torch.softmax(torch.randn((2, 5, 12, 10), generator=g), 1)

    def step(model, img, probs, mask):
        logits = model(img)
        a = sl.cross_entropy(logits, probs, mask=mask, box=(1, 2, 9, 11), label_smoothing=0.1,
                             weight=torch.linspace(0.5, 1.5, 5))
        m = sl.cross_entropy(logits, probs, reduction="none")
        return a + (m * m).mean()

    _compare(step, _model(3, 5), img, probs, mask)


def test_operators_pass_opcheck():
    # torch.library.opcheck: schema, fake implementation and autograd registration agree
    # with the real kernel.
    x = torch.randn((2, 3, 4, 5), requires_grad=True)
    t = torch.randint(0, 3, (2, 4, 5))
    y = torch.rand((2, 3, 4, 5))
    box = torch.tensor([[0, 1, 4, 3]], dtype=torch.int32)
    torch.library.opcheck(torch.ops.sectionloss.ce.default,
                          (x, t, box, None, None, -100, 0.0, "mean", 1, True))
    torch.library.opcheck(torch.ops.sectionloss.ce_prob.default,
                          (x, y, box, None, None, 0.1, "mean", 1, True))
    torch.library.opcheck(torch.ops.sectionloss.ce_prob.default,
                          (x, y, None, None, None, 0.0, "none", 1, True))
    torch.library.opcheck(torch.ops.sectionloss.bce.default,
                          (x, y, None, None, None, None, True, "none", 1, True))
