# SPDX-License-Identifier: MIT
# avx2.mk - AVX2 kernel checks.
#
#   make test-exhaustive   builds $(BUILD)/vmath-avx2-exhaustive and runs it: the vector logf
#                          and expf of src/generic/vmath.h on the AVX2 layer against the correctly rounded result
#                          on all 2^32 floats (plus log1p, the CE exp and the double exp on their
#                          domains); prints the largest ULP error, fails above 2 ULP or on a wrong
#                          special value. OpenMP on every core: about 2-3 minutes on 2 idle cores
#                          (EXHAUSTIVE_ARGS=--full: the extra functions on all inputs too).
#   make test-avx2-kernels an alias of make test-kernels-strict (mk/contract.mk): every SIMD
#                          table against scalar with the accuracy contract (tests/contract.h)
# x86-64 only (a no-op elsewhere); exits 0 with a note when the CPU lacks AVX2 + FMA.

EXHAUSTIVE_AVX2_BIN := $(BUILD)/vmath-avx2-exhaustive

$(EXHAUSTIVE_AVX2_BIN): tests/exhaustive/vmath_avx2.c tests/exhaustive/vmath_check.h \
                        src/generic/vmath.h src/avx2/vec.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(AVX2_FLAGS) -o $@ $< $(LDLIBS_ALL)

# The AVX2 build of the vector math for the bit-for-bit comparisons of the AVX-512 and NEON
# (SIMDe) exhaustive tests, in its own object with the AVX2 flags only.
VMATH_AVX2_REF_O := $(BUILD)/obj/tests/exhaustive/vmath_avx2_ref.o
$(VMATH_AVX2_REF_O): tests/exhaustive/vmath_avx2_ref.c tests/exhaustive/vmath_check.h \
                     src/generic/vmath.h src/avx2/vec.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(AVX2_FLAGS) -c $< -o $@

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
