# SPDX-License-Identifier: MIT
# neon.mk - NEON kernel checks: through SIMDe on x86, under qemu for AArch64.
#
#   make test-neon-simde       the whole Criterion suite with SECTIONLOSS_ISA=neon, from the SIMDe
#                              test build in build/simde/ (src/neon compiled for x86 through
#                              simde/arm/neon.h, SL_ISA_NEON available and forced)
#   make test-exhaustive-neon  x86: the vector logf and expf of src/generic/vmath.h on the NEON
#                              layer through SIMDe on all 2^32 floats, the other functions on
#                              their domains (log1pf on 1/16, log1pf_01 and exp(-|x|) on 1/4;
#                              OpenMP, all cores); prints the max ULP, fails above 2 ULP, on a
#                              wrong special value or (with AVX2 + FMA) on a result that differs
#                              from the AVX2 build (tests/exhaustive/vmath_avx2_ref.c).
#                              About 5 minutes on 2 idle cores (-mavx2 -mfma binary)
#   make CROSS=aarch64-linux-gnu- test-exhaustive-neon
#                              the same source cross-built, run under qemu-aarch64 on a strided
#                              sample: every 128th bit pattern at two offsets (NEON_EXH_STRIDE=128,
#                              the default) = 2^26 inputs per function
#   make test-neon-qemu        CROSS=aarch64-linux-gnu-: lib, tests (the mini runner, once per
#                              ISA: scalar and neon), the demo and the strided exhaustive sample,
#                              all under qemu-aarch64
# Cross builds: RUN (Makefile) becomes `timeout -s KILL $(QEMU_TIMEOUT) qemu-...`: SIGKILL, since
# a binary spinning under qemu-user may ignore SIGTERM (Criterion's arm64 runner does under qemu-user), and a
# hang must fail CI within minutes, not eat its budget. Set RUN= on the command line to override.

NEON_CROSS ?= aarch64-linux-gnu-
QEMU_TIMEOUT ?= 600
NEON_EXH_TIMEOUT ?= 1800
NEON_EXH_STRIDE ?= 128

ifneq ($(CROSS),)
QEMU_CMD = qemu-$(ARCH) -L $(SYSROOT)
ifeq ($(origin RUN),file)
RUN = timeout -s KILL $(QEMU_TIMEOUT) $(QEMU_CMD)
endif
endif

NEON_EXH_BIN := $(BUILD)/vmath-neon-exhaustive
ifeq ($(ARCH),aarch64)
NEON_EXH_FLAGS :=
NEON_EXH_RUN_ARGS := $(if $(CROSS),$(NEON_EXH_STRIDE),)
else
NEON_EXH_FLAGS := -DSL_NEON_SIMDE
NEON_EXH_RUN_ARGS :=
NEON_EXH_REF := $(VMATH_AVX2_REF_O)
endif

NEON_EXH_DEPS := tests/exhaustive/vmath_neon.c tests/exhaustive/vmath_check.h src/generic/vmath.h \
                 src/neon/vec.h src/neon/neon.h $(NEON_EXH_REF)

$(NEON_EXH_BIN): $(NEON_EXH_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(NEON_EXH_FLAGS) -o $@ $< $(NEON_EXH_REF) $(LDLIBS_ALL)

# x86: the same test built with -mavx2 -mfma, 3x faster (SIMDe then maps the NEON operations
# onto SSE/AVX; fused multiply-adds stay fused either way, see src/neon/neon.h). Used when
# /proc/cpuinfo lists avx2 and fma, else the portable binary runs.
$(NEON_EXH_BIN)-avx2: $(NEON_EXH_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(NEON_EXH_FLAGS) -mavx2 -mfma -o $@ $< $(NEON_EXH_REF) $(LDLIBS_ALL)

.PHONY: test-neon-simde test-exhaustive-neon test-neon-qemu
test-neon-simde:
	$(MAKE) NEON_SIMDE=1 test ISA=neon

ifeq ($(ARCH),aarch64)
test-exhaustive-neon: $(NEON_EXH_BIN)
	timeout -s KILL $(NEON_EXH_TIMEOUT) $(QEMU_CMD) $(NEON_EXH_BIN) $(NEON_EXH_RUN_ARGS)
else ifeq ($(ARCH),x86_64)
test-exhaustive-neon: $(NEON_EXH_BIN) $(NEON_EXH_BIN)-avx2
	@if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then b=$(NEON_EXH_BIN)-avx2; \
	else b=$(NEON_EXH_BIN); fi; echo "timeout -s KILL $(NEON_EXH_TIMEOUT) $$b"; \
	timeout -s KILL $(NEON_EXH_TIMEOUT) $$b
else
test-exhaustive-neon:
	@echo "test-exhaustive-neon: needs AArch64 or x86-64 (SIMDe), skipped"
endif

test-neon-qemu:
	$(MAKE) CROSS=$(NEON_CROSS) lib
	$(MAKE) CROSS=$(NEON_CROSS) test
	$(MAKE) CROSS=$(NEON_CROSS) demo
	$(MAKE) CROSS=$(NEON_CROSS) test-exhaustive-neon
