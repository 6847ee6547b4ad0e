#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The dependency graphs of src/ between modules (a module: a .c file and its .h, such as
src/section), and a check that neither has a circle:
  - includes: from `gcc -MM` of every source file (shown as its transitive reduction: the
    direct layering);
  - calls: from the built objects (`nm`): module a -> b when a's object uses a symbol b's
    object defines. A header that declares functions defined in another module (the way a
    call circle hides from the include graph) shows here.

    scripts/include-graph.py [--objects DIR]   the edges, then one line per graph on stderr
Exits 1, naming the modules of a circle, when there is one. `make include-graph` runs it (CI).
"""
import glob
import os
import subprocess
import sys

FLAGS = ["-MM", "-MG", "-std=c11", "-Iinclude", "-Isrc", "-DSL_BUILD_AVX2", "-DSL_BUILD_AVX512",
         "-DSL_BUILD_NEON"]


def module(path):
    path = os.path.normpath(path)
    if not path.startswith("src/"):
        return None  # the public header, system and ISA headers: not src/'s modules
    return path if path.endswith(".def") else os.path.splitext(path)[0]


def include_edges():
    edges, nodes = set(), set()
    files = sorted(glob.glob("src/**/*.c", recursive=True) + glob.glob("src/**/*.h", recursive=True))
    for f in files:
        m = module(f)
        nodes.add(m)
        extra = ["-DSL_NEON_SIMDE"] if "/neon/" in f else []  # NEON's headers as the x86 test build
        out = subprocess.run(["gcc", *FLAGS, *extra, f], check=True, capture_output=True,
                             text=True).stdout
        for d in out.replace("\\\n", " ").split()[1:]:
            n = module(d)
            if n and n != m:
                edges.add((m, n))
    return nodes, edges


def call_edges(objdir):
    defined, used = {}, {}
    for o in sorted(glob.glob(os.path.join(objdir, "**/*.o"), recursive=True)):
        m = module("src/" + os.path.relpath(o, objdir))
        nm = subprocess.run(["nm", o], check=True, capture_output=True, text=True).stdout
        for line in nm.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "U":
                used.setdefault(m, set()).add(parts[1])
            elif len(parts) == 3 and parts[1] in "TDRBCV":
                defined[parts[2]] = m
    edges = {(m, defined[s]) for m, syms in used.items() for s in syms
             if s in defined and defined[s] != m}
    return set(used) | set(defined.values()), edges


def circle(nodes, edges):
    graph = {m: sorted(b for a, b in edges if a == m) for m in nodes}
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in graph.get(m, []):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if not state.get(n):
                c = visit(n)
                if c:
                    return c
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(nodes):
        if not state.get(m):
            c = visit(m)
            if c:
                return c
    return None


def reduction(edges):
    """The edges not implied by a longer path (the graph is acyclic)."""
    succ = {}
    for a, b in edges:
        succ.setdefault(a, set()).add(b)

    def reach(a, skip):
        seen, todo = set(), [n for n in succ.get(a, ()) if n != skip]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(succ.get(n, ()))
        return seen

    return {(a, b) for a, b in edges if b not in reach(a, b)}


def main():
    objdir = sys.argv[sys.argv.index("--objects") + 1] if "--objects" in sys.argv else None
    status = 0
    graphs = [("includes", *include_edges())]
    if objdir:
        graphs.append(("calls", *call_edges(os.path.join(objdir))))
    for name, nodes, edges in graphs:
        c = circle(nodes, edges)
        print(f"# {name}" + (" (transitive reduction)" if not c else ""))
        for a, b in sorted(edges if c else reduction(edges)):
            print(f"{a} -> {b}")
        if c:
            print(f"include-graph: {name}: a circle: " + " -> ".join(c), file=sys.stderr)
            status = 1
        else:
            print(f"include-graph: {name}: {len(nodes)} modules, {len(edges)} edges, no circle",
                  file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
