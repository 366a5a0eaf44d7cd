#!/usr/bin/env python3
"""Cycles between source files (issue 13: "no include or call cycle between
files").

    layering.py calls GROUP OBJ...   a call (or data) cycle among the objects:
                                     file A uses a symbol file B defines and B,
                                     directly or not, uses one of A's
    layering.py includes DIR...      an #include "..." cycle among the headers
                                     and sources of the directories

Prints each cycle with the symbols that make its edges; exits 1 when there
is one.  Symbols come from nm(1): defined (T, D, B, R) and undefined (U).
"""
import collections, os, re, subprocess, sys


def sccs(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(100000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def calls(group, objs):
    defs, uses = {}, collections.defaultdict(set)
    # one nm for all: "<object>:<value> <type> <symbol>" (-A)
    nm = subprocess.run(["nm", "-A"] + list(objs), capture_output=True,
                        text=True, check=True)
    for line in nm.stdout.splitlines():
        obj, _, rest = line.partition(":")
        name = os.path.relpath(obj)
        f = rest.split()
        if len(f) == 3 and f[1] in "TDBRV":
            defs[f[2]] = name
        elif len(f) == 2 and f[0] == "U":
            uses[name].add(f[1])
    graph, why = collections.defaultdict(set), {}
    for a, syms in uses.items():
        for s in syms:
            b = defs.get(s)
            if b and b != a:
                graph[a].add(b)
                why.setdefault((a, b), []).append(s)
    return report(group + " calls", graph, why)


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def includes(dirs):
    graph, why = collections.defaultdict(set), {}
    for d in dirs:
        for n in sorted(os.listdir(d)):
            if not n.endswith((".c", ".h")):
                continue
            path = os.path.normpath(os.path.join(d, n))
            with open(path, errors="replace") as f:
                text = f.read()
            for inc in INCLUDE.findall(text):
                target = os.path.normpath(os.path.join(d, inc))
                if os.path.exists(target) and target != path:
                    graph[path].add(target)
                    why[(path, target)] = ["#include"]
    return report("includes", graph, why)


def report(what, graph, why):
    bad = sccs(graph)
    for comp in bad:
        print("# %s: cycle among %s" % (what, " ".join(comp)))
        for a in comp:
            for b in sorted(graph[a]):
                if b in comp:
                    print("#   %s -> %s (%s)" % (a, b, ", ".join(sorted(why[(a, b)])[:4])))
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    if sys.argv[1] == "calls":
        sys.exit(calls(sys.argv[2], sys.argv[3:]))
    if sys.argv[1] == "includes":
        sys.exit(includes(sys.argv[2:]))
    sys.exit(__doc__)
