# SPDX-License-Identifier: MIT
# sectionloss - build, test, demo, install.
#
#   make               build/libsectionloss.a and build/libsectionloss.so
#   make demo          the article's three examples and a detection batch (focal loss in many
#                      boxes), with PyTorch's values beside ours
#   make test          the Criterion suite, once per ISA this CPU can run (ISA=avx2 for one)
#   make install PREFIX=/usr/local   (install-strip: the same, stripped; uninstall: removes it)
#   make abi-check     the binary interface against the committed baseline (mk/abi.mk)
#   make format        clang-format every source file
#   make WERROR=1 ...  warnings are errors (CI)
#   make CROSS=aarch64-linux-gnu- ...   cross-build into build-aarch64/ (tests run under qemu)
#   make NEON_SIMDE=1 test ISA=neon     NEON kernels on x86 through SIMDe, in build/simde/
#
# ISA flags go on the files of that ISA only (AVX2_FLAGS for src/avx2/*.c, AVX512_FLAGS for
# src/avx512/*.c, AVX512_BF16_FLAGS for src/avx512/kernels_bf16.c alone): baseline code never
# contains an instruction the CPU may lack. No LTO, no -ffast-math, no -march=native.
# Topic makefiles in mk/ (benchmarks, sanitizers, NEON/SIMDe, fuzzing, ...) are included at the end.

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

CROSS ?=
ifneq ($(CROSS),)
CC := $(CROSS)gcc
AR := $(CROSS)ar
endif
AR ?= ar
PREFIX ?= /usr/local

ARCH := $(firstword $(subst -, ,$(shell $(CC) -dumpmachine)))
NEON_SIMDE ?= 0
ifeq ($(CROSS),)
ifeq ($(NEON_SIMDE),1)
BUILD ?= build/simde
else
BUILD ?= build
endif
else
BUILD ?= build-$(ARCH)
endif

# Run a target binary: directly, or under qemu-user for a cross build.
ifeq ($(CROSS),)
RUN ?=
else
SYSROOT ?= /usr/$(patsubst %-,%,$(CROSS))
RUN ?= timeout 900 qemu-$(ARCH) -L $(SYSROOT)
endif

OPT ?= -O2
WERROR ?= 0
WARN := -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes -Wvla
ifeq ($(WERROR),1)
WARN += -Werror
endif
DEFS :=
CFLAGS_ALL = -std=c11 $(OPT) -g -fPIC -fopenmp -fvisibility=hidden $(WARN) $(DEFS) \
             -Iinclude -Isrc $(EXTRA_CFLAGS)
LDLIBS_ALL = -fopenmp -lm $(EXTRA_LDFLAGS)

