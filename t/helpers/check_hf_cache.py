#!/usr/bin/env python3
"""Check one file published into a Hugging Face hub cache (layout: vendors/huggingface/cachedir.c).

    check_hf_cache.py CACHE REPO_ID COMMIT PATH EXPECTED_BYTES_FILE lfs|regular [REV]

Rules checked (each failure: one '# ' line on stdout, exit status 1):
  - CACHE/models--ORG--NAME/blobs/<etag> exists as a regular file (not a
    symlink) with exactly the expected bytes; <etag> is the sha256 (64 hex)
    for an LFS file, the git blob sha1 (40 hex, sha1(b"blob %d\\0" % len +
    data)) for a regular file;
  - CACHE/models--ORG--NAME/snapshots/<COMMIT>/<PATH> is a symlink whose
    target is RELATIVE and resolves (inside the repo folder) to that blob;
  - CACHE/models--ORG--NAME/refs/<REV> (default main) holds COMMIT, 40 hex,
    with no trailing newline;
  - no symlink anywhere in the repo folder has an absolute target, and every
    symlink resolves to an existing file inside the repo folder.
"""
import hashlib
import os
import re
import sys


def main():
    if len(sys.argv) not in (7, 8):
        print(__doc__, file=sys.stderr)
        return 2
    cache, repo, commit, relpath, want_file, kind = sys.argv[1:7]
    rev = sys.argv[7] if len(sys.argv) == 8 else "main"
    data = open(want_file, "rb").read()
    bad = []
    folder = os.path.join(cache, "models--" + repo.replace("/", "--"))
    if not os.path.isdir(folder):
        print("# repo folder missing: %s" % folder)
        return 1
    if kind == "lfs":
        etag = hashlib.sha256(data).hexdigest()
        if not re.fullmatch(r"[0-9a-f]{64}", etag):
            bad.append("bad etag")
    else:
        etag = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    blob = os.path.join(folder, "blobs", etag)
    if not os.path.lexists(blob):
        have = sorted(os.listdir(os.path.join(folder, "blobs"))) \
            if os.path.isdir(os.path.join(folder, "blobs")) else []
        bad.append("blob missing: blobs/%s (blobs/ has %s)" % (etag, have))
    elif os.path.islink(blob) or not os.path.isfile(blob):
        bad.append("blobs/%s is not a regular file" % etag)
    elif open(blob, "rb").read() != data:
        bad.append("blobs/%s: bytes differ from the served file" % etag)
    for name in (os.listdir(os.path.join(folder, "blobs"))
                 if os.path.isdir(os.path.join(folder, "blobs")) else []):
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", name):
            bad.append("unexpected name in blobs/: %r (temp file left?)" % name)

    snap = os.path.join(folder, "snapshots", commit, relpath)
    if not os.path.lexists(snap):
        bad.append("snapshot entry missing: snapshots/%s/%s" % (commit, relpath))
    elif not os.path.islink(snap):
        bad.append("snapshots/%s/%s is not a symlink" % (commit, relpath))
    else:
        target = os.readlink(snap)
        if os.path.isabs(target):
            bad.append("snapshot link target is absolute: %s" % target)
        resolved = os.path.normpath(os.path.join(os.path.dirname(snap), target))
        if os.path.realpath(resolved) != os.path.realpath(blob):
            bad.append("snapshot link %s -> %s resolves to %s, want blobs/%s"
                       % (relpath, target, resolved, etag))
        want_target = "../" * (relpath.count("/") + 2) + "blobs/" + etag
        if target != want_target:
            # huggingface_hub writes exactly this; a different relative
            # spelling still works, so only note it.
            print("# note: link target %r (huggingface_hub writes %r)"
                  % (target, want_target))
        try:
            if open(snap, "rb").read() != data:
                bad.append("bytes read through the snapshot link differ")
        except OSError as e:
            bad.append("cannot read through the snapshot link: %s" % e)

    ref = os.path.join(folder, "refs", rev)
    if not os.path.isfile(ref):
        bad.append("refs/%s missing" % rev)
    else:
        content = open(ref, "rb").read()
        if content != commit.encode():
            bad.append("refs/%s holds %r, want %r (40 hex, no newline)"
                       % (rev, content, commit))

    real_folder = os.path.realpath(folder)
    for dirpath, dirnames, filenames in os.walk(folder):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if os.path.islink(p):
                t = os.readlink(p)
                if os.path.isabs(t):
                    bad.append("absolute symlink: %s -> %s"
                               % (os.path.relpath(p, cache), t))
                r = os.path.realpath(p)
                if not os.path.exists(r) or not (r + os.sep).startswith(real_folder + os.sep):
                    bad.append("symlink does not resolve inside the repo folder: %s -> %s"
                               % (os.path.relpath(p, cache), t))
    for b in bad:
        print("# " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
