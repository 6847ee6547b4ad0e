# SPDX-License-Identifier: MIT
# mk/fuzz.mk - libFuzzer targets for each entry point (tests/fuzz/, issues 6, 14 and 23).
#
#   make fuzz-smoke        each target for FUZZ_SECONDS (default 60) s, x86 build (scalar, AVX2)
#   make fuzz-smoke-simde  each target for FUZZ_SIMDE_SECONDS (default 15) s, SIMDe build (the
#                          NEON kernels compiled for x86 through SIMDe, beside AVX2; x86-64 only)
#   make fuzz              each target for FUZZ_LONG_SECONDS (default 1800) s, x86 build
#   make fuzz-campaign     per target: replay every regression, explore from the committed corpus
#                          for FUZZ_CAMPAIGN_SECONDS (default 600) s (x86 build) and
#                          FUZZ_CAMPAIGN_SIMDE_SECONDS (default 120) s (SIMDe build), continuing
#                          past findings, then merge (libFuzzer -merge=1) the corpus and what was
#                          found back into tests/fuzz/corpus/<target>/ (commit it). Findings land
#                          in $(FUZZ_BUILD)/campaign/<target>/artifacts/; the target fails if any.
#                          FUZZ_TARGETS="ce" limits it to some targets. (tests/fuzz/campaign.sh)
#   make fuzz-coverage     clang source-based coverage of src/ over the committed corpus and the
#                          regressions (SIMDe build: scalar, AVX2 and NEON kernels in one binary):
#                          lines and branches per file, functions never run, uncovered lines,
#                          in $(FUZZ_COV_BUILD)/summary.txt (HTML in $(FUZZ_COV_BUILD)/html/).
#
# Every run starts from tests/fuzz/corpus/<target>/ (committed, minimized) and first replays
# tests/fuzz/regressions/<target>/ (every earlier finding). New inputs of the smoke and long runs
# go to <build>/corpus/<target>/ (not committed; fuzz-campaign merges into the committed corpus).
# The library is compiled with coverage instrumentation (fuzzer-no-link) and ASan + UBSan (the
# SIMD kernel objects ASan only: FUZZ_KERNEL_CFLAGS); each
# target links libFuzzer's main. Acceptance rules: tests/fuzz/fuzz_common.h, docs/accuracy.md.

FUZZ_BUILD ?= build/fuzz
FUZZ_SIMDE_BUILD ?= build/fuzz-simde
FUZZ_COV_BUILD ?= build/fuzz-cov
FUZZ_SECONDS ?= 60
FUZZ_SIMDE_SECONDS ?= 15
FUZZ_LONG_SECONDS ?= 1800
FUZZ_CAMPAIGN_SECONDS ?= 600
FUZZ_CAMPAIGN_SIMDE_SECONDS ?= 120
FUZZ_TARGETS ?= bce bce_logits ce dice dice_mc sigmoid_focal ce_prob
FUZZ_CORPUS := tests/fuzz/corpus
FUZZ_REGR := tests/fuzz/regressions
FUZZ_RUN_FLAGS := -max_len=4096 -timeout=20 -rss_limit_mb=2048
LLVM_PROFDATA ?= llvm-profdata-14
LLVM_COV ?= llvm-cov-14

FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -fsanitize=fuzzer-no-link $(FUZZ_SAN)
# The SIMD kernel objects (src/avx2, src/avx512, src/neon) with ASan but without UBSan: clang
# needs over 14 minutes for the SIMDe NEON file with both (SIMDe's per-lane C, instrumented in
# every flag combination's loop), 4 with ASan alone, and several for each x86 one. UBSan still
# covers the driver, the API and the scalar reference here, and the kernels in make test-asan.
FUZZ_KERNEL_CFLAGS := -fno-sanitize=undefined
FUZZ_ENV := ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1 \
            UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 OMP_NUM_THREADS=2
FUZZ_DEPS := tests/fuzz/fuzz_common.h tests/fuzz/fuzz_dice_common.h tests/fuzz/fuzz_dtype.h \
             tests/contract.h include/sectionloss.h
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_SIMDE_BINS := $(FUZZ_TARGETS:%=$(FUZZ_SIMDE_BUILD)/fuzz_%)
FUZZ_COV_BINS := $(FUZZ_TARGETS:%=$(FUZZ_COV_BUILD)/fuzz_%)

.PHONY: fuzz fuzz-smoke fuzz-smoke-simde fuzz-build fuzz-build-simde fuzz-campaign fuzz-coverage
.PHONY: fuzz-lib fuzz-lib-simde fuzz-lib-cov

