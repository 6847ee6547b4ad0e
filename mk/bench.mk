# SPDX-License-Identifier: MIT
# bench.mk - benchmarks: build/sl-bench, per-ISA x thread-count runs, hyperfine, PyTorch, plots.
#
#   make bench         sl-bench for every available ISA x 1 and 2 threads (tables on stdout, CSV
#                      in $(BUILD)/bench/), then hyperfine over the single-case mode
#                      (docs/hyperfine.md). About 15-30 minutes on 2 cores.
#   make bench-smoke   a few-second run for CI: builds sl-bench, runs --quick in every output
#                      format and the single-case mode (no timings worth reading)
#   make bench-torch   bench/torch_compare.py: PyTorch vs sectionloss, same data, 1 and 2 threads
#   make bench-torch-smoke   the same on small cases, 2 calls each: checks the losses agree (CI)
#   make bench-side    side by side (bench/torch_compare.py --side) in build/venv
#                      (PyTorch 2.x from PyPI, the package installed there, jemalloc): per big
#                      fused case and section mask, rand50, whole, at 1 and 2 threads: sl-bench
#                      in-process, the Python package, PyTorch eager and torch.compile, both
#                      allocators, 3 alternated rounds, ratios sectionloss / torch.compile.
#                      BENCH_SIDE_THREADS (default 1,2), BENCH_SIDE_ARGS (e.g. --rounds 5,
#                      --sections mask,rand50,blobs,whole). An hour or more on 2 shared cores.
#   make bench-issue13 / bench-torch-issue13   the focal / Dice / many-box cases (focal, Dice; many boxes per
#                      image, pixel weights), fused, sl-bench alone / against PyTorch
#   make bench-report  markdown tables + target verdicts from the CSV files of the runs above
#   make plots         docs/throughput.png: throughput against tensor size, per ISA and PyTorch
#
# BENCH_THREADS, BENCH_MIN_TIME and BENCH_ARGS tune the runs. A cross build (CROSS=...) runs under
# qemu with SL_BENCH_EMULATED=1, so sl-bench (and the demo, Makefile) says its timings mean nothing.

BENCH_BIN := $(BUILD)/sl-bench
BENCH_OUT := $(BUILD)/bench
BENCH_THREADS ?= 1 2
BENCH_MIN_TIME ?= 0.2
BENCH_ARGS ?=
TORCH_PYTHON ?= /usr/bin/python3
ifeq ($(CROSS),)
BENCH_ENV :=
else
BENCH_ENV := SL_BENCH_EMULATED=1
endif

# The pattern floor (bench/pattern_*.c: the kernels without their vector math, src/generic/
# table.h), x86-64 only, with that ISA's flags; sl-bench times it beside each kernel (xpattern).
BENCH_PATTERN_OBJ :=
ifeq ($(ARCH),x86_64)
BENCH_PATTERN_OBJ := $(BUILD)/obj/bench/pattern_avx2.o $(BUILD)/obj/bench/pattern_avx512.o
$(BUILD)/obj/bench/sl_bench.o: EXTRA_CFLAGS += -DSL_BENCH_PATTERN
endif
$(BUILD)/obj/bench/pattern_avx2.o: ISAFLAGS := $(AVX2_FLAGS)
$(BUILD)/obj/bench/pattern_avx512.o: ISAFLAGS := $(AVX512_FLAGS)

$(BENCH_BIN): $(BUILD)/obj/bench/sl_bench.o $(BENCH_PATTERN_OBJ) $(LIB_A)
	$(CC) -o $@ $^ $(LDLIBS_ALL)

# The focal / Dice cases (focal, Dice / Tversky; many boxes per image, pixel weights): make bench-issue13.
# (sigmoid_focal needs the library 0.3 or later; skipped with a note before)
BENCH_ISSUE13_CASES ?= bce-16x1x512x512,ce-8x21x512x512,ce-1x19x1024x2048
BENCH_ISSUE13_ENTRIES ?= bce_logits,sigmoid_focal,dice,dice_logits,ce,softmax_focal,dice_mc
BENCH_ISSUE13_SECTIONS ?= mask,maskpw,dets

# Cases hyperfine compares across ISAs and thread counts (whole-process time: setup included;
# the --reps 0 run measures the setup alone).
BENCH_HF_CASES ?= ce-8x21x512x512 bce-16x1x512x512
BENCH_HF_REPS ?= 10

BENCH_SIDE_THREADS ?= 1,2
BENCH_SIDE_ARGS ?=

.PHONY: bench bench-build bench-deps bench-smoke bench-torch bench-torch-smoke bench-report plots \
  bench-issue13 bench-torch-issue13 bench-side
bench-build: $(BENCH_BIN) $(BUILD)/sl-info

# hyperfine, gnuplot-nox, python3-torch (a no-op when present).
bench-deps:
	@scripts/install-deps.sh --bench

