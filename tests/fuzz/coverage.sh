#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# coverage.sh - clang source-based coverage of src/ over the fuzz corpus (make fuzz-coverage):
#   coverage.sh COV_BUILD TARGET...
# Runs COV_BUILD/fuzz_<target> (built with -fprofile-instr-generate -fcoverage-mapping, SIMDe
# flavour: scalar, AVX2 and NEON kernels all in it) once per input of tests/fuzz/corpus/<target>/
# and tests/fuzz/regressions/<target>/ (one process per input, so an input that fails a check
# does not hide the rest; its profile is written before the abort), merges the profiles and
# writes COV_BUILD/report.txt (llvm-cov report: regions, functions, lines, branches per file of
# src/), COV_BUILD/summary.txt (that table, then the functions never run and the uncovered line
# ranges per file) and COV_BUILD/html/. Environment: LLVM_PROFDATA, LLVM_COV.
set -uo pipefail
cov=$1
shift
prof=${LLVM_PROFDATA:-llvm-profdata-14} llvmcov=${LLVM_COV:-llvm-cov-14}
rm -rf "$cov/profraw" "$cov/html"
mkdir -p "$cov/profraw"
objs=() failed=0 ran=0
for t in "$@"; do
  bin=$cov/fuzz_$t
  objs+=(-object "$bin")
  for f in tests/fuzz/corpus/$t/* tests/fuzz/regressions/$t/*; do
    [ -f "$f" ] || continue
    ran=$((ran + 1))
    LLVM_PROFILE_FILE="$cov/profraw/$t-%p.profraw" OMP_NUM_THREADS=2 timeout -s KILL 60 \
      "$bin" -runs=1 "$f" >/dev/null 2>&1 || failed=$((failed + 1))
  done
done
"$prof" merge -sparse "$cov"/profraw/*.profraw -o "$cov/fuzz.profdata" || exit 1
# the first -object is the main binary argument of llvm-cov
main=${objs[1]}
rest=("${objs[@]:2}")
"$llvmcov" report "$main" "${rest[@]}" -instr-profile="$cov/fuzz.profdata" src/ >"$cov/report.txt"
"$llvmcov" show "$main" "${rest[@]}" -instr-profile="$cov/fuzz.profdata" -format=html \
  -output-dir="$cov/html" src/ >/dev/null
"$llvmcov" export "$main" "${rest[@]}" -instr-profile="$cov/fuzz.profdata" -format=lcov src/ \
  >"$cov/fuzz.lcov"
{
  echo "fuzz coverage of src/: $ran inputs run ($failed failed a check), targets: $*"
  echo
  cat "$cov/report.txt"
  echo
  python3 - "$cov/fuzz.lcov" <<'PY'
import sys, os, collections
fn_hits, fn_line, lines = {}, {}, collections.defaultdict(dict)
cur = None
for l in open(sys.argv[1]):
    l = l.strip()
    if l.startswith("SF:"):
        cur = os.path.relpath(l[3:])
    elif l.startswith("FN:"):  # a static function of a header: "unit.c:name", one per unit
        n, name = l[3:].split(",", 1)
        fn_line[(cur, name.split(":")[-1])] = int(n)
    elif l.startswith("FNDA:"):
        c, name = l[5:].split(",", 1)
        key = (cur, name.split(":")[-1])
        fn_hits[key] = fn_hits.get(key, 0) + int(c)
    elif l.startswith("DA:"):
        n, c = l[3:].split(",")[:2]
        lines[cur][int(n)] = lines[cur].get(int(n), 0) + int(c)
print("functions never run (in any unit that includes them):")
never = sorted(k for k, v in fn_hits.items() if v == 0)
for f, name in never:
    print("  %s:%d %s" % (f, fn_line.get((f, name), 0), name))
if not never:
    print("  (none)")
print("\nuncovered lines (ranges) per file:")
for f in sorted(lines):
    miss = sorted(n for n, c in lines[f].items() if c == 0)
    if not miss:
        continue
    rs, s, p = [], miss[0], miss[0]
    for n in miss[1:] + [None]:
        if n is not None and n == p + 1:
            p = n
            continue
        rs.append("%d" % s if s == p else "%d-%d" % (s, p))
        if n is not None:
            s = p = n
    print("  %s (%d): %s" % (f, len(miss), " ".join(rs)))
PY
} >"$cov/summary.txt"
cat "$cov/summary.txt"
echo "(html: $cov/html/index.html)"