# ---- sources -----------------------------------------------------------------------------------
SRC_CORE := $(wildcard src/*.c) $(wildcard src/scalar/*.c)
SRC_ISA :=
ifeq ($(ARCH),x86_64)
DEFS += -DSL_BUILD_AVX2 -DSL_BUILD_AVX512
SRC_ISA += $(wildcard src/avx2/*.c) $(wildcard src/avx512/*.c)
endif
ifeq ($(ARCH),aarch64)
DEFS += -DSL_BUILD_NEON
SRC_ISA += $(wildcard src/neon/*.c)
endif
# NEON_SIMDE=1: the NEON kernels compiled on x86 through SIMDe (simde/arm/neon.h), a test build
# in build/simde/ where SL_ISA_NEON is available and forceable like on ARM.
ifeq ($(NEON_SIMDE),1)
DEFS += -DSL_BUILD_NEON -DSL_NEON_SIMDE
SRC_ISA += $(wildcard src/neon/*.c)
endif
LIB_SRC := $(SRC_CORE) $(SRC_ISA)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)

# Per-ISA flags, on those files only.
AVX2_FLAGS := -mavx2 -mfma -mf16c
AVX512_FLAGS := -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c
# AVX512_BF16 (VCVTNEPS2BF16) on the one object of the AVX-512 kernels that round bfloat16 with
# it, which run only where CPUID reports it (src/avx512/kernels_bf16.c, dispatch.c)
AVX512_BF16_FLAGS := $(AVX512_FLAGS) -mavx512bf16
# KERNEL_EXTRA_CFLAGS: on the SIMD kernel objects only (the fuzz builds, mk/fuzz.mk)
$(BUILD)/obj/src/avx2/%.o: ISAFLAGS := $(AVX2_FLAGS) $(KERNEL_EXTRA_CFLAGS)
$(BUILD)/obj/src/avx512/%.o: ISAFLAGS := $(AVX512_FLAGS) $(KERNEL_EXTRA_CFLAGS)
$(BUILD)/obj/src/avx512/kernels_bf16.o: ISAFLAGS := $(AVX512_BF16_FLAGS) $(KERNEL_EXTRA_CFLAGS)
$(BUILD)/obj/src/neon/%.o: ISAFLAGS := $(KERNEL_EXTRA_CFLAGS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(ISAFLAGS) -MMD -MP -c $< -o $@

SL_MAJOR := $(shell sed -n 's/^\#define SL_VERSION_MAJOR \([0-9]*\)/\1/p' include/sectionloss.h)
SL_VERSION := $(SL_MAJOR).$(shell sed -n 's/^\#define SL_VERSION_MINOR \([0-9]*\)/\1/p' include/sectionloss.h).$(shell sed -n 's/^\#define SL_VERSION_PATCH \([0-9]*\)/\1/p' include/sectionloss.h)

# Shared library: the file libsectionloss.so.MAJOR.MINOR.PATCH (version from the header), soname
# libsectionloss.so.MAJOR, and the two symlinks beside it; sectionloss.map exports sl_* only.
LIB_A := $(BUILD)/libsectionloss.a
LIB_SO_FILE := $(BUILD)/libsectionloss.so.$(SL_VERSION)
LIB_SO_MAJOR := $(BUILD)/libsectionloss.so.$(SL_MAJOR)
LIB_SO := $(BUILD)/libsectionloss.so

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(LIB_SO_FILE): $(LIB_OBJ) sectionloss.map
	$(CC) -shared -Wl,-soname,libsectionloss.so.$(SL_MAJOR) -Wl,--version-script=sectionloss.map \
	  -o $@ $(LIB_OBJ) $(LDLIBS_ALL)
$(LIB_SO_MAJOR): $(LIB_SO_FILE)
	ln -sf $(notdir $<) $@
$(LIB_SO): $(LIB_SO_MAJOR)
	ln -sf $(notdir $<) $@

.PHONY: all lib
all: lib
lib: $(LIB_A) $(LIB_SO) $(BUILD)/sl-info

# ---- tools: sl-info prints the version and the ISAs this CPU can run ---------------------------
$(BUILD)/sl-info: $(BUILD)/obj/tools/sl_info.o $(LIB_A)
	$(CC) -o $@ $^ $(LDLIBS_ALL)

# ---- tests (Criterion) ---------------------------------------------------------------------
# Every tests/*.c file is one part of the suite; tests/mini/ holds a small Criterion-compatible
# runner used where Criterion cannot run (cross builds under qemu, valgrind).
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(BUILD)/sl-test
TEST_MINI_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj-mini/%.o) $(patsubst %.c,$(BUILD)/obj-mini/%.o,$(wildcard tests/mini/*.c))
TEST_MINI_BIN := $(BUILD)/sl-test-mini

$(BUILD)/obj-mini/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -DSL_TEST_MINI -Itests -MMD -MP -c $< -o $@

$(BUILD)/obj/tests/%.o: EXTRA_CFLAGS += -Itests

$(TEST_BIN): $(TEST_OBJ) $(LIB_A)
	$(CC) -o $@ $^ -lcriterion $(LDLIBS_ALL)

$(TEST_MINI_BIN): $(TEST_MINI_OBJ) $(LIB_A)
	$(CC) -o $@ $^ -lpthread $(LDLIBS_ALL)

# ISA= runs one forced ISA; otherwise every ISA this CPU can run, one full run each.
ISA ?=
ifeq ($(CROSS),)
TEST_RUNNER := $(TEST_BIN)
else
TEST_RUNNER := $(TEST_MINI_BIN)
endif

.PHONY: test test-mini deps
test: deps $(TEST_RUNNER) $(BUILD)/sl-info
	@RUN="$(RUN)" scripts/run-tests.sh "$(BUILD)/sl-info" "$(ISA)" $(TEST_RUNNER)

test-mini: $(TEST_MINI_BIN) $(BUILD)/sl-info
	@RUN="$(RUN)" scripts/run-tests.sh "$(BUILD)/sl-info" "$(ISA)" $(TEST_MINI_BIN)

# Installs missing Debian packages (compiler, Criterion, SIMDe); a no-op when all are present.
# Everything that includes their headers waits for it (order-only), so `make -j test` on a fresh
# machine installs before it compiles.
$(TEST_OBJ) $(TEST_MINI_OBJ) $(filter $(BUILD)/obj/src/neon/%,$(LIB_OBJ)): | deps
deps:
ifeq ($(CROSS),)
	@scripts/install-deps.sh
else
	@scripts/install-deps.sh --cross
endif

# ---- demo: the article's three examples and a detection batch -----------------------------------------------------
EXAMPLE_SRC := $(wildcard examples/*.c)
EXAMPLE_BIN := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)

$(BUILD)/examples/%: $(BUILD)/obj/examples/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDLIBS_ALL)

.PHONY: demo examples
examples: $(EXAMPLE_BIN)
demo: deps $(EXAMPLE_BIN)
	@set -e; for e in $(EXAMPLE_BIN); do $(BENCH_ENV) $(RUN) $$e; done

# ---- install ----------------------------------------------------------------------------------
# DESTDIR (staging), PREFIX, LIBDIR, INCLUDEDIR and BINDIR are honoured; the CMake package and the
# pkg-config file are in mk/package.mk. `make uninstall` (same variables) removes exactly the
# files `make install` writes (INSTALLED_FILES); install-strip installs, then strips the debug
# information from the libraries and sl-info.
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
STRIP ?= $(CROSS)strip
INSTALLED_LIBS := $(LIBDIR)/libsectionloss.a $(LIBDIR)/libsectionloss.so.$(SL_VERSION) \
  $(LIBDIR)/libsectionloss.so.$(SL_MAJOR) $(LIBDIR)/libsectionloss.so
INSTALLED_FILES = $(INCLUDEDIR)/sectionloss.h $(INSTALLED_LIBS) $(BINDIR)/sl-info $(PACKAGE_FILES)
.PHONY: install install-strip uninstall
install: lib install-pkgconfig install-cmake
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR)
	install -m 644 include/sectionloss.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO_FILE) $(DESTDIR)$(LIBDIR)/
	ln -sf libsectionloss.so.$(SL_VERSION) $(DESTDIR)$(LIBDIR)/libsectionloss.so.$(SL_MAJOR)
	ln -sf libsectionloss.so.$(SL_MAJOR) $(DESTDIR)$(LIBDIR)/libsectionloss.so
	install -m 755 $(BUILD)/sl-info $(DESTDIR)$(BINDIR)/

install-strip: install
	$(STRIP) --strip-unneeded $(DESTDIR)$(LIBDIR)/libsectionloss.so.$(SL_VERSION)
	$(STRIP) --strip-debug $(DESTDIR)$(LIBDIR)/libsectionloss.a
	$(STRIP) $(DESTDIR)$(BINDIR)/sl-info

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED_FILES))
	-rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null

# ---- housekeeping -----------------------------------------------------------------------------
FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
.PHONY: format format-check clean
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)
clean:
	rm -rf build build-*

-include $(wildcard mk/*.mk)
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
