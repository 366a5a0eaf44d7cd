#!/usr/bin/env python3
"""Push an Ollama-style model into a distribution v2 registry through its
upload API, as `ollama push` does: each blob by POST /v2/<name>/blobs/uploads/
then a monolithic PUT <location>?digest=sha256:<hex>, then the manifest by
PUT /v2/<name>/manifests/<tag>.  Standard library only.

    registry_push.py REGISTRY_URL NAME TAG OUT.json MEDIATYPE=FILE...

OUT.json receives {"manifest": TEXT, "digests": {"<mediatype>": "sha256:..."},
"config": "sha256:..."} so a test can compare what a client stored."""
import hashlib
import json
import sys
import urllib.parse
import urllib.request


def req(method, url, data=None, headers=None):
    r = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(r) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def push_blob(base, name, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    st, h, body = req("POST", f"{base}/v2/{name}/blobs/uploads/", b"")
    if st != 202:
        sys.exit(f"upload start: HTTP {st}: {body[:200]!r}")
    loc = urllib.parse.urljoin(base, h["Location"])
    sep = "&" if "?" in loc else "?"
    st, h, body = req("PUT", f"{loc}{sep}digest={digest}", data,
                      {"Content-Type": "application/octet-stream"})
    if st != 201:
        sys.exit(f"upload {digest}: HTTP {st}: {body[:200]!r}")
    return digest


def main():
    base, name, tag, out = sys.argv[1:5]
    layers, digests = [], {}
    for arg in sys.argv[5:]:
        mt, _, path = arg.partition("=")
        data = open(path, "rb").read()
        d = push_blob(base, name, data)
        layers.append({"mediaType": mt, "digest": d, "size": len(data)})
        digests[mt] = d
    conf = json.dumps({"model_format": "gguf", "model_family": "llama"}).encode()
    cd = push_blob(base, name, conf)
    man = {"schemaVersion": 2,
           "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
           "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                      "digest": cd, "size": len(conf)},
           "layers": layers}
    text = json.dumps(man, indent=2).encode()
    st, h, body = req("PUT", f"{base}/v2/{name}/manifests/{tag}", text,
                      {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
    if st != 201:
        sys.exit(f"manifest: HTTP {st}: {body[:300]!r}")
    json.dump({"manifest": text.decode(), "digests": digests, "config": cd},
              open(out, "w"))


if __name__ == "__main__":
    main()
