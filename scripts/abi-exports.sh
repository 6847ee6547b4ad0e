#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# abi-exports.sh HEADER LIBRARY MAJOR: the library's exported functions are exactly the SL_API
# functions HEADER declares, each with a default symbol version SECTIONLOSS_MAJOR.x (the linker
# version script sectionloss.map). Prints the differences and exits 1 when they differ.
set -euo pipefail
header=$1 lib=$2 major=$3
declared=$(sed -n 's/^SL_API [^(]*[ *]\(sl_[a-z0-9_]*\)(.*/\1/p' "$header" | sort)
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | sort)
rc=0
unversioned=$(grep -v "@@SECTIONLOSS_$major\.[0-9]*$" <<<"$exported" || true)
if [ -n "$unversioned" ]; then
  echo "abi-exports.sh: exported without a SECTIONLOSS_$major.x version:" $unversioned >&2
  rc=1
fi
names=$(sed 's/@.*//' <<<"$exported")
if [ "$names" != "$declared" ]; then
  echo "abi-exports.sh: SL_API functions of $header vs functions exported by $lib:" >&2
  diff <(echo "$declared") <(echo "$names") >&2 || true
  rc=1
fi
[ $rc -ne 0 ] ||
  echo "abi-exports.sh: $(wc -l <<<"$names") functions, all declared, all SECTIONLOSS_$major.x"
exit $rc
