# mk/sanitize.mk - sanitizers, valgrind, fuzzing and the subnormal benchmark (issue 6).
#
#   make test-asan        the whole suite (tests/*.c, Criterion) built with clang
#                         -fsanitize=address,undefined -fno-sanitize-recover=all in build/asan/,
#                         once per ISA this CPU can run; then the mini runner (no fork) likewise
#   make test-tsan        ThreadSanitizer over tests/tsan/tsan_threads.c (clang + LLVM libomp with
#                         the Archer OMPT tool, which tells TSan about OpenMP's synchronisation)
#   make test-valgrind    valgrind memcheck over the mini runner (gcc build in build/valgrind/),
#                         once per ISA, --error-exitcode=1 --leak-check=full
#   make fuzz-smoke       each libFuzzer target in tests/fuzz/ for FUZZ_SECONDS (default 60) s
#   make fuzz             the same for FUZZ_LONG_SECONDS (default 1800) s per target
#
# Every sanitizer build lives in its own BUILD directory (a recursive make of the main Makefile
# with CC=clang and extra flags), so the normal build/ is never rebuilt with odd flags.
# Sanitizer runtime options make every report fatal (exit code 1 / abort) so that a report inside
# a Criterion worker process fails that test and therefore the run.

SAN_CC ?= clang
ASAN_BUILD ?= build/asan
TSAN_BUILD ?= build/tsan
VG_BUILD ?= build/valgrind
FUZZ_BUILD ?= build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_LONG_SECONDS ?= 1800
FUZZ_TARGETS := bce bce_logits ce

ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# halt_on_error + abort: a report kills the process with SIGABRT, which Criterion counts as a
# crash of that test; detect_leaks stays on (LeakSanitizer runs at each worker's exit).
ASAN_ENV := ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
            UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
            LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp

# LLVM's OpenMP runtime is not TSan-instrumented; the Archer tool (shipped with libomp-14-dev)
# annotates OpenMP's barriers, reductions and task synchronisation for TSan, and
# ignore_noninstrumented_modules stops TSan from reporting libomp's own internal accesses.
ARCHER_LIB ?= $(firstword $(wildcard /usr/lib/llvm-*/lib/libarcher.so))
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
TSAN_ENV := TSAN_OPTIONS=halt_on_error=1:exitcode=66:ignore_noninstrumented_modules=1:second_deadlock_stack=1 \
            OMP_TOOL_LIBRARIES=$(ARCHER_LIB) ARCHER_OPTIONS=verbose=0

VALGRIND ?= valgrind
# Under valgrind (~30x slower) the thread-count tests (large tensors, many threads), the golden
# fixtures and the >2^31-element test take most of the time and add no memory-error coverage the
# rest of the suite lacks; they run under ASan instead.
VG_FILTER ?= !(threads|golden|big)/*
VG_FLAGS := --tool=memcheck --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
            --show-leak-kinds=definite --track-origins=yes --suppressions=tests/valgrind.supp -q

.PHONY: test-asan test-tsan test-valgrind fuzz fuzz-smoke fuzz-build

test-asan:
	@command -v $(SAN_CC) >/dev/null || { echo "test-asan needs $(SAN_CC) (scripts/install-deps.sh --ci)"; exit 1; }
	EXTRA_CFLAGS="$(ASAN_FLAGS)" EXTRA_LDFLAGS="$(ASAN_FLAGS)" \
	  $(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CC=$(SAN_CC) OPT=-O1 \
	  $(ASAN_BUILD)/sl-test $(ASAN_BUILD)/sl-test-mini $(ASAN_BUILD)/sl-info
	@echo "== ASan+UBSan, Criterion suite"
	$(ASAN_ENV) scripts/run-tests.sh $(ASAN_BUILD)/sl-info "$(ISA)" $(ASAN_BUILD)/sl-test
	@echo "== ASan+UBSan, mini runner (one process, no fork)"
	$(ASAN_ENV) scripts/run-tests.sh $(ASAN_BUILD)/sl-info "$(ISA)" $(ASAN_BUILD)/sl-test-mini

TSAN_BIN := $(TSAN_BUILD)/tsan-threads
$(TSAN_BIN): tests/tsan/tsan_threads.c $(LIB_SRC) $(wildcard src/*.h src/*/*.h) include/sectionloss.h
	EXTRA_CFLAGS="$(TSAN_FLAGS)" EXTRA_LDFLAGS="$(TSAN_FLAGS)" \
	  $(MAKE) --no-print-directory BUILD=$(TSAN_BUILD) CC=$(SAN_CC) OPT=-O1 \
	  $(TSAN_BUILD)/libsectionloss.a $(TSAN_BUILD)/sl-info
	$(SAN_CC) -std=c11 -O1 -g -fopenmp $(TSAN_FLAGS) $(WARN) -Iinclude \
	  tests/tsan/tsan_threads.c $(TSAN_BUILD)/libsectionloss.a -o $@ -lpthread -lm

