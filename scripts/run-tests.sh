#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run-tests.sh SL_INFO ISA TEST_BINARY [ARGS...]
# Runs the whole test suite once per ISA: the one named, or every ISA this CPU can run
# (as listed by `sl-info --available`), each forced through SECTIONLOSS_ISA.
# RUN (environment) prefixes every command, e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu".
set -euo pipefail
info=$1; isa=$2; shift 2
if [ -n "$isa" ]; then isas=$isa; else isas=$(${RUN:-} "$info" --available); fi
fail=0
for i in $isas; do
  echo "== test suite, SECTIONLOSS_ISA=$i"
  if ! SECTIONLOSS_ISA=$i ${RUN:-} "$@"; then
    echo "== FAILED with SECTIONLOSS_ISA=$i" >&2
    fail=1
  fi
done
exit $fail
