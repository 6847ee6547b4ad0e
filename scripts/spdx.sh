#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# spdx.sh - the licence identifier line in every source file of the repository.
#   scripts/spdx.sh --check   lists the files without it on their first line (the second after a
#                             shebang) and exits 1 if there is any (CI, make spdx-check)
#   scripts/spdx.sh --fix     inserts it there; touches nothing else, so it can be re-run at any
#                             time (after a merge that brings new files)
# Source files: C, C++, headers and X-macro files (*.def), Python, shell (*.sh, .ci/run), make
# (Makefile, mk/*.mk), CMake (CMakeLists.txt, cmake/*.in), the pkg-config template, the linker
# version script, pyproject.toml and gnuplot scripts, as tracked by git.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
case "$mode" in --check | --fix) ;; *) echo "usage: scripts/spdx.sh --check | --fix" >&2; exit 2 ;; esac

ID="SPDX-License-Identifier: MIT"
comment_for() { # the line for file $1, in its language's comment syntax
  case "$1" in
    *.c | *.h | *.cpp | *.def) echo "// $ID" ;;
    *.map) echo "/* $ID */" ;;
    *) echo "# $ID" ;;
  esac
}

missing=0
while IFS= read -r f; do
  line=$(comment_for "$f")
  first=$(head -n 1 "$f")
  if [[ $first == '#!'* ]]; then at=2; else at=1; fi
  [ "$(sed -n "${at}p" "$f")" = "$line" ] && continue
  missing=$((missing + 1))
  if [ "$mode" = --check ]; then
    echo "spdx.sh: $f: line $at is not '$line'"
  elif [ $at = 2 ]; then
    sed -i "1a\\$line" "$f"
  else
    sed -i "1i\\$line" "$f"
  fi
done < <(git ls-files '*.c' '*.h' '*.def' '*.cpp' '*.py' '*.sh' '*.mk' '*.gp' '*.map' '*.toml' \
  'Makefile' '**/CMakeLists.txt' 'CMakeLists.txt' 'cmake/*.in' '*.pc.in' '.ci/run')

if [ "$mode" = --check ] && [ $missing -gt 0 ]; then
  echo "spdx.sh: $missing file(s) without the licence line: run scripts/spdx.sh --fix" >&2
  exit 1
fi
[ "$mode" = --fix ] && echo "spdx.sh: added the licence line to $missing file(s)" >&2
exit 0