test-tsan: $(TSAN_BIN)
	@test -n "$(ARCHER_LIB)" || { echo "test-tsan needs libarcher.so (libomp-14-dev)"; exit 1; }
	$(TSAN_ENV) timeout 600 $(TSAN_BIN)
	$(TSAN_ENV) OMP_NUM_THREADS=3 OMP_MAX_ACTIVE_LEVELS=2 timeout 600 $(TSAN_BIN)

test-valgrind:
	@command -v $(VALGRIND) >/dev/null || { echo "test-valgrind needs valgrind (scripts/install-deps.sh --ci)"; exit 1; }
	$(MAKE) --no-print-directory BUILD=$(VG_BUILD) $(VG_BUILD)/sl-test-mini $(VG_BUILD)/sl-info
	SL_TEST_VALGRIND=1 scripts/run-tests.sh $(VG_BUILD)/sl-info "$(ISA)" \
	  timeout 1200 $(VALGRIND) $(VG_FLAGS) $(VG_BUILD)/sl-test-mini --filter '$(VG_FILTER)'

# ---- libFuzzer ----------------------------------------------------------------------------------
# The library is compiled with coverage instrumentation (fuzzer-no-link) and ASan + UBSan; each
# target links libFuzzer's main. tests/fuzz/corpus/<target>/ is the committed seed corpus; new
# inputs go to $(FUZZ_BUILD)/corpus/<target>/ (not committed), crashes to $(FUZZ_BUILD)/crash-*.
FUZZ_CFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
               -fno-omit-frame-pointer
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_ENV := ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1 \
            UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 OMP_NUM_THREADS=2

# (a phony step: the recursive make decides whether the library is up to date)
.PHONY: fuzz-lib
fuzz-lib:
	@EXTRA_CFLAGS="$(FUZZ_CFLAGS)" EXTRA_LDFLAGS="$(FUZZ_CFLAGS)" \
	  $(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(SAN_CC) OPT=-O1 \
	  $(FUZZ_BUILD)/libsectionloss.a

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h fuzz-lib
	$(SAN_CC) -std=c11 -O1 -g -fopenmp -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -fno-omit-frame-pointer $(WARN) -Iinclude $< $(FUZZ_BUILD)/libsectionloss.a -o $@ -lm

fuzz-build: $(FUZZ_BINS)

# run_fuzz SECONDS: every target in turn; prints its execution count; fails on the first finding.
define run_fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts/$$t; \
	  echo "== fuzz_$$t for $(1) s"; \
	  $(FUZZ_ENV) timeout $$(( $(1) + 120 )) $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(1) \
	    -max_len=4096 -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ \
	    $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t $$(ls -d tests/fuzz/regressions/$$t 2>/dev/null) \
	    2> $(FUZZ_BUILD)/fuzz_$$t.log \
	    || { tail -60 $(FUZZ_BUILD)/fuzz_$$t.log; echo "== fuzz_$$t FAILED (log: $(FUZZ_BUILD)/fuzz_$$t.log)"; exit 1; }; \
	  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' $(FUZZ_BUILD)/fuzz_$$t.log | sed "s/^/fuzz_$$t /"; \
	done
endef

fuzz-smoke: $(FUZZ_BINS)
	$(call run_fuzz,$(FUZZ_SECONDS))

fuzz: $(FUZZ_BINS)
	$(call run_fuzz,$(FUZZ_LONG_SECONDS))
