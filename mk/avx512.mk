# SPDX-License-Identifier: MIT
# avx512.mk - AVX-512 checks and probe.
#
#   make test-exhaustive-avx512  builds $(BUILD)/vmath-avx512-exhaustive and runs it: the vector
#                          logf and expf of src/generic/vmath.h on the AVX-512 layer (with the
#                          overrides of src/avx512/vmath.h) against the correctly
#                          rounded result on all 2^32 floats (plus log1p, the CE exp and the
#                          double exp / expm1 on their domains), and every function bit for bit
#                          against the AVX2 build (tests/exhaustive/vmath_avx2_ref.c); fails above 2 ULP, on a wrong special
#                          value or on a difference. OpenMP on every core: a few minutes on 2 idle
#                          cores (EXHAUSTIVE_ARGS=--full: the extra functions on all inputs too).
#   make test-avx512-kernels     the AVX-512 kernels against the AVX2 ones, bit for bit
#   make bench-avx512-probe      bench/avx512_probe.c: AVX2 against AVX-512 vector logf / expf
#                          throughput on an L1-resident array, 1 thread, medians, ratio in the
#                          same run: do 512-bit vectors win on this CPU?
# x86-64 only (a no-op elsewhere); both exit 0 with a note when the CPU lacks AVX-512.
# AVX512_FLAGS (Makefile) go on these AVX-512 files only; they link the baseline library for its
# CPU detection (sl_isa_available), which runs before any AVX-512 instruction.

EXHAUSTIVE_AVX512_BIN := $(BUILD)/vmath-avx512-exhaustive
AVX512_PROBE_BIN := $(BUILD)/avx512-probe

$(EXHAUSTIVE_AVX512_BIN): tests/exhaustive/vmath_avx512.c tests/exhaustive/vmath_check.h \
                          src/generic/vmath.h src/avx512/vmath.h src/avx512/vec.h \
                          $(VMATH_AVX2_REF_O) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(AVX512_FLAGS) -o $@ $< $(VMATH_AVX2_REF_O) $(LIB_A) $(LDLIBS_ALL)

# The AVX2 kernels of the probe in their own object, with the AVX2 flags only.
$(BUILD)/obj/bench/avx512_probe_avx2.o: bench/avx512_probe_avx2.c bench/avx512_probe.h src/generic/vmath.h \
                                        src/avx2/vec.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(AVX2_FLAGS) -c $< -o $@

$(AVX512_PROBE_BIN): bench/avx512_probe.c bench/avx512_probe.h src/avx512/vmath.h src/avx512/vec.h \
                     src/generic/vmath.h \
                     $(BUILD)/obj/bench/avx512_probe_avx2.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(AVX512_FLAGS) -o $@ $< $(BUILD)/obj/bench/avx512_probe_avx2.o $(LIB_A) \
	  $(LDLIBS_ALL)

.PHONY: test-exhaustive-avx512 bench-avx512-probe
test-exhaustive: test-exhaustive-avx512

ifeq ($(ARCH),x86_64)
test-exhaustive-avx512: $(EXHAUSTIVE_AVX512_BIN)
	@rc=0; timeout 3600 $(RUN) $(EXHAUSTIVE_AVX512_BIN) $(EXHAUSTIVE_ARGS) || rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "test-exhaustive-avx512: skipped (no AVX-512)"; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi

bench-avx512-probe: $(AVX512_PROBE_BIN)
	@rc=0; OMP_NUM_THREADS=1 $(RUN) $(AVX512_PROBE_BIN) $(PROBE_ARGS) || rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "bench-avx512-probe: skipped (no AVX-512)"; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi
else
test-exhaustive-avx512:
	@echo "test-exhaustive-avx512: not an x86-64 build, skipped"
bench-avx512-probe:
	@echo "bench-avx512-probe: not an x86-64 build, skipped"
endif

# make test-avx512-kernels: the AVX-512 row microkernels (the generic kernels built against
# src/avx512/vec.h) against the AVX2 ones, called directly, every element bit for bit (sums
# within 1e-12 relative), guards (tests/exhaustive/kernels_avx512.c); about 10-30 s.
KERNELS_AVX512_BIN := $(BUILD)/kernels-avx512-equiv

$(KERNELS_AVX512_BIN): tests/exhaustive/kernels_avx512.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB_A) $(LDLIBS_ALL)

.PHONY: test-avx512-kernels
ifeq ($(ARCH),x86_64)
test-avx512-kernels: $(KERNELS_AVX512_BIN)
	@rc=0; timeout 600 $(RUN) $(KERNELS_AVX512_BIN) || rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "test-avx512-kernels: skipped (no AVX-512)"; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi
else
test-avx512-kernels:
	@echo "test-avx512-kernels: not an x86-64 build, skipped"
endif

# make test-exhaustive-cvt: the x86 output conversions (float32 to bfloat16 / float16) against the
# scalar reference on all 2^32 floats, bit for bit: the AVX512_BF16 table (VCVTNEPS2BF16), the
# portable AVX-512 one and AVX2, those the CPU runs, and the floats below 2^-14 again with DAZ and
# FTZ set (tests/exhaustive/cvt_out.c); about 21 s of CPU time (11 s on 2 idle cores). Says so when
# the CPU lacks AVX512_BF16 (the others still run); skipped without AVX2.
CVT_EXH_BIN := $(BUILD)/cvt-out-exhaustive

$(CVT_EXH_BIN): tests/exhaustive/cvt_out.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB_A) $(LDLIBS_ALL)

.PHONY: test-exhaustive-cvt
test-exhaustive: test-exhaustive-cvt
ifeq ($(ARCH),x86_64)
test-exhaustive-cvt: $(CVT_EXH_BIN)
	@rc=0; timeout 600 $(RUN) $(CVT_EXH_BIN) || rc=$$?; \
	if [ $$rc -eq 77 ]; then echo "test-exhaustive-cvt: skipped (no AVX2)"; \
	elif [ $$rc -ne 0 ]; then exit $$rc; fi
else
test-exhaustive-cvt:
	@echo "test-exhaustive-cvt: not an x86-64 build, skipped"
endif
