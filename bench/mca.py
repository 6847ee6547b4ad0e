#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/mca.py OUT: llvm-mca cycles per element of the marked kernel regions (make mca).

Reads OUT/avx2.s and OUT/neon.s (compiled with -DSL_MCA), runs llvm-mca-19 (Debian 12's llvm-19: real Neoverse N1 / V1 machine
models; llvm-mca-14 uses the Cortex-A57 model for both) per CPU model and
prints, per region, the block reciprocal throughput (cycles per iteration, llvm-mca's steady
state of the region repeated) divided by the elements one iteration covers, and the NEON/AVX2
ratio per lane (NEON cycles per element / AVX2 cycles per element)."""
import re
import subprocess
import sys

MCA = "llvm-mca-19"

ELEMS = {"ce_class": 1}  # elements per iteration (classes), x W lanes
TARGETS = [("avx2", 8, ["znver3", "znver4", "icelake-server"], []),
           ("neon", 4, ["neoverse-n1", "neoverse-v1"], ["-mtriple=aarch64-linux-gnu"])]


def cycles(asm, cpu, extra):
    out = subprocess.run([MCA, "-mcpu=" + cpu, "-iterations=200", "-all-views=false",
                          "-summary-view"] + extra + [asm], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("llvm-mca failed: " + out.stderr)
    res, name = {}, None
    for line in out.stdout.splitlines():
        m = re.match(r"\[\d+\] Code Region - (\S+)", line)
        if m:
            name = m.group(1)
        m = re.match(r"Block RThroughput:\s+([\d.]+)", line)
        if m and name:
            res[name] = float(m.group(1))
        m = re.match(r"Total Cycles:\s+(\d+)", line)
        if m and name:
            res[name + "/total"] = int(m.group(1)) / 200.0
    return res


def main():
    out = sys.argv[1]
    table = {}
    for isa, w, cpus, extra in TARGETS:
        for cpu in cpus:
            r = cycles(f"{out}/{isa}.s", cpu, extra)
            for region, k in ELEMS.items():
                if region + "/total" in r:
                    table[(isa, cpu, region)] = r[region + "/total"] / (k * w)
    print(MCA + ", cycles per element (total cycles of 200 iterations / 200 / elements)")
    print(f"{'region':18} " + " ".join(f"{isa}:{cpu:>15}" for isa, _, cpus, _ in TARGETS
                                        for cpu in cpus))
    for region in ELEMS:
        row = [table.get((isa, cpu, region)) for isa, _, cpus, _ in TARGETS for cpu in cpus]
        print(f"{region:18} " + " ".join(f"{'-' if v is None else f'{v:.2f}':>20}" for v in row))
    for region in ELEMS:
        a, v1 = table.get(("avx2", "znver3", region)), table.get(("neon", "neoverse-v1", region))
        if a and v1:
            print(f"{region}: neoverse-v1 / znver3 per element = {v1 / a:.2f}")


if __name__ == "__main__":
    main()
