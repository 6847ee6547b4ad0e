# SPDX-License-Identifier: MIT
# avx2.mk - AVX2 kernel checks.
#
#   make test-exhaustive   builds $(BUILD)/vmath-avx2-exhaustive and runs it: the AVX2 vector
#                          logf and expf of src/avx2/vmath.h against the correctly rounded result
#                          on all 2^32 floats (plus log1p, the CE exp and the double exp on their
#                          domains); prints the largest ULP error, fails above 2 ULP or on a wrong
#                          special value. OpenMP on every core: about 2-3 minutes on 2 idle cores
#                          (EXHAUSTIVE_ARGS=--full: the extra functions on all inputs too).
#   make test-avx2-kernels an alias of make test-kernels-strict (mk/contract.mk): every SIMD
#                          table against scalar with the accuracy contract (tests/contract.h)
# x86-64 only (a no-op elsewhere); exits 0 with a note when the CPU lacks AVX2 + FMA.

EXHAUSTIVE_AVX2_BIN := $(BUILD)/vmath-avx2-exhaustive

$(EXHAUSTIVE_AVX2_BIN): tests/exhaustive/vmath_avx2.c src/avx2/vmath.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(AVX2_FLAGS) -o $@ $< $(LDLIBS_ALL)

.PHONY: test-exhaustive test-exhaustive-avx2
test-exhaustive: test-exhaustive-avx2

ifeq ($(ARCH),x86_64)
test-exhaustive-avx2: $(EXHAUSTIVE_AVX2_BIN)
	@rc=0; timeout 3600 $(RUN) $(EXHAUSTIVE_AVX2_BIN) $(EXHAUSTIVE_ARGS) || rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "test-exhaustive-avx2: skipped (no AVX2 + FMA)"; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi
else
test-exhaustive-avx2:
	@echo "test-exhaustive-avx2: not an x86-64 build, skipped"
endif
