/* libartifactprov — the Ollama vendor: publishing a ready entry into an
 * Ollama models directory (the vendor's `publish`), so an ollama server
 * serves the model:
 *
 *   DIR/blobs/sha256-<hex>                       each layer and the config
 *   DIR/manifests/<host>/<ns>/<model>/<tag>      the manifest, verbatim
 *
 * Asked with the option ollama_models=DIR (apctl --ollama-models=DIR); an
 * empty value means the default store ($OLLAMA_MODELS, else
 * ~/.ollama/models).  The manifest bytes come from the entry's own
 * manifest.json (stored and verified like every file); the blobs are
 * placed before the manifest, so ollama never sees a manifest whose blobs
 * are missing.  Every write goes through the host (put_copy, put_bytes:
 * atomic, no symbolic link followed).  SPDX-License-Identifier: MIT */
#include "olv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static const ap_vendor_published_file *find(const ap_vendor_publication *pub,
                                            const char *path, const char *sha)
{
    size_t i;
    for (i = 0; i < pub->nfiles; i++) {
        const ap_vendor_published_file *f = pub->files[i];
        if (!AP_STRUCT_COVERS(f, ap_vendor_published_file, size) || !f->blob_path ||
            !f->sha256)
            continue;
        if ((path && f->path && !strcmp(f->path, path)) ||
            (sha && !strcmp(f->sha256, sha)))
            return f;
    }
    return NULL;
}

/* The bytes of a store blob (at most OLV_MAX_MANIFEST). */
static int read_blob(const char *path, char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    size_t n;
    if (!fp)
        return -1;
    if (!(buf = malloc(OLV_MAX_MANIFEST + 1))) {
        fclose(fp);
        return -1;
    }
    n = fread(buf, 1, OLV_MAX_MANIFEST + 1, fp);
    if (ferror(fp) || n > OLV_MAX_MANIFEST) {
        fclose(fp);
        free(buf);
        return -1;
    }
    fclose(fp);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int olv_publish(void *state, ap_vendor_call *call, const ap_vendor_publication *pub)
{
    const ap_host *h;
    const ap_vendor_published_file *mf;
    const char *opt, *what;
    char *dir = NULL, *doc = NULL, msg[512], hex[65], rel[1200];
    json_t *root = NULL, *layers;
    size_t len = 0, i, n;
    olv_ref r;
    int rc = AP_OK;

    if (!state || !pub)
        return AP_EINVAL;
    h = &((olv_state *)state)->host;
    opt = AP_HOST_HAS(h, option) ? h->option(call, "ollama_models") : NULL;
    if (!opt)
        return AP_OK; /* not asked for */
    if (!AP_HOST_HAS(h, put_copy) || !AP_HOST_HAS(h, put_bytes))
        return h->set_error(call, AP_EUNSUPPORTED, "%s: this host cannot write into a "
                            "foreign layout (no put_copy/put_bytes)", pub->ref);
    what = pub->canonical ? pub->canonical : pub->ref;
    if (olv_parse_ref(what, &r, msg, sizeof msg) != 0)
        return h->set_error(call, AP_EINVAL, "%s: cannot publish into an Ollama store: "
                            "%s", what, msg);
    if (!(dir = olv_models_dir(h, call, opt)))
        return AP_EINVAL;
    if (!(mf = find(pub, OLV_MANIFEST_FILE, NULL))) {
        rc = h->set_error(call, AP_ENOTFOUND, "%s: cannot publish into the Ollama store "
                          "%s: the entry has no %s (filtered out?)", what, dir,
                          OLV_MANIFEST_FILE);
        goto out;
    }
    errno = 0;
    if (read_blob(mf->blob_path, &doc, &len) != 0) {
        rc = h->set_error(call, AP_EIO, "%s: cannot read the manifest %s: %s", what,
                          mf->blob_path, errno ? strerror(errno) : "too large");
        goto out;
    }
    apv_sha256_buf_hex(doc, len, hex);
    if (strcmp(hex, mf->sha256) != 0) {
        rc = h->set_error(call, AP_EDIGEST, "%s: the stored manifest %s is not what was "
                          "verified (sha256 %s, want %s)", what, mf->blob_path, hex,
                          mf->sha256);
        goto out;
    }
    root = json_loadb(doc, len, 0, NULL);
    layers = json_object_get(root, "layers");
    n = json_array_size(layers);
    if (!json_is_array(layers) || n > OLV_MAX_LAYERS) {
        rc = h->set_error(call, AP_ECORRUPT, "%s: the stored manifest is not an Ollama "
                          "manifest", what);
        goto out;
    }
    /* the blobs first (config last), then the manifest that names them */
    for (i = 0; i <= n; i++) {
        json_t *jl = i < n ? json_array_get(layers, i) : json_object_get(root, "config");
        const ap_vendor_published_file *bf;
        const char *media = NULL, *lh;
        uint64_t size;
        if (i == n && !jl)
            break;
        if (!(lh = olv_layer_digest(jl, &media, &size))) {
            rc = h->set_error(call, AP_ECORRUPT, "%s: layer %zu of the stored manifest "
                              "is malformed", what, i + 1);
            goto out;
        }
        if (!(bf = find(pub, NULL, lh))) {
            rc = h->set_error(call, AP_ENOTFOUND, "%s: cannot publish into the Ollama "
                              "store %s: the entry lacks the layer %s sha256:%s "
                              "(filtered out?)", what, dir, media, lh);
            goto out;
        }
        snprintf(rel, sizeof rel, "blobs/sha256-%s", lh);
        if ((rc = h->put_copy(call, dir, rel, bf->blob_path)) != AP_OK)
            goto out;
    }
    snprintf(rel, sizeof rel, "manifests/%s/%s/%s/%s", r.host, r.ns, r.model, r.tag);
    if ((rc = h->put_bytes(call, dir, rel, doc, len)) == AP_OK && AP_HOST_HAS(h, log))
        h->log(call, AP_LOG_INFO, "%s: published into the Ollama store %s (%s)", what,
               dir, rel);
out:
    json_decref(root);
    free(doc);
    free(dir);
    return rc;
}
