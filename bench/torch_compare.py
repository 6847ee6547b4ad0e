#!/usr/bin/python3
"""torch_compare.py - PyTorch (Debian's python3-torch 1.13) against sectionloss on the same data.

For each case (bce-NxCxHxW or ce-NxCxHxW), section (whole, box, mask) and thread count, this
script times the PyTorch form a user would write, then runs build/sl-bench on the very same
data (written to a temporary directory, read by `sl-bench --load DIR`) with the same thread
count, checks that both give the same loss (relative 1e-5) and prints the ratio
PyTorch time / sectionloss time, for the forward pass and for forward + backward.

PyTorch forms (the section is the central 2/3 of H and of W, as in sl-bench):
  BCE box:   F.binary_cross_entropy(pred[:, :, y1:y2, x1:x2], gt[:, :, y1:y2, x1:x2])
  BCE mask:  F.binary_cross_entropy(pred[mask], gt[mask])      (the article's boolean indexing)
  CE box:    F.cross_entropy(logits[:, :, y1:y2, x1:x2], labels[:, y1:y2, x1:x2])
  CE mask:   F.cross_entropy(logits, torch.where(mask, labels, -100), ignore_index=-100)
  whole:     the plain call on the whole tensors
(BCE with logits: the same with F.binary_cross_entropy_with_logits.)
"forward" is timed under torch.no_grad() (PyTorch's fastest forward); "forward+backward" is
loss = f(x with requires_grad); loss.backward(), with x.grad reset to None before each call.
sectionloss is timed in-process by sl-bench (modes fwd and fused), not through Python.
Timing: one warm-up call, then enough calls for --min-time seconds (at least 5); medians.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

DEFAULT_CASES = "bce-4x1x64x64,ce-4x4x64x64,bce-16x1x512x512,ce-8x21x512x512,ce-1x19x1024x2048"
CSV_HEADER = ("impl,isa,threads,case,entry,section,mode,n,c,h,w,elements,bytes,reps,median_s,"
              "min_s,elem_per_s,gb_per_s,roof_pct,loss")


def parse_case(name):
    kind, dims = name.split("-", 1)
    n, c, h, w = (int(v) for v in dims.split("x"))
    if kind not in ("bce", "ce"):
        raise ValueError(name)
    return kind, (n, c, h, w)


def central_box(h, w):
    """(x1, y1, x2, y2): the central 2/3 of the image, as sl-bench's box and mask."""
    return w // 6, h // 6, w - w // 6, h - h // 6


def make_data(kind, shape, seed=1234):
    n, c, h, w = shape
    g = torch.Generator().manual_seed(seed)
    x1, y1, x2, y2 = central_box(h, w)
    mask = torch.zeros((n, 1, h, w), dtype=torch.bool)
    mask[:, :, y1:y2, x1:x2] = True
    d = {"mask": mask, "logits": torch.rand(shape, generator=g) * 8.0 - 4.0}
    if kind == "ce":
        d["labels"] = torch.randint(0, c, (n, h, w), generator=g, dtype=torch.int64)
    else:
        d["prob"] = torch.rand(shape, generator=g).clamp_(1e-6, 1.0 - 1e-6)
        d["target"] = torch.randint(0, 2, shape, generator=g).float()
    return d


def write_data(d, directory):
    files = {"mask": "mask.u8", "logits": "logits.f32", "labels": "labels.i64",
             "prob": "prob.f32", "target": "target.f32"}
    for key, fname in files.items():
        if key in d:
            t = d[key].to(torch.uint8) if key == "mask" else d[key]
            t.contiguous().numpy().tofile(os.path.join(directory, fname))


def torch_loss_fn(kind, entry, section, d, shape):
    """Returns (x, f): f(x) computes the loss the way a PyTorch user would."""
    n, c, h, w = shape
    x1, y1, x2, y2 = central_box(h, w)
    mask = d["mask"]
    if kind == "ce":
        labels = d["labels"]
        x = d["logits"]
        if section == "whole":
            return x, lambda x: F.cross_entropy(x, labels)
        if section == "box":
            lab = labels[:, y1:y2, x1:x2]
            return x, lambda x: F.cross_entropy(x[:, :, y1:y2, x1:x2], lab)
        m = mask[:, 0]
        return x, lambda x: F.cross_entropy(x, torch.where(m, labels, -100), ignore_index=-100)
    gt = d["target"]
    if entry == "bce":
        x, fn = d["prob"], F.binary_cross_entropy
    else:
        x, fn = d["logits"], F.binary_cross_entropy_with_logits
    if section == "whole":
        return x, lambda x: fn(x, gt)
    if section == "box":
        return x, lambda x: fn(x[:, :, y1:y2, x1:x2], gt[:, :, y1:y2, x1:x2])
    m = mask if c == 1 else mask.expand(shape)
    return x, lambda x: fn(x[m], gt[m])


MIN_REPS = 5


def time_calls(call, min_time, min_reps=None):
    min_reps = MIN_REPS if min_reps is None else min_reps
    t0 = time.perf_counter()
    call()  # warm-up
    est = max(time.perf_counter() - t0, 1e-7)
    reps = max(min_reps, math.ceil(min_time / est))
    times = []
    for _ in range(reps):
        a = time.perf_counter()
        call()
        times.append(time.perf_counter() - a)
    return statistics.median(times), min(times), reps


def time_torch(x, f, min_time):
    def fwd():
        with torch.no_grad():
            return f(x)

    xg = x.detach().clone().requires_grad_(True)

    def fwdbwd():
        xg.grad = None
        loss = f(xg)
        loss.backward()
        return loss

    loss = fwd().item()
    fmed, fmin, freps = time_calls(fwd, min_time)
    bmed, bmin, breps = time_calls(fwdbwd, min_time)
    return loss, (fmed, fmin, freps), (bmed, bmin, breps)


