#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""report.py - markdown tables and target checks from sl-bench and torch_compare.py CSV files.

usage: bench/report.py [--torch FILE] [--side FILE] [--isa avx2] SL_BENCH_CSV...
  SL_BENCH_CSV   files written by `sl-bench --csv-out` (one ISA x thread count each)
  --torch FILE   the CSV written by `torch_compare.py --csv`
  --side FILE    the CSV written by `torch_compare.py --side --csv` (make bench-side)
  --isa NAME     the ISA whose figures the targets are judged on (default: the best one present)
Prints markdown on stdout: fused medians per ISA and thread count with % of the roofline, the
2-thread scaling, the cost per selected element of the fragmented masks against the whole
tensor, the PyTorch ratios, sectionloss against torch.compile, and a target summary. Ratios come
from the same run (same CSV files); absolute times on a shared machine are only indicative.
"""
import argparse
import csv
import re
import sys
from collections import defaultdict

LARGE = 4_000_000  # elements: the scaling target applies from here
BIG_FUSED = (("bce-16x1x512x512", "bce"), ("bce-16x1x512x512", "bce_logits"),
             ("ce-8x21x512x512", "ce"), ("ce-1x19x1024x2048", "ce"),
             ("ce-8x21x512x512", "softmax_focal"))  # the big fused cases


def read_bench(path):
    rows, roof = [], None
    with open(path) as fh:
        lines = fh.readlines()
    for line in lines:
        m = re.search(r"read ([0-9.]+) GB/s, write ([0-9.]+) GB/s", line)
        if line.startswith("#") and m:
            roof = (float(m.group(1)), float(m.group(2)))
    for r in csv.DictReader(l for l in lines if not l.startswith("#")):
        r["threads"] = int(r["threads"])
        for k in ("elements", "median_s", "min_s", "roof_pct", "ns_per_sel"):
            r[k] = float(r[k]) if r.get(k) else float("nan")
        rows.append(r)
    return rows, roof


def fmt_ms(s):
    return f"{s * 1e3:.2f}" if s < 0.1 else f"{s * 1e3:.1f}"


def side(path, verdicts):
    """The side-by-side table (torch_compare.py --side) and the target: sectionloss
    in-process at least 3x torch.compile (jemalloc retain, same threads) on every big fused case,
    sections mask, rand50 and whole."""
    med = defaultdict(dict)
    for r in csv.DictReader(open(path)):
        if r["mode"] == "fused":
            med[(r["case"], r["entry"], r["section"], int(r["threads"]))][r["impl"]] = \
                float(r["median_s"])
    impls = [("sectionloss", "sl C"), ("sectionloss-python", "sl-py"),
             ("sectionloss-python-jemalloc", "sl-py+je"), ("torch-compile", "compile"),
             ("torch-compile-jemalloc", "compile+je"), ("torch", "eager"),
             ("torch-jemalloc", "eager+je")]
    print("\nSide by side, fused forward+backward, medians in ms (+je: jemalloc retain); ratios "
          "= the other's median / sectionloss C's (same run)\n")
    print("| case | entry | section | threads | " + " | ".join(n for _, n in impls) +
          " | compile+je / sl C | compile / sl C | eager+je / sl C |")
    print("|---|---|---|---|" + "---|" * (len(impls) + 3))
    worst, missing = None, []
    for (case, entry, section, t), d in med.items():
        cells = [fmt_ms(d[i]) if i in d else "-" for i, _ in impls]
        c = d.get("sectionloss")
        ratios = [d[i] / c if c and i in d else None
                  for i in ("torch-compile-jemalloc", "torch-compile", "torch-jemalloc")]
        print(f"| {case} | {entry} | {section} | {t} | " + " | ".join(cells) + " | " +
              " | ".join("-" if x is None else f"{x:.2f}x" for x in ratios) + " |")
        if (case, entry) in BIG_FUSED and section in ("mask", "rand50", "whole"):
            if ratios[0] is None:
                missing.append(f"{case} {entry} {section} {t}T")
            elif worst is None or ratios[0] < worst[0]:
                worst = (ratios[0], case, entry, section, f"{t}T")
    if worst:
        ok = worst[0] >= 3.0 and not missing
        verdicts.append(f"- big fused cases, sectionloss C >= 3x torch.compile (jemalloc retain, "
                        f"same threads): **{'met' if ok else 'NOT met'}**; lowest {worst[0]:.2f}x "
                        f"({' '.join(worst[1:])})"
                        f"{'; not measured: ' + ', '.join(missing) if missing else ''}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torch", default="")
    ap.add_argument("--side", default="")
    ap.add_argument("--isa", default="")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()

    rows, roofs = [], {}
    for f in a.files:
        r, roof = read_bench(f)
        rows += r
        if r and roof:
            roofs[(r[0]["isa"], r[0]["threads"])] = roof
    if not rows:
        sys.exit("report.py: no rows")
    isas = sorted({r["isa"] for r in rows}, key=lambda s: (s == "scalar", s))
    threads = sorted({r["threads"] for r in rows})
    isa = a.isa or isas[0]
    by = {(r["isa"], r["threads"], r["case"], r["entry"], r["section"], r["mode"]): r for r in rows}
    keys = []
    for r in rows:
        k = (r["case"], r["entry"], r["section"], r["mode"])
        if k not in keys:
            keys.append(k)

    print("Memory roofline measured in the same runs (streaming read / write loops):\n")
    print("| ISA | threads | read GB/s | write GB/s |\n|---|---|---|---|")
    for (i, t), (rd, wr) in sorted(roofs.items()):
        print(f"| {i} | {t} | {rd:.1f} | {wr:.1f} |")

    cols = [(i, t) for i in isas for t in threads]
    print("\nsectionloss, fused forward+backward: median ms (% of the roofline)\n")
    print("| case | entry | section | " + " | ".join(f"{i} {t}T" for i, t in cols) + " |")
    print("|---|---|---|" + "---|" * len(cols))
    for case, entry, section, mode in keys:
        if mode != "fused":
            continue
        cells = []
        for i, t in cols:
            r = by.get((i, t, case, entry, section, mode))
            cells.append(f"{fmt_ms(r['median_s'])} ({r['roof_pct']:.0f}%)" if r else "-")
        print(f"| {case} | {entry} | {section} | " + " | ".join(cells) + " |")

    verdicts = []
    if 1 in threads and 2 in threads:
        print(f"\n{isa}: speed-up of 2 threads over 1 thread (median 1T / median 2T), cases of "
              f">= 4M elements\n")
        print("| case | entry | section | fwd | bwd | fused |\n|---|---|---|---|---|---|")
        worst = None
        seen = set()
        for case, entry, section, mode in keys:
            if (case, entry, section) in seen:
                continue
            seen.add((case, entry, section))
            cells = []
            for m in ("fwd", "bwd", "fused"):
                r1 = by.get((isa, 1, case, entry, section, m))
                r2 = by.get((isa, 2, case, entry, section, m))
                if not r1 or not r2 or r1["elements"] < LARGE:
                    cells.append(None)
                    continue
                s = r1["median_s"] / r2["median_s"]
                cells.append(s)
                if worst is None or s < worst[0]:
                    worst = (s, case, entry, section, m)
            if any(c is not None for c in cells):
                print(f"| {case} | {entry} | {section} | " +
                      " | ".join("-" if c is None else f"{c:.2f}x" for c in cells) + " |")
        if worst:
            ok = worst[0] >= 1.7
            verdicts.append(f"- 2 threads >= 1.7x 1 thread on every case >= 4M elements "
                            f"({isa}): **{'met' if ok else 'NOT met'}**; lowest {worst[0]:.2f}x "
                            f"({' '.join(worst[1:])})")

    large_fused = [r for r in rows if r["isa"] == isa and r["mode"] == "fused" and
                   r["elements"] >= LARGE]
    if large_fused:
        low = min(large_fused, key=lambda r: r["roof_pct"])
        ok = low["roof_pct"] >= 70
        verdicts.append(f"- large fused cases >= 70% of the measured roofline ({isa}): "
                        f"**{'met' if ok else 'NOT met'}**; lowest {low['roof_pct']:.0f}% "
                        f"({low['case']} {low['entry']} {low['section']}, {low['threads']}T); "
                        f"highest {max(r['roof_pct'] for r in large_fused):.0f}%")

    frag_rows = []
    for case, entry, section, mode in keys:
        if section != "whole" or mode != "fused":
            continue
        for i, t in cols:
            whole = by.get((i, t, case, entry, "whole", mode))
            frag = [by.get((i, t, case, entry, s, mode)) for s in ("rand50", "blobs")]
            if whole and any(frag) and whole["ns_per_sel"] == whole["ns_per_sel"]:
                frag_rows.append((i, t, case, entry, whole, frag))
    if frag_rows:
        print("\nFragmented masks, fused: cost per selected element (ns/sel = median / selected "
              "elements) against the whole tensor's\n")
        print("| ISA | threads | case | entry | whole ns/sel | rand50 ns/sel | x whole | "
              "blobs ns/sel | x whole |\n|---|---|---|---|---|---|---|---|---|")
        worst = None
        for i, t, case, entry, whole, frag in frag_rows:
            cells = []
            for r in frag:
                if r is None:
                    cells += ["-", "-"]
                    continue
                x = r["ns_per_sel"] / whole["ns_per_sel"]
                cells += [f"{r['ns_per_sel']:.3f}", f"{x:.2f}x"]
                if (r is frag[0] and i == isa and whole["elements"] >= LARGE and
                        (worst is None or x > worst[0])):
                    worst = (x, case, entry, f"{t}T")
            print(f"| {i} | {t} | {case} | {entry} | {whole['ns_per_sel']:.3f} | " +
                  " | ".join(cells) + " |")
        if worst:
            ok = worst[0] <= 1.2
            verdicts.append(f"- rand50 at most 1.2x the cost per selected element of the whole "
                            f"tensor, large fused cases ({isa}): **{'met' if ok else 'NOT met'}**;"
                            f" highest {worst[0]:.2f}x ({' '.join(worst[1:])})")

    if a.side:
        side(a.side, verdicts)

    if a.torch:
        t_rows = list(csv.DictReader(open(a.torch)))
        tb = defaultdict(dict)
        for r in t_rows:
            tb[(r["case"], r["entry"], r["section"], int(r["threads"]))][(r["impl"], r["mode"])] = r
        print("\nPyTorch 1.13 against sectionloss, same data, same thread count, same run "
              "(ratio = PyTorch median / sectionloss median)\n")
        print("| case | entry | section | threads | PyTorch fwd ms | sectionloss fwd ms | ratio | "
              "PyTorch fwd+bwd ms | sectionloss fused ms | ratio |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for (case, entry, section, t), d in tb.items():
            try:
                pf, pb = float(d[("torch", "fwd")]["median_s"]), float(d[("torch", "fused")]["median_s"])
                sf = float(d[("sectionloss", "fwd")]["median_s"])
                sb = float(d[("sectionloss", "fused")]["median_s"])
            except KeyError:
                continue
            print(f"| {case} | {entry} | {section} | {t} | {fmt_ms(pf)} | {fmt_ms(sf)} | "
                  f"{pf / sf:.1f}x | {fmt_ms(pb)} | {fmt_ms(sb)} | {pb / sb:.1f}x |")
            if section == "mask" and (case, entry) in (("ce-8x21x512x512", "ce"),
                                                       ("bce-16x1x512x512", "bce")):
                ok = pb / sb >= 20
                verdicts.append(f"- fused >= 20x PyTorch, {case} {entry} masked, {t} thread(s): "
                                f"**{'met' if ok else 'NOT met'}** ({pb / sb:.1f}x, "
                                f"{d[('sectionloss', 'fused')]['isa']})")
    if verdicts:
        print("\nTargets\n")
        print("\n".join(verdicts))


if __name__ == "__main__":
    main()
