# SPDX-License-Identifier: MIT
# contract.mk - the accuracy contract (tests/contract.h, docs/accuracy.md) on the row kernels.
#
#   make test-kernels-strict        every SIMD kernel table of this build (AVX2 on x86-64, NEON on
#                                   AArch64) against sl_kernels_scalar, called directly on wide
#                                   data (tests/exhaustive/kernels_strict.c); prints the largest
#                                   error per kernel and output, fails on any breach of the
#                                   contract. About 10-30 s.
#   make test-kernels-strict-neon-simde
#                                   the same in the SIMDe build (build/simde/: the NEON table
#                                   compiled for x86, tested beside the AVX2 one)
#   make test-avx2-kernels          an alias of test-kernels-strict (its former name)
# STRICT_PASSES (default 3): passes over the data matrix. Exit 77 of the binary (no SIMD table
# runs on this CPU) is reported as a skip.

STRICT_PASSES ?= 3
KERNELS_STRICT_BIN := $(BUILD)/kernels-strict

$(KERNELS_STRICT_BIN): tests/exhaustive/kernels_strict.c tests/exhaustive/dice_strict.h tests/exhaustive/ce_prob_strict.h tests/contract.h src/kernels.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB_A) $(LDLIBS_ALL)

.PHONY: test-kernels-strict test-kernels-strict-neon-simde test-avx2-kernels
test-kernels-strict: $(KERNELS_STRICT_BIN)
	@rc=0; timeout -s KILL 900 $(RUN) $(KERNELS_STRICT_BIN) $(STRICT_PASSES) || rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "test-kernels-strict: skipped (no SIMD table runs here)"; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi

test-kernels-strict-neon-simde:
	$(MAKE) --no-print-directory NEON_SIMDE=1 test-kernels-strict

test-avx2-kernels: test-kernels-strict
