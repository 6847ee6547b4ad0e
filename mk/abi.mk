# SPDX-License-Identifier: MIT
# abi.mk - the binary interface of libsectionloss.so.MAJOR (sectionloss.h, "Binary compatibility").
#
#   make abi-check            the exported functions are exactly the header's SL_API ones, each
#                             with a SECTIONLOSS_MAJOR.x symbol version; then libabigail's abidiff
#                             of build/libsectionloss.so against the committed baseline
#                             abi/libsectionloss.so.MAJOR.abi, over the public header's types:
#                             any change fails but an added function (that one is checked by the
#                             version script and the export list)
#   make abi-baseline         rewrites the baseline: only in the commit of a compatible change
#                             made on purpose (a field appended to sl_options / sl_region, a new
#                             status code), where the baseline's diff shows it to the reviewer;
#                             never to silence abi-check. (A libabigail suppression for "member
#                             inserted at end" was tried: abidiff 2.2 then also hides every
#                             change reached through sl_options, a grown sl_stats included.)
#   make test-abi-old-header  tests/abi/old_header.c, built against the previous 1.x header
#                             (tests/abi/sectionloss-1.0.h), run against the current shared
#                             library under ASan + UBSan (both built by clang in the ASan build
#                             directory, build/asan)
# abidw / abidiff come from Debian's abigail-tools (scripts/install-deps.sh --abi).

ABI_BASELINE := abi/libsectionloss.so.$(SL_MAJOR).abi
ABIDW_FLAGS := --headers-dir include --drop-private-types --no-corpus-path --no-comp-dir-path

.PHONY: abi-check abi-baseline test-abi-old-header abi-deps
abi-deps:
	@scripts/install-deps.sh --abi

abi-check: abi-deps $(LIB_SO)
	scripts/abi-exports.sh include/sectionloss.h $(LIB_SO_FILE) $(SL_MAJOR)
	abidiff --headers-dir2 include --drop-private-types \
	  --no-added-syms $(ABI_BASELINE) $(LIB_SO_FILE) \
	  || { echo "abi-check: $(LIB_SO_FILE) differs from $(ABI_BASELINE) (abidiff exit $$?)"; exit 1; }
	@echo "abi-check: $(LIB_SO_FILE) keeps the ABI of $(ABI_BASELINE)"

abi-baseline: abi-deps $(LIB_SO)
	abidw $(ABIDW_FLAGS) --out-file $(ABI_BASELINE) $(LIB_SO_FILE)

# The ASan build's variables (ASAN_BUILD, ...) are sanitize.mk's, included after this file: they
# appear in recipes only. The program is relinked every time (one small file).
test-abi-old-header: abi-deps
	EXTRA_CFLAGS="$(ASAN_FLAGS)" EXTRA_LDFLAGS="$(ASAN_FLAGS)" \
	  $(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) CC=$(SAN_CC) OPT=-O1 \
	  $(ASAN_BUILD)/libsectionloss.so
	$(SAN_CC) -std=c11 -O1 -g $(ASAN_FLAGS) $(WARN) -Itests/abi tests/abi/old_header.c \
	  -L$(ASAN_BUILD) -Wl,-rpath,$(abspath $(ASAN_BUILD)) -lsectionloss -lm \
	  -o $(ASAN_BUILD)/abi-old-header
	$(ASAN_ENV) timeout 120 $(ASAN_BUILD)/abi-old-header
