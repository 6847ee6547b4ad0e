#!/usr/bin/env bash
# install-deps.sh: installs the Debian packages sectionloss needs to build and test.
#   scripts/install-deps.sh            core: compiler, OpenMP, Criterion, SIMDe
#   scripts/install-deps.sh --ci       + sanitizer runtimes, valgrind, AArch64 cross toolchain, qemu
#   scripts/install-deps.sh --bench    + hyperfine, gnuplot, python3-torch (benchmarks, golden data)
# Only installs what is missing; a no-op on a machine that has everything.
set -euo pipefail

want=(gcc make pkg-config libcriterion-dev libsimde-dev libgomp1)
arm64=0
for arg in "$@"; do
  case "$arg" in
    --ci) want+=(clang libclang-rt-14-dev valgrind qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
          arm64=1 ;;
    --bench) want+=(hyperfine gnuplot-nox python3-torch) ;;
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
if [ "$arm64" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $sudo dpkg --add-architecture arm64
fi
echo "install-deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
