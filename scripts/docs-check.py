#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""docs-check - the documentation names only things that exist (make docs-check, .ci/run).

In README.md, CHANGELOG.md and docs/*.md, outside fenced code blocks:
- every file path written in backticks exists: a span without spaces that has a file extension
  (`src/api.c`, `docs/accuracy.md`) or whose first component is a top-level entry of the
  repository (`tests/fuzz/regressions/`) names a file or directory relative to the repository,
  or the end of a tracked path (`generic/ce.h`, `sectionloss.h`). Paths under build/ (outputs),
  absolute paths and spans with placeholders (<isa>, *, $, {, X.Y.Z) are not checked;
- every sl_ symbol written in backticks (`sl_ce`, `sl_options_init(&o, sizeof o)`) occurs as a
  word in include/ or src/; a name followed by * or <...> (`sl_v*`, `sl_ce__<isa>`) is a family:
  some word in include/ or src/ must start with it;
- every relative Markdown link target exists, relative to the linking file.
Prints each missing name with its file and line and exits 1 if there is any.
"""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
EXTS = {"c", "h", "cpp", "py", "sh", "mk", "md", "txt", "in", "map", "toml", "abi", "supp", "gp",
        "png", "cmake", "json", "csv"}
PLACEHOLDER = re.compile(r"[<>*${}]|X\.Y\.Z|\.\.\.")
SYMBOL = re.compile(r"\bsl_[A-Za-z0-9_]*[A-Za-z0-9]")


def doc_files():
    files = [f for f in ("README.md", "CHANGELOG.md") if os.path.exists(os.path.join(ROOT, f))]
    docs = os.path.join(ROOT, "docs")
    files += sorted("docs/" + f for f in os.listdir(docs) if f.endswith(".md"))
    return files


def code_words():
    words = set()
    for top in ("include", "src"):
        for d, _, names in os.walk(os.path.join(ROOT, top)):
            for n in names:
                with open(os.path.join(d, n), errors="replace") as f:
                    words.update(re.findall(r"\bsl_[A-Za-z0-9_]*", f.read()))
    return words


def spans(path):
    """(line number, backtick span, text of the line) outside fenced code blocks."""
    fenced = False
    with open(os.path.join(ROOT, path)) as f:
        for no, line in enumerate(f, 1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            if fenced:
                continue
            for m in re.finditer(r"(`+)(.+?)\1", line):
                yield no, m.group(2).strip(), line
            for m in re.finditer(r"\]\(([^)\s]+)\)", line):
                yield no, "link:" + m.group(1), line


def is_path(span, tops):
    if " " in span or span.startswith(("/", "build/", "-")) or PLACEHOLDER.search(span):
        return False
    if not re.fullmatch(r"[A-Za-z0-9_.+/-]+", span):
        return False
    first = span.split("/")[0]
    ext = span.rsplit(".", 1)[-1] if "." in span.split("/")[-1] else ""
    return ("/" in span and first in tops) or ext in EXTS


def tracked_paths():
    """Every file of the work tree (outside .git and build/) and every directory holding one."""
    paths = set()
    for d, dirs, names in os.walk(ROOT):
        dirs[:] = [x for x in dirs if x not in (".git", "build") and not x.startswith("build-")]
        rel = os.path.relpath(d, ROOT)
        if rel != ".":
            paths.add(rel)
        paths.update(os.path.normpath(os.path.join(rel, n)) for n in names)
    return paths


def path_exists(span, paths):
    p = os.path.normpath(span)
    return p in paths or any(q.endswith("/" + p) for q in paths)


def main():
    # build outputs (build/, build-<arch>/ of cross builds) are not paths of the repository
    tops = {x for x in os.listdir(ROOT) if x not in (".git", "build") and not x.startswith("build-")}
    paths = tracked_paths()
    words = code_words()
    bad = []
    for doc in doc_files():
        for no, span, line in spans(doc):
            where = "%s:%d" % (doc, no)
            if span.startswith("link:"):
                target = span[5:].split("#")[0]
                if target and not re.match(r"[a-z]+:", target):
                    full = os.path.normpath(os.path.join(ROOT, os.path.dirname(doc), target))
                    if not os.path.exists(full):
                        bad.append("%s: link target %s does not exist" % (where, target))
                continue
            if is_path(span, tops):
                if not path_exists(span, paths):
                    bad.append("%s: path `%s` does not exist" % (where, span))
                continue
            for m in SYMBOL.finditer(span):
                name, rest = m.group(0), span[m.end():]
                family = rest.startswith(("*", "<", "_<", "__<"))
                if family:
                    ok = any(w.startswith(name) for w in words)
                else:
                    ok = name in words
                if not ok:
                    bad.append("%s: symbol `%s` is not in include/ or src/" % (where, name))
    for b in bad:
        print("docs-check: " + b)
    if bad:
        print("docs-check: %d name(s) in the documentation do not exist" % len(bad), file=sys.stderr)
        return 1
    print("docs-check: %d documentation file(s), every path and sl_ symbol in backticks exists"
          % len(doc_files()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
