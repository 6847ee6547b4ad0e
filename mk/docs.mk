# SPDX-License-Identifier: MIT
# docs.mk - checks of the documentation and the licence lines (no build needed).
#
#   make docs-check    every file path and sl_ symbol in backticks in README.md, CHANGELOG.md and
#                      docs/*.md exists, every relative Markdown link resolves
#                      (scripts/docs-check.py), and the README's C example compiles as C11 and
#                      C++17 (scripts/readme-example.sh)
#   make include-graph the module graphs of src/ (includes from gcc -MM, calls from the built
#                      objects' symbols) have no circle (scripts/include-graph.py; builds lib)
#   make spdx-check    every source file carries the SPDX licence line (scripts/spdx.sh --check;
#                      scripts/spdx.sh --fix adds it)

.PHONY: docs-check spdx-check include-graph
docs-check:
	python3 scripts/docs-check.py
	scripts/readme-example.sh

spdx-check:
	scripts/spdx.sh --check

include-graph: lib
	python3 scripts/include-graph.py --objects $(BUILD)/obj/src
