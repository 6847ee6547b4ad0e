#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""rounds.py - medians over repeated sl-bench runs (rounds) of the same cases.

  bench/rounds.py build/bench/r*-t*.csv          markdown table on stdout

Each input is one `sl-bench --csv` output (or --csv-out file). Rows are grouped by threads,
case, entry, section and mode; for each group it prints the median over the rounds of the
per-round median time, %roof, xroof (median / roofline time) and ns/sel (median per selected
element), for the focal entries the median over the rounds of the per-round "vs base" ratio (the
focal call against ce / bce_logits timed in alternation in the same round) with its range, and
for the fragmented masks (rand50, blobs) the median over the rounds of the per-round ratio of
their ns/sel to the whole tensor's (same round, case, entry and mode) with its range. Its
verdicts are the targets (focal fused <= 1.3x its base, Dice / Tversky xroof <= 2) and
rand50 <= 1.2x the whole tensor's cost per selected element.
"""
import argparse
import csv
import statistics
import sys


def read(path):
    with open(path) as fh:
        lines = [line for line in fh if not line.startswith("#")]
    return list(csv.DictReader(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", nargs="+")
    args = ap.parse_args()
    groups = {}
    order = []
    for path in args.csv:
        rows = read(path)
        whole = {(r["threads"], r["case"], r["entry"], r["mode"]): r for r in rows
                 if r["section"] == "whole"}
        for r in rows:
            w = whole.get((r["threads"], r["case"], r["entry"], r["mode"]))
            if r.get("ns_per_sel") and w and r["section"] in ("rand50", "blobs"):
                r["x_whole"] = float(r["ns_per_sel"]) / float(w["ns_per_sel"])
            key = (int(r["threads"]), r["case"], r["entry"], r["section"], r["mode"])
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append(r)
    first = {k: i for i, k in enumerate(order)}
    order.sort(key=lambda k: (k[0], first[k]))
    print("| threads | case | entry | section | mode | rounds | median ms | %roof | xroof | "
          "ns/sel | vs base or x whole (range) | target |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for key in order:
        rs = groups[key]
        med = statistics.median(float(r["median_s"]) for r in rs)
        roof = statistics.median(float(r["roof_pct"]) for r in rs)
        xroof = statistics.median(float(r["x_roof"]) for r in rs)
        vs = [float(r["vs_base"]) for r in rs if r.get("vs_base")]
        ns = [float(r["ns_per_sel"]) for r in rs if r.get("ns_per_sel")]
        ns_cell = f"{statistics.median(ns):.3f}" if ns else "-"
        xw = [r["x_whole"] for r in rs if "x_whole" in r]
        entry = key[2]
        cells, targets = [], []
        if vs:
            v = statistics.median(vs)
            cells.append(f"{v:.2f}x {rs[0]['base_entry']} ({min(vs):.2f}-{max(vs):.2f})")
            targets.append(f"<= 1.3x: {'met' if v <= 1.3 else 'not met'}")
        if xw:
            v = statistics.median(xw)
            cells.append(f"{v:.2f}x whole ({min(xw):.2f}-{max(xw):.2f})")
            if key[3] == "rand50":
                targets.append(f"<= 1.2x whole: {'met' if v <= 1.2 else 'not met'}")
        if entry.startswith("dice") and key[4] != "fwd":
            targets = [f"xroof <= 2: {'met' if xroof <= 2.0 else 'not met'}"]
        vs_cell, target = "; ".join(cells) or "-", "; ".join(targets)
        print(f"| {key[0]} | {key[1]} | {entry} | {key[3]} | {key[4]} | {len(rs)} | "
              f"{med * 1e3:.2f} | {roof:.1f} | {xroof:.2f} | {ns_cell} | {vs_cell} | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
