#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# campaign.sh - a fuzz campaign per target (make fuzz-campaign, mk/fuzz.mk):
#   campaign.sh BUILD SIMDE_BUILD SECONDS SIMDE_SECONDS TARGET...
# For each target: (1) replay every input of tests/fuzz/regressions/<target>/ one by one (each
# failing one is reported); (2) explore from the committed corpus tests/fuzz/corpus/<target>/ for
# SECONDS with BUILD/fuzz_<target> and then SIMDE_SECONDS with SIMDE_BUILD/fuzz_<target> (skipped
# when SIMDE_BUILD is empty), in libFuzzer's fork mode with -ignore_crashes=1, so a finding is
# saved and the run goes on; (3) merge (-merge=1, BUILD's binary) the committed corpus and the new
# inputs into a fresh directory, which replaces tests/fuzz/corpus/<target>/ (commit it). A merged
# corpus above FUZZ_CORPUS_MAX_BYTES (default 1 MB: the committed corpus stays well under 2 MB a
# target) is merged again with -max_len halved (2048, 1024, ... at least 256), which truncates
# the long inputs as it keeps them, until it fits.
# Prints per target: executions, findings, corpus files and bytes. Exits 1 if any regression
# failed or any finding was made (inputs in BUILD/campaign/<target>/artifacts/). Environment:
# FUZZ_RUN_FLAGS (libFuzzer flags for every run), the sanitizer options of mk/fuzz.mk.
set -uo pipefail
build=$1 simde=$2 secs=$3 simde_secs=$4
shift 4
corpus=tests/fuzz/corpus regr=tests/fuzz/regressions
flags=${FUZZ_RUN_FLAGS:--max_len=4096 -timeout=20 -rss_limit_mb=2048}
maxbytes=${FUZZ_CORPUS_MAX_BYTES:-1000000}
bad=0 summary=()

execs() { # total executions of a fork-mode log: the last "#N:" status line
  grep -Eo '^#[0-9]+' "$1" | tail -1 | tr -d '#'
}

for t in "$@"; do
  w=$build/campaign/$t
  rm -rf "$w"
  mkdir -p "$w/new" "$w/artifacts" "$w/merged"
  echo "== $t: replaying $regr/$t"
  rfail=0
  for f in "$regr/$t"/*; do
    [ -f "$f" ] || continue
    if ! timeout -s KILL 120 "$build/fuzz_$t" $flags "$f" >"$w/replay.log" 2>&1; then
      rfail=$((rfail + 1))
      echo "   FAILS: $f: $(grep -m1 -E 'fuzz check failed|ERROR:|runtime error' "$w/replay.log")"
    fi
  done
  total=0
  for pass in x86 simde; do
    bin=$build/fuzz_$t s=$secs
    if [ $pass = simde ]; then
      [ -n "$simde" ] || continue
      bin=$simde/fuzz_$t s=$simde_secs
    fi
    [ "$s" -gt 0 ] || continue
    echo "== $t: exploring with $bin for $s s"
    timeout -s KILL $((s + 300)) "$bin" $flags -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
      -ignore_ooms=1 -max_total_time="$s" -artifact_prefix="$w/artifacts/" \
      "$w/new" "$corpus/$t" >"$w/explore-$pass.log" 2>&1
    n=$(execs "$w/explore-$pass.log")
    total=$((total + ${n:-0}))
    echo "   $pass: ${n:-0} executions"
  done
  echo "== $t: merging into $corpus/$t"
  ok=0
  timeout -s KILL 900 "$build/fuzz_$t" $flags -merge=1 "$w/merged" "$corpus/$t" "$w/new" \
    >"$w/merge.log" 2>&1 && [ -n "$(ls -A "$w/merged")" ] && ok=1
  len=4096
  while [ $ok = 1 ] && [ "$(du -sb "$w/merged" | cut -f1)" -gt "$maxbytes" ] && [ $len -gt 256 ]; do
    len=$((len / 2))
    echo "   $(du -sb "$w/merged" | cut -f1) bytes > $maxbytes: merging again with -max_len=$len"
    rm -rf "$w/capped" && mkdir -p "$w/capped"
    ok=0
    timeout -s KILL 900 "$build/fuzz_$t" $flags -max_len=$len -merge=1 "$w/capped" "$w/merged" \
      >"$w/merge-$len.log" 2>&1 && [ -n "$(ls -A "$w/capped")" ] && ok=1
    [ $ok = 1 ] && rm -rf "$w/merged" && mv "$w/capped" "$w/merged"
  done
  if [ $ok = 1 ]; then
    rm -f "$corpus/$t"/*
    cp "$w/merged"/* "$corpus/$t"/
  else
    echo "   merge FAILED (log: $w/merge.log); $corpus/$t left as it was"
    bad=1
  fi
  finds=$(find "$w/artifacts" -type f | wc -l)
  files=$(find "$corpus/$t" -type f | wc -l)
  bytes=$(du -sb "$corpus/$t" | cut -f1)
  [ "$finds" -eq 0 ] && [ "$rfail" -eq 0 ] || bad=1
  summary+=("$t: $total executions, $finds findings, $rfail failing regressions, corpus $files files, $bytes bytes")
done
echo
echo "fuzz-campaign summary (${secs} s x86$([ -n "$simde" ] && echo " + ${simde_secs} s SIMDe") per target):"
for s in "${summary[@]}"; do echo "  $s"; done
[ $bad -eq 0 ] || echo "findings: $build/campaign/*/artifacts/ (copy each to tests/fuzz/regressions/<target>/ once understood)"
exit $bad
