#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# install-deps.sh: installs the Debian packages sectionloss needs; only what is missing, so it is
# a quick no-op on a machine that has everything. Called by the Makefile (deps) and .ci/run.
#   scripts/install-deps.sh            build + test: compiler, OpenMP, Criterion, SIMDe
#   scripts/install-deps.sh --cross    + AArch64 cross toolchain and qemu-user (tests under qemu)
#   scripts/install-deps.sh --ci       + --cross, --abi, clang sanitizer/libFuzzer runtimes, valgrind
#   scripts/install-deps.sh --abi      + abigail-tools (abidw, abidiff: make abi-check), clang
#   scripts/install-deps.sh --coverage clang, libFuzzer runtime, llvm-14 (make fuzz-coverage)
#   scripts/install-deps.sh --mca      clang, llvm-19 (make mca: llvm-mca-19 has Neoverse N1 / V1
#                                      machine models; llvm-mca-14 models both as a Cortex-A57)
#   scripts/install-deps.sh --bench    + hyperfine, gnuplot, python3-torch, python3-torchvision,
#                                      libjemalloc2 (benchmarks, golden data)
#   scripts/install-deps.sh --python   + python3-venv, python3-dev, g++ (the Python package's tests;
#                                      torch.compile's Inductor compiles C++ against Python.h)
#   scripts/install-deps.sh --python-system   + Debian's python3-torch, python3-numpy, python3-pytest
#   scripts/install-deps.sh --jemalloc        + libjemalloc2 (make bench-side: PyTorch and the
#                                      Python package with a retaining allocator)
#   scripts/install-deps.sh --packaging       + cmake, g++ (the CMake / C++ consumer)
# Criterion for arm64 is not needed: the cross test build uses the mini runner in tests/mini/.
set -euo pipefail

want=(gcc make libc6-dev libgomp1 libcriterion-dev libsimde-dev)
cross=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
for arg in "$@"; do
  case "$arg" in
    --cross) want+=("${cross[@]}") ;;
    --ci) want+=("${cross[@]}" clang libclang-rt-14-dev libomp-14-dev valgrind abigail-tools) ;;
    --abi) want+=(abigail-tools clang libclang-rt-14-dev) ;;
    --coverage) want+=(clang libclang-rt-14-dev libomp-14-dev llvm-14) ;;
    --mca) want+=(clang llvm-19) ;;
    --bench) want+=(hyperfine gnuplot-nox python3-torch python3-torchvision libjemalloc2) ;;
    --python) want+=(python3-venv python3-dev g++) ;;
    --python-system) want+=(python3-venv python3-torch python3-numpy python3-pytest) ;;
    --jemalloc) want+=(libjemalloc2) ;;
    --packaging) want+=(cmake g++ pkg-config) ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
