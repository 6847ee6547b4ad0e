# SPDX-License-Identifier: MIT
# golden.mk - PyTorch golden cases and the demo's reference values.
#
#   make test-golden    only the golden suite (tests/test_golden.c: the library against PyTorch's
#                       stored loss and gradient), once per ISA this CPU can run (ISA=... for one)
#   make golden-regen   rewrites tests/golden/golden_cases.h with tests/gen_golden.py
#   make golden-check   regenerates into $(BUILD)/golden/ and fails if that differs from the
#                       committed fixture (it is reproducible)
#   make golden-focal-regen / golden-focal-check   the same for tests/golden/golden_focal.h
#                       (tests/gen_golden_focal.py: the focal losses and pixel-weighted CE;
#                       needs python3-torchvision too)
#   make golden-ce-prob-regen / golden-ce-prob-check   the same for tests/golden/golden_ce_prob.h
#                       (tests/gen_golden_ce_prob.py: CE with probability targets; needs a
#                       PyTorch with probability targets, 1.10 or later: TORCH_PYTHON=...)
#   make demo-values    examples/torch_values.py --check: PyTorch's values for the three examples,
#                       compared with the constants stored in examples/*.c
# The last three need PyTorch 1.13 (Debian's python3-torch, /usr/bin/python3); the suite and the
# demo do not.

TORCH_PYTHON ?= /usr/bin/python3

.PHONY: test-golden golden-regen golden-check golden-focal-regen golden-focal-check demo-values \
	golden-ce-prob-regen golden-ce-prob-check
test-golden: deps $(TEST_RUNNER) $(BUILD)/sl-info
	@RUN="$(RUN)" scripts/run-tests.sh "$(BUILD)/sl-info" "$(ISA)" $(TEST_RUNNER) --filter 'golden/*'

golden-regen:
	$(TORCH_PYTHON) tests/gen_golden.py

golden-check:
	@mkdir -p $(BUILD)/golden
	$(TORCH_PYTHON) tests/gen_golden.py $(BUILD)/golden/golden_cases.h
	cmp tests/golden/golden_cases.h $(BUILD)/golden/golden_cases.h

golden-focal-regen:
	$(TORCH_PYTHON) tests/gen_golden_focal.py

golden-focal-check:
	@mkdir -p $(BUILD)/golden
	$(TORCH_PYTHON) tests/gen_golden_focal.py $(BUILD)/golden/golden_focal.h
	cmp tests/golden/golden_focal.h $(BUILD)/golden/golden_focal.h

golden-ce-prob-regen:
	$(TORCH_PYTHON) tests/gen_golden_ce_prob.py

golden-ce-prob-check:
	@mkdir -p $(BUILD)/golden
	$(TORCH_PYTHON) tests/gen_golden_ce_prob.py $(BUILD)/golden/golden_ce_prob.h
	cmp tests/golden/golden_ce_prob.h $(BUILD)/golden/golden_ce_prob.h

demo-values:
	$(TORCH_PYTHON) examples/torch_values.py --check
