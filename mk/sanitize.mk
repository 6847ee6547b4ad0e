# SPDX-License-Identifier: MIT
# mk/sanitize.mk - sanitizers, valgrind, fuzzing and the subnormal benchmark.
#
#   make test-asan        the whole suite (tests/*.c, Criterion) built with clang
#                         -fsanitize=address,undefined -fno-sanitize-recover=all in build/asan/,
#                         once per ISA this CPU can run; then the mini runner (no fork) likewise
#   make test-tsan        ThreadSanitizer over tests/tsan/tsan_threads.c (clang + LLVM libomp with
#                         the Archer OMPT tool, which tells TSan about OpenMP's synchronisation)
#   make test-valgrind    valgrind memcheck over the mini runner (gcc build in build/valgrind/),
#                         once per ISA, --error-exitcode=1 --leak-check=full
# Fuzzing (make fuzz-smoke, fuzz, fuzz-campaign, fuzz-coverage): mk/fuzz.mk.
#
# Every sanitizer build lives in its own BUILD directory (a recursive make of the main Makefile
# with CC=clang and extra flags), so the normal build/ is never rebuilt with odd flags.
# Sanitizer runtime options make every report fatal (exit code 1 / abort) so that a report inside
# a Criterion worker process fails that test and therefore the run.

SAN_CC ?= clang
ASAN_BUILD ?= build/asan
TSAN_BUILD ?= build/tsan
VG_BUILD ?= build/valgrind

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

.PHONY: test-asan test-tsan test-valgrind

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
