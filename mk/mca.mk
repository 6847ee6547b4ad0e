# SPDX-License-Identifier: MIT
# mca.mk - llvm-mca cost model of the generic kernels' inner loops.
#
#   make mca    compiles src/avx2/kernels.c (x86-64, -mavx2 -mfma) and src/neon/kernels.c
#               (AArch64, clang --target) with -DSL_MCA, which keeps one variant of each kernel
#               (fused, no weights) and marks one region: two CE classes of a pixel block (2 W
#               elements: TwoSum, exp, the sums), the kernel's hot loop. (The BCE blocks are
#               inlined several times per loop, which llvm-mca's region markers cannot mark);
#               runs llvm-mca-19 on them for Zen 3, Zen 4 and Ice Lake (x86) and Neoverse-N1 and -V1
#               (AArch64), and prints cycles per element (bench/mca.py). llvm-19, not 14:
#               llvm-mca-14 models both Neoverse CPUs with the Cortex-A57 machine model.
# No hardware involved: the only speed evidence for NEON without ARM hardware. Needs clang-14,
# llvm-19 and the AArch64 headers (scripts/install-deps.sh --cross --mca).
MCA_OUT := $(BUILD)/mca
MCA_CFLAGS := -std=c11 -O2 -DSL_MCA -Iinclude -Isrc -S -fno-asynchronous-unwind-tables

.PHONY: mca
mca:
	@scripts/install-deps.sh --cross --mca
	@mkdir -p $(MCA_OUT)
	clang-14 $(MCA_CFLAGS) -DSL_BUILD_AVX2 $(AVX2_FLAGS) src/avx2/kernels.c -o $(MCA_OUT)/avx2.s
	clang-14 $(MCA_CFLAGS) -DSL_BUILD_NEON --target=aarch64-linux-gnu \
	  -isystem /usr/aarch64-linux-gnu/include src/neon/kernels.c -o $(MCA_OUT)/neon.s
	@# clang prints the markers as AArch64 '//' comments; llvm-mca reads them after '#'
	@sed -i 's|// LLVM-MCA-|# LLVM-MCA-|' $(MCA_OUT)/neon.s
	@python3 bench/mca.py $(MCA_OUT)
