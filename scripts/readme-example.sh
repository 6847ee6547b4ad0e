#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# readme-example.sh - the README's C example compiles as C11 and as C++17, warnings as errors.
# The example is the first ```c block after the "## C quick start" heading, extracted from
# README.md at every run (so it cannot drift from what is checked). Needs cc and c++ (g++).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
awk '/^## C quick start/ { sect = 1 }
     sect && /^```c$/ { code = 1; next }
     code && /^```$/ { exit }
     code { print }' README.md > "$out/example.c"
if ! grep -q 'sl_' "$out/example.c"; then
  echo "readme-example.sh: no C example after '## C quick start' in README.md" >&2
  exit 1
fi
cp "$out/example.c" "$out/example.cpp"
${CC:-cc} -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -c "$out/example.c" -o "$out/c.o"
${CXX:-c++} -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -c "$out/example.cpp" -o "$out/cxx.o"
echo "readme-example.sh: the README's C example ($(wc -l < "$out/example.c") lines) compiles as C11 and C++17"
