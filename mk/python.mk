# SPDX-License-Identifier: MIT
# python.mk - the Python package (pyproject.toml, python/): build, install in a fresh virtual
# environment, pytest.
#
#   make test-python               a fresh venv in $(PY_VENV), PyTorch 2.x installed there with
#                                  pip (unless already there), `pip install .`, then pytest
#                                  python/tests (torch.compile, DDP and the rest)
#   make test-python PY_SYSTEM=1   the same against Debian's python3-torch / numpy / pytest (a
#                                  venv with --system-site-packages; custom ops only where the
#                                  PyTorch version has torch.library.custom_op)
#   make python-wheel              the wheel alone, into $(BUILD)/python-wheel/
#   make python-fuzz               after test-python: atheris (pip, into $(PY_VENV)) runs
#                                  python/fuzz/fuzz_losses.py for PY_FUZZ_SECONDS (default 60),
#                                  corpus and findings under $(BUILD)/python-fuzz/
#
# The wheel's C library is built by this Makefile (python/sectionloss_build.py runs
# `make BUILD=build build/libsectionloss.so.X.Y.Z`, reusing what the C build made).

PY_SYSTEM ?= 0
PYTHON ?= /usr/bin/python3
PY_TORCH ?= torch>=2.4,<3
ifeq ($(PY_SYSTEM),1)
PY_VENV ?= $(BUILD)/venv-system
PY_VENV_FLAGS := --system-site-packages
PY_DEPS_CMD := scripts/install-deps.sh --python-system
else
PY_VENV ?= $(BUILD)/venv
PY_VENV_FLAGS :=
PY_DEPS_CMD := scripts/install-deps.sh --python
endif
PYTEST_ARGS ?=

PY_FUZZ_SECONDS ?= 60
PY_ATHERIS ?= atheris>=3,<4

.PHONY: test-python python-venv python-wheel python-fuzz
python-venv:
	@$(PY_DEPS_CMD)
	@test -x $(PY_VENV)/bin/python || $(PYTHON) -m venv $(PY_VENV_FLAGS) $(PY_VENV)
ifneq ($(PY_SYSTEM),1)
	@$(PY_VENV)/bin/python -c 'import torch' 2>/dev/null || \
	  { echo "== installing $(PY_TORCH), numpy, pytest into $(PY_VENV)"; \
	    $(PY_VENV)/bin/pip install -q --no-compile "$(PY_TORCH)" numpy pytest; }
endif

test-python: python-venv
	$(PY_VENV)/bin/pip install -q --no-deps --force-reinstall .
	@$(PY_VENV)/bin/python -c 'import torch, sectionloss; print("== PyTorch", torch.__version__, "| sectionloss", sectionloss.__version__, sectionloss.isa())'
	@# a private Inductor cache: /tmp/torchinductor_<user> is shared with every other PyTorch on the
	@# machine, and a kernel another build compiled there can fail to load (undefined Sleef symbols)
	@cd python/tests && TORCHINDUCTOR_CACHE_DIR=$(abspath $(BUILD))/torchinductor \
	  $(abspath $(PY_VENV))/bin/python -m pytest -p no:cacheprovider -q \
	  $(PYTEST_ARGS) || { rc=$$?; [ $$rc -ne 5 ] || echo "test-python: pytest ran no test"; \
	  exit $$rc; }

python-wheel:
	@mkdir -p $(BUILD)/python-wheel
	$(PYTHON) -m pip wheel --no-deps -w $(BUILD)/python-wheel .

# A finding stops libFuzzer with an error and its input in $(BUILD)/python-fuzz/ (crash-*);
# `timeout` bounds the run should a case hang (libFuzzer's own -timeout reports it first). Its
# margin covers atheris instrumenting PyTorch before the fuzzing clock starts: 2.5 min on a
# loaded 2-core machine (a 120 s margin cut a 600 s campaign short at 587 s).
python-fuzz:
	@$(PY_VENV)/bin/python -c 'import sectionloss' || { echo "python-fuzz: run make test-python first"; exit 1; }
	@$(PY_VENV)/bin/python -c 'import atheris' 2>/dev/null || \
	  $(PY_VENV)/bin/pip install -q "$(PY_ATHERIS)"
	@mkdir -p $(BUILD)/python-fuzz/corpus
	cd $(BUILD)/python-fuzz && timeout $$(( $(PY_FUZZ_SECONDS) + 300 )) \
	  $(abspath $(PY_VENV))/bin/python $(CURDIR)/python/fuzz/fuzz_losses.py corpus \
	  -max_total_time=$(PY_FUZZ_SECONDS) -max_len=256 -timeout=30 -rss_limit_mb=4096 \
	  -print_final_stats=1
