#!/usr/bin/env python3
"""Check the invariants of an artifactprov store (docs/store.md).

    store_check.py AP_HOME [--allow-sha HEX]...

Violations (exit status 1, one '# ' line each on stdout):
  - a file under blobs/sha256/ that is not <2 hex>/<64 hex> with matching
    prefix, or whose sha256 differs from its name (a committed blob must be
    exactly its content);
  - a catalog/*.json document that does not parse as JSON;
  - a catalog document with status "ready" whose files are not all present
    with the recorded size and sha256 (at "path", and in blobs/);
  - a file (or symlink) under models/ that is not a complete, correct file:
    dangling, or its sha256 is neither one of --allow-sha nor the sha256 the
    catalog records for that path.
Non-fatal oddities (temporary names in blobs/, staging contents) are
reported as '# note:' lines.  Bounded: reads each file once.
"""
import hashlib
import json
import os
import re
import sys

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def main():
    args = sys.argv[1:]
    if not args:
        print("usage: store_check.py AP_HOME [--allow-sha HEX]...", file=sys.stderr)
        return 2
    home = args[0]
    allow = set()
    i = 1
    while i < len(args):
        if args[i] == "--allow-sha" and i + 1 < len(args):
            allow.add(args[i + 1].lower())
            i += 2
        else:
            print("store_check.py: bad argument %r" % args[i], file=sys.stderr)
            return 2
    bad = []
    notes = []
    hash_cache = {}

    def h(path):
        st = os.stat(path)
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key not in hash_cache:
            hash_cache[key] = sha256_file(path)
        return hash_cache[key]

    # --- blobs ---------------------------------------------------------------
    good_blobs = set()
    broot = os.path.join(home, "blobs", "sha256")
    if os.path.isdir(broot):
        for dirpath, dirnames, filenames in os.walk(broot):
            for fn in filenames:
                p = os.path.join(dirpath, fn)
                rel = os.path.relpath(p, broot)
                parts = rel.split(os.sep)
                if os.path.islink(p):
                    bad.append("blob is a symlink: %s" % rel)
                    continue
                if len(parts) != 2 or not HEX64.match(parts[1]) or parts[0] != parts[1][:2]:
                    notes.append("non-blob name under blobs/sha256: %s" % rel)
                    continue
                try:
                    got = h(p)
                except OSError as e:
                    bad.append("blob unreadable: %s (%s)" % (rel, e))
                    continue
                if got != parts[1]:
                    bad.append("blob %s has sha256 %s" % (parts[1], got))
                else:
                    good_blobs.add(got)

    # --- catalog -------------------------------------------------------------
    recorded = {}  # realpath of a file path -> sha256 recorded
    croot = os.path.join(home, "catalog")
    if os.path.isdir(croot):
        for fn in sorted(os.listdir(croot)):
            p = os.path.join(croot, fn)
            if not fn.endswith(".json"):
                notes.append("non-.json name in catalog/: %s" % fn)
                continue
            try:
                with open(p, "rb") as f:
                    doc = json.loads(f.read().decode("utf-8"))
            except (ValueError, UnicodeDecodeError, OSError) as e:
                bad.append("catalog/%s does not parse: %s" % (fn, e))
                continue
            if not isinstance(doc, dict):
                bad.append("catalog/%s is not an object" % fn)
                continue
            files = doc.get("files") or []
            for fe in files:
                if isinstance(fe, dict) and fe.get("path") and fe.get("sha256"):
                    recorded[os.path.realpath(fe["path"])] = fe["sha256"]
            if doc.get("status") != "ready":
                continue
            if not files:
                bad.append("catalog/%s is ready with no files" % fn)
            for fe in files:
                name = fe.get("name")
                path = fe.get("path")
                sha = fe.get("sha256")
                size = fe.get("size")
                if not path or not os.path.isfile(path):
                    bad.append("catalog/%s ready, file %s missing at %r" % (fn, name, path))
                    continue
                if size is not None and os.path.getsize(path) != size:
                    bad.append("catalog/%s ready, file %s has size %d, want %d"
                               % (fn, name, os.path.getsize(path), size))
                    continue
                if sha:
                    got = h(path)
                    if got != sha:
                        bad.append("catalog/%s ready, file %s has sha256 %s, want %s"
                                   % (fn, name, got, sha))
                    if sha not in good_blobs:
                        bad.append("catalog/%s ready, file %s: blob %s not in blobs/"
                                   % (fn, name, sha))

    # --- models (the human view) ----------------------------------------------
    mroot = os.path.join(home, "models")
    if os.path.isdir(mroot):
        for dirpath, dirnames, filenames in os.walk(mroot):
            for fn in filenames + [d for d in dirnames
                                   if os.path.islink(os.path.join(dirpath, d))]:
                p = os.path.join(dirpath, fn)
                rel = os.path.relpath(p, home)
                if os.path.islink(p) and not os.path.exists(p):
                    bad.append("dangling link under models/: %s" % rel)
                    continue
                if os.path.isdir(p):
                    continue
                try:
                    got = h(p)
                except OSError as e:
                    bad.append("unreadable file under models/: %s (%s)" % (rel, e))
                    continue
                want = recorded.get(os.path.realpath(p))
                if got in allow or (want is not None and got == want):
                    continue
                bad.append("file under models/ is not a complete correct file: %s "
                           "(sha256 %s, size %d)" % (rel, got, os.path.getsize(p)))

    sroot = os.path.join(home, "staging")
    if os.path.isdir(sroot):
        n = sum(len(f) for _, _, f in os.walk(sroot))
        if n:
            notes.append("staging holds %d file(s)" % n)
    for n in notes:
        print("# note: " + n)
    for b in bad:
        print("# " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
