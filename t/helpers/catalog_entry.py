#!/usr/bin/env python3
"""Lay down a synthetic catalog entry of N files, hf:org/many, in the
catalog's on-disk format (the document `apctl pull` writes for a Hugging
Face snapshot of N small files: every member of every file, as
docs/store.md gives it), without a pull: for timing and bounding the read
path (bench/catalog_read.sh, t/scale/catalog_read_100k.t).

usage: catalog_entry.py AP_HOME N [current|old]
  current: a line per member and per file, as lib/entry_json.c writes it;
  old: indented as jansson (JSON_INDENT(2)) wrote it before 0.5.
Prints the document's path.  SPDX-License-Identifier: MIT
"""
import hashlib, json, os, sys
home, n = sys.argv[1], int(sys.argv[2])
layout = sys.argv[3] if len(sys.argv) > 3 else "current"
vendor, ref = "huggingface", "hf:org/many"
h = hashlib.sha256(f"{vendor}\n{ref}".encode()).hexdigest()
eid = f"{vendor}-{h[:16]}"
rev = "1" * 40
files = []
for i in range(n):
    name = f"d{i // 1000:03d}/f{i:06d}.txt"
    data = f"small file {i}\n".encode()
    files.append({
        "name": name,
        "path": f"{home}/models/huggingface/org/many/{name}",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "git_sha1": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
        "kind": "other", "format": "text", "precision": None,
        "url": f"http://127.0.0.1:40000/org/many/resolve/{rev}/{name}",
        "present": True, "architecture": None, "parameters": 0,
        "status": "ready", "verification": "git-sha1",
    })
total = sum(f["size"] for f in files)
doc = {"format_version": 1, "id": eid, "vendor": vendor, "ref": ref,
       "name": "org/many", "revision": rev, "status": "ready", "error": None,
       "total_size": total, "done_bytes": total, "fetched_bytes": total,
       "created": 1796000000, "updated": 1796000000, "files": files}
os.makedirs(f"{home}/catalog", exist_ok=True)
with open(f"{home}/catalog/{eid}.json", "w") as f:
    if layout == "old":     # jansson's JSON_INDENT(2), before 0.5
        json.dump(doc, f, indent=2)
    else:                   # lib/entry_json.c: a line per member, a line per file
        del doc["files"]
        c = dict(separators=(",", ":"))
        f.write("{" + ",\n".join(json.dumps(k) + ":" + json.dumps(v, **c)
                                  for k, v in doc.items()))
        f.write(',\n"files":[\n' + ",\n".join(json.dumps(x, **c) for x in files) + "]}")
print(f"{home}/catalog/{eid}.json")
