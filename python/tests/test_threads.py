# SPDX-License-Identifier: MIT
"""Several Python threads calling at once: the same results as serial calls, and the GIL is
released during the C call (another Python thread runs meanwhile)."""
import sys
import threading
import time

import torch

import sectionloss as sl
from sectionloss import _lib


def _cases():
    g = torch.Generator().manual_seed(11)
    out = []
    for i in range(8):
        x = torch.randn((2, 5, 24 + i, 31), generator=g, requires_grad=True)
        t = torch.randint(0, 5, (2, 24 + i, 31), generator=g)
        m = torch.rand((2, 1, 24 + i, 31), generator=g) < 0.5
        out.append((x, t, m))
    return out


def _run(x, t, m):
    x = x.detach().clone().requires_grad_(True)
    loss = sl.cross_entropy(x, t, mask=m, label_smoothing=0.1, num_threads=1)
    loss.backward()
    return loss.detach(), x.grad


def test_threads_match_serial():
    cases = _cases()
    serial = [_run(*c) for c in cases]
    results = [None] * (4 * len(cases))
    barrier = threading.Barrier(4)

    def worker(k):
        barrier.wait()
        for j in range(len(cases)):
            i = (j + k) % len(cases)
            results[k * len(cases) + i] = _run(*cases[i])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for k in range(4):
        for i, (loss, grad) in enumerate(serial):
            got_loss, got_grad = results[k * len(cases) + i]
            assert torch.equal(got_loss, loss) and torch.equal(got_grad, grad)


def test_gil_released_during_the_c_call():
    # Calls of sectionloss._lib.call (the ctypes call and little else) of about 20 ms in a
    # thread; the main thread takes time stamps meanwhile. Were the GIL held during the C call,
    # no stamp could fall in the middle of a call.
    n, c, h, w = 8, 21, 256, 256
    x = torch.randn((n, c, h, w))
    t = torch.randint(0, c, (n, h, w))
    loss = torch.empty(())

    def call():
        _lib.call("ce", n, c, h, w, x.data_ptr(), t.data_ptr(), num_threads=1,
                  loss_ptr=loss.data_ptr())

    call()
    done = threading.Event()
    span = []

    def worker():
        for _ in range(5):
            t0 = time.perf_counter()
            call()
            span.append((t0, time.perf_counter()))
        done.set()

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        th = threading.Thread(target=worker)
        th.start()
        stamps = []
        while not done.is_set():
            stamps.append(time.perf_counter())
        th.join()
    finally:
        sys.setswitchinterval(old)
    inside = [s for a, b in span for s in stamps if a + 0.3 * (b - a) < s < b - 0.3 * (b - a)]
    assert inside, "no Python ran in the main thread while the C library computed"