def run_sl(bench, case, entry, section, threads, directory, min_time, isa, quick):
    cmd = [bench, "--case", case, "--entry", entry, "--section", section, "--mode", "fwd,fused",
           "--threads", str(threads), "--load", directory, "--json", "--min-time", str(min_time)]
    if quick:
        cmd.append("--quick")
    if isa:
        cmd += ["--isa", isa]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    doc = json.loads(out)
    res = {r["mode"]: r for r in doc["results"]}
    return doc, res


def csv_row(impl, isa, threads, case, entry, section, mode, shape, med, mn, reps, loss,
            bytes_="", gbps="", roof=""):
    n, c, h, w = shape
    el = n * c * h * w
    return (f"{impl},{isa},{threads},{case},{entry},{section},{mode},{n},{c},{h},{w},{el},"
            f"{bytes_},{reps},{med:.9g},{mn:.9g},{el / med:.6g},{gbps},{roof},{loss:.9g}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", default="build/sl-bench")
    ap.add_argument("--cases", default=DEFAULT_CASES)
    ap.add_argument("--sections", default="box,mask")
    ap.add_argument("--entries", default="bce,bce_logits,ce")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--min-time", type=float, default=0.2)
    ap.add_argument("--isa", default="", help="sl-bench --isa (default: the active ISA)")
    ap.add_argument("--csv", default="", help="also write every timing as CSV to this file")
    ap.add_argument("--no-lib", action="store_true", help="time PyTorch only (for plots)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 2 timed calls each, sl-bench --quick (timings meaningless)")
    args = ap.parse_args()

    global MIN_REPS
    if args.quick:
        MIN_REPS, args.min_time = 2, 0.0
    threads = [int(t) for t in args.threads.split(",")]
    entries = args.entries.split(",")
    sections = args.sections.split(",")
    csv_lines = [CSV_HEADER]
    print(f"# PyTorch {torch.__version__}; sectionloss via {args.bench}; medians; "
          f"ratio = PyTorch time / sectionloss time; forward under no_grad")
    print(f"{'case':20} {'entry':10} {'section':7} {'thr':>3} {'torch fwd':>10} "
          f"{'sl fwd':>9} {'ratio':>6} {'torch f+b':>10} {'sl fused':>9} {'ratio':>6} "
          f"{'isa':>6}  loss check")
    failures = 0
    for case in args.cases.split(","):
        kind, shape = parse_case(case)
        d = make_data(kind, shape)
        with tempfile.TemporaryDirectory(prefix="sl-torch-") as tmp:
            if not args.no_lib:
                write_data(d, tmp)
            for entry in entries:
                if (entry == "ce") != (kind == "ce"):
                    continue
                for section in sections:
                    x, f = torch_loss_fn(kind, entry, section, d, shape)
                    for t in threads:
                        torch.set_num_threads(t)
                        if sys.stderr.isatty():
                            print(f"\r\033[K{case} {entry} {section} {t} thread(s)...",
                                  end="", file=sys.stderr, flush=True)
                        tloss, tf, tb = time_torch(x, f, args.min_time)
                        csv_lines.append(csv_row("torch", "torch", t, case, entry, section, "fwd",
                                                 shape, tf[0], tf[1], tf[2], tloss))
                        csv_lines.append(csv_row("torch", "torch", t, case, entry, section,
                                                 "fused", shape, tb[0], tb[1], tb[2], tloss))
                        if sys.stderr.isatty():
                            print("\r\033[K", end="", file=sys.stderr, flush=True)
                        if args.no_lib:
                            print(f"{case:20} {entry:10} {section:7} {t:3d} "
                                  f"{tf[0] * 1e3:8.2f}ms {'-':>9} {'-':>6} "
                                  f"{tb[0] * 1e3:8.2f}ms {'-':>9} {'-':>6}")
                            continue
                        doc, res = run_sl(args.bench, case, entry, section, t, tmp,
                                          args.min_time, args.isa, args.quick)
                        sf, sb = res["fwd"], res["fused"]
                        ok = True
                        for r in (sf, sb):
                            ok &= abs(r["loss"] - tloss) <= 1e-5 * abs(tloss)
                            csv_lines.append(csv_row(
                                "sectionloss", doc["isa"], t, case, entry, section, r["mode"],
                                shape, r["median_s"], r["min_s"], r["reps"], r["loss"],
                                f"{r['bytes']:.0f}", f"{r['gb_per_s']:.4g}",
                                f"{r['roof_pct']:.2f}"))
                        failures += not ok
                        check = (f"{'ok' if ok else 'MISMATCH'} (torch {tloss:.7g}, "
                                 f"sl {sf['loss']:.7g})")
                        print(f"{case:20} {entry:10} {section:7} {t:3d} "
                              f"{tf[0] * 1e3:8.2f}ms {sf['median_s'] * 1e3:7.2f}ms "
                              f"{tf[0] / sf['median_s']:6.1f} "
                              f"{tb[0] * 1e3:8.2f}ms {sb['median_s'] * 1e3:7.2f}ms "
                              f"{tb[0] / sb['median_s']:6.1f} {doc['isa']:>6}  {check}",
                              flush=True)
        del d
    if args.csv:
        with open(args.csv, "w") as fh:
            fh.write("\n".join(csv_lines) + "\n")
    if failures:
        print(f"torch_compare: {failures} loss mismatch(es) beyond relative 1e-5", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
