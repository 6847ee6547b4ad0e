#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""python_memory.py - the sectionloss Python path's gradient-memory options, forward + backward,
against torch.compile, in ONE process and alternated rounds.

Impls (the data, section and PyTorch form of bench/torch_compare.py, one thread):
  C call        the fused C call alone through ctypes, into a buffer kept across calls (what
                build/sl-bench times in-process), for the Python path's own cost
  sl-py         sectionloss.<fn>(x, target, mask=m): a new gradient tensor per call
  sl-py 4k      the same without the huge-page advice on that new tensor (_lib.advise_huge_pages
                made a no-op for the call): what the advice saves on fresh memory
  sl-py out     the same with grad_out=buf, one buffer kept across calls
  sl-py inplace the same with inplace=True on a view of x (the gradient goes over x's storage;
                the next call then reads gradients as logits: timing only, values not checked)
  compile       torch.compile(fullgraph=True) of the torch.where form (skipped with --no-compile)
  torch         eager PyTorch, the form a user writes
Each round times every impl once (median of --reps calls), in an order shuffled per round (a
fixed order biased the impl after the C call by 5-10 % on BCE 16x1x512x512); the table gives
the medians over --rounds rounds and each impl's ratio to the C call, to compile and to eager
PyTorch within the same rounds. Small cases (ce-1x2x8x8, ce-4x4x64x64) give the fixed cost per call.
Run it with the default allocator and again with jemalloc retaining pages (LD_PRELOAD=...
MALLOC_CONF=retain:true,dirty_decay_ms:-1,muzzy_decay_ms:-1) to see what fresh memory costs.

  build/venv/bin/python bench/python_memory.py --case ce-8x21x512x512 --rounds 5
"""
import argparse
import os
import random
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_compare as tc  # noqa: E402  (data, PyTorch forms, the private Inductor cache)
import torch  # noqa: E402
import sectionloss  # noqa: E402


def impls(kind, entry, shape, d, compile_too):
    x, _ = tc.sl_loss_fn(kind, entry, "mask", d, shape)
    mask = d["mask"]
    fn = {"ce": sectionloss.cross_entropy, "bce_logits":
          sectionloss.binary_cross_entropy_with_logits}[entry]
    target = d["labels"] if kind == "ce" else d["target"]
    xg = x.detach().clone().requires_grad_(True)
    buf = torch.empty_like(x)
    xi = x.detach().clone().requires_grad_(True)

    def fresh():
        xg.grad = None
        fn(xg, target, mask=mask).backward()

    def fresh_4k():
        advise = sectionloss._lib.advise_huge_pages
        sectionloss._lib.advise_huge_pages = lambda ptr, nbytes: None
        try:
            fresh()
        finally:
            sectionloss._lib.advise_huge_pages = advise

    def out():
        xg.grad = None
        fn(xg, target, mask=mask, grad_out=buf).backward()

    def inplace():
        xi.grad = None
        fn(xi.view_as(xi), target, mask=mask, inplace=True).backward()

    n, c, h, w = shape
    loss = torch.empty(())
    xc = x.detach().contiguous()

    def c_call():  # the fused C call alone (sl-bench's fused mode), into a kept buffer
        sectionloss._lib.call(
            "ce" if kind == "ce" else "bce_logits", n, c, h, w, xc.data_ptr(),
            target.data_ptr(), mask_ptr=mask.data_ptr(), num_threads=1,
            loss_ptr=loss.data_ptr(), grad_ptr=buf.data_ptr())

    res = {"C call": c_call, "sl-py": fresh, "sl-py 4k": fresh_4k, "sl-py out": out,
           "sl-py inplace": inplace}
    for name, compiled in (("torch", False),) + ((("compile", True),) if compile_too else ()):
        xt, f = tc.torch_loss_fn(kind, entry, "mask", d, shape, compiled=compiled)
        if compiled:
            f = torch.compile(f, fullgraph=True)
        xtg = xt.detach().clone().requires_grad_(True)

        def run(f=f, xtg=xtg):
            xtg.grad = None
            f(xtg).backward()

        res[name] = run
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default="ce-8x21x512x512")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-compile", dest="compile", action="store_false")
    ap.add_argument("--no-torch", dest="torch", action="store_false")
    args = ap.parse_args()
    torch.set_num_threads(1)
    kind, dims = args.case.split("-")
    shape = tuple(int(v) for v in dims.split("x"))
    entry = "ce" if kind == "ce" else "bce_logits"
    d = tc.make_data(kind, shape)
    calls = impls(kind, entry, shape, d, args.compile)
    if not args.torch:
        del calls["torch"]
    for f in calls.values():  # warm-up (compilation)
        f()
    times = {k: [] for k in calls}
    order = list(calls)
    shuffle = random.Random(21).shuffle
    for _ in range(args.rounds):
        shuffle(order)
        for name in order:
            f = calls[name]
            t = []
            for _ in range(args.reps):
                a = time.perf_counter()
                f()
                t.append(time.perf_counter() - a)
            times[name].append(statistics.median(t))
    alloc = "jemalloc" if "jemalloc" in os.environ.get("LD_PRELOAD", "") else "default"
    print(f"{args.case} mask, forward + backward, 1 thread, {alloc} allocator, "
          f"{args.rounds} rounds x {args.reps} calls, medians (ms)")
    base = [k for k in ("C call", "compile", "torch") if k in times]
    print(f"{'impl':>14} {'ms':>9}" + "".join(f" {'x ' + b:>16}" for b in base))
    for name, t in times.items():
        line = f"{name:>14} {statistics.median(t) * 1e3:9.2f}"
        for b in base:  # per-round ratio, then the median
            line += f" {statistics.median(a / c for a, c in zip(t, times[b])):16.2f}"
        print(line)


if __name__ == "__main__":
    main()
