#!/usr/bin/env python3
"""Check that dirtyscope's libraries form the layered DAG of docs/architecture.md.

Two views of the same rule, both checked:
  * the link graph, as CMake itself reports it (cmake --graphviz on a fresh
    configure of the source tree): every ds_* library links only libraries
    allowed below it, and the graph has no cycle;
  * the source: every #include "dir/..." in a folder names a folder whose
    library that folder's library may use, so a header-only use (which the
    linker never sees) cannot run back up either; benches and examples use
    tests/lib/ but no test's own header.

Usage: check_layers.py SOURCE_DIR [SCRATCH_DIR] [--inject FILE:HEADER] [--inject-link LIB:DEP]
Exit 0 when the rule holds, 1 with one line per violation, 2 on a usage error.
--inject and --inject-link add a pretend #include line or link edge, so the
suite can prove the check notices a violation (tests/CMakeLists.txt).
"""
import os
import re
import subprocess
import sys
import tempfile

# Each library and what it may link or include directly.  The closure is
# taken below, so only the layer just beneath needs naming.
ALLOWED = {
    "ds_util": set(),
    "ds_vmm": {"ds_util"},
    "ds_fs": {"ds_util"},
    "ds_mmu": {"ds_util"},
    "ds_virt": {"ds_util"},
    "ds_dlog": {"ds_vmm"},
    "ds_verify": {"ds_dlog", "ds_fs"},
    "ds_guestview": {"ds_vmm", "ds_mmu"},
    "ds_hostwb": {"ds_guestview", "ds_dlog", "ds_fs"},
    "ds_migrate": {"ds_dlog"},
    "ds_logger": {"ds_migrate", "ds_hostwb", "ds_verify", "ds_guestview"},
    "ds_compare": {"ds_logger"},
    "tools": {"ds_compare", "ds_virt"},
    "tests_lib": {"ds_compare"},
    "tests": {"tests_lib", "tools", "guest", "ds_virt"},
    "bench": {"tests_lib"},
    "examples": {"ds_logger"},
    "guest": set(),
}

# Source folders and the library (or program group) they belong to.
FOLDERS = {
    "util": "ds_util",
    "vmm": "ds_vmm",
    "fs": "ds_fs",
    "mmu": "ds_mmu",
    "virt": "ds_virt",
    "logger/dlog": "ds_dlog",
    "logger/verify": "ds_verify",
    "logger/guestview": "ds_guestview",
    "logger/hostwb": "ds_hostwb",
    "logger/migrate": "ds_migrate",
    "logger": "ds_logger",
    "logger/compare": "ds_compare",
    "tools": "tools",
    "tests/lib": "tests_lib",
    "tests": "tests",
    "bench": "bench",
    "examples": "examples",
    "guest": "guest",
}


def closure():
    out = {}
    for lib in ALLOWED:
        seen, todo = set(), list(ALLOWED[lib])
        while todo:
            d = todo.pop()
            if d not in seen:
                seen.add(d)
                todo.extend(ALLOWED[d])
        out[lib] = seen
    return out


def folder_of(path):
    """The deepest FOLDERS key that holds path (a path relative to the root)."""
    best = None
    for f in FOLDERS:
        if path.startswith(f + "/") and (best is None or len(f) > len(best)):
            best = f
    return best


def link_graph(src, scratch):
    subprocess.run(["cmake", "-S", src, "-B", scratch, "--graphviz=" +
                    os.path.join(scratch, "deps.dot")], check=True,
                   stdout=subprocess.DEVNULL)
    names, edges = {}, []
    with open(os.path.join(scratch, "deps.dot")) as f:
        for line in f:
            m = re.match(r'\s*"(node\d+)" \[ label = "([^"]+)"', line)
            if m:
                names[m.group(1)] = m.group(2)
            m = re.match(r'\s*"(node\d+)" -> "(node\d+)"', line)
            if m:
                edges.append((m.group(1), m.group(2)))
    return [(names[a], names[b]) for a, b in edges]


def main():
    args, inject, inject_link = [], [], []
    argv = sys.argv[1:]
    while argv:
        a = argv.pop(0)
        if a in ("--inject", "--inject-link") and argv and ":" in argv[0]:
            (inject if a == "--inject" else inject_link).append(tuple(argv.pop(0).split(":", 1)))
        elif a.startswith("-"):
            print(f"check_layers: unknown option {a}", file=sys.stderr)
            return 2
        else:
            args.append(a)
    if len(args) not in (1, 2):
        print("usage: check_layers.py SOURCE_DIR [SCRATCH_DIR] [--inject FILE:HEADER] "
              "[--inject-link LIB:DEP]", file=sys.stderr)
        return 2
    src = os.path.abspath(args[0])
    allowed = closure()
    bad = []

    scratch = args[1] if len(args) == 2 else tempfile.mkdtemp(prefix="layers.")
    edges = link_graph(src, scratch) + inject_link
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        if a in ALLOWED and b.startswith("ds_") and b not in allowed[a]:
            bad.append(f"link: {a} links {b}, which is not below it")
    # A cycle anywhere in the link graph, whatever the table says.
    state = {}

    def visit(n, path):
        state[n] = 1
        for m in graph.get(n, ()):
            if state.get(m) == 1:
                bad.append("link: cycle " + " -> ".join(path + [n, m]))
            elif m not in state:
                visit(m, path + [n])
        state[n] = 2

    for n in list(graph):
        if n not in state:
            visit(n, [])
    libs = {a for a, _ in edges} | {b for _, b in edges}
    for lib in ALLOWED:
        if lib.startswith("ds_") and lib not in libs:
            bad.append(f"link: library {lib} is not in the build")

    files = subprocess.run(["git", "-C", src, "ls-files", "--cached", "--others",
                            "--exclude-standard"], check=True, capture_output=True,
                           text=True).stdout.split()
    for rel in files:
        if not rel.endswith((".c", ".h")):
            continue
        here = folder_of(rel)
        if here is None:
            continue
        me = FOLDERS[here]
        with open(os.path.join(src, rel), errors="replace") as f:
            lines = f.readlines() + [f'#include "{h}"' for r, h in inject if r == rel]
            for no, line in enumerate(lines, 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m or "/" not in m.group(1):
                    continue
                inc = m.group(1)
                if inc.startswith("abi/") or "include/abi/" in inc:
                    continue  # the guest<->host ABI: every layer may use it
                there = folder_of(inc)
                if there is None:
                    bad.append(f"{rel}:{no}: includes {inc}, outside every layer")
                    continue
                lib = FOLDERS[there]
                if lib != me and lib not in allowed[me]:
                    bad.append(f"{rel}:{no}: {me} includes {inc} ({lib}), which is not below it")
    for b in bad:
        print("check_layers: " + b)
    if not bad:
        print(f"check_layers: {len([l for l in ALLOWED if l.startswith('ds_')])} libraries, "
              f"{len(edges)} link edges, {len(files)} files: the layers hold")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