# (phony steps: the recursive make decides whether each library is up to date)
fuzz-lib:
	@EXTRA_CFLAGS="$(FUZZ_CFLAGS)" EXTRA_LDFLAGS="$(FUZZ_CFLAGS)" \
	  KERNEL_EXTRA_CFLAGS="$(FUZZ_KERNEL_CFLAGS)" \
	  $(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(SAN_CC) OPT=-O1 \
	  $(FUZZ_BUILD)/libsectionloss.a
fuzz-lib-simde:
	@EXTRA_CFLAGS="$(FUZZ_CFLAGS)" EXTRA_LDFLAGS="$(FUZZ_CFLAGS)" \
	  KERNEL_EXTRA_CFLAGS="$(FUZZ_KERNEL_CFLAGS)" \
	  $(MAKE) --no-print-directory NEON_SIMDE=1 BUILD=$(FUZZ_SIMDE_BUILD) CC=$(SAN_CC) OPT=-O1 \
	  $(FUZZ_SIMDE_BUILD)/libsectionloss.a
fuzz-lib-cov:
	@EXTRA_CFLAGS="-fprofile-instr-generate -fcoverage-mapping" \
	  $(MAKE) --no-print-directory NEON_SIMDE=1 BUILD=$(FUZZ_COV_BUILD) CC=$(SAN_CC) OPT=-O1 \
	  $(FUZZ_COV_BUILD)/libsectionloss.a

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DEPS) fuzz-lib
	$(SAN_CC) -std=c11 -O1 -g -fopenmp -fsanitize=fuzzer $(FUZZ_SAN) $(WARN) -Iinclude $< \
	  $(FUZZ_BUILD)/libsectionloss.a -o $@ -lm
$(FUZZ_SIMDE_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DEPS) fuzz-lib-simde
	$(SAN_CC) -std=c11 -O1 -g -fopenmp -fsanitize=fuzzer $(FUZZ_SAN) $(WARN) -Iinclude $< \
	  $(FUZZ_SIMDE_BUILD)/libsectionloss.a -o $@ -lm
# coverage: no sanitizers; a failed check writes the profile before it aborts (FZ_COVERAGE)
$(FUZZ_COV_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_DEPS) fuzz-lib-cov
	$(SAN_CC) -std=c11 -O1 -g -fopenmp -fsanitize=fuzzer -fprofile-instr-generate \
	  -fcoverage-mapping -DFZ_COVERAGE $(WARN) -Iinclude $< $(FUZZ_COV_BUILD)/libsectionloss.a \
	  -o $@ -lm

fuzz-build: $(FUZZ_BINS)
fuzz-build-simde: $(FUZZ_SIMDE_BINS)

# run_fuzz DIR SECONDS: every target of DIR in turn, from the committed corpus, the regressions
# first; prints its execution count; fails on the first finding.
define run_fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(1)/corpus/$$t $(1)/artifacts/$$t; \
	  echo "== $(1)/fuzz_$$t for $(2) s"; \
	  $(FUZZ_ENV) timeout -s KILL $$(( $(2) + 120 )) $(1)/fuzz_$$t -max_total_time=$(2) \
	    $(FUZZ_RUN_FLAGS) -print_final_stats=1 -artifact_prefix=$(1)/artifacts/$$t/ \
	    $(1)/corpus/$$t $(FUZZ_CORPUS)/$$t $$(ls -d $(FUZZ_REGR)/$$t 2>/dev/null) \
	    2> $(1)/fuzz_$$t.log \
	    || { tail -60 $(1)/fuzz_$$t.log; echo "== fuzz_$$t FAILED (log: $(1)/fuzz_$$t.log)"; exit 1; }; \
	  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' $(1)/fuzz_$$t.log | sed "s|^|$(1)/fuzz_$$t |"; \
	done
endef

fuzz-smoke: $(FUZZ_BINS)
	$(call run_fuzz,$(FUZZ_BUILD),$(FUZZ_SECONDS))

fuzz: $(FUZZ_BINS)
	$(call run_fuzz,$(FUZZ_BUILD),$(FUZZ_LONG_SECONDS))

ifeq ($(ARCH),x86_64)
fuzz-smoke-simde: $(FUZZ_SIMDE_BINS)
	$(call run_fuzz,$(FUZZ_SIMDE_BUILD),$(FUZZ_SIMDE_SECONDS))
FUZZ_CAMPAIGN_BINS := $(FUZZ_BINS) $(FUZZ_SIMDE_BINS)
FUZZ_CAMPAIGN_SIMDE_DIR := $(FUZZ_SIMDE_BUILD)
else
fuzz-smoke-simde:
	@echo "fuzz-smoke-simde: SIMDe fuzzing is for x86-64 (this build runs NEON natively), skipped"
FUZZ_CAMPAIGN_BINS := $(FUZZ_BINS)
FUZZ_CAMPAIGN_SIMDE_DIR :=
endif

fuzz-campaign: $(FUZZ_CAMPAIGN_BINS)
	@$(FUZZ_ENV) FUZZ_RUN_FLAGS="$(FUZZ_RUN_FLAGS)" tests/fuzz/campaign.sh "$(FUZZ_BUILD)" \
	  "$(FUZZ_CAMPAIGN_SIMDE_DIR)" $(FUZZ_CAMPAIGN_SECONDS) $(FUZZ_CAMPAIGN_SIMDE_SECONDS) \
	  $(FUZZ_TARGETS)

fuzz-coverage: $(FUZZ_COV_BINS)
	@command -v $(LLVM_PROFDATA) >/dev/null && command -v $(LLVM_COV) >/dev/null || \
	  { echo "fuzz-coverage needs $(LLVM_PROFDATA) and $(LLVM_COV) (scripts/install-deps.sh --coverage)"; exit 1; }
	@LLVM_PROFDATA=$(LLVM_PROFDATA) LLVM_COV=$(LLVM_COV) tests/fuzz/coverage.sh \
	  "$(FUZZ_COV_BUILD)" $(FUZZ_TARGETS)