bench: bench-deps $(BENCH_BIN) $(BUILD)/sl-info
	@mkdir -p $(BENCH_OUT) docs
	@set -e; for isa in $$($(RUN) $(BUILD)/sl-info --available); do \
	  for t in $(BENCH_THREADS); do \
	    echo "== SECTIONLOSS_ISA=$$isa OMP_NUM_THREADS=$$t sl-bench"; \
	    SECTIONLOSS_ISA=$$isa OMP_NUM_THREADS=$$t $(BENCH_ENV) $(RUN) $(BENCH_BIN) --min-time $(BENCH_MIN_TIME) \
	      --csv-out $(BENCH_OUT)/sl-bench-$$isa-t$$t.csv $(BENCH_ARGS); \
	  done; \
	done
	@cat $(BENCH_OUT)/sl-bench-*-t*.csv | grep -v '^#' | awk 'NR == 1 || !/^impl,/' \
	  > $(BENCH_OUT)/sl-bench-all.csv
	@echo "== all results: $(BENCH_OUT)/sl-bench-all.csv"
ifeq ($(CROSS),)
	@set -e; isas=$$($(BUILD)/sl-info --available | paste -sd, -); rm -f docs/hyperfine.md; \
	for c in $(BENCH_HF_CASES); do \
	  echo "== hyperfine: $$c, masked, fused, $(BENCH_HF_REPS) calls per run"; \
	  hyperfine -N --style basic --warmup 1 --min-runs 5 \
	    --parameter-list isa $$isas --parameter-list t 1,2 \
	    --export-markdown $(BENCH_OUT)/hf.md \
	    "$(BENCH_BIN) --case $$c --section mask --mode fused --isa {isa} --threads {t} --reps 0" \
	    "$(BENCH_BIN) --case $$c --section mask --mode fused --isa {isa} --threads {t} --reps $(BENCH_HF_REPS)"; \
	  { echo "### $$c, masked, fused forward+backward, $(BENCH_HF_REPS) calls per process"; \
	    echo; echo "\`--reps 0\` rows: data generation and setup only."; echo; \
	    cat $(BENCH_OUT)/hf.md; echo; } >> docs/hyperfine.md; \
	done; echo "== hyperfine tables: docs/hyperfine.md"
endif

bench-smoke: $(BENCH_BIN) $(BUILD)/sl-info
	@set -e; for isa in $$($(RUN) $(BUILD)/sl-info --available); do \
	  echo "== sl-bench --quick --isa $$isa"; \
	  $(BENCH_ENV) $(RUN) $(BENCH_BIN) --quick --isa $$isa --threads 2; \
	done
	@$(BENCH_ENV) $(RUN) $(BENCH_BIN) --quick --threads 1 --csv > /dev/null
	@$(BENCH_ENV) $(RUN) $(BENCH_BIN) --quick --threads 1 --json --case ce-2x3x16x24 > /dev/null
	@$(BENCH_ENV) $(RUN) $(BENCH_BIN) --case bce-4x1x64x64 --section mask --mode fused
	@$(BENCH_ENV) $(RUN) $(BENCH_BIN) --case ce-4x4x64x64 --section boxes --mode bwd --reps 3
	@$(BENCH_ENV) $(RUN) $(BENCH_BIN) --quick --threads 1 --case ce-2x3x16x24,bce-2x1x16x24 \
	  --entry $(BENCH_ISSUE13_ENTRIES) --section mask,maskpw,dets,rand50,blobs --mode fused > /dev/null
	@echo "== bench-smoke: OK"

# A few seconds: PyTorch and sectionloss agree on the loss (relative 1e-5) on the small cases,
# every section and entry point; fails on a mismatch. Needs python3-torch (install-deps --bench).
bench-torch-smoke: $(BENCH_BIN)
	$(TORCH_PYTHON) bench/torch_compare.py --quick --bench $(BENCH_BIN) --threads 1 \
	  --cases bce-4x1x64x64,ce-4x4x64x64,ce-2x5x40x33 --sections whole,box,mask,rand50,blobs
	$(TORCH_PYTHON) bench/torch_compare.py --quick --bench $(BENCH_BIN) --threads 1 \
	  --cases bce-2x1x40x48,ce-2x5x40x33 --entries $(BENCH_ISSUE13_ENTRIES) \
	  --sections box,mask,maskpw,dets,rand50,blobs --no-compile --no-python
	$(TORCH_PYTHON) bench/torch_compare.py --quick --side --rounds 2 --bench $(BENCH_BIN) \
	  --threads 1 --cases bce-2x1x40x48:bce+bce_logits,ce-2x5x40x33:ce+softmax_focal

# The side by side runs in build/venv (PyTorch 2.x: torch.compile) with this tree's package.
bench-side: python-venv $(BENCH_BIN)
	@scripts/install-deps.sh --jemalloc
	$(PY_VENV)/bin/pip install -q --no-deps --force-reinstall .
	@mkdir -p $(BENCH_OUT)
	$(PY_VENV)/bin/python bench/torch_compare.py --side --bench $(BENCH_BIN) \
	  --threads $(BENCH_SIDE_THREADS) --csv $(BENCH_OUT)/torch-side.csv $(BENCH_SIDE_ARGS)

bench-torch: bench-deps $(BENCH_BIN)
	$(TORCH_PYTHON) bench/torch_compare.py --bench $(BENCH_BIN) --threads 1,2 \
	  --csv $(BENCH_OUT)/torch-compare.csv

# The focal / Dice cases, fused forward+backward, per thread count: focal rows carry their ratio to
# ce / bce_logits timed in alternation (vs base), every row xroof (Dice's target: <= 2).
# CSV in $(BUILD)/bench/issue13-t*.csv (not read by bench-report: bench/rounds.py FILES).
bench-issue13: $(BENCH_BIN)
	@mkdir -p $(BENCH_OUT)
	@set -e; for t in $(BENCH_THREADS); do \
	  echo "== sl-bench focal / Dice cases, $$t thread(s)"; \
	  OMP_NUM_THREADS=$$t $(BENCH_ENV) $(RUN) $(BENCH_BIN) --threads $$t --min-time $(BENCH_MIN_TIME) \
	    --case $(BENCH_ISSUE13_CASES) --entry $(BENCH_ISSUE13_ENTRIES) \
	    --section $(BENCH_ISSUE13_SECTIONS) --mode fused \
	    --csv-out $(BENCH_OUT)/issue13-t$$t.csv $(BENCH_ARGS); \
	done

# The same cases against PyTorch's forms (eager, default allocator and jemalloc retain).
bench-torch-issue13: bench-deps $(BENCH_BIN)
	$(TORCH_PYTHON) bench/torch_compare.py --bench $(BENCH_BIN) --threads 1,2 --modes fused \
	  --cases $(BENCH_ISSUE13_CASES) --entries $(BENCH_ISSUE13_ENTRIES) \
	  --sections $(BENCH_ISSUE13_SECTIONS) --csv $(BENCH_OUT)/torch-compare-issue13.csv

# Sizes for the plot: a sweep of masked BCE and masked CE tensors.
PLOT_BCE ?= bce-1x1x64x64,bce-4x1x64x64,bce-4x1x256x256,bce-4x1x512x512,bce-16x1x512x512,bce-64x1x512x512
PLOT_CE ?= ce-1x21x64x64,ce-1x21x256x256,ce-2x21x512x512,ce-8x21x512x512
plots: bench-deps $(BENCH_BIN) $(BUILD)/sl-info
	@mkdir -p $(BENCH_OUT) docs
	@set -e; out=$(BENCH_OUT)/plot.csv; : > $$out; \
	for isa in $$($(BUILD)/sl-info --available); do for t in $(BENCH_THREADS); do \
	  echo "== plot data: sl-bench --isa $$isa --threads $$t"; \
	  $(BENCH_BIN) --isa $$isa --threads $$t --min-time $(BENCH_MIN_TIME) --csv --mode fused \
	    --section mask --entry bce,ce --case $(PLOT_BCE),$(PLOT_CE) | grep -v '^#' >> $$out; \
	done; done; \
	echo "== plot data: PyTorch"; \
	$(TORCH_PYTHON) bench/torch_compare.py --bench $(BENCH_BIN) --threads $$(echo $(BENCH_THREADS) | tr ' ' ,) \
	  --cases $(PLOT_BCE),$(PLOT_CE) --sections mask --entries bce,ce --no-lib \
	  --csv $(BENCH_OUT)/plot-torch.csv; \
	grep -v '^#' $(BENCH_OUT)/plot-torch.csv >> $$out; \
	grep -v '^impl,' $$out | sort -t, -k1,1 -k2,2 -k3,3n -k5,5 -k6,6 -k7,7 -k12,12n > $$out.sorted; \
	mv $$out.sorted $$out; \
	series="$$($(BUILD)/sl-info --available | paste -sd' ' -) torch"; \
	gnuplot -e "datafile='$$out'; outfile='docs/throughput.png'; series='$$series'; threads='$(BENCH_THREADS)'" \
	  bench/throughput.gp; \
	echo "== docs/throughput.png"

# Markdown tables and target verdicts from the last `make bench` (and `make bench-torch`).
bench-report:
	@/usr/bin/python3 bench/report.py $(if $(wildcard $(BENCH_OUT)/torch-compare.csv),--torch $(BENCH_OUT)/torch-compare.csv) \
	  $(if $(wildcard $(BENCH_OUT)/torch-side.csv),--side $(BENCH_OUT)/torch-side.csv) \
	  $(wildcard $(BENCH_OUT)/sl-bench-*-t*.csv) | tee $(BENCH_OUT)/report.md

# Subnormal inputs vs ordinary ones, per available ISA: prints the time ratios.
$(BUILD)/sl-subnormal: $(BUILD)/obj/bench/sl_subnormal.o $(LIB_A)
	$(CC) -o $@ $^ $(LDLIBS_ALL)

.PHONY: perf-subnormal
perf-subnormal: $(BUILD)/sl-subnormal $(BUILD)/sl-info
	@for isa in $$($(RUN) $(BUILD)/sl-info --available); do \
	  SECTIONLOSS_ISA=$$isa $(RUN) $(BUILD)/sl-subnormal || exit 1; done
